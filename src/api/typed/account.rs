//! `AccountService`: typed Account records.

use super::typed_object_service;
use super::{ObjectTable, ObjectType, equals, output, reference, value};
use crate::pb::account_service_server::AccountService;
use crate::pb::{
    Account, CreateAccountRequest, DeleteAccountRequest, FindAccountsRequest, FindAccountsResponse,
    GetAccountRequest, UpdateAccountRequest, UpsertAccountRequest, UpsertAccountResponse,
};

/// `Account`: proto field to API name.
pub(crate) static ACCOUNT: ObjectType = ObjectType::built_in(ObjectTable {
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
    criteria: &[equals("name", "Name"), equals("phone", "Phone")],
});

typed_object_service! {
    /// The typed Account service.
    AccountApi, AccountService, ACCOUNT, Account, account,
    create_account, CreateAccountRequest,
    get_account, GetAccountRequest,
    update_account, UpdateAccountRequest,
    delete_account, DeleteAccountRequest,
    find_accounts, FindAccountsRequest, FindAccountsResponse, accounts,
    upsert_account, UpsertAccountRequest, UpsertAccountResponse;
}
