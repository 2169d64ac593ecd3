//! Integration tests of the sandbox org through its public API: start it on
//! 127.0.0.1:0 and drive it over HTTP with reqwest, one module per concern.
//! This file is the shared harness.

mod describe;
mod faults;
mod oauth;
mod rest;
mod soap;
mod soql;
mod sosl;

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sfgate_sandbox::{SandboxConfig, SandboxHandle, start};

/// The data API's path prefix at the newest version.
const V: &str = "/services/data/v66.0";

/// A running org, an HTTP client and an access token of the integration user.
struct Env {
    sb: SandboxHandle,
    http: Client,
    token: String,
}

fn client() -> Client {
    // reqwest is built with `rustls-no-provider`; plain http still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn env_with(config: SandboxConfig) -> Env {
    let sb = start(config).await.expect("start");
    let http = client();
    let token = password_token(&sb, &http).await;
    Env { sb, http, token }
}

async fn env() -> Env {
    env_with(SandboxConfig::default()).await
}

async fn password_token(sb: &SandboxHandle, http: &Client) -> String {
    let c = sb.credentials();
    let resp = http
        .post(format!("{}/services/oauth2/token", sb.base_url()))
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", c.password.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    async fn get(&self, path: &str) -> Response {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Response {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    async fn query(&self, soql: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.url(&format!("{V}/query")))
            .query(&[("q", soql)])
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("query");
        json_of(resp).await
    }

    async fn soap(&self, body: String) -> (StatusCode, String) {
        let resp = self
            .http
            .post(self.url("/services/Soap/u/66.0"))
            .header("Content-Type", "text/xml; charset=UTF-8")
            .header("SOAPAction", "\"\"")
            .body(body)
            .send()
            .await
            .expect("soap");
        let status = resp.status();
        (status, resp.text().await.expect("soap text"))
    }

    async fn create(&self, object: &str, body: Value) -> String {
        let (status, body) =
            json_of(self.post(&format!("{V}/sobjects/{object}"), body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    }
}
async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

fn code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or("")
}

fn convert_envelope(session: &str, converts: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>{session}</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:convertLead>{converts}</urn:convertLead></soapenv:Body></soapenv:Envelope>"#
    )
}
