//! OAuth 2.0: the password, client-credentials, JWT bearer and refresh-token
//! grants, sessions and their expiry, faults of the token endpoint, and
//! redaction of secrets in recorded requests.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sfgate_sandbox::{Fault, FaultKind, SandboxConfig, SandboxHandle, start};

use crate::{Env, V, code, convert_envelope, env, env_with, json_of, password_token};

#[tokio::test]
async fn oauth_grants_and_failures() {
    let e = env().await;
    let c = e.sb.credentials().clone();
    let token_url = e.url("/services/oauth2/token");
    assert!(e.token.starts_with(&e.sb.org_id()[..15]));
    assert_eq!(e.token.as_bytes()[15], b'!');

    let resp = e
        .http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
        ])
        .send()
        .await
        .expect("cc");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["instance_url"], e.sb.base_url());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api");
    let id = body["id"].as_str().expect("id");
    assert!(id.starts_with(&format!("{}/id/{}/005", e.sb.base_url(), e.sb.org_id())));
    let issued_at = body["issued_at"].as_str().expect("issued_at");
    assert!(issued_at.parse::<u64>().is_ok());
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, c.client_secret.as_bytes()),
            format!("{id}{issued_at}").as_bytes(),
        ),
    );
    assert_eq!(body["signature"], expected);

    let resp = e
        .http
        .post(&token_url)
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("basic");
    assert_eq!(resp.status(), StatusCode::OK);

    type Form<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Form<'_>, &str, &str); 4] = [
        (
            &[
                ("grant_type", "password"),
                ("client_id", "nope"),
                ("client_secret", c.client_secret.as_str()),
                ("username", c.username.as_str()),
                ("password", c.password.as_str()),
            ],
            "invalid_client_id",
            "client identifier invalid",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", "wrong"),
                ("username", c.username.as_str()),
                ("password", c.password.as_str()),
            ],
            "invalid_client",
            "invalid client credentials",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
                ("username", c.username.as_str()),
                ("password", "bad"),
            ],
            "invalid_grant",
            "authentication failure",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("client_id", c.client_id.as_str()),
            ],
            "unsupported_grant_type",
            "grant type not supported",
        ),
    ];
    for (form, error, description) in cases {
        let resp = e
            .http
            .post(&token_url)
            .form(form)
            .send()
            .await
            .expect("fail");
        let (status, body) = json_of(resp).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            body,
            json!({"error": error, "error_description": description})
        );
    }

    let resp = e
        .http
        .get(e.url("/services/oauth2/userinfo"))
        .bearer_auth(&e.token)
        .send()
        .await
        .expect("userinfo");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["preferred_username"], c.username);
    e.sb.shutdown().await;
}

#[tokio::test]
async fn configured_client_credentials_are_used() {
    let e = env_with(SandboxConfig {
        client_id: Some("my-id".into()),
        client_secret: Some("my-secret".into()),
        seed: false,
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(e.sb.credentials().client_id, "my-id");
    assert_eq!(e.sb.record_count("Account"), 0);
    assert_eq!(e.sb.record_count("LeadStatus"), 4);
    e.sb.shutdown().await;
}

// ---- JWT bearer, refresh tokens, session TTL, OAuth faults, redaction ----

const PRIVATE_KEY_PEM: &str = include_str!("fixtures/jwt/private_key.pem");
const CERTIFICATE_PEM: &str = include_str!("fixtures/jwt/certificate.pem");
const EC_CERTIFICATE_PEM: &str = include_str!("fixtures/jwt/ec_certificate.pem");

/// base64url without padding, as JWTs encode their parts.
fn b64url(bytes: impl AsRef<[u8]>) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// Signs `header.claims` with the fixture's RSA key (RS256).
fn sign_jwt_with_header(header: &Value, claims: &Value) -> String {
    let der: String = PRIVATE_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, der)
        .expect("pem base64");
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("pkcs8 key");
    let input = format!(
        "{}.{}",
        b64url(header.to_string()),
        b64url(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{input}.{}", b64url(signature))
}

fn sign_jwt(claims: &Value) -> String {
    sign_jwt_with_header(&json!({"alg": "RS256", "typ": "JWT"}), claims)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims a Salesforce client would send for `sub`, valid for 3 minutes.
fn claims(sb: &SandboxHandle, sub: &str) -> Value {
    json!({
        "iss": sb.credentials().client_id,
        "sub": sub,
        "aud": sb.base_url(),
        "exp": now_secs() + 180,
    })
}

impl Env {
    async fn token_request(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.url("/services/oauth2/token"))
            .form(form)
            .send()
            .await
            .expect("token request");
        json_of(resp).await
    }

    async fn jwt_grant(&self, assertion: &str) -> (StatusCode, Value) {
        self.token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .await
    }

    async fn refresh_grant(&self, secret: &str, refresh_token: &str) -> (StatusCode, Value) {
        let client_id = self.sb.credentials().client_id.clone();
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn status_with(&self, token: &str) -> StatusCode {
        self.http
            .get(self.url(&format!("{V}/limits")))
            .bearer_auth(token)
            .send()
            .await
            .expect("limits")
            .status()
    }
}

fn oauth_error(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

/// The access token of a successful token response, after checking its shape.
fn access_token(sb: &SandboxHandle, status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::OK, "{body}");
    for key in [
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    ] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("expires_in").is_none(), "{body}");
    assert_eq!(body["instance_url"], sb.base_url());
    body["access_token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn jwt_bearer_grant() {
    let e = env_with(SandboxConfig {
        jwt_certificate_pem: Some(CERTIFICATE_PEM.into()),
        ..SandboxConfig::default()
    })
    .await;
    let username = e.sb.credentials().username.clone();

    let (status, body) = e.jwt_grant(&sign_jwt(&claims(&e.sb, &username))).await;
    let token = access_token(&e.sb, status, &body);
    assert!(token.starts_with(&e.sb.org_id()[..15]));
    assert_eq!(e.status_with(&token).await, StatusCode::OK);

    // Another active user, login.salesforce.com / test.salesforce.com audiences.
    let mut c = claims(&e.sb, "MARIA.LOPEZ@sfgate-sandbox.example");
    c["aud"] = json!("https://login.salesforce.com");
    let (status, body) = e.jwt_grant(&sign_jwt(&c)).await;
    let token = access_token(&e.sb, status, &body);
    let resp = e
        .http
        .get(e.url("/services/oauth2/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("userinfo");
    let (_, info) = json_of(resp).await;
    assert_eq!(
        info["preferred_username"],
        "maria.lopez@sfgate-sandbox.example"
    );
    c["aud"] = json!(["https://test.salesforce.com"]);
    let (status, body) = e.jwt_grant(&sign_jwt(&c)).await;
    access_token(&e.sb, status, &body);
    c["aud"] = json!(format!("{}/", e.sb.base_url()));
    c["exp"] = json!(now_secs() + 300);
    let (status, body) = e.jwt_grant(&sign_jwt(&c)).await;
    access_token(&e.sb, status, &body);

    let invalid_assertion = oauth_error("invalid_grant", "invalid assertion");
    let valid = claims(&e.sb, &username);
    let with = |key: &str, value: Value| {
        let mut c = valid.clone();
        c[key] = value;
        c
    };
    let signed = sign_jwt(&valid);
    let (head, _) = signed.split_once('.').expect("jwt");
    let (_, signature) = signed.rsplit_once('.').expect("jwt");
    let tampered = format!(
        "{head}.{}.{signature}",
        b64url(with("sub", json!("devon.clarke@sfgate-sandbox.example")).to_string())
    );
    let hs256 = sign_jwt_with_header(&json!({"alg": "HS256"}), &valid);
    let no_alg = sign_jwt_with_header(&json!({"typ": "JWT"}), &valid);
    let cases: Vec<(String, Value)> = vec![
        (
            sign_jwt(&with("iss", json!("3MVG9-unknown"))),
            oauth_error("invalid_client_id", "client identifier invalid"),
        ),
        (
            sign_jwt(&with("iss", Value::Null)),
            oauth_error("invalid_client_id", "client identifier invalid"),
        ),
        (tampered, invalid_assertion.clone()),
        (
            format!("{head}.{}.", b64url(valid.to_string())),
            invalid_assertion.clone(),
        ),
        (hs256, invalid_assertion.clone()),
        (no_alg, invalid_assertion.clone()),
        ("not-a-jwt".into(), invalid_assertion.clone()),
        (String::new(), invalid_assertion.clone()),
        ("a.b.c".into(), invalid_assertion.clone()),
        (
            sign_jwt(&with("aud", json!("https://login.example.com"))),
            oauth_error("invalid_grant", "audience is invalid"),
        ),
        (
            sign_jwt(&with("aud", Value::Null)),
            oauth_error("invalid_grant", "audience is invalid"),
        ),
        (
            sign_jwt(&with("exp", json!(now_secs() - 60))),
            oauth_error("invalid_grant", "expired authorization code"),
        ),
        (
            sign_jwt(&with("exp", json!(now_secs() + 3600))),
            oauth_error("invalid_grant", "expired authorization code"),
        ),
        (
            // Milliseconds instead of seconds: far in the future.
            sign_jwt(&with("exp", json!(now_secs() * 1000))),
            oauth_error("invalid_grant", "expired authorization code"),
        ),
        (
            sign_jwt(&with("exp", json!("soon"))),
            invalid_assertion.clone(),
        ),
        (
            sign_jwt(&with("sub", json!("nobody@sfgate-sandbox.example"))),
            oauth_error("invalid_grant", "user hasn't approved this consumer"),
        ),
        (sign_jwt(&with("sub", json!(42))), invalid_assertion.clone()),
    ];
    for (assertion, expected) in cases {
        let (status, body) = e.jwt_grant(&assertion).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{assertion}: {body}");
        assert_eq!(body, expected, "{assertion}");
    }
    let (status, body) = e
        .token_request(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")])
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid_assertion));
    e.sb.shutdown().await;
}

#[tokio::test]
async fn jwt_bearer_needs_a_registered_certificate() {
    let e = env().await;
    let assertion = sign_jwt(&claims(&e.sb, &e.sb.credentials().username));
    let (status, body) = e.jwt_grant(&assertion).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, oauth_error("invalid_grant", "invalid assertion"));

    assert!(e.sb.register_certificate("not a certificate").is_err());
    let err =
        e.sb.register_certificate(EC_CERTIFICATE_PEM)
            .expect_err("ec");
    assert!(err.contains("RSA"), "{err}");
    assert_eq!(e.jwt_grant(&assertion).await.0, StatusCode::BAD_REQUEST);

    e.sb.register_certificate(CERTIFICATE_PEM)
        .expect("register");
    let (status, body) = e.jwt_grant(&assertion).await;
    access_token(&e.sb, status, &body);
    e.sb.shutdown().await;

    let err = start(SandboxConfig {
        jwt_certificate_pem: Some(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
        ),
        ..SandboxConfig::default()
    })
    .await
    .expect_err("bad certificate");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn refresh_token_grant() {
    let e = env().await;
    let c = e.sb.credentials().clone();
    assert!(
        c.refresh_token.starts_with("5Aep861"),
        "{}",
        c.refresh_token
    );

    let (status, body) = e.refresh_grant(&c.client_secret, &c.refresh_token).await;
    let first = access_token(&e.sb, status, &body);
    assert_eq!(e.status_with(&first).await, StatusCode::OK);
    // The refresh token stays valid for more access tokens.
    let resp = e
        .http
        .post(e.url("/services/oauth2/token"))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.refresh_token.as_str()),
        ])
        .send()
        .await
        .expect("basic");
    let (status, body) = json_of(resp).await;
    let second = access_token(&e.sb, status, &body);
    assert_ne!(first, second);

    let (status, body) = e.refresh_grant("wrong", &c.refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        oauth_error("invalid_client", "invalid client credentials")
    );
    let (status, body) = e
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", "nope"),
            ("client_secret", c.client_secret.as_str()),
            ("refresh_token", c.refresh_token.as_str()),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        oauth_error("invalid_client_id", "client identifier invalid")
    );
    let expired = oauth_error("invalid_grant", "expired access/refresh token");
    for unknown in ["5Aep861unknown", ""] {
        let (status, body) = e.refresh_grant(&c.client_secret, unknown).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, expired.clone()));
    }

    // Expiring sessions leaves refresh tokens usable.
    e.sb.expire_sessions();
    assert_eq!(e.status_with(&first).await, StatusCode::UNAUTHORIZED);
    let (status, body) = e.refresh_grant(&c.client_secret, &c.refresh_token).await;
    let third = access_token(&e.sb, status, &body);
    let unrelated = password_token(&e.sb, &e.http).await;

    // Revoking the refresh token revokes it and the access tokens it gave.
    let resp = e
        .http
        .post(e.url("/services/oauth2/revoke"))
        .form(&[("token", c.refresh_token.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(e.status_with(&third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(e.status_with(&unrelated).await, StatusCode::OK);
    let (status, body) = e.refresh_grant(&c.client_secret, &c.refresh_token).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expired.clone()));

    // Tokens issued through the handle, and revoking them all.
    let issued = e.sb.issue_refresh_token();
    assert_ne!(issued, c.refresh_token);
    let (status, body) = e.refresh_grant(&c.client_secret, &issued).await;
    let fourth = access_token(&e.sb, status, &body);
    e.sb.revoke_refresh_tokens();
    assert_eq!(e.status_with(&fourth).await, StatusCode::UNAUTHORIZED);
    let (status, body) = e.refresh_grant(&c.client_secret, &issued).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expired));
    e.sb.shutdown().await;
}

#[tokio::test]
async fn session_ttl_expires_tokens() {
    let e = env_with(SandboxConfig {
        session_ttl: Some(Duration::from_millis(200)),
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(e.get(&format!("{V}/limits")).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = json_of(e.get(&format!("{V}/limits")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "INVALID_SESSION_ID");
    let (_, xml) = e.soap(convert_envelope(&e.token, "")).await;
    assert!(
        xml.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"),
        "{xml}"
    );

    // A new token works, and the response still carries no expires_in.
    let c = e.sb.credentials().clone();
    let (status, body) = e
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
        ])
        .await;
    let fresh = access_token(&e.sb, status, &body);
    assert_eq!(e.status_with(&fresh).await, StatusCode::OK);

    // Changing the TTL while running.
    e.sb.set_session_ttl(None);
    let lasting = password_token(&e.sb, &e.http).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.status_with(&lasting).await, StatusCode::OK);
    e.sb.set_session_ttl(Some(Duration::from_millis(100)));
    assert_eq!(e.status_with(&lasting).await, StatusCode::UNAUTHORIZED);
    e.sb.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_faults() {
    let e = env().await;
    let c = e.sb.credentials().clone();
    let cc = [
        ("grant_type", "client_credentials"),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
    ];
    e.sb.inject_fault(Fault {
        path_contains: Some("/services/oauth2/token".into()),
        method: Some("POST".into()),
        times: 1,
        kind: FaultKind::Error {
            http_status: 503,
            error_code: "temporarily_unavailable".into(),
            message: "service temporarily unavailable".into(),
        },
    });
    // Data requests do not match the fault.
    assert_eq!(e.get(&format!("{V}/limits")).await.status(), StatusCode::OK);
    let (status, body) = e.token_request(&cc).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        oauth_error("temporarily_unavailable", "service temporarily unavailable")
    );
    let (status, body) = e.token_request(&cc).await;
    access_token(&e.sb, status, &body);

    e.sb.inject_fault(Fault {
        path_contains: Some("/oauth2/".into()),
        method: None,
        times: 1,
        kind: FaultKind::CloseConnection,
    });
    let result = e
        .http
        .post(e.url("/services/oauth2/token"))
        .form(&cc)
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    let (status, body) = e.token_request(&cc).await;
    access_token(&e.sb, status, &body);

    e.sb.inject_fault(Fault {
        path_contains: Some("/services/oauth2/token".into()),
        method: None,
        times: 1,
        kind: FaultKind::Latency(Duration::from_millis(250)),
    });
    let t = Instant::now();
    let (status, body) = e.token_request(&cc).await;
    assert!(t.elapsed() >= Duration::from_millis(250));
    access_token(&e.sb, status, &body);

    // Out-of-process injection reaches the token endpoint as well.
    let resp = e
        .http
        .post(e.url("/_sandbox/faults"))
        .json(
            &json!({"path_contains": "/services/oauth2/token", "times": 1,
                      "error": {"http_status": 400, "error_code": "invalid_grant",
                                "message": "authentication failure"}}),
        )
        .send()
        .await
        .expect("control");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (status, body) = e.token_request(&cc).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, oauth_error("invalid_grant", "authentication failure"));
    assert_eq!(e.token_request(&cc).await.0, StatusCode::OK);
    e.sb.shutdown().await;
}

#[tokio::test]
async fn recorded_bodies_redact_secrets() {
    let e = env_with(SandboxConfig {
        jwt_certificate_pem: Some(CERTIFICATE_PEM.into()),
        ..SandboxConfig::default()
    })
    .await;
    let c = e.sb.credentials().clone();
    let assertion = sign_jwt(&claims(&e.sb, &c.username));
    assert_eq!(e.jwt_grant(&assertion).await.0, StatusCode::OK);
    assert_eq!(
        e.refresh_grant(&c.client_secret, &c.refresh_token).await.0,
        StatusCode::OK
    );
    let resp = e
        .http
        .post(e.url("/services/oauth2/revoke"))
        .form(&[("token", e.token.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = e
        .http
        .post(e.url("/services/oauth2/token"))
        .query(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", c.password.as_str()),
        ])
        .send()
        .await
        .expect("query grant");
    assert_eq!(resp.status(), StatusCode::OK);
    let login = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{}</n1:username><n1:password>{}</n1:password></n1:login></env:Body></env:Envelope>"#,
        c.username, c.password
    );
    assert_eq!(e.soap(login).await.0, StatusCode::OK);

    let requests = e.sb.requests();
    let bodies: Vec<&str> = requests.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(requests.len(), 6, "{bodies:?}");
    let password = &requests[0];
    assert_eq!(password.path, "/services/oauth2/token");
    assert!(
        password.body.contains("grant_type=password"),
        "{}",
        password.body
    );
    assert!(password.body.contains("client_secret=<redacted>"));
    assert!(password.body.contains("password=<redacted>"));
    assert!(
        password
            .body
            .contains(&format!("client_id={}", c.client_id))
    );
    assert!(
        requests[1]
            .body
            .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
    );
    assert!(requests[1].body.contains("assertion=<redacted>"));
    assert!(requests[2].body.contains("grant_type=refresh_token"));
    assert!(requests[2].body.contains("refresh_token=<redacted>"));
    assert!(requests[3].body.contains("token=<redacted>"));
    let query = requests[4].query.as_deref().unwrap_or_default();
    assert!(query.contains("grant_type=password&"), "{query}");
    assert!(query.contains("password=<redacted>"), "{query}");
    assert!(
        requests[5]
            .body
            .contains("<n1:password><redacted></n1:password>")
    );
    for r in &requests {
        let text = format!("{} {:?}", r.body, r.query);
        for secret in [
            c.client_secret.as_str(),
            c.password.as_str(),
            c.refresh_token.as_str(),
            assertion.as_str(),
            e.token.as_str(),
        ] {
            assert!(!text.contains(secret), "{} leaks a secret: {text}", r.path);
        }
    }
    e.sb.shutdown().await;
}
