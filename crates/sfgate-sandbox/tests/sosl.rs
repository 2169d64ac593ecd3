//! SOSL search.

use reqwest::StatusCode;

use crate::{V, env, json_of};

#[tokio::test]
async fn sosl_phone_search() {
    let e = env().await;
    let resp = e
        .http
        .get(e.url(&format!("{V}/search")))
        .query(&[(
            "q",
            "FIND {4155550143} IN PHONE FIELDS RETURNING Contact(Id, Name, Phone), Lead(Id, Name)",
        )])
        .bearer_auth(&e.token)
        .send()
        .await
        .expect("search");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = body["searchRecords"].as_array().expect("records");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["Name"], "Alice Nguyen");
    e.sb.shutdown().await;
}
