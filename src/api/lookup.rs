//! `LookupService`: the contact-center data dip. One SOSL search finds the accounts and contacts
//! with the caller's number in a phone field; one SOQL query finds those contacts' open cases.

use tonic::{Request, Response, Status};

use super::call::{ApiState, CallContext, respond};
use super::phone;
use super::typed::account::ACCOUNT;
use super::typed::case::CASE;
use super::typed::contact::CONTACT;
use super::typed::{ObjectType, codec, operations};
use crate::error::GatewayError;
use crate::pb::lookup_service_server::LookupService;
use crate::pb::{LookupByPhoneRequest, LookupByPhoneResponse};
use crate::salesforce::soql::{Comparison, Condition, Direction, SelectQuery, SoqlValue};
use crate::salesforce::sosl::PhoneSearch;
use crate::salesforce::{Record, SalesforceId};

/// The most open cases returned.
const MAX_OPEN_CASES: u32 = 100;

/// The lookup service.
#[derive(Debug)]
pub(crate) struct LookupApi<Limiter> {
    state: ApiState<Limiter>,
}

impl<Limiter> LookupApi<Limiter> {
    /// Creates the service over the shared state.
    pub(crate) fn new(state: ApiState<Limiter>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl<Limiter: Send + Sync + 'static> LookupService for LookupApi<Limiter> {
    async fn lookup_by_phone(
        &self,
        request: Request<LookupByPhoneRequest>,
    ) -> Result<Response<LookupByPhoneResponse>, Status> {
        let call = self.state.call_context(&request)?;
        respond(lookup(&call, request.into_inner()).await)
    }
}

fn api_fields(object: &ObjectType) -> impl Iterator<Item = &'static str> + '_ {
    std::iter::once("Id").chain(object.fields.iter().map(|field| field.api))
}

fn internal(error: impl std::fmt::Display) -> GatewayError {
    GatewayError::Internal(error.to_string())
}

async fn lookup(
    call: &CallContext,
    request: LookupByPhoneRequest,
) -> Result<LookupByPhoneResponse, GatewayError> {
    let default_country = match request.default_country_code.as_str() {
        "" => "1",
        code => code.trim_start_matches('+'),
    };
    let number = phone::normalize(&request.phone, default_country)?;
    let search = PhoneSearch::new(&number.national)
        .returning(ACCOUNT.api_name, api_fields(&ACCOUNT))
        .and_then(|search| search.returning(CONTACT.api_name, api_fields(&CONTACT)))
        .map_err(internal)?;
    call.within_deadline(async {
        let found = call
            .client
            .search(&search)
            .await
            .map_err(|error| operations::upstream(&CONTACT, error))?;
        let instance_url = call
            .client
            .instance_url()
            .await
            .map_err(|error| operations::upstream(&CONTACT, error))?;
        let of_type = |object: &ObjectType| -> Vec<&Record> {
            found
                .iter()
                .filter(|record| record["attributes"]["type"].as_str() == Some(object.api_name))
                .collect()
        };
        let contact_records = of_type(&CONTACT);
        let contact_ids: Vec<SoqlValue> = contact_records
            .iter()
            .filter_map(|record| record.get("Id")?.as_str())
            .filter_map(|id| SalesforceId::parse(id).ok())
            .map(|id| SoqlValue::Text(id.to_string()))
            .collect();
        let open_cases = if contact_ids.is_empty() {
            Vec::new()
        } else {
            let query = SelectQuery::new(CASE.api_name, api_fields(&CASE))
                .and_then(|query| {
                    query.filter(Condition::In {
                        field: "ContactId".into(),
                        values: contact_ids,
                    })
                })
                .and_then(|query| {
                    query.filter(Condition::Compare {
                        field: "IsClosed".into(),
                        comparison: Comparison::Equals,
                        value: SoqlValue::Bool(false),
                    })
                })
                .and_then(|query| query.order_by("CreatedDate", Direction::Descending))
                .map_err(internal)?
                .limit(MAX_OPEN_CASES);
            let cases = call
                .client
                .query(&query)
                .await
                .map_err(|error| operations::upstream(&CASE, error))?
                .records;
            codec::resources_from_records(&CASE, &cases, &instance_url)?
        };
        Ok(LookupByPhoneResponse {
            e164: number.e164.clone(),
            accounts: codec::resources_from_records(&ACCOUNT, of_type(&ACCOUNT), &instance_url)?,
            contacts: codec::resources_from_records(&CONTACT, contact_records, &instance_url)?,
            open_cases,
        })
    })
    .await
}
