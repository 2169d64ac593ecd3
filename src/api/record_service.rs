//! `RecordService`: any object, custom ones included, with fields as a `google.protobuf.Struct`
//! keyed by API names; SOQL queries streamed page by page; object descriptions.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::Stream;
use prost::Message;
use prost_types::value::Kind;
use serde_json::Value as JsonValue;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use super::call::{ApiState, CallContext, read_back, respond};
use super::idempotency;
use super::json_struct::{json_of_value, struct_of_json};
use super::typed::operations::check_external_id;
use crate::error::GatewayError;
use crate::pb::record_service_server::RecordService;
use crate::pb::{
    CreateRecordRequest, DeleteRecordRequest, DescribeObjectRequest, FieldDescription,
    GetRecordRequest, ObjectDescription, QueryRequest, QueryResponse, Record, UpdateRecordRequest,
    UpsertRecordRequest, UpsertRecordResponse,
};
use crate::salesforce::limits;
use crate::salesforce::soql::{BindError, SoqlParam, SoqlValue, bind, is_identifier};
use crate::salesforce::{SalesforceClient, SalesforceError, SalesforceId, record_page_url};

/// Pages buffered ahead of a slow `Query` reader.
const QUERY_PAGES_AHEAD: usize = 2;

/// The record service.
#[derive(Debug)]
pub(crate) struct RecordApi<Limiter> {
    state: ApiState<Limiter>,
}

impl<Limiter> RecordApi<Limiter> {
    /// Creates the service over the shared state.
    pub(crate) fn new(state: ApiState<Limiter>) -> Self {
        Self { state }
    }
}

type QueryStream = Pin<Box<dyn Stream<Item = Result<QueryResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<Limiter: Send + Sync + 'static> RecordService for RecordApi<Limiter> {
    async fn create_record(
        &self,
        request: Request<CreateRecordRequest>,
    ) -> Result<Response<Record>, Status> {
        let call = self.state.call_context(&request)?;
        respond(create(&call, request.into_inner()).await)
    }

    async fn get_record(
        &self,
        request: Request<GetRecordRequest>,
    ) -> Result<Response<Record>, Status> {
        let call = self.state.call_context(&request)?;
        let request = request.into_inner();
        respond(get(&call, &request).await)
    }

    async fn update_record(
        &self,
        request: Request<UpdateRecordRequest>,
    ) -> Result<Response<Record>, Status> {
        let call = self.state.call_context(&request)?;
        respond(update(&call, request.into_inner()).await)
    }

    async fn delete_record(
        &self,
        request: Request<DeleteRecordRequest>,
    ) -> Result<Response<()>, Status> {
        let call = self.state.call_context(&request)?;
        let request = request.into_inner();
        respond(delete(&call, &request).await)
    }

    async fn upsert_record(
        &self,
        request: Request<UpsertRecordRequest>,
    ) -> Result<Response<UpsertRecordResponse>, Status> {
        let call = self.state.call_context(&request)?;
        respond(upsert(&call, request.into_inner()).await)
    }

    type QueryStream = QueryStream;

    async fn query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<Self::QueryStream>, Status> {
        let call = self.state.call_context(&request)?;
        respond(query(call, request.into_inner()).map(|stream| Box::pin(stream) as QueryStream))
    }

    async fn describe_object(
        &self,
        request: Request<DescribeObjectRequest>,
    ) -> Result<Response<ObjectDescription>, Status> {
        let call = self.state.call_context(&request)?;
        respond(describe(&call, &request.into_inner().object).await)
    }
}

fn object_name(object: &str) -> Result<String, GatewayError> {
    if !is_identifier(object) || object.contains('.') {
        return Err(GatewayError::invalid_field(
            "object",
            format!("{object:?} is not an object API name (e.g. Case, Foo__c)"),
        ));
    }
    Ok(object.to_owned())
}

fn record_id(id: &str) -> Result<SalesforceId, GatewayError> {
    SalesforceId::parse(id)
        .map_err(|error| GatewayError::invalid_field("id", format!("{id:?} {error}")))
}

/// The request's fields as Salesforce JSON: scalars and nulls only.
fn json_fields(
    fields: Option<prost_types::Struct>,
) -> Result<crate::salesforce::Record, GatewayError> {
    let mut json = crate::salesforce::Record::new();
    for (name, value) in fields.map(|fields| fields.fields).unwrap_or_default() {
        let path = format!("fields.{name}");
        if !is_identifier(&name) || name.contains('.') {
            return Err(GatewayError::invalid_field(path, "is not a field API name"));
        }
        json.insert(name, json_of_value(&path, value)?);
    }
    Ok(json)
}

fn upstream(error: SalesforceError) -> GatewayError {
    GatewayError::Salesforce(error.map_fields(|api_name| format!("fields.{api_name}")))
}

fn to_record(json: &crate::salesforce::Record, instance_url: Option<&url::Url>) -> Record {
    let object = json
        .get("attributes")
        .and_then(|attributes| attributes.get("type"))
        .and_then(JsonValue::as_str)
        .unwrap_or_default();
    let id = json
        .get("Id")
        .and_then(JsonValue::as_str)
        .unwrap_or_default();
    let url = match instance_url {
        Some(instance_url) if !id.is_empty() => record_page_url(instance_url, object, id),
        _ => String::new(),
    };
    Record {
        object: object.to_owned(),
        id: id.to_owned(),
        url,
        fields: Some(struct_of_json(json)),
    }
}

async fn read(
    client: &SalesforceClient,
    object: &str,
    id: &SalesforceId,
    fields: Option<&[String]>,
) -> Result<Record, GatewayError> {
    let json = client
        .get_record(object, id, fields)
        .await
        .map_err(upstream)?;
    let instance_url = client.instance_url().await.map_err(upstream)?;
    Ok(to_record(&json, Some(&instance_url)))
}

/// Reads back a record Salesforce acknowledged writing: as stored, or as written (`fields` and
/// its ID) when it cannot be read (see [`read_back`]).
async fn read_back_written(
    client: &SalesforceClient,
    deadline: Option<std::time::Instant>,
    object: &str,
    id: &SalesforceId,
    mut fields: crate::salesforce::Record,
) -> Result<Record, GatewayError> {
    let written = format!("{object} {id}");
    read_back(
        client,
        deadline,
        &written,
        read(client, object, id, None),
        |instance_url| {
            fields.insert("attributes".into(), serde_json::json!({ "type": object }));
            fields.insert("Id".into(), id.as_str().into());
            Ok(to_record(&fields, instance_url))
        },
    )
    .await
}

async fn create(call: &CallContext, request: CreateRecordRequest) -> Result<Record, GatewayError> {
    let fingerprint =
        idempotency::fingerprint("RecordService.CreateRecord", &request.encode_to_vec());
    let object = object_name(&request.object)?;
    let fields = json_fields(request.fields)?;
    let client = call.client.clone();
    let deadline = call.deadline;
    let create_and_read = async move {
        let id = client
            .create_record(&object, &fields)
            .await
            .map_err(upstream)?;
        read_back_written(&client, deadline, &object, &id, fields).await
    };
    call.create_once(fingerprint, create_and_read).await
}

async fn get(call: &CallContext, request: &GetRecordRequest) -> Result<Record, GatewayError> {
    let object = object_name(&request.object)?;
    let id = record_id(&request.id)?;
    if let Some(bad) = request.field_names.iter().find(|name| !is_identifier(name)) {
        return Err(GatewayError::invalid_field(
            "field_names",
            format!("{bad:?} is not a field API name"),
        ));
    }
    let fields = (!request.field_names.is_empty()).then(|| {
        std::iter::once("Id".to_owned())
            .chain(request.field_names.iter().cloned())
            .collect::<Vec<_>>()
    });
    call.within_deadline(read(&call.client, &object, &id, fields.as_deref()))
        .await
}

async fn update(call: &CallContext, request: UpdateRecordRequest) -> Result<Record, GatewayError> {
    let object = object_name(&request.object)?;
    let id = record_id(&request.id)?;
    let fields = json_fields(request.fields)?;
    if fields.is_empty() {
        return Err(GatewayError::invalid_field(
            "fields",
            "names no field to update",
        ));
    }
    call.within_deadline(async {
        call.client
            .update_record(&object, &id, &fields)
            .await
            .map_err(upstream)?;
        read_back_written(&call.client, call.deadline, &object, &id, fields).await
    })
    .await
}

async fn delete(call: &CallContext, request: &DeleteRecordRequest) -> Result<(), GatewayError> {
    let object = object_name(&request.object)?;
    let id = record_id(&request.id)?;
    call.within_deadline(async {
        call.client
            .delete_record(&object, &id)
            .await
            .map_err(upstream)
    })
    .await
}

async fn upsert(
    call: &CallContext,
    request: UpsertRecordRequest,
) -> Result<UpsertRecordResponse, GatewayError> {
    let object = object_name(&request.object)?;
    if !is_identifier(&request.external_id_field) || request.external_id_field.contains('.') {
        return Err(GatewayError::invalid_field(
            "external_id_field",
            "is not a field API name (e.g. External_Id__c)",
        ));
    }
    check_external_id(&request.external_id)?;
    let fields = json_fields(request.fields)?;
    call.within_deadline(async {
        let outcome = call
            .client
            .upsert_record(
                &object,
                &request.external_id_field,
                &request.external_id,
                &fields,
            )
            .await
            .map_err(upstream)?;
        let record =
            read_back_written(&call.client, call.deadline, &object, &outcome.id, fields).await?;
        Ok(UpsertRecordResponse {
            record: Some(record),
            created: outcome.created,
        })
    })
    .await
}

fn soql_value(path: &str, value: prost_types::Value) -> Result<SoqlValue, GatewayError> {
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => SoqlValue::Null,
        Some(Kind::BoolValue(flag)) => SoqlValue::Bool(flag),
        Some(Kind::NumberValue(number)) if number.is_finite() => SoqlValue::Number(number),
        Some(Kind::StringValue(text)) if text.chars().count() > limits::MAX_WHERE_STRING_LENGTH => {
            return Err(GatewayError::invalid_field(
                path,
                "is longer than the 4,000 characters Salesforce takes in a WHERE clause",
            ));
        }
        Some(Kind::StringValue(text)) => SoqlValue::Text(text),
        Some(_) => {
            return Err(GatewayError::invalid_field(
                path,
                "must be a string, number, boolean or null",
            ));
        }
    })
}

fn query(
    call: CallContext,
    request: QueryRequest,
) -> Result<impl Stream<Item = Result<QueryResponse, Status>> + Send, GatewayError> {
    if request.soql.chars().count() > limits::MAX_SOQL_LENGTH {
        return Err(GatewayError::invalid_field(
            "soql",
            "is longer than the 100,000 characters Salesforce runs",
        ));
    }
    let mut params = BTreeMap::new();
    for (name, value) in request
        .params
        .map(|params| params.fields)
        .unwrap_or_default()
    {
        let path = format!("params.{name}");
        let param = match value.kind {
            Some(Kind::ListValue(list)) => SoqlParam::List(
                list.values
                    .into_iter()
                    .map(|item| soql_value(&path, item))
                    .collect::<Result<_, _>>()?,
            ),
            kind => SoqlParam::Value(soql_value(&path, prost_types::Value { kind })?),
        };
        params.insert(name, param);
    }
    let soql = bind(&request.soql, &params).map_err(|error| match &error {
        BindError::Unused(name) | BindError::EmptyList(name) => {
            GatewayError::invalid_field(format!("params.{name}"), error.to_string())
        }
        BindError::Missing(_) | BindError::UnterminatedLiteral => {
            GatewayError::invalid_field("soql", error.to_string())
        }
    })?;
    if soql.as_str().chars().count() > limits::MAX_SOQL_LENGTH {
        return Err(GatewayError::invalid_field(
            "params",
            "make the query longer than the 100,000 characters Salesforce runs",
        ));
    }
    let batch_size = match request.batch_size {
        0 => None,
        size @ 200..=2000 => Some(size as u32),
        _ => {
            return Err(GatewayError::invalid_field(
                "batch_size",
                "must be from 200 to 2000 (or 0 for the default)",
            ));
        }
    };
    let (pages, receiver) = tokio::sync::mpsc::channel(QUERY_PAGES_AHEAD);
    tokio::spawn(
        async move {
            let send_page =
                |page: crate::salesforce::QueryPage, instance_url: url::Url| QueryResponse {
                    records: page
                        .records
                        .iter()
                        .map(|json| to_record(json, Some(&instance_url)))
                        .collect(),
                    total_size: i64::try_from(page.total_size).unwrap_or(i64::MAX),
                };
            let first = call
                .within_deadline(async {
                    call.client
                        .query_bound(&soql, batch_size)
                        .await
                        .map_err(upstream)
                })
                .await;
            let mut next = match first {
                Ok(page) => Some(page),
                Err(error) => {
                    let _ = pages.send(Err(Status::from(error))).await;
                    return;
                }
            };
            while let Some(page) = next.take() {
                let instance_url = match call.client.instance_url().await {
                    Ok(url) => url,
                    Err(error) => {
                        let _ = pages.send(Err(Status::from(upstream(error)))).await;
                        return;
                    }
                };
                let locator = page.next_records_url.clone().filter(|_| !page.done);
                if pages.send(Ok(send_page(page, instance_url))).await.is_err() {
                    return; // the caller went away: stop paging
                }
                if let Some(locator) = locator {
                    match call
                        .within_deadline(async {
                            call.client.query_more(&locator).await.map_err(upstream)
                        })
                        .await
                    {
                        Ok(page) => next = Some(page),
                        Err(error) => {
                            let _ = pages.send(Err(Status::from(error))).await;
                            return;
                        }
                    }
                }
            }
        }
        .in_current_span(),
    );
    Ok(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

async fn describe(call: &CallContext, object: &str) -> Result<ObjectDescription, GatewayError> {
    let object = object_name(object)?;
    let json = call
        .within_deadline(async { call.client.describe(&object).await.map_err(upstream) })
        .await?;
    let text = |value: &JsonValue, key: &str| {
        value
            .get(key)
            .and_then(JsonValue::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let flag =
        |value: &JsonValue, key: &str| value.get(key).and_then(JsonValue::as_bool).unwrap_or(false);
    let fields = json
        .get("fields")
        .and_then(JsonValue::as_array)
        .map(|fields| {
            fields
                .iter()
                .map(|field| FieldDescription {
                    name: text(field, "name"),
                    label: text(field, "label"),
                    r#type: text(field, "type"),
                    length: field
                        .get("length")
                        .and_then(JsonValue::as_i64)
                        .and_then(|length| i32::try_from(length).ok())
                        .unwrap_or(0),
                    required: !flag(field, "nillable")
                        && !flag(field, "defaultedOnCreate")
                        && flag(field, "createable"),
                    createable: flag(field, "createable"),
                    updateable: flag(field, "updateable"),
                    external_id: flag(field, "externalId"),
                    unique: flag(field, "unique"),
                    picklist_values: field
                        .get("picklistValues")
                        .and_then(JsonValue::as_array)
                        .map(|values| {
                            values
                                .iter()
                                .filter(|value| flag(value, "active"))
                                .map(|value| text(value, "value"))
                                .collect()
                        })
                        .unwrap_or_default(),
                    reference_to: field
                        .get("referenceTo")
                        .and_then(JsonValue::as_array)
                        .map(|targets| {
                            targets
                                .iter()
                                .filter_map(|target| target.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    relationship_name: text(field, "relationshipName"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ObjectDescription {
        name: text(&json, "name"),
        label: text(&json, "label"),
        key_prefix: text(&json, "keyPrefix"),
        custom: flag(&json, "custom"),
        createable: flag(&json, "createable"),
        updateable: flag(&json, "updateable"),
        deletable: flag(&json, "deletable"),
        queryable: flag(&json, "queryable"),
        fields,
    })
}
