//! Injected faults (errors, latency, closed connections) through the handle and
//! the `/_sandbox/faults` control endpoint.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sfgate_sandbox::{Fault, FaultKind};

use crate::{V, code, convert_envelope, env, json_of};

#[tokio::test]
async fn injected_faults() {
    let e = env().await;
    e.sb.inject_fault(Fault {
        path_contains: Some("/sobjects/Account".into()),
        method: Some("GET".into()),
        times: 1,
        kind: FaultKind::Error {
            http_status: 503,
            error_code: "SERVER_UNAVAILABLE".into(),
            message: "Server temporarily unavailable".into(),
        },
    });
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Account/describe")).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!([{"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}])
    );
    assert_eq!(
        e.get(&format!("{V}/sobjects/Account/describe"))
            .await
            .status(),
        StatusCode::OK
    );

    e.sb.inject_fault(Fault {
        path_contains: None,
        method: None,
        times: 1,
        kind: FaultKind::Latency(Duration::from_millis(300)),
    });
    let t = Instant::now();
    assert_eq!(e.get(&format!("{V}/limits")).await.status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(300));

    e.sb.inject_fault(Fault {
        path_contains: Some("/query".into()),
        method: None,
        times: 1,
        kind: FaultKind::CloseConnection,
    });
    let result = e
        .http
        .get(e.url(&format!("{V}/query")))
        .query(&[("q", "SELECT Id FROM Lead")])
        .bearer_auth(&e.token)
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    let (status, _) = e.query("SELECT Id FROM Lead").await;
    assert_eq!(status, StatusCode::OK);

    let resp = e
        .http
        .post(e.url("/_sandbox/faults"))
        .json(&json!({"path_contains": "/limits", "times": 2, "error": {"http_status": 403, "error_code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}}))
        .send()
        .await
        .expect("control");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (status, body) = json_of(e.get(&format!("{V}/limits")).await).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "REQUEST_LIMIT_EXCEEDED")
    );
    let resp = e
        .http
        .delete(e.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(e.get(&format!("{V}/limits")).await.status(), StatusCode::OK);

    e.sb.inject_fault(Fault {
        path_contains: None,
        method: None,
        times: 0,
        kind: FaultKind::Error {
            http_status: 500,
            error_code: "UNABLE_TO_LOCK_ROW".into(),
            message: "unable to obtain exclusive access to this record".into(),
        },
    });
    let (_, xml) = e.soap(convert_envelope(&e.token, "")).await;
    assert!(
        xml.contains("<faultcode>sf:UNABLE_TO_LOCK_ROW</faultcode>"),
        "{xml}"
    );
    assert_eq!(
        e.get(&format!("{V}/limits")).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    e.sb.clear_faults();
    assert_eq!(e.get(&format!("{V}/limits")).await.status(), StatusCode::OK);
    // Control endpoints stay reachable whatever the faults.
    e.sb.inject_fault(Fault {
        path_contains: None,
        method: None,
        times: 0,
        kind: FaultKind::CloseConnection,
    });
    let resp = e
        .http
        .delete(e.url("/_sandbox/faults"))
        .send()
        .await
        .expect("control unaffected");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = e
        .http
        .post(e.url("/services/oauth2/token"))
        .form(&[("grant_type", "x")])
        .send()
        .await
        .expect("faults cleared");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    e.sb.shutdown().await;
}

#[tokio::test]
async fn faults_after_serving_do_the_write_and_lose_its_answer() {
    let e = env().await;
    let leads = || e.sb.find_records("Lead", "LastName", "Acknowledged").len();
    let lead = json!({"LastName": "Acknowledged", "Company": "Faults"});

    // The connection drops after the create was served: the record exists, no answer came.
    let resp = e
        .http
        .post(e.url("/_sandbox/faults"))
        .json(&json!({"path_contains": "/sobjects/Lead", "method": "POST", "close_after_serving": true}))
        .send()
        .await
        .expect("control");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let result = e
        .http
        .post(e.url(&format!("{V}/sobjects/Lead")))
        .bearer_auth(&e.token)
        .json(&lead)
        .send()
        .await;
    assert!(result.is_err(), "no answer: {result:?}");
    assert_eq!(leads(), 1, "the create was done");

    // The answer's body is replaced; its status is the create's own.
    e.sb.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead".into()),
        method: Some("POST".into()),
        times: 1,
        kind: FaultKind::ReplaceBody("<html>gateway error</html>".into()),
    });
    let response = e.post(&format!("{V}/sobjects/Lead"), lead.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.text().await.unwrap(), "<html>gateway error</html>");
    assert_eq!(leads(), 2, "the second create was done too");

    let refused = e
        .http
        .post(e.url("/_sandbox/faults"))
        .json(&json!({"close_after_serving": true, "replace_body": "x"}))
        .send()
        .await
        .expect("control");
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "one kind per fault"
    );
    e.sb.shutdown().await;
}
