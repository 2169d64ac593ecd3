//! Browser callers: gRPC-Web (the framing of the npm `grpc-web` runtime, hand-made here) on the
//! same port, and CORS, off unless `[http] cors_allowed_origins` lists the page's origin.

use bytes::{Buf, BufMut, BytesMut};
use prost::Message as _;
use sfgate::pb::{GetLeadRequest, Lead};
use sfgate_testkit::{API_KEY, TestApp, spawn_app, spawn_app_with};

fn http() -> reqwest::Client {
    sfgate::salesforce::http_client_builder()
        .http1_only()
        .build()
        .unwrap()
}

/// One gRPC-Web frame: a flag byte (0x80 for trailers), the length, the bytes.
fn frame(flag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut framed = BytesMut::new();
    framed.put_u8(flag);
    framed.put_u32(u32::try_from(bytes.len()).unwrap());
    framed.put_slice(bytes);
    framed.to_vec()
}

/// The frames of a gRPC-Web response body.
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let flag = body.get_u8();
        let length = body.get_u32() as usize;
        frames.push((flag, body[..length].to_vec()));
        body.advance(length);
    }
    frames
}

async fn get_lead_over_grpc_web(app: &TestApp, id: &str, key: &str) -> reqwest::Response {
    let request = GetLeadRequest {
        id: id.to_owned(),
        fields: None,
    };
    http()
        .post(format!(
            "http://{}/sfgate.v1.LeadService/GetLead",
            app.address
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("x-tenant-id", "sandbox")
        .header("authorization", format!("Bearer {key}"))
        .body(frame(0, &request.encode_to_vec()))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn grpc_web_calls_are_served_on_the_same_port() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let response = get_lead_over_grpc_web(&app, &id, API_KEY).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/grpc-web"),
        "{:?}",
        response.headers()
    );
    let body = response.bytes().await.unwrap();
    let answered = frames(&body);
    assert_eq!(answered.len(), 2, "a message and the trailers");
    let lead = Lead::decode(answered[0].1.as_slice()).unwrap();
    assert_eq!(lead.id, id);
    assert_eq!(answered[1].0, 0x80);
    let trailers = String::from_utf8_lossy(&answered[1].1).to_ascii_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    // A refusal comes as gRPC-Web trailers too.
    let refused = get_lead_over_grpc_web(&app, &id, "wrong-key").await;
    let status = refused
        .headers()
        .get("grpc-status")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = refused.bytes().await.unwrap();
    let in_body = frames(&body).iter().any(|(flag, bytes)| {
        *flag == 0x80 && String::from_utf8_lossy(bytes).contains("grpc-status:16")
    });
    assert!(
        status.as_deref() == Some("16") || in_body,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn cors_admits_only_the_configured_origins() {
    let app = spawn_app_with(|config| {
        config.http.cors_allowed_origins = vec!["https://agent.example.com".into()];
    })
    .await;
    let id = app.seeded_lead();
    let preflight = |origin: &str| {
        http()
            .request(
                reqwest::Method::OPTIONS,
                format!("http://{}/v1/leads/{id}", app.address),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "authorization, x-tenant-id",
            )
            .send()
    };
    let allowed = preflight("https://agent.example.com").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://agent.example.com"
    );
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        headers.contains("authorization") && headers.contains("x-tenant-id"),
        "{headers}"
    );
    let refused = preflight("https://elsewhere.example.com").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let answered = http()
        .get(format!("http://{}/v1/leads/{id}", app.address))
        .header("origin", "https://agent.example.com")
        .header("x-tenant-id", "sandbox")
        .header("authorization", format!("Bearer {API_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    assert_eq!(
        answered.headers()["access-control-allow-origin"],
        "https://agent.example.com"
    );
    assert_eq!(answered.headers()["vary"], "origin");
    // An answer to another origin varies by Origin too, so that no cache serves it to the first.
    let other = http()
        .get(format!("http://{}/v1/leads/{id}", app.address))
        .header("origin", "https://elsewhere.example.com")
        .header("x-tenant-id", "sandbox")
        .header("authorization", format!("Bearer {API_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.headers()["vary"], "origin");
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    assert!(
        answered.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("grpc-status")
    );
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let preflight = http()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}/v1/leads/{id}", app.address),
        )
        .header("origin", "https://agent.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 403);
    let answered = http()
        .get(format!("http://{}/v1/leads/{id}", app.address))
        .header("origin", "https://agent.example.com")
        .header("x-tenant-id", "sandbox")
        .header("authorization", format!("Bearer {API_KEY}"))
        .send()
        .await
        .unwrap();
    assert!(
        !answered
            .headers()
            .contains_key("access-control-allow-origin")
    );
}
