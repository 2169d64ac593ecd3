//! Idempotent creates: a workflow engine's retry with the same `idempotency-key` never makes a
//! duplicate — not even when the first attempt's connection was cut while Salesforce created the
//! record.

use std::time::Duration;

use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::pb::{CreateLeadRequest, Lead};
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::{TestApp, reason, spawn_app, violated_fields};
use tonic::Code;

fn create(app: &TestApp, last_name: &str, key: Option<&str>) -> tonic::Request<CreateLeadRequest> {
    let mut request = app.request(CreateLeadRequest {
        lead: Some(Lead {
            last_name: Some(last_name.into()),
            company: Some("Retry Co".into()),
            ..Lead::default()
        }),
    });
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("idempotency-key", key.parse().unwrap());
    }
    request
}

fn posts(app: &TestApp) -> usize {
    app.data_requests()
        .iter()
        .filter(|request| request.method == "POST" && request.path.ends_with("/sobjects/Lead"))
        .count()
}

#[tokio::test]
async fn the_same_key_returns_the_first_result_without_a_second_call() {
    let app = spawn_app().await;
    let first = app
        .leads()
        .create_lead(create(&app, "Once", Some("key-1")))
        .await
        .unwrap()
        .into_inner();
    let again = app
        .leads()
        .create_lead(create(&app, "Once", Some("key-1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(posts(&app), 1, "one create reached Salesforce");
    assert_eq!(
        app.sandbox.find_records("Lead", "LastName", "Once").len(),
        1
    );

    let reused = app
        .leads()
        .create_lead(create(&app, "Other", Some("key-1")))
        .await
        .unwrap_err();
    assert_eq!(
        (reused.code(), reason(&reused).as_str()),
        (Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED")
    );
    assert_eq!(
        violated_fields(&reused),
        vec!["idempotency-key".to_string()]
    );

    app.leads()
        .create_lead(create(&app, "Twice", None))
        .await
        .unwrap();
    app.leads()
        .create_lead(create(&app, "Twice", None))
        .await
        .unwrap();
    assert_eq!(
        app.sandbox.find_records("Lead", "LastName", "Twice").len(),
        2,
        "without a key, two creates are two"
    );

    let bad_key = app
        .leads()
        .create_lead(create(&app, "X", Some("has space")))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad_key),
        vec!["idempotency-key".to_string()]
    );
}

#[tokio::test]
async fn a_retry_after_a_cut_connection_finds_exactly_one_record() {
    let app = spawn_app().await;
    // The record is created, then reading it back is slow: the caller gives up mid-way.
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: Some("GET".into()),
        // The read-back and its one retry.
        times: 2,
        kind: FaultKind::Latency(Duration::from_millis(600)),
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = create(&app, "Retried", Some("workflow-step-42"));
    let attempt =
        tokio::spawn(async move { LeadServiceClient::new(channel).create_lead(request).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    attempt.abort(); // the connection is cut: the caller never sees an answer
    assert!(attempt.await.is_err());
    assert_eq!(
        posts(&app),
        1,
        "Salesforce created the record before the cut"
    );

    let mut retried = app
        .leads()
        .create_lead(create(&app, "Retried", Some("workflow-step-42")))
        .await;
    // The first attempt may still be finishing: the caller is told to retry shortly.
    for _ in 0..20 {
        match &retried {
            Err(status) if status.code() == Code::Aborted => {
                assert_eq!(reason(status), "IDEMPOTENCY_KEY_IN_USE");
                tokio::time::sleep(Duration::from_millis(100)).await;
                retried = app
                    .leads()
                    .create_lead(create(&app, "Retried", Some("workflow-step-42")))
                    .await;
            }
            _ => break,
        }
    }
    let lead = retried
        .expect("the retry gets the first attempt's record")
        .into_inner();
    assert_eq!(lead.last_name.as_deref(), Some("Retried"));
    assert_eq!(posts(&app), 1, "the retry made no second create");
    let stored = app.sandbox.find_records("Lead", "LastName", "Retried");
    assert_eq!(stored.len(), 1, "exactly one record");
    assert_eq!(stored[0]["Id"], lead.id.as_str());
}

#[tokio::test]
async fn a_create_whose_read_back_fails_still_answers_with_the_record_and_is_not_repeated() {
    let app = spawn_app().await;
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: Some("GET".into()),
        times: 1,
        kind: FaultKind::Error {
            http_status: 503,
            error_code: "SERVER_UNAVAILABLE".into(),
            message: "try later".into(),
        },
    });
    let first = app
        .leads()
        .create_lead(create(&app, "Unread", Some("key-unread")))
        .await
        .unwrap()
        .into_inner();
    assert!(
        first.id.starts_with("00Q"),
        "the created record's ID comes back"
    );
    assert!(
        first
            .url
            .ends_with(&format!("/lightning/r/Lead/{}/view", first.id))
    );
    let again = app
        .leads()
        .create_lead(create(&app, "Unread", Some("key-unread")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, first.id);
    assert_eq!(
        app.sandbox.find_records("Lead", "LastName", "Unread").len(),
        1,
        "no second record"
    );
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_is_refused_rather_than_run_again() {
    let app = spawn_app().await;
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead".into()),
        method: Some("POST".into()),
        times: 1,
        kind: FaultKind::CloseAfterServing,
    });
    let lost = app
        .leads()
        .create_lead(create(&app, "InDoubt", Some("key-in-doubt")))
        .await
        .unwrap_err();
    assert_eq!(
        (lost.code(), reason(&lost).as_str()),
        (Code::Unavailable, "UPSTREAM_UNREACHABLE")
    );
    let retry = app
        .leads()
        .create_lead(create(&app, "InDoubt", Some("key-in-doubt")))
        .await
        .unwrap_err();
    assert_eq!(
        (retry.code(), reason(&retry).as_str()),
        (Code::FailedPrecondition, "IDEMPOTENCY_KEY_OUTCOME_UNKNOWN")
    );
    assert!(
        retry.message().contains("look the record up"),
        "{}",
        retry.message()
    );
    assert_eq!(
        app.sandbox
            .find_records("Lead", "LastName", "InDoubt")
            .len(),
        1,
        "created once, by the first attempt"
    );
    assert_eq!(posts(&app), 1, "the retry sent nothing");
}
