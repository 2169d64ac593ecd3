//! Retries where they are safe and the circuit breaker per org: a read that hit a 503 or lost its
//! connection is tried once more; a write is not; an org failing again and again has its calls
//! failed at once, UNAVAILABLE with RetryInfo, until a probe gets through.

use std::time::Duration;

use sfgate::pb::*;
use sfgate::salesforce::resilience::{FAILURES_TO_OPEN, OPEN_FOR};
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::{TestApp, mask, reason, spawn_app};
use tonic::Code;
use tonic_types::StatusExt;

fn fault(method: &str, times: u32, kind: FaultKind) -> Fault {
    Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: Some(method.into()),
        times,
        kind,
    }
}

fn unavailable() -> FaultKind {
    FaultKind::Error {
        http_status: 503,
        error_code: "SERVER_UNAVAILABLE".into(),
        message: "Server temporarily unavailable".into(),
    }
}

fn requests_to(app: &TestApp, method: &str) -> usize {
    app.data_requests()
        .iter()
        .filter(|request| request.method == method && request.path.contains("/sobjects/Lead/"))
        .count()
}

async fn get_lead(app: &TestApp, id: &str) -> Result<Lead, tonic::Status> {
    app.leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.into(),
            fields: None,
        }))
        .await
        .map(tonic::Response::into_inner)
}

async fn metric(app: &TestApp, line_prefix: &str) -> f64 {
    let text = reqwest::get(format!("http://{}/metrics", app.admin_address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(line_prefix))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn a_read_is_tried_once_more_and_a_write_is_not() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    for kind in [unavailable(), FaultKind::CloseConnection] {
        app.sandbox.inject_fault(fault("GET", 1, kind.clone()));
        let before = requests_to(&app, "GET");
        let lead = get_lead(&app, &id).await.expect("the second try answers");
        assert_eq!(lead.id, id);
        assert_eq!(
            requests_to(&app, "GET") - before,
            2,
            "{kind:?}: tried twice"
        );

        app.sandbox.inject_fault(fault("PATCH", 1, kind.clone()));
        let before = requests_to(&app, "PATCH");
        let status = app
            .leads()
            .update_lead(app.request(UpdateLeadRequest {
                lead: Some(Lead {
                    id: id.clone(),
                    title: Some("Not twice".into()),
                    ..Lead::default()
                }),
                update_mask: mask(&["title"]),
            }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{kind:?}");
        assert_eq!(
            requests_to(&app, "PATCH") - before,
            1,
            "{kind:?}: a write goes once"
        );
    }
    let retried = "sfgate_upstream_retries_total{tenant=\"sandbox\",outcome=\"retried\"} ";
    assert!(metric(&app, retried).await >= 2.0);
}

#[tokio::test]
async fn an_org_failing_again_and_again_fails_calls_at_once_until_a_probe_gets_through() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    app.sandbox.inject_fault(fault("GET", 0, unavailable()));
    // Each call tries twice: the circuit opens within FAILURES_TO_OPEN calls.
    let mut failed_through = 0;
    let open = loop {
        let status = get_lead(&app, &id).await.unwrap_err();
        if reason(&status) == "UPSTREAM_CIRCUIT_OPEN" {
            break status;
        }
        assert_eq!(reason(&status), "SERVER_UNAVAILABLE");
        failed_through += 1;
        assert!(
            failed_through <= FAILURES_TO_OPEN,
            "the circuit never opened"
        );
    };
    assert_eq!(open.code(), Code::Unavailable);
    let retry_delay = open
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("RetryInfo");
    assert!(
        retry_delay > Duration::ZERO && retry_delay <= OPEN_FOR,
        "{retry_delay:?}"
    );

    // While open, nothing reaches the org.
    let before = requests_to(&app, "GET");
    let again = get_lead(&app, &id).await.unwrap_err();
    assert_eq!(reason(&again), "UPSTREAM_CIRCUIT_OPEN");
    assert_eq!(requests_to(&app, "GET"), before, "failed at once");
    let rejected = "sfgate_upstream_circuit_rejections_total{tenant=\"sandbox\"} ";
    assert!(metric(&app, rejected).await >= 2.0);

    // The org recovers; after the open time one probe goes through and closes the circuit.
    app.sandbox.clear_faults();
    tokio::time::sleep(OPEN_FOR + Duration::from_millis(200)).await;
    assert_eq!(get_lead(&app, &id).await.expect("the probe").id, id);
    assert_eq!(get_lead(&app, &id).await.expect("closed again").id, id);
}
