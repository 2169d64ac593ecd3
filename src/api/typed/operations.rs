//! The operations every typed object shares (create, get, update, delete, find, upsert), written
//! once over an [`ObjectType`].

use prost::Message;
use prost_reflect::{DynamicMessage, Value as ProtoValue};

use super::codec;
use super::{CriterionKind, FieldKind, ObjectRef, ObjectType};
use crate::api::call::{CallContext, read_back};
use crate::api::idempotency;
use crate::api::paging::{self, PageToken};
use crate::error::GatewayError;
use crate::salesforce::soql::{Comparison, Condition, Direction, SelectQuery, SoqlValue};
use crate::salesforce::{SalesforceClient, SalesforceError, SalesforceId};

/// Default and maximum `page_size` of the find RPCs.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 50;
/// Kept below Salesforce's default query batch (2000) so that `LIMIT page_size + 1` always
/// arrives in one batch and no server-side query cursor is left open.
const MAX_PAGE_SIZE: u32 = 1000;

/// A page of find results (resources in their wire format, or as typed messages).
pub(crate) struct Page<M = Vec<u8>> {
    pub(crate) resources: Vec<M>,
    pub(crate) next_page_token: String,
}

/// Salesforce errors with field names rewritten to the caller's request paths.
pub(crate) fn upstream(object: &ObjectType, error: SalesforceError) -> GatewayError {
    GatewayError::Salesforce(error.map_fields(|api_name| object.request_path_of(api_name)))
}

/// Checks an external ID value, which goes into the upsert's URL path as one segment.
pub(crate) fn check_external_id(external_id: &str) -> Result<(), GatewayError> {
    match crate::salesforce::path_segment_problem(external_id) {
        Some(problem) => Err(GatewayError::invalid_field("external_id", problem)),
        None => Ok(()),
    }
}

/// Validates an ID of this object type, naming `field` when it is wrong.
pub(crate) fn parse_id(
    object: &ObjectType,
    field: &str,
    text: &str,
) -> Result<SalesforceId, GatewayError> {
    if text.is_empty() {
        return Err(GatewayError::invalid_field(
            field,
            format!("a {} ID is required", object.api_name),
        ));
    }
    SalesforceId::parse_for(text, object.api_name, object.key_prefix)
        .map_err(|error| GatewayError::invalid_field(field, format!("{text:?} {error}")))
}

fn required<M>(object: &ObjectType, resource: Option<M>) -> Result<M, GatewayError> {
    resource.ok_or_else(|| GatewayError::invalid_field(&*object.request_field, "is required"))
}

/// Creates a record and returns it as stored.
pub(crate) async fn create(
    call: &CallContext,
    object: ObjectRef,
    resource: Option<DynamicMessage>,
) -> Result<Vec<u8>, GatewayError> {
    let resource = required(&object, resource)?;
    if !codec::resource_id(&resource).is_empty() {
        return Err(GatewayError::invalid_field(
            format!("{}.id", object.request_field),
            "must be empty on create: Salesforce assigns the ID",
        ));
    }
    let fields = codec::create_fields(&object, &resource)?;
    let fingerprint = idempotency::fingerprint(object.message, &resource.encode_to_vec());
    let client = call.client.clone();
    let deadline = call.deadline;
    let create_and_read = async move {
        let id = client
            .create_record(object.api_name, &fields)
            .await
            .map_err(|error| upstream(&object, error))?;
        read_back_written(&client, deadline, &object, &id, fields).await
    };
    call.create_once(fingerprint, create_and_read).await
}

/// Reads a record, all fields or those of the mask.
pub(crate) async fn get(
    call: &CallContext,
    object: &ObjectType,
    id: &str,
    fields: Option<prost_types::FieldMask>,
) -> Result<Vec<u8>, GatewayError> {
    let id = parse_id(object, "id", id)?;
    let mask = fields.map(|mask| mask.paths).unwrap_or_default();
    let api_fields = codec::read_fields(object, &mask)?;
    call.within_deadline(read(&call.client, object, &id, api_fields))
        .await
}

/// Writes the masked fields and returns the record as stored.
pub(crate) async fn update(
    call: &CallContext,
    object: &ObjectType,
    resource: Option<DynamicMessage>,
    update_mask: Option<prost_types::FieldMask>,
) -> Result<Vec<u8>, GatewayError> {
    let resource = required(object, resource)?;
    let id = parse_id(
        object,
        &format!("{}.id", object.request_field),
        &codec::resource_id(&resource),
    )?;
    let mask = update_mask.map(|mask| mask.paths).unwrap_or_default();
    let fields = codec::update_fields(object, &resource, &mask)?;
    call.within_deadline(async {
        call.client
            .update_record(object.api_name, &id, &fields)
            .await
            .map_err(|error| upstream(object, error))?;
        read_back_written(&call.client, call.deadline, object, &id, fields).await
    })
    .await
}

/// Deletes a record.
pub(crate) async fn delete(
    call: &CallContext,
    object: &ObjectType,
    id: &str,
) -> Result<(), GatewayError> {
    let id = parse_id(object, "id", id)?;
    call.within_deadline(async {
        call.client
            .delete_record(object.api_name, &id)
            .await
            .map_err(|error| upstream(object, error))
    })
    .await
}

/// Creates or updates the record an external ID names; returns it and whether it was created.
pub(crate) async fn upsert(
    call: &CallContext,
    object: &ObjectType,
    external_id_field: &str,
    external_id: &str,
    resource: Option<DynamicMessage>,
) -> Result<(Vec<u8>, bool), GatewayError> {
    let field_is_name = crate::salesforce::soql::is_identifier(external_id_field)
        && !external_id_field.contains('.');
    if !field_is_name {
        return Err(GatewayError::invalid_field(
            "external_id_field",
            format!("{external_id_field:?} is not a field API name (e.g. External_Id__c)"),
        ));
    }
    check_external_id(external_id)?;
    if external_id_field.eq_ignore_ascii_case("Id") {
        parse_id(object, "external_id", external_id)?;
    }
    let resource = required(object, resource)?;
    if !codec::resource_id(&resource).is_empty() {
        return Err(GatewayError::invalid_field(
            format!("{}.id", object.request_field),
            "must be empty on upsert: the external ID names the record",
        ));
    }
    let fields = codec::create_fields(object, &resource)?;
    if fields
        .keys()
        .any(|api_name| api_name.eq_ignore_ascii_case(external_id_field))
    {
        return Err(GatewayError::invalid_field(
            format!("{}.extra_fields.{external_id_field}", object.request_field),
            "the external ID goes in external_id, not among the fields",
        ));
    }
    call.within_deadline(async {
        let outcome = call
            .client
            .upsert_record(object.api_name, external_id_field, external_id, &fields)
            .await
            .map_err(|error| upstream(object, error))?;
        let written =
            read_back_written(&call.client, call.deadline, object, &outcome.id, fields).await?;
        Ok((written, outcome.created))
    })
    .await
}

/// Finds records matching every criterion set in the request, one page at a time.
pub(crate) async fn find(
    call: &CallContext,
    object: &ObjectType,
    request: &DynamicMessage,
) -> Result<Page, GatewayError> {
    let (conditions, fingerprint_parts) = criteria(object, request)?;
    let page_size = page_size(request)?;
    let fingerprint = paging::fingerprint(
        &fingerprint_parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let mut query = SelectQuery::new(
        object.api_name,
        std::iter::once("Id").chain(object.fields.iter().map(|field| field.api)),
    )
    .map_err(|error| GatewayError::Internal(error.to_string()))?;
    for condition in conditions {
        query = query
            .filter(condition)
            .map_err(|error| GatewayError::Internal(error.to_string()))?;
    }
    let token = string_field(request, "page_token");
    if !token.is_empty() {
        let token = PageToken::decode(&token)?;
        if token.fingerprint != fingerprint {
            return Err(GatewayError::invalid_field(
                "page_token",
                "was issued for different criteria",
            ));
        }
        query = query
            .filter(Condition::Compare {
                field: "Id".into(),
                comparison: Comparison::GreaterThan,
                value: SoqlValue::Text(token.after.to_string()),
            })
            .map_err(|error| GatewayError::Internal(error.to_string()))?;
    }
    let query = query
        .order_by("Id", Direction::Ascending)
        .map_err(|error| GatewayError::Internal(error.to_string()))?
        .limit(page_size + 1);
    call.within_deadline(async {
        let instance_url = call
            .client
            .instance_url()
            .await
            .map_err(|error| upstream(object, error))?;
        let page = call
            .client
            .query(&query)
            .await
            .map_err(|error| upstream(object, error))?;
        // More than a page came back, or Salesforce split the result (it should not, as the
        // page size stays below its batch size).
        let has_more = page.records.len() > page_size as usize || !page.done;
        let mut records = page.records;
        records.truncate(page_size as usize);
        let next_page_token = match records
            .last()
            .and_then(|record| record.get("Id"))
            .and_then(|id| id.as_str())
        {
            Some(last_id) if has_more => PageToken {
                after: SalesforceId::parse(last_id)
                    .map_err(|error| GatewayError::Internal(error.to_string()))?,
                fingerprint: fingerprint.clone(),
            }
            .encode(),
            _ => String::new(),
        };
        let resources = codec::records_wire(object, &records, &instance_url)?;
        Ok(Page {
            resources,
            next_page_token,
        })
    })
    .await
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    match message.get_field_by_name(name).as_deref() {
        Some(ProtoValue::String(text)) => text.clone(),
        _ => String::new(),
    }
}

fn page_size(request: &DynamicMessage) -> Result<u32, GatewayError> {
    let requested = match request.get_field_by_name("page_size").as_deref() {
        Some(ProtoValue::I32(size)) => *size,
        _ => 0,
    };
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(GatewayError::invalid_field(
            "page_size",
            "must not be negative",
        )),
        size => Ok((size as u32).min(MAX_PAGE_SIZE)),
    }
}

/// The SOQL conditions of the criteria set in the request, and the parts of its fingerprint.
fn criteria(
    object: &ObjectType,
    request: &DynamicMessage,
) -> Result<(Vec<Condition>, Vec<String>), GatewayError> {
    let mut conditions = Vec::new();
    let mut fingerprint_parts = vec![object.api_name.to_string()];
    for criterion in object.criteria.iter() {
        let value = request.get_field_by_name(criterion.proto);
        let condition = match (criterion.kind, value.as_deref()) {
            (CriterionKind::Equals, Some(ProtoValue::String(text))) if !text.is_empty() => {
                if text.chars().count() > crate::salesforce::limits::MAX_WHERE_STRING_LENGTH {
                    return Err(GatewayError::invalid_field(
                        criterion.proto,
                        "is longer than the 4,000 characters Salesforce takes in a WHERE clause",
                    ));
                }
                Condition::Compare {
                    field: criterion.api.to_string(),
                    comparison: Comparison::Equals,
                    value: SoqlValue::Text(text.clone()),
                }
            }
            (CriterionKind::IdOf(referenced), Some(ProtoValue::String(text)))
                if !text.is_empty() =>
            {
                let id = parse_id(referenced, criterion.proto, text)?;
                Condition::Compare {
                    field: criterion.api.to_string(),
                    comparison: Comparison::Equals,
                    value: SoqlValue::Text(id.to_string()),
                }
            }
            (CriterionKind::OpenOnly, Some(ProtoValue::Bool(true))) => Condition::Compare {
                field: criterion.api.to_string(),
                comparison: Comparison::Equals,
                value: SoqlValue::Bool(false),
            },
            _ => continue,
        };
        fingerprint_parts.push(criterion.proto.to_string());
        if let Condition::Compare { value, .. } = &condition {
            fingerprint_parts.push(match value {
                SoqlValue::Text(text) => format!("text:{text}"),
                SoqlValue::Bool(flag) => format!("bool:{flag}"),
                SoqlValue::Number(number) => format!("number:{number}"),
                SoqlValue::Null => "null".to_owned(),
            });
        }
        conditions.push(condition);
    }
    if conditions.is_empty() {
        return Err(GatewayError::InvalidArgument {
            violations: object
                .criteria
                .iter()
                .map(|criterion| crate::error::FieldViolation {
                    field: criterion.proto.to_string(),
                    description: "set at least one of these find criteria".to_owned(),
                })
                .collect(),
        });
    }
    Ok((conditions, fingerprint_parts))
}

/// Reads back a record Salesforce acknowledged writing: as stored, or as written (`fields` and
/// its ID) when it cannot be read (see [`read_back`]).
pub(crate) async fn read_back_written(
    client: &SalesforceClient,
    deadline: Option<std::time::Instant>,
    object: &ObjectType,
    id: &SalesforceId,
    mut fields: crate::salesforce::Record,
) -> Result<Vec<u8>, GatewayError> {
    let written = format!("{} {id}", object.api_name);
    read_back(
        client,
        deadline,
        &written,
        read(client, object, id, None),
        |instance_url| {
            fields.insert("Id".to_owned(), id.as_str().into());
            codec::record_wire(object, &fields, instance_url, None)
        },
    )
    .await
}

/// Reads a record and turns it into the resource.
pub(crate) async fn read(
    client: &SalesforceClient,
    object: &ObjectType,
    id: &SalesforceId,
    api_fields: Option<Vec<String>>,
) -> Result<Vec<u8>, GatewayError> {
    let mut record = client
        .get_record(object.api_name, id, api_fields.as_deref())
        .await
        .map_err(|error| upstream(object, error))?;
    fetch_blobs(client, object, id, &mut record).await?;
    to_resource(client, object, &record, api_fields.as_deref()).await
}

/// Replaces the link a record read gives for each base64 field with the field's content (one
/// request a field that holds a blob).
async fn fetch_blobs(
    client: &SalesforceClient,
    object: &ObjectType,
    id: &SalesforceId,
    record: &mut crate::salesforce::Record,
) -> Result<(), GatewayError> {
    use base64::Engine as _;
    for mapping in object
        .fields
        .iter()
        .filter(|mapping| mapping.kind == FieldKind::Base64)
    {
        let is_link = record
            .get(mapping.api)
            .and_then(serde_json::Value::as_str)
            .is_some_and(|text| text.starts_with("/services/data/"));
        if !is_link {
            continue;
        }
        let bytes = client
            .get_blob(object.api_name, id, mapping.api)
            .await
            .map_err(|error| upstream(object, error))?;
        record.insert(
            mapping.api.to_owned(),
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        );
    }
    Ok(())
}

/// The resource of a Salesforce record, with its record page on the org's instance.
async fn to_resource(
    client: &SalesforceClient,
    object: &ObjectType,
    record: &crate::salesforce::Record,
    requested: Option<&[String]>,
) -> Result<Vec<u8>, GatewayError> {
    let instance_url = client
        .instance_url()
        .await
        .map_err(|error| upstream(object, error))?;
    codec::record_wire(object, record, Some(&instance_url), requested)
}

/// The operations for prost-generated messages (the built-in services): each converts the
/// typed request to the object's `DynamicMessage` and the written resource back to `M`.
pub(crate) mod prost_typed {
    use prost::Message;

    use crate::api::call::CallContext;
    use crate::api::typed::operations::Page;
    use crate::api::typed::{ObjectRef, ObjectType, codec};
    use crate::error::GatewayError;

    /// [`super::create`].
    pub(crate) async fn create<M: Message + Default>(
        call: &CallContext,
        object: &'static ObjectType,
        resource: Option<M>,
    ) -> Result<M, GatewayError> {
        let resource = codec::dynamic_of(object, resource)?;
        let wire = super::create(call, ObjectRef::BuiltIn(object), resource).await?;
        codec::decode(object, &wire)
    }

    /// [`super::get`].
    pub(crate) async fn get<M: Message + Default>(
        call: &CallContext,
        object: &ObjectType,
        id: &str,
        fields: Option<prost_types::FieldMask>,
    ) -> Result<M, GatewayError> {
        codec::decode(object, &super::get(call, object, id, fields).await?)
    }

    /// [`super::update`].
    pub(crate) async fn update<M: Message + Default>(
        call: &CallContext,
        object: &ObjectType,
        resource: Option<M>,
        update_mask: Option<prost_types::FieldMask>,
    ) -> Result<M, GatewayError> {
        let resource = codec::dynamic_of(object, resource)?;
        codec::decode(
            object,
            &super::update(call, object, resource, update_mask).await?,
        )
    }

    /// [`super::find`], for the request message named `find_request`.
    pub(crate) async fn find<R: Message, M: Message + Default>(
        call: &CallContext,
        object: &ObjectType,
        find_request: &str,
        request: &R,
    ) -> Result<Page<M>, GatewayError> {
        let request = codec::to_dynamic(find_request, request)?;
        let page = super::find(call, object, &request).await?;
        Ok(Page {
            resources: page
                .resources
                .iter()
                .map(|wire| codec::decode(object, wire))
                .collect::<Result<_, _>>()?,
            next_page_token: page.next_page_token,
        })
    }

    /// [`super::upsert`].
    pub(crate) async fn upsert<M: Message + Default>(
        call: &CallContext,
        object: &ObjectType,
        external_id_field: &str,
        external_id: &str,
        resource: Option<M>,
    ) -> Result<(M, bool), GatewayError> {
        let resource = codec::dynamic_of(object, resource)?;
        let (wire, created) =
            super::upsert(call, object, external_id_field, external_id, resource).await?;
        Ok((codec::decode(object, &wire)?, created))
    }
}
