//! A write Salesforce acknowledged is never reported as failed: when the read-back fails, is too
//! slow for the caller's deadline, or the write's own answer cannot be read, the caller gets the
//! record as written, or DATA_LOSS (WRITE_DONE_ANSWER_LOST) — never an error that invites
//! writing again.

use std::time::Duration;

use prost_types::{Struct, Value, value::Kind};
use sfgate::pb::*;
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::{TestApp, mask, reason, spawn_app};
use tonic::Code;

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// Every read of `object`'s records fails with HTTP 500 until the faults are cleared.
fn reads_fail(app: &TestApp, object: &str) {
    app.sandbox.inject_fault(Fault {
        path_contains: Some(format!("/sobjects/{object}/")),
        method: Some("GET".into()),
        times: 0,
        kind: FaultKind::Error {
            http_status: 500,
            error_code: "UNKNOWN_EXCEPTION".into(),
            message: "An unexpected error occurred".into(),
        },
    });
}

fn field_text(record: &serde_json::Map<String, serde_json::Value>, field: &str) -> String {
    record[field].as_str().unwrap_or_default().to_owned()
}

/// Converts a new lead of `company` while the org's SOAP answer is replaced by `answer`.
async fn convert_answered_with(
    app: &TestApp,
    company: &str,
    answer: &str,
) -> (Lead, tonic::Status) {
    let lead = app
        .leads()
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                last_name: text("Convert"),
                company: text(company),
                ..Lead::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/services/Soap/".into()),
        method: Some("POST".into()),
        times: 1,
        kind: FaultKind::ReplaceBody(answer.into()),
    });
    let status = app
        .leads()
        .convert_lead(app.request(ConvertLeadRequest {
            lead_id: lead.id.clone(),
            ..ConvertLeadRequest::default()
        }))
        .await
        .unwrap_err();
    (lead, status)
}

#[tokio::test]
async fn typed_writes_whose_read_back_fails_answer_the_record_as_written() {
    let app = spawn_app().await;
    reads_fail(&app, "Lead");
    let created = app
        .leads()
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                last_name: text("Unread"),
                company: text("Read-back Co"),
                ..Lead::default()
            }),
        }))
        .await
        .expect("a create Salesforce acknowledged succeeds")
        .into_inner();
    let stored = app.sandbox.find_records("Lead", "LastName", "Unread");
    assert_eq!(stored.len(), 1);
    assert_eq!(created.id, field_text(&stored[0], "Id"));
    assert_eq!(
        (created.last_name.as_deref(), created.company.as_deref()),
        (Some("Unread"), Some("Read-back Co")),
        "the fields as written"
    );
    assert!(created.url.contains(&created.id), "{}", created.url);

    let updated = app
        .leads()
        .update_lead(app.request(UpdateLeadRequest {
            lead: Some(Lead {
                id: created.id.clone(),
                company: text("Renamed Co"),
                ..Lead::default()
            }),
            update_mask: mask(&["company"]),
        }))
        .await
        .expect("an update Salesforce acknowledged succeeds")
        .into_inner();
    assert_eq!(
        (updated.id.as_str(), updated.company.as_deref()),
        (created.id.as_str(), Some("Renamed Co"))
    );
    let stored = app.sandbox.find_records("Lead", "LastName", "Unread");
    assert_eq!(field_text(&stored[0], "Company"), "Renamed Co");

    reads_fail(&app, "Contact");
    let upserted = app
        .contacts()
        .upsert_contact(app.request(UpsertContactRequest {
            external_id_field: "Legacy_Id__c".into(),
            external_id: "ACK-1".into(),
            contact: Some(Contact {
                last_name: text("Upserted"),
                ..Contact::default()
            }),
        }))
        .await
        .expect("an upsert Salesforce acknowledged succeeds")
        .into_inner();
    let stored = app.sandbox.find_records("Contact", "Legacy_Id__c", "ACK-1");
    assert_eq!(stored.len(), 1);
    let contact = upserted.contact.expect("the contact");
    assert_eq!(contact.id, field_text(&stored[0], "Id"));
    assert_eq!(contact.last_name.as_deref(), Some("Upserted"));
    assert!(upserted.created);
}

#[tokio::test]
async fn a_comment_and_a_record_whose_read_back_fails_are_answered_as_written() {
    let app = spawn_app().await;
    let case = app
        .cases()
        .create_case(app.request(CreateCaseRequest {
            case: Some(Case {
                subject: text("Read-back"),
                ..Case::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    reads_fail(&app, "CaseComment");
    let comment = app
        .cases()
        .add_case_comment(app.request(AddCaseCommentRequest {
            case_id: case.id.clone(),
            body: "Written, not read back.".into(),
            is_published: true,
        }))
        .await
        .expect("a comment Salesforce acknowledged succeeds")
        .into_inner();
    assert_eq!(
        (comment.case_id.as_str(), comment.body.as_str()),
        (case.id.as_str(), "Written, not read back.")
    );
    assert_eq!(
        app.sandbox
            .find_records("CaseComment", "ParentId", &case.id)
            .len(),
        1
    );
    assert!(!comment.id.is_empty());

    reads_fail(&app, "Account");
    let fields = Struct {
        fields: [(
            "Name".to_owned(),
            Value {
                kind: Some(Kind::StringValue("Read-back Account".into())),
            },
        )]
        .into(),
    };
    let record = sfgate::pb::record_service_client::RecordServiceClient::new(app.channel.clone())
        .create_record(app.request(CreateRecordRequest {
            object: "Account".into(),
            fields: Some(fields),
        }))
        .await
        .expect("a record Salesforce acknowledged succeeds")
        .into_inner();
    let stored = app
        .sandbox
        .find_records("Account", "Name", "Read-back Account");
    assert_eq!(stored.len(), 1);
    assert_eq!(record.id, field_text(&stored[0], "Id"));
    assert_eq!(record.object, "Account");
    let name = &record.fields.expect("fields").fields["Name"];
    assert_eq!(
        name.kind,
        Some(Kind::StringValue("Read-back Account".into()))
    );
}

#[tokio::test]
async fn a_read_back_slower_than_the_deadline_does_not_fail_the_write() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: Some("GET".into()),
        times: 0,
        kind: FaultKind::Latency(Duration::from_secs(5)),
    });
    let mut request = app.request(UpdateLeadRequest {
        lead: Some(Lead {
            id: id.clone(),
            title: text("Deadline"),
            ..Lead::default()
        }),
        update_mask: mask(&["title"]),
    });
    request.set_timeout(Duration::from_secs(1));
    let updated = app
        .leads()
        .update_lead(request)
        .await
        .expect("answered before the deadline, as written")
        .into_inner();
    assert_eq!(
        (updated.id.as_str(), updated.title.as_deref()),
        (id.as_str(), Some("Deadline"))
    );
    let stored = app.sandbox.find_records("Lead", "Id", &id);
    assert_eq!(field_text(&stored[0], "Title"), "Deadline");
}

#[tokio::test]
async fn a_write_whose_answer_is_unreadable_is_data_loss_not_a_retry() {
    let app = spawn_app().await;
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead".into()),
        method: Some("POST".into()),
        times: 1,
        kind: FaultKind::ReplaceBody("<html>proxy error</html>".into()),
    });
    let status = app
        .leads()
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                last_name: text("Answerless"),
                company: text("Lost Answers"),
                ..Lead::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::DataLoss, "WRITE_DONE_ANSWER_LOST")
    );
    assert!(
        status.message().contains("do not repeat it"),
        "{}",
        status.message()
    );
    assert_eq!(
        app.sandbox
            .find_records("Lead", "LastName", "Answerless")
            .len(),
        1,
        "the lead was created, once"
    );

    // The answer of an update broke off after its 2xx status: done, details lost.
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead".into()),
        method: Some("POST".into()),
        times: 1,
        kind: FaultKind::TruncateBody,
    });
    let status = app
        .leads()
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                last_name: text("Broken Off"),
                company: text("Lost Answers"),
                ..Lead::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::DataLoss, "WRITE_DONE_ANSWER_LOST"),
        "{status:?}"
    );
    assert_eq!(
        app.sandbox
            .find_records("Lead", "LastName", "Broken Off")
            .len(),
        1
    );

    // A converted lead whose answer lost its IDs: converted, not failed.
    let (lead, status) = convert_answered_with(&app, "Lost IDs", r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><convertLeadResponse><result><success>true</success></result></convertLeadResponse></soapenv:Body></soapenv:Envelope>"#).await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::DataLoss, "WRITE_DONE_ANSWER_LOST")
    );
    let stored = app.sandbox.find_records("Lead", "Id", &lead.id);
    assert_eq!(stored[0]["IsConverted"], serde_json::Value::Bool(true));

    // A conversion answered 200 with a body that is not XML: the org processed it.
    let (_, status) =
        convert_answered_with(&app, "Garbled XML", "<soapenv:Envelope><convertLeadResp").await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::DataLoss, "WRITE_DONE_ANSWER_LOST"),
        "{status:?}"
    );
}
