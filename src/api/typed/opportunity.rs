//! `OpportunityService`: typed Opportunity records.

use super::account::ACCOUNT;
use super::typed_object_service;
use super::{ObjectTable, ObjectType, date, equals, id_of, output, reference, value};
use crate::pb::opportunity_service_server::OpportunityService;
use crate::pb::{
    CreateOpportunityRequest, DeleteOpportunityRequest, FindOpportunitiesRequest,
    FindOpportunitiesResponse, GetOpportunityRequest, Opportunity, UpdateOpportunityRequest,
    UpsertOpportunityRequest, UpsertOpportunityResponse,
};

/// `Opportunity`: proto field to API name.
pub(crate) static OPPORTUNITY: ObjectType = ObjectType::built_in(ObjectTable {
    api_name: "Opportunity",
    key_prefix: "006",
    message: "sfgate.v1.Opportunity",
    request_field: "opportunity",
    fields: &[
        value("name", "Name"),
        reference("account_id", "AccountId"),
        value("stage_name", "StageName"),
        date("close_date", "CloseDate"),
        value("amount", "Amount"),
        value("probability", "Probability"),
        value("type", "Type"),
        value("lead_source", "LeadSource"),
        value("next_step", "NextStep"),
        value("description", "Description"),
        reference("campaign_id", "CampaignId"),
        reference("owner_id", "OwnerId"),
        output("is_closed", "IsClosed"),
        output("is_won", "IsWon"),
        output("created_date", "CreatedDate"),
        output("last_modified_date", "LastModifiedDate"),
    ],
    criteria: &[
        equals("name", "Name"),
        id_of("account_id", "AccountId", &ACCOUNT),
    ],
});

typed_object_service! {
    /// The typed Opportunity service.
    OpportunityApi, OpportunityService, OPPORTUNITY, Opportunity, opportunity,
    create_opportunity, CreateOpportunityRequest,
    get_opportunity, GetOpportunityRequest,
    update_opportunity, UpdateOpportunityRequest,
    delete_opportunity, DeleteOpportunityRequest,
    find_opportunities, FindOpportunitiesRequest, FindOpportunitiesResponse, opportunities,
    upsert_opportunity, UpsertOpportunityRequest, UpsertOpportunityResponse;
}
