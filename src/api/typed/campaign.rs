//! `CampaignService`: typed Campaign records.

use super::typed_object_service;
use super::{ObjectTable, ObjectType, date, equals, output, reference, value};
use crate::pb::campaign_service_server::CampaignService;
use crate::pb::{
    Campaign, CreateCampaignRequest, DeleteCampaignRequest, FindCampaignsRequest,
    FindCampaignsResponse, GetCampaignRequest, UpdateCampaignRequest, UpsertCampaignRequest,
    UpsertCampaignResponse,
};

/// `Campaign`: proto field to API name.
pub(crate) static CAMPAIGN: ObjectType = ObjectType::built_in(ObjectTable {
    api_name: "Campaign",
    key_prefix: "701",
    message: "sfgate.v1.Campaign",
    request_field: "campaign",
    fields: &[
        value("name", "Name"),
        value("type", "Type"),
        value("status", "Status"),
        date("start_date", "StartDate"),
        date("end_date", "EndDate"),
        value("is_active", "IsActive"),
        value("budgeted_cost", "BudgetedCost"),
        value("actual_cost", "ActualCost"),
        value("expected_revenue", "ExpectedRevenue"),
        value("expected_response", "ExpectedResponse"),
        value("number_sent", "NumberSent"),
        value("description", "Description"),
        reference("parent_id", "ParentId"),
        reference("owner_id", "OwnerId"),
        output("created_date", "CreatedDate"),
        output("last_modified_date", "LastModifiedDate"),
    ],
    criteria: &[equals("name", "Name")],
});

typed_object_service! {
    /// The typed Campaign service.
    CampaignApi, CampaignService, CAMPAIGN, Campaign, campaign,
    create_campaign, CreateCampaignRequest,
    get_campaign, GetCampaignRequest,
    update_campaign, UpdateCampaignRequest,
    delete_campaign, DeleteCampaignRequest,
    find_campaigns, FindCampaignsRequest, FindCampaignsResponse, campaigns,
    upsert_campaign, UpsertCampaignRequest, UpsertCampaignResponse;
}
