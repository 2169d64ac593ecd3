//! `LeadService.ConvertLead` (SOAP `convertLead`) and `CaseService.AddCaseComment`, end to end.

use sfgate::pb::*;
use sfgate_testkit::{reason, spawn_app, violated_fields};
use tonic::Code;

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

async fn new_lead(app: &sfgate_testkit::TestApp, last_name: &str) -> Lead {
    app.leads()
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                first_name: text("Jo"),
                last_name: text(last_name),
                company: text(&format!("{last_name} Industries")),
                email: text(&format!("{}@example.com", last_name.to_lowercase())),
                ..Lead::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn convert_lead_creates_account_contact_and_opportunity_through_soap() {
    let app = spawn_app().await;
    let lead = new_lead(&app, "Convertible").await;
    app.sandbox.clear_requests();
    let converted = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: lead.id.clone(),
            opportunity_name: "Convertible - first deal".into(),
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(converted.lead_id, lead.id);
    assert!(converted.account_id.starts_with("001"));
    assert!(converted.contact_id.starts_with("003"));
    assert!(converted.opportunity_id.starts_with("006"));

    let requests = app.data_requests();
    let status_query = requests
        .iter()
        .find(|request| request.path.ends_with("/query"))
        .expect("default status looked up");
    assert!(
        status_query
            .query
            .as_deref()
            .unwrap()
            .contains("LeadStatus")
    );
    let soap = requests
        .iter()
        .find(|request| request.path == "/services/Soap/u/66.0")
        .expect("a SOAP call");
    assert!(
        soap.body.contains("<urn:convertLead>")
            && soap
                .body
                .contains("<urn:convertedStatus>Closed - Converted</urn:convertedStatus>")
    );

    let after = app
        .leads()
        .get_lead(app.request(GetLeadRequest {
            id: lead.id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(after.is_converted);
    assert_eq!(after.converted_account_id, converted.account_id);
    assert_eq!(after.converted_opportunity_id, converted.opportunity_id);
    let opportunity = app
        .opportunities()
        .get_opportunity(app.request(GetOpportunityRequest {
            id: converted.opportunity_id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        opportunity.name.as_deref(),
        Some("Convertible - first deal")
    );

    let again = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: lead.id,
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (again.code(), reason(&again).as_str()),
        (Code::FailedPrecondition, "CANNOT_UPDATE_CONVERTED_LEAD")
    );
}

#[tokio::test]
async fn convert_lead_into_an_existing_account_without_opportunity() {
    let app = spawn_app().await;
    let lead = new_lead(&app, "Merger").await;
    let account = app
        .accounts()
        .create_account(app.request(CreateAccountRequest {
            account: Some(Account {
                name: text("Existing Co"),
                ..Account::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let converted = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: lead.id.clone(),
            account_id: account.id.clone(),
            converted_status: "Closed - Converted".into(),
            do_not_create_opportunity: true,
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(converted.account_id, account.id);
    assert!(converted.opportunity_id.is_empty());

    let other = new_lead(&app, "Wrongstatus").await;
    let bad_status = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: other.id,
            converted_status: "Working - Contacted".into(),
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (bad_status.code(), reason(&bad_status).as_str()),
        (Code::InvalidArgument, "INVALID_STATUS")
    );

    // Markup in a value goes to the org escaped and comes back decoded, both ways intact.
    let markup = "</urn:convertedStatus><urn:x> & \"é\"";
    let escaped = new_lead(&app, "Markup").await;
    let bad_markup = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: escaped.id,
            converted_status: markup.into(),
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(reason(&bad_markup), "INVALID_STATUS");
    assert!(
        bad_markup
            .message()
            .contains(&format!("invalid convertedStatus: {markup}")),
        "{}",
        bad_markup.message()
    );

    let agent = app.sandbox.find_records("User", "LastName", "Lopez")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let owned = new_lead(&app, "Owned").await;
    let converted = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: owned.id,
            owner_id: agent.clone(),
            ..ConvertLeadRequest::default()
        }))
        .await
        .expect("conversion with an owner")
        .into_inner();
    let contact = app
        .sandbox
        .find_records("Contact", "Id", &converted.contact_id);
    assert_eq!(contact[0]["OwnerId"], agent.as_str());

    let contact_without_account = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: lead.id,
            contact_id: "003D000000IqhSL".into(),
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&contact_without_account),
        vec!["account_id".to_string()]
    );
}

#[tokio::test]
async fn a_case_comment_is_posted_after_the_call() {
    let app = spawn_app().await;
    let case = app
        .cases()
        .create_case(app.request(CreateCaseRequest {
            case: Some(Case {
                subject: text("Billing question"),
                ..Case::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let comment = app
        .cases()
        .add_case_comment(app.request(AddCaseCommentRequest {
            case_id: case.id.clone(),
            body: "Call 7c1e: customer confirmed the refund.".into(),
            is_published: true,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(comment.id.starts_with("00a"));
    assert_eq!(comment.case_id, case.id);
    assert!(comment.is_published);
    assert!(comment.created_date.is_some());
    assert!(comment.created_by_id.starts_with("005"));
    let stored = app
        .sandbox
        .find_records("CaseComment", "ParentId", &case.id);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["CommentBody"],
        "Call 7c1e: customer confirmed the refund."
    );

    for (request, field) in [
        (
            AddCaseCommentRequest {
                case_id: case.id.clone(),
                body: "  ".into(),
                is_published: false,
            },
            "body",
        ),
        (
            AddCaseCommentRequest {
                case_id: case.id.clone(),
                body: "x".repeat(4001),
                is_published: false,
            },
            "body",
        ),
        (
            AddCaseCommentRequest {
                case_id: "00Q5g00000AbCdE".into(),
                body: "hi".into(),
                is_published: false,
            },
            "case_id",
        ),
    ] {
        let status = app
            .cases()
            .add_case_comment(app.request(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), vec![field.to_string()]);
    }
}
