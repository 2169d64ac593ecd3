//! Every typed RPC of the six object services, end to end: tonic client -> sfgate -> sandbox org.

use prost_types::{Struct, Value, value::Kind};
use serde_json::json;
use sfgate::pb::*;
use sfgate_testkit::{mask, reason, spawn_app, violated_fields};
use tonic::Code;

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn string_value(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

#[tokio::test]
async fn lead_create_get_update_delete_round_trip() {
    let app = spawn_app().await;
    let mut leads = app.leads();

    let created = leads
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                first_name: text("Ana"),
                last_name: text("Rivera"),
                company: text("Blue Harbor Logistics"),
                email: text("ana.rivera@example.com"),
                phone: text("(415) 555-0101"),
                ..Lead::default()
            }),
        }))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(created.id.len(), 18);
    assert!(created.id.starts_with("00Q"));
    assert_eq!(
        created.url,
        format!(
            "{}/lightning/r/Lead/{}/view",
            app.sandbox.base_url(),
            created.id
        )
    );
    assert_eq!(
        created.status.as_deref(),
        Some("Open - Not Contacted"),
        "the org's default status comes back"
    );
    assert!(created.created_date.is_some());
    let create_call = app
        .data_requests()
        .into_iter()
        .find(|request| request.method == "POST")
        .unwrap();
    assert_eq!(create_call.path, "/services/data/v66.0/sobjects/Lead");
    let body: serde_json::Value = serde_json::from_str(&create_call.body).unwrap();
    assert_eq!(
        body,
        json!({"FirstName": "Ana", "LastName": "Rivera", "Company": "Blue Harbor Logistics", "Email": "ana.rivera@example.com", "Phone": "(415) 555-0101"})
    );

    let fetched = leads
        .get_lead(app.request(GetLeadRequest {
            id: created.id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created);
    let by_15 = leads
        .get_lead(app.request(GetLeadRequest {
            id: created.id[..15].to_owned(),
            fields: mask(&["email"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_15.email.as_deref(), Some("ana.rivera@example.com"));
    assert_eq!(by_15.last_name, None, "only the masked field is read");
    assert!(
        app.data_requests()
            .last()
            .unwrap()
            .query
            .as_deref()
            .unwrap()
            .contains("fields=Id%2CEmail")
    );

    app.sandbox.clear_requests();
    let updated = leads
        .update_lead(app.request(UpdateLeadRequest {
            lead: Some(Lead {
                id: created.id.clone(),
                title: text("Head of Operations"),
                company: text("ignored: not in the mask"),
                ..Lead::default()
            }),
            update_mask: mask(&["title", "phone"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.title.as_deref(), Some("Head of Operations"));
    assert_eq!(updated.phone, None, "a masked field left unset is cleared");
    assert_eq!(updated.company.as_deref(), Some("Blue Harbor Logistics"));
    let patch = app
        .data_requests()
        .into_iter()
        .find(|request| request.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.path,
        format!("/services/data/v66.0/sobjects/Lead/{}", created.id)
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&patch.body).unwrap(),
        json!({"Title": "Head of Operations", "Phone": null})
    );

    leads
        .delete_lead(app.request(DeleteLeadRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap();
    let gone = leads
        .get_lead(app.request(GetLeadRequest {
            id: created.id.clone(),
            fields: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn update_refuses_output_only_and_unknown_mask_paths_before_any_call() {
    let app = spawn_app().await;
    let lead = app
        .sandbox
        .find_records("Lead", "LastName", "Reed")
        .into_iter()
        .next()
        .expect("seeded lead Reed");
    let id = lead["Id"].as_str().unwrap().to_owned();
    app.sandbox.clear_requests();
    for (paths, complaint) in [
        (vec!["is_converted"], "output only"),
        (vec!["nickname"], "not a field of Lead"),
    ] {
        let status = app
            .leads()
            .update_lead(app.request(UpdateLeadRequest {
                lead: Some(Lead {
                    id: id.clone(),
                    ..Lead::default()
                }),
                update_mask: mask(&paths),
            }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(complaint), "{}", status.message());
        assert_eq!(violated_fields(&status), vec!["update_mask".to_string()]);
    }
    assert!(app.data_requests().is_empty(), "nothing reached Salesforce");
}

#[tokio::test]
async fn custom_fields_travel_in_extra_fields() {
    let app = spawn_app().await;
    let mut accounts = app.accounts();
    let account = accounts
        .create_account(app.request(CreateAccountRequest {
            account: Some(Account {
                name: text("Northwind Traders"),
                number_of_employees: Some(120),
                annual_revenue: Some(2_500_000.0),
                extra_fields: Some(Struct {
                    fields: [("External_Id__c".to_owned(), string_value("NW-001"))].into(),
                }),
                ..Account::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.number_of_employees, Some(120));
    assert_eq!(account.annual_revenue, Some(2_500_000.0));
    let extras = account.extra_fields.expect("custom fields come back");
    assert_eq!(extras.fields["External_Id__c"], string_value("NW-001"));

    let renamed = accounts
        .update_account(app.request(UpdateAccountRequest {
            account: Some(Account {
                id: account.id.clone(),
                extra_fields: Some(Struct {
                    fields: [("External_Id__c".to_owned(), string_value("NW-002"))].into(),
                }),
                ..Account::default()
            }),
            update_mask: mask(&["extra_fields.External_Id__c"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        renamed.extra_fields.unwrap().fields["External_Id__c"],
        string_value("NW-002")
    );

    let typed_name_in_extras = accounts
        .create_account(app.request(CreateAccountRequest {
            account: Some(Account {
                name: text("X"),
                extra_fields: Some(Struct {
                    fields: [("Phone".to_owned(), string_value("1"))].into(),
                }),
                ..Account::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(typed_name_in_extras.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&typed_name_in_extras),
        vec!["account.extra_fields.Phone".to_string()]
    );
}

#[tokio::test]
async fn find_pages_through_every_match_exactly_once() {
    let app = spawn_app().await;
    let mut leads = app.leads();
    let mut created = Vec::new();
    for index in 0..5 {
        let lead = leads
            .create_lead(app.request(CreateLeadRequest {
                lead: Some(Lead {
                    last_name: text("Pager"),
                    company: text(&format!("Paging Co {index}")),
                    email: text(&format!("pager{index}@example.com")),
                    ..Lead::default()
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        created.push(lead.id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = leads
            .find_leads(app.request(FindLeadsRequest {
                last_name: "Pager".into(),
                page_size: 2,
                page_token: token.clone(),
                ..FindLeadsRequest::default()
            }))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        // Five leads in pages of two: a fourth page means the page token does not advance.
        assert!(pages <= 3, "paging does not end: page {pages}");
        assert!(page.leads.len() <= 2);
        assert!(
            page.leads
                .iter()
                .all(|lead| lead.url.ends_with("/view")
                    && lead.last_name.as_deref() == Some("Pager"))
        );
        seen.extend(page.leads.into_iter().map(|lead| lead.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    created.sort();
    assert_eq!(seen, created, "every lead once, in ID order");
    assert_eq!(pages, 3);

    let soql = app
        .data_requests()
        .into_iter()
        .rfind(|request| request.path.ends_with("/query"))
        .unwrap();
    let query = soql.query.unwrap();
    assert!(
        query.contains("LastName+%3D+%27Pager%27")
            || query.contains("LastName%20%3D%20%27Pager%27"),
        "{query}"
    );

    let mismatched = leads
        .find_leads(app.request(FindLeadsRequest {
            last_name: "Other".into(),
            page_token: token,
            ..FindLeadsRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(mismatched.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&mismatched), vec!["page_token".to_string()]);

    let no_criteria = leads
        .find_leads(app.request(FindLeadsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(no_criteria.code(), Code::InvalidArgument);
    assert!(violated_fields(&no_criteria).contains(&"email".to_string()));
}

#[tokio::test]
async fn find_values_with_quotes_are_matched_literally() {
    let app = spawn_app().await;
    let mut contacts = app.contacts();
    let tricky = "O'Brien\\' OR Name != '";
    contacts
        .create_contact(app.request(CreateContactRequest {
            contact: Some(Contact {
                last_name: text(tricky),
                ..Contact::default()
            }),
        }))
        .await
        .unwrap();
    let found = contacts
        .find_contacts(app.request(FindContactsRequest {
            last_name: tricky.into(),
            ..FindContactsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.contacts.len(), 1);
    assert_eq!(found.contacts[0].last_name.as_deref(), Some(tricky));
}

#[tokio::test]
async fn upsert_creates_then_updates_by_external_id() {
    let app = spawn_app().await;
    let mut accounts = app.accounts();
    let upsert = |name: &str| {
        app.request(UpsertAccountRequest {
            external_id_field: "External_Id__c".into(),
            external_id: "ERP/42".into(),
            account: Some(Account {
                name: text(name),
                ..Account::default()
            }),
        })
    };
    let first = accounts
        .upsert_account(upsert("Globex"))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    let second = accounts
        .upsert_account(upsert("Globex Corporation"))
        .await
        .unwrap()
        .into_inner();
    assert!(!second.created);
    let (first, second) = (first.account.unwrap(), second.account.unwrap());
    assert_eq!(first.id, second.id);
    assert_eq!(second.name.as_deref(), Some("Globex Corporation"));
    let upsert_call = app
        .data_requests()
        .into_iter()
        .find(|request| request.method == "PATCH")
        .unwrap();
    assert_eq!(
        upsert_call.path,
        "/services/data/v66.0/sobjects/Account/External_Id__c/ERP%2F42"
    );
}

#[tokio::test]
async fn an_external_id_reaches_salesforce_byte_for_byte_or_not_at_all() {
    let app = spawn_app().await;
    let mut accounts = app.accounts();
    let upsert = |external_id: &str| {
        app.request(UpsertAccountRequest {
            external_id_field: "External_Id__c".into(),
            external_id: external_id.into(),
            account: Some(Account {
                name: text("Control characters"),
                ..Account::default()
            }),
        })
    };
    // URL parsers drop tab, CR and LF: ".\n." would become "..", "ERP\t42" would be "ERP42".
    for refused in [".\n.", "ERP\t42", "line\r\nbreak", "..", ""] {
        let status = accounts.upsert_account(upsert(refused)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert_eq!(violated_fields(&status), ["external_id"], "{refused:?}");
    }
    assert!(
        app.data_requests().is_empty(),
        "nothing reached salesforce: {:?}",
        app.data_requests()
    );
    let kept = "ERP 42/é?#%";
    let created = accounts
        .upsert_account(upsert(kept))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);
    let stored = app
        .sandbox
        .find_records("Account", "Id", &created.account.unwrap().id);
    assert_eq!(stored[0]["External_Id__c"], kept);
}

#[tokio::test]
async fn reference_criteria_take_only_ids_of_the_referenced_object() {
    let app = spawn_app().await;
    let lead_id = app.seeded_lead();
    let wrong_object = app
        .opportunities()
        .find_opportunities(app.request(FindOpportunitiesRequest {
            account_id: lead_id.clone(),
            ..FindOpportunitiesRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(wrong_object.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&wrong_object), ["account_id"]);
    assert!(
        wrong_object.message().contains("Account"),
        "{}",
        wrong_object.message()
    );
    let not_a_contact = app
        .cases()
        .find_cases(app.request(FindCasesRequest {
            contact_id: lead_id,
            ..FindCasesRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(not_a_contact.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&not_a_contact), ["contact_id"]);
    assert!(app.data_requests().is_empty(), "nothing reached salesforce");
}

#[tokio::test]
async fn contact_opportunity_case_campaign_crud() {
    let app = spawn_app().await;
    let account_id = app
        .accounts()
        .create_account(app.request(CreateAccountRequest {
            account: Some(Account {
                name: text("Initech"),
                ..Account::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .id;

    let mut contacts = app.contacts();
    let contact = contacts
        .create_contact(app.request(CreateContactRequest {
            contact: Some(Contact {
                last_name: text("Lumbergh"),
                account_id: text(&account_id),
                phone: text("+1 415 555 0177"),
                ..Contact::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(contact.account_id.as_deref(), Some(account_id.as_str()));
    let found = contacts
        .find_contacts(app.request(FindContactsRequest {
            phone: "+1 415 555 0177".into(),
            ..FindContactsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found
            .contacts
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        vec![contact.id.clone()]
    );

    let mut opportunities = app.opportunities();
    let opportunity = opportunities
        .create_opportunity(app.request(CreateOpportunityRequest {
            opportunity: Some(Opportunity {
                name: text("Initech - TPS"),
                account_id: text(&account_id),
                stage_name: text("Prospecting"),
                close_date: text("2026-12-31"),
                amount: Some(12000.0),
                ..Opportunity::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opportunity.close_date.as_deref(), Some("2026-12-31"));
    let won = opportunities
        .update_opportunity(app.request(UpdateOpportunityRequest {
            opportunity: Some(Opportunity {
                id: opportunity.id.clone(),
                stage_name: text("Closed Won"),
                ..Opportunity::default()
            }),
            update_mask: mask(&["stage_name"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(won.is_closed && won.is_won);
    let by_account = opportunities
        .find_opportunities(app.request(FindOpportunitiesRequest {
            account_id: account_id.clone(),
            ..FindOpportunitiesRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_account.opportunities.len(), 1);
    let bad_date = opportunities
        .create_opportunity(app.request(CreateOpportunityRequest {
            opportunity: Some(Opportunity {
                name: text("x"),
                stage_name: text("Prospecting"),
                close_date: text("31/12/2026"),
                ..Opportunity::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad_date),
        vec!["opportunity.close_date".to_string()]
    );

    let mut cases = app.cases();
    let case = cases
        .create_case(app.request(CreateCaseRequest {
            case: Some(Case {
                subject: text("Printer on fire"),
                contact_id: text(&contact.id),
                origin: text("Phone"),
                ..Case::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(case.case_number.starts_with("0000"), "{}", case.case_number);
    assert_eq!(case.status.as_deref(), Some("New"));
    let open = cases
        .find_cases(app.request(FindCasesRequest {
            contact_id: contact.id.clone(),
            open_only: true,
            ..FindCasesRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.cases.len(), 1);
    let closed = cases
        .update_case(app.request(UpdateCaseRequest {
            case: Some(Case {
                id: case.id.clone(),
                status: text("Closed"),
                ..Case::default()
            }),
            update_mask: mask(&["status"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(closed.is_closed);
    let open = cases
        .find_cases(app.request(FindCasesRequest {
            contact_id: contact.id.clone(),
            open_only: true,
            ..FindCasesRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(open.cases.is_empty(), "a closed case is not open");
    let by_number = cases
        .find_cases(app.request(FindCasesRequest {
            case_number: case.case_number.clone(),
            ..FindCasesRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_number.cases[0].id, case.id);

    let mut campaigns = app.campaigns();
    let campaign = campaigns
        .create_campaign(app.request(CreateCampaignRequest {
            campaign: Some(Campaign {
                name: text("Spring Webinar"),
                is_active: Some(true),
                start_date: text("2026-03-01"),
                budgeted_cost: Some(5000.0),
                ..Campaign::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(campaign.is_active, Some(true));
    let upserted = campaigns
        .upsert_campaign(app.request(UpsertCampaignRequest {
            external_id_field: "Id".into(),
            external_id: campaign.id.clone(),
            campaign: Some(Campaign {
                status: text("In Progress"),
                ..Campaign::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!upserted.created);
    assert_eq!(
        upserted.campaign.unwrap().status.as_deref(),
        Some("In Progress")
    );
    let named = campaigns
        .find_campaigns(app.request(FindCampaignsRequest {
            name: "Spring Webinar".into(),
            ..FindCampaignsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(named.campaigns.len(), 1);

    for delete in [
        contacts
            .delete_contact(app.request(DeleteContactRequest {
                id: contact.id.clone(),
            }))
            .await,
        opportunities
            .delete_opportunity(app.request(DeleteOpportunityRequest {
                id: opportunity.id.clone(),
            }))
            .await,
        cases
            .delete_case(app.request(DeleteCaseRequest {
                id: case.id.clone(),
            }))
            .await,
        campaigns
            .delete_campaign(app.request(DeleteCampaignRequest {
                id: campaign.id.clone(),
            }))
            .await,
        app.accounts()
            .delete_account(app.request(DeleteAccountRequest {
                id: account_id.clone(),
            }))
            .await,
    ] {
        delete.expect("delete");
    }
    assert_eq!(app.sandbox.find_records("Case", "Id", &case.id).len(), 0);
}

#[tokio::test]
async fn ids_are_checked_before_any_call() {
    let app = spawn_app().await;
    app.sandbox.clear_requests();
    let cases = [
        ("00Q5g00000AbC", "15 or 18"),
        ("00Q5g00000AbCdEAAA", "checksum"),
        ("001D000000IqhSLIAZ", "not a Lead ID"),
        ("00Q5g00000AbC'E", "letters and digits"),
    ];
    for (id, complaint) in cases {
        let status = app
            .leads()
            .get_lead(app.request(GetLeadRequest {
                id: id.into(),
                fields: None,
            }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{id}");
        assert!(
            status.message().contains(complaint),
            "{id}: {}",
            status.message()
        );
        assert_eq!(violated_fields(&status), vec!["id".to_string()]);
        assert_eq!(reason(&status), "INVALID_ARGUMENT");
    }
    let bad_reference = app
        .contacts()
        .create_contact(app.request(CreateContactRequest {
            contact: Some(Contact {
                last_name: text("X"),
                account_id: text("001nope"),
                ..Contact::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad_reference),
        vec!["contact.account_id".to_string()]
    );
    assert!(app.data_requests().is_empty(), "no call reached Salesforce");
}

fn custom(field: &str, value: &str) -> Option<Struct> {
    Some(Struct {
        fields: [(field.to_owned(), string_value(value))].into(),
    })
}

#[tokio::test]
async fn every_remaining_rpc_round_trips() {
    let app = spawn_app().await;

    let mut leads = app.leads();
    let upsert_lead = |company: &str| {
        app.request(UpsertLeadRequest {
            external_id_field: "External_Id__c".into(),
            external_id: "WEB-77".into(),
            lead: Some(Lead {
                last_name: text("Okafor"),
                company: text(company),
                ..Lead::default()
            }),
        })
    };
    let created = leads
        .upsert_lead(upsert_lead("Okafor Foods"))
        .await
        .unwrap()
        .into_inner();
    let updated = leads
        .upsert_lead(upsert_lead("Okafor Foods Ltd"))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created && !updated.created);
    assert_eq!(
        updated.lead.unwrap().company.as_deref(),
        Some("Okafor Foods Ltd")
    );

    let mut contacts = app.contacts();
    let contact = contacts
        .upsert_contact(app.request(UpsertContactRequest {
            external_id_field: "External_Id__c".into(),
            external_id: "CRM-9".into(),
            contact: Some(Contact {
                last_name: text("Haddad"),
                email: text("haddad@example.com"),
                ..Contact::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(contact.created);
    let contact = contact.contact.unwrap();
    assert_eq!(
        contact.extra_fields.as_ref().unwrap().fields["External_Id__c"],
        string_value("CRM-9")
    );
    let fetched = contacts
        .get_contact(app.request(GetContactRequest {
            id: contact.id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, contact);
    let moved = contacts
        .update_contact(app.request(UpdateContactRequest {
            contact: Some(Contact {
                id: contact.id.clone(),
                mailing_city: text("Lisbon"),
                ..Contact::default()
            }),
            update_mask: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.mailing_city.as_deref(), Some("Lisbon"));
    assert_eq!(
        moved.email.as_deref(),
        Some("haddad@example.com"),
        "an empty mask changes only the fields set"
    );

    let mut accounts = app.accounts();
    let northwind = accounts
        .find_accounts(app.request(FindAccountsRequest {
            phone: "(415) 555-0142".into(),
            ..FindAccountsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(northwind.len(), 1);
    let by_name = accounts
        .find_accounts(app.request(FindAccountsRequest {
            name: northwind[0].name.clone().unwrap(),
            ..FindAccountsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(by_name, northwind);
    let account = accounts
        .get_account(app.request(GetAccountRequest {
            id: northwind[0].id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.billing_city.as_deref(), Some("San Francisco"));
    assert_eq!(account.number_of_employees, Some(240));

    let mut opportunities = app.opportunities();
    let opportunity = opportunities
        .upsert_opportunity(app.request(UpsertOpportunityRequest {
            external_id_field: "External_Id__c".into(),
            external_id: "OPP-9001".into(),
            opportunity: Some(Opportunity {
                name: text("Northwind - Expansion"),
                account_id: text(&account.id),
                stage_name: text("Qualification"),
                close_date: text("2027-01-15"),
                ..Opportunity::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(opportunity.created);
    let opportunity = opportunity.opportunity.unwrap();
    let fetched = opportunities
        .get_opportunity(app.request(GetOpportunityRequest {
            id: opportunity.id.clone(),
            fields: mask(&["stage_name", "account_id"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.stage_name.as_deref(), Some("Qualification"));
    assert_eq!(fetched.account_id.as_deref(), Some(account.id.as_str()));
    assert_eq!(fetched.name, None);

    let mut cases = app.cases();
    let case = cases
        .upsert_case(app.request(UpsertCaseRequest {
            external_id_field: "External_Id__c".into(),
            external_id: "TICKET-311".into(),
            case: Some(Case {
                subject: text("Social: delayed delivery"),
                origin: text("Social"),
                priority: text("High"),
                ..Case::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(case.created);
    let case = case.case.unwrap();
    let fetched = cases
        .get_case(app.request(GetCaseRequest {
            id: case.id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.priority.as_deref(), Some("High"));
    assert_eq!(fetched.case_number, case.case_number);

    let mut campaigns = app.campaigns();
    let campaign_id = app.sandbox.find_records("Campaign", "Status", "Planned")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let campaign = campaigns
        .update_campaign(app.request(UpdateCampaignRequest {
            campaign: Some(Campaign {
                id: campaign_id.clone(),
                status: text("In Progress"),
                extra_fields: custom("External_Id__c", "CMP-1"),
                ..Campaign::default()
            }),
            update_mask: mask(&["status", "extra_fields"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(campaign.status.as_deref(), Some("In Progress"));
    let fetched = campaigns
        .get_campaign(app.request(GetCampaignRequest {
            id: campaign_id,
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, campaign);
    assert_eq!(
        fetched.extra_fields.unwrap().fields["External_Id__c"],
        string_value("CMP-1")
    );
}

#[tokio::test]
async fn bad_upsert_and_update_requests_are_refused_before_any_call() {
    let app = spawn_app().await;
    app.sandbox.clear_requests();
    for (field, value, expected) in [
        ("External_Id__c", ".", "external_id"),
        ("External_Id__c", "", "external_id"),
        ("Bad Field", "x", "external_id_field"),
    ] {
        let status = app
            .accounts()
            .upsert_account(app.request(UpsertAccountRequest {
                external_id_field: field.into(),
                external_id: value.into(),
                account: Some(Account {
                    name: text("X"),
                    ..Account::default()
                }),
            }))
            .await
            .unwrap_err();
        assert_eq!(
            violated_fields(&status),
            vec![expected.to_string()],
            "{field} {value}"
        );
    }
    let nothing = app
        .accounts()
        .update_account(app.request(UpdateAccountRequest {
            account: Some(Account {
                id: "001D000000IqhSL".into(),
                ..Account::default()
            }),
            update_mask: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&nothing), vec!["update_mask".to_string()]);
    assert!(app.data_requests().is_empty());
}
