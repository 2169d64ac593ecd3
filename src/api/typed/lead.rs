//! `LeadService`: typed Lead records, and lead conversion through the SOAP partner API.

use tonic::{Request, Response, Status};

use super::operations::{self, parse_id};
use super::typed_object_service;
use super::{ObjectTable, ObjectType, PERSON_CRITERIA, output, reference, value};
use crate::api::call::{CallContext, respond};
use crate::error::{GatewayError, Reason};
use crate::pb::lead_service_server::LeadService;
use crate::pb::{
    ConvertLeadRequest, ConvertLeadResponse, CreateLeadRequest, DeleteLeadRequest,
    FindLeadsRequest, FindLeadsResponse, GetLeadRequest, Lead, UpdateLeadRequest,
    UpsertLeadRequest, UpsertLeadResponse,
};
use crate::salesforce::soql::{Comparison, Condition, Direction, SelectQuery, SoqlValue};
use crate::salesforce::{LeadConvert, SalesforceId};

/// `Lead`: proto field to API name.
pub(crate) static LEAD: ObjectType = ObjectType::built_in(ObjectTable {
    api_name: "Lead",
    key_prefix: "00Q",
    message: "sfgate.v1.Lead",
    request_field: "lead",
    fields: &[
        value("first_name", "FirstName"),
        value("last_name", "LastName"),
        value("company", "Company"),
        value("title", "Title"),
        value("email", "Email"),
        value("phone", "Phone"),
        value("mobile_phone", "MobilePhone"),
        value("status", "Status"),
        value("lead_source", "LeadSource"),
        value("rating", "Rating"),
        value("industry", "Industry"),
        value("description", "Description"),
        value("website", "Website"),
        reference("owner_id", "OwnerId"),
        output("is_converted", "IsConverted"),
        output("converted_account_id", "ConvertedAccountId"),
        output("converted_contact_id", "ConvertedContactId"),
        output("converted_opportunity_id", "ConvertedOpportunityId"),
        output("converted_date", "ConvertedDate"),
        output("created_date", "CreatedDate"),
        output("last_modified_date", "LastModifiedDate"),
    ],
    criteria: PERSON_CRITERIA,
});

const ACCOUNT_PREFIX: &str = "001";
const CONTACT_PREFIX: &str = "003";
const USER_PREFIX: &str = "005";

typed_object_service! {
    /// The typed Lead service.
    LeadApi, LeadService, LEAD, Lead, lead,
    create_lead, CreateLeadRequest,
    get_lead, GetLeadRequest,
    update_lead, UpdateLeadRequest,
    delete_lead, DeleteLeadRequest,
    find_leads, FindLeadsRequest, FindLeadsResponse, leads,
    upsert_lead, UpsertLeadRequest, UpsertLeadResponse;

    async fn convert_lead(&self, request: Request<ConvertLeadRequest>) -> Result<Response<ConvertLeadResponse>, Status> {
        let call = self.state.call_context(&request)?;
        respond(convert(&call, request.into_inner()).await)
    }
}

fn optional_id(
    field: &str,
    object: &'static str,
    prefix: &str,
    text: &str,
) -> Result<Option<SalesforceId>, GatewayError> {
    if text.is_empty() {
        return Ok(None);
    }
    SalesforceId::parse_for(text, object, prefix)
        .map(Some)
        .map_err(|error| GatewayError::invalid_field(field, format!("{text:?} {error}")))
}

async fn convert(
    call: &CallContext,
    request: ConvertLeadRequest,
) -> Result<ConvertLeadResponse, GatewayError> {
    let lead_id = parse_id(&LEAD, "lead_id", &request.lead_id)?;
    let account_id = optional_id("account_id", "Account", ACCOUNT_PREFIX, &request.account_id)?;
    let contact_id = optional_id("contact_id", "Contact", CONTACT_PREFIX, &request.contact_id)?;
    let owner_id = optional_id("owner_id", "User", USER_PREFIX, &request.owner_id)?;
    if contact_id.is_some() && account_id.is_none() {
        return Err(GatewayError::invalid_field(
            "account_id",
            "is required when contact_id is set",
        ));
    }
    call.within_deadline(async {
        let converted_status = match request.converted_status.as_str() {
            "" => default_converted_status(call).await?,
            status => status.to_owned(),
        };
        let convert = LeadConvert {
            lead_id,
            account_id,
            contact_id,
            converted_status,
            do_not_create_opportunity: request.do_not_create_opportunity,
            opportunity_name: Some(request.opportunity_name).filter(|name| !name.is_empty()),
            owner_id,
        };
        let conversion = call
            .client
            .convert_lead(&convert)
            .await
            // SOAP errors name LeadConvert's fields, which are this request's own field names.
            .map_err(GatewayError::Salesforce)?;
        Ok(ConvertLeadResponse {
            lead_id: conversion.lead_id.to_string(),
            account_id: conversion.account_id.to_string(),
            contact_id: conversion.contact_id.to_string(),
            opportunity_id: conversion
                .opportunity_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        })
    })
    .await
}

/// The first LeadStatus with IsConverted = true, as Salesforce's own convert page picks it.
async fn default_converted_status(call: &CallContext) -> Result<String, GatewayError> {
    let query = SelectQuery::new("LeadStatus", ["MasterLabel"])
        .and_then(|query| {
            query.filter(Condition::Compare {
                field: "IsConverted".into(),
                comparison: Comparison::Equals,
                value: SoqlValue::Bool(true),
            })
        })
        .and_then(|query| query.order_by("SortOrder", Direction::Ascending))
        .map_err(|error| GatewayError::Internal(error.to_string()))?
        .limit(1);
    let page = call
        .client
        .query(&query)
        .await
        .map_err(|error| operations::upstream(&LEAD, error))?;
    page.records
        .first()
        .and_then(|record| record.get("MasterLabel"))
        .and_then(|label| label.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            GatewayError::refused(
                Reason::NoConvertedLeadStatus,
                "the org has no LeadStatus with IsConverted = true; set converted_status",
            )
        })
}
