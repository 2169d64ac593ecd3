//! `ContactService`: typed Contact records.

use super::typed_object_service;
use super::{ObjectTable, ObjectType, PERSON_CRITERIA, output, reference, value};
use crate::pb::contact_service_server::ContactService;
use crate::pb::{
    Contact, CreateContactRequest, DeleteContactRequest, FindContactsRequest, FindContactsResponse,
    GetContactRequest, UpdateContactRequest, UpsertContactRequest, UpsertContactResponse,
};

/// `Contact`: proto field to API name.
pub(crate) static CONTACT: ObjectType = ObjectType::built_in(ObjectTable {
    api_name: "Contact",
    key_prefix: "003",
    message: "sfgate.v1.Contact",
    request_field: "contact",
    fields: &[
        value("first_name", "FirstName"),
        value("last_name", "LastName"),
        reference("account_id", "AccountId"),
        value("title", "Title"),
        value("email", "Email"),
        value("phone", "Phone"),
        value("mobile_phone", "MobilePhone"),
        value("department", "Department"),
        value("lead_source", "LeadSource"),
        value("description", "Description"),
        value("mailing_street", "MailingStreet"),
        value("mailing_city", "MailingCity"),
        value("mailing_state", "MailingState"),
        value("mailing_postal_code", "MailingPostalCode"),
        value("mailing_country", "MailingCountry"),
        reference("owner_id", "OwnerId"),
        output("created_date", "CreatedDate"),
        output("last_modified_date", "LastModifiedDate"),
    ],
    criteria: PERSON_CRITERIA,
});

typed_object_service! {
    /// The typed Contact service.
    ContactApi, ContactService, CONTACT, Contact, contact,
    create_contact, CreateContactRequest,
    get_contact, GetContactRequest,
    update_contact, UpdateContactRequest,
    delete_contact, DeleteContactRequest,
    find_contacts, FindContactsRequest, FindContactsResponse, contacts,
    upsert_contact, UpsertContactRequest, UpsertContactResponse;
}
