//! `AccountService`: typed Account records.

use std::sync::OnceLock;

use super::object_type::{Criterion, CriterionKind, ObjectType, output, reference, value};
use super::typed_object_service;
use crate::pb::account_service_server::AccountService;
use crate::pb::{
    Account, CreateAccountRequest, DeleteAccountRequest, FindAccountsRequest, FindAccountsResponse,
    GetAccountRequest, UpdateAccountRequest, UpsertAccountRequest, UpsertAccountResponse,
};

/// `Account`: proto field to API name.
pub(crate) static ACCOUNT: ObjectType = ObjectType {
    api_name: "Account",
    key_prefix: "001",
    message: "sfgate.v1.Account",
    request_field: "account",
    fields: &[
        value("name", "Name"),
        value("account_number", "AccountNumber"),
        value("type", "Type"),
        value("industry", "Industry"),
        value("phone", "Phone"),
        value("website", "Website"),
        value("description", "Description"),
        value("annual_revenue", "AnnualRevenue"),
        value("number_of_employees", "NumberOfEmployees"),
        value("billing_street", "BillingStreet"),
        value("billing_city", "BillingCity"),
        value("billing_state", "BillingState"),
        value("billing_postal_code", "BillingPostalCode"),
        value("billing_country", "BillingCountry"),
        reference("parent_id", "ParentId"),
        reference("owner_id", "OwnerId"),
        output("created_date", "CreatedDate"),
        output("last_modified_date", "LastModifiedDate"),
    ],
    criteria: &[
        Criterion {
            proto: "name",
            api: "Name",
            kind: CriterionKind::Equals,
        },
        Criterion {
            proto: "phone",
            api: "Phone",
            kind: CriterionKind::Equals,
        },
    ],
    encoding: OnceLock::new(),
};

typed_object_service! {
    /// The typed Account service.
    AccountApi implements AccountService for ACCOUNT, resource Account {
        create: create_account(CreateAccountRequest) takes account,
        get: get_account(GetAccountRequest),
        update: update_account(UpdateAccountRequest) takes account,
        delete: delete_account(DeleteAccountRequest),
        find: find_accounts(FindAccountsRequest) -> FindAccountsResponse lists accounts,
        upsert: upsert_account(UpsertAccountRequest) -> UpsertAccountResponse,
    }
}
