//! Every OAuth flow end to end through the gateway against the sandbox org, and the token
//! lifecycle: one mint for many concurrent calls, refresh on expiry mid-traffic, no hot loop when
//! the token endpoint is down.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use sfgate::auth::OAuthGrant;
use sfgate::pb::GetLeadRequest;
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::{TestApp, reason, spawn_app_with};
use tonic::Code;
use tonic_types::StatusExt;

const PRIVATE_KEY: &str = include_str!("../fixtures/jwt/private_key.pem");
const CERTIFICATE: &str = include_str!("../fixtures/jwt/certificate.pem");

async fn get_lead(
    app: &TestApp,
    id: &str,
) -> Result<tonic::Response<sfgate::pb::Lead>, tonic::Status> {
    app.leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.into(),
            fields: None,
        }))
        .await
}

fn token_bodies(app: &TestApp) -> Vec<String> {
    app.sandbox
        .requests()
        .into_iter()
        .filter(|request| request.path == "/services/oauth2/token")
        .map(|request| request.body)
        .collect()
}

/// A tenant on the given grant, with only the secrets that grant needs.
async fn app_with_grant(grant: OAuthGrant) -> TestApp {
    let app = spawn_app_with(move |config| {
        config.tenants.get_mut("sandbox").unwrap().grant = grant;
        let credentials = config.credentials.file.get_mut("sandbox").unwrap();
        match grant {
            OAuthGrant::JwtBearer => {
                credentials.client_secret = None;
                credentials.password = None;
                credentials.refresh_token = None;
                credentials.private_key = Some(SecretString::from(PRIVATE_KEY));
            }
            OAuthGrant::RefreshToken => {
                credentials.username = None;
                credentials.password = None;
            }
            OAuthGrant::ClientCredentials | OAuthGrant::Password => {
                credentials.refresh_token = None
            }
        }
    })
    .await;
    app.sandbox
        .register_certificate(CERTIFICATE)
        .expect("certificate registers");
    app
}

#[tokio::test]
async fn jwt_bearer_flow_signs_an_assertion_the_org_verifies() {
    let app = app_with_grant(OAuthGrant::JwtBearer).await;
    let id = app.seeded_lead();
    assert_eq!(get_lead(&app, &id).await.unwrap().into_inner().id, id);
    let bodies = token_bodies(&app);
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].starts_with("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{}",
        bodies[0]
    );
}

#[tokio::test]
async fn jwt_bearer_with_an_unknown_user_is_upstream_auth_failed() {
    let app = spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().grant = OAuthGrant::JwtBearer;
        let credentials = config.credentials.file.get_mut("sandbox").unwrap();
        credentials.username = Some("nobody@example.com".into());
        credentials.private_key = Some(SecretString::from(PRIVATE_KEY));
    })
    .await;
    app.sandbox.register_certificate(CERTIFICATE).unwrap();
    let status = get_lead(&app, &app.seeded_lead()).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_AUTH_FAILED")
    );
    assert!(
        status.message().contains("invalid_grant"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn refresh_token_flow_mints_access_tokens() {
    let app = app_with_grant(OAuthGrant::RefreshToken).await;
    let id = app.seeded_lead();
    get_lead(&app, &id).await.unwrap();
    assert!(token_bodies(&app)[0].starts_with("grant_type=refresh_token"));

    app.sandbox.revoke_refresh_tokens();
    app.sandbox.expire_sessions();
    let status = get_lead(&app, &id).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_AUTH_FAILED")
    );
}

#[tokio::test]
async fn sessions_expiring_mid_traffic_are_refreshed_without_failing_a_call() {
    let app = app_with_grant(OAuthGrant::ClientCredentials).await;
    let id = app.seeded_lead();
    app.sandbox
        .set_session_ttl(Some(Duration::from_millis(300)));
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        get_lead(&app, &id)
            .await
            .expect("every call succeeds across expiries");
        calls += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mints = token_bodies(&app).len();
    assert!(
        mints >= 3,
        "sessions expired and were replaced ({mints} tokens for {calls} calls)"
    );
    assert!(mints < calls, "tokens are shared, not minted per call");
}

#[tokio::test]
async fn a_thousand_concurrent_calls_on_a_cold_tenant_mint_one_token() {
    let app = app_with_grant(OAuthGrant::Password).await;
    let id = app.seeded_lead();
    app.sandbox.clear_requests();
    let calls = (0..1000).map(|_| {
        let mut leads = app.leads();
        let request = app.request(GetLeadRequest {
            id: id.clone(),
            fields: None,
        });
        tokio::spawn(async move { leads.get_lead(request).await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().expect("every call succeeds");
    }
    assert_eq!(token_bodies(&app).len(), 1, "exactly one token request");
}

#[tokio::test]
async fn a_dead_token_endpoint_gets_no_hot_loop_of_retries() {
    let app = app_with_grant(OAuthGrant::Password).await;
    let id = app.seeded_lead();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/services/oauth2/token".into()),
        method: None,
        times: 0,
        kind: FaultKind::CloseConnection,
    });
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(get_lead(&app, &id).await.unwrap_err());
    }
    for status in &statuses {
        assert_eq!(
            (status.code(), reason(status).as_str()),
            (Code::Unavailable, "UPSTREAM_UNREACHABLE")
        );
        assert!(
            status.get_error_details().retry_info().is_some(),
            "callers are told when to retry"
        );
    }
    assert_eq!(
        token_bodies(&app).len(),
        1,
        "50 calls, one attempt: the tenant cools down"
    );

    app.sandbox.clear_faults();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    get_lead(&app, &id)
        .await
        .expect("after the cool-down the next call mints and succeeds");
}

#[tokio::test]
async fn a_token_endpoint_answering_503_is_unreachable_not_a_refusal() {
    let app = app_with_grant(OAuthGrant::Password).await;
    let id = app.seeded_lead();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/services/oauth2/token".into()),
        method: None,
        times: 0,
        kind: FaultKind::Error {
            http_status: 503,
            error_code: "unknown_error".into(),
            message: "retry your request".into(),
        },
    });
    let status = get_lead(&app, &id).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_UNREACHABLE")
    );
    assert!(
        status.message().contains("HTTP 503"),
        "{}",
        status.message()
    );
    assert!(
        status.get_error_details().retry_info().is_some(),
        "callers are told when to retry"
    );
}

#[tokio::test]
async fn a_slow_token_request_outlives_the_callers_that_gave_up_and_is_shared() {
    let app = spawn_app_with(|_| {}).await;
    let lead_id = app.seeded_lead();
    // Every token request takes 2.5 s; every caller waits 1 s.
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/services/oauth2/token".into()),
        method: None,
        times: 100,
        kind: FaultKind::Latency(Duration::from_millis(2_500)),
    });
    let calls = (0..8).map(|_| {
        let mut leads = app.leads();
        let mut request = app.request(GetLeadRequest {
            id: lead_id.clone(),
            fields: None,
        });
        request.set_timeout(Duration::from_secs(1));
        async move { leads.get_lead(request).await }
    });
    for outcome in futures::future::join_all(calls).await {
        // The gateway answers DEADLINE_EXCEEDED at the deadline; on a busy machine the client's
        // own timer may fire first, which tonic reports as CANCELLED.
        let code = outcome.unwrap_err().code();
        assert!(
            matches!(code, Code::DeadlineExceeded | Code::Cancelled),
            "{code:?}"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.sandbox.clear_faults();
    let lead = app
        .leads()
        .get_lead(app.request(GetLeadRequest {
            id: lead_id,
            fields: None,
        }))
        .await
        .expect("the token minted for the callers that gave up serves this call");
    assert!(!lead.into_inner().id.is_empty());
    assert_eq!(
        app.token_requests(),
        1,
        "one token request for nine calls: single-flight, cached though its callers left"
    );
}
