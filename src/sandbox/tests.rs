//! HTTP-level tests: start the sandbox on 127.0.0.1:0 and drive it with reqwest.

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use super::*;

const V: &str = "/services/data/v66.0";

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

    async fn find_first_contact(&self) -> String {
        let (_, body) = self
            .query("SELECT Id FROM Contact ORDER BY Id LIMIT 1")
            .await;
        body["records"][0]["Id"]
            .as_str()
            .expect("contact")
            .to_string()
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

fn lead_convert(lead_id: &str, status: &str, extra: &str) -> String {
    format!(
        "<urn:leadConverts>{extra}<urn:convertedStatus>{status}</urn:convertedStatus><urn:doNotCreateOpportunity>false</urn:doNotCreateOpportunity><urn:leadId>{lead_id}</urn:leadId></urn:leadConverts>"
    )
}

fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

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
        oauth::hmac_sha256(
            c.client_secret.as_bytes(),
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

#[tokio::test]
async fn sessions_versions_limits_and_headers() {
    let e = env_with(SandboxConfig {
        daily_api_limit: 5,
        ..SandboxConfig::default()
    })
    .await;
    let resp = e
        .http
        .get(e.url("/services/data"))
        .send()
        .await
        .expect("versions");
    assert!(resp.headers().contains_key("sforce-limit-info"));
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK);
    let last = body
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["version"], "66.0");
    assert_eq!(last["url"], "/services/data/v66.0");

    let resp = e
        .http
        .get(e.url(&format!("{V}/limits")))
        .send()
        .await
        .expect("no auth");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("sforce-limit-info"));
    let (_, body) = json_of(resp).await;
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    assert_eq!(e.sb.api_usage(), 0);

    let resp = e.get(&format!("{V}/limits/")).await;
    assert_eq!(resp.headers()["sforce-limit-info"], "api-usage=1/5");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["DailyApiRequests"], json!({"Max": 5, "Remaining": 4}));

    let resp = e.get("/services/data/v19.0/limits").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = e
        .get("/services/data/v45.0/sobjects/Account/describe")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(e.sb.api_usage(), 2);

    for _ in 0..3 {
        assert_eq!(e.get(&format!("{V}/limits")).await.status(), StatusCode::OK);
    }
    let (status, body) = json_of(e.get(&format!("{V}/limits")).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "REQUEST_LIMIT_EXCEEDED");

    e.sb.expire_sessions();
    assert_eq!(
        e.get(&format!("{V}/limits")).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let requests = e.sb.requests();
    let last = requests.last().expect("recorded");
    assert_eq!(last.path, format!("{V}/limits"));
    assert!(
        last.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "<redacted>")
    );
    e.sb.clear_requests();
    assert!(e.sb.requests().is_empty());
    e.sb.shutdown().await;
}

#[tokio::test]
async fn crud_lifecycle() {
    let e = env().await;
    let before = e.sb.record_count("Lead");
    let (status, body) = json_of(
        e.post(&format!("{V}/sobjects/Lead/"), json!({"FirstName": "Ada", "LastName": "Lovelace", "Company": "Analytical Engines", "Email": "ada@example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(body, json!({"id": id, "success": true, "errors": []}));
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("00Q"));
    assert_eq!(ids::parse(&id), Ok(id.clone()));
    assert_eq!(e.sb.record_count("Lead"), before + 1);

    let resp = e.get(&format!("{V}/sobjects/Lead/{id}")).await;
    let text = resp.text().await.expect("text");
    assert!(text.starts_with(&format!(r#"{{"attributes":{{"type":"Lead","url":"/services/data/v66.0/sobjects/Lead/{id}"}},"Id":"{id}""#)), "{text}");
    let rec: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(rec["Status"], "Open - Not Contacted");
    assert_eq!(rec["Website"], Value::Null);
    assert_eq!(rec["IsConverted"], false);
    let created = rec["CreatedDate"].as_str().expect("created");
    assert_eq!(created.len(), "2024-09-27T15:18:19.000+0000".len());
    assert!(created.ends_with(".000+0000") || created.ends_with("+0000"));
    assert!(
        rec["OwnerId"]
            .as_str()
            .is_some_and(|o| o.starts_with("005"))
    );

    let (status, rec) = json_of(
        e.get(&format!(
            "{V}/sobjects/Lead/{}?fields=LastName,Email",
            &id[..15]
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rec.as_object().map(|m| m.len()), Some(4));
    assert_eq!(rec["LastName"], "Lovelace");

    let resp = e
        .patch(
            &format!("{V}/sobjects/Lead/{id}"),
            json!({"Title": "Countess", "Status": "Working - Contacted"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(e.sb.find_records("Lead", "Id", &id)[0]["Title"], "Countess");

    assert_eq!(
        e.delete(&format!("{V}/sobjects/Lead/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(e.sb.record_count("Lead"), before);
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Lead/{id}")).await).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, body) = json_of(
        e.patch(&format!("{V}/sobjects/Lead/{id}"), json!({"Title": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "ENTITY_IS_DELETED")
    );
    assert_eq!(body[0]["message"], "entity is deleted");
    let (status, body) = json_of(e.delete(&format!("{V}/sobjects/Lead/{id}")).await).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "ENTITY_IS_DELETED")
    );

    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Lead/xyz")).await).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "MALFORMED_ID")
    );
    assert_eq!(
        body[0]["message"],
        "Lead ID: id value of incorrect type: xyz"
    );
    let missing = ids::make("00Q", 1);
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Lead/{missing}")).await).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
        )
    );
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Foo/{missing}")).await).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, body) = json_of(
        e.patch(&format!("{V}/sobjects/Contact/{missing}"), json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "MALFORMED_ID")
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn validation_errors_over_http() {
    let e = env().await;
    let lead = format!("{V}/sobjects/Lead");
    let cases = [
        (
            json!({"LastName": "x", "Company": "y", "Foo": 1}),
            "INVALID_FIELD",
            "No such column 'Foo' on sobject of type Lead",
        ),
        (
            json!({"FirstName": "x"}),
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName, Company]",
        ),
        (
            json!({"LastName": "x", "Company": "y", "IsConverted": true}),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: IsConverted. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
        ),
        (
            json!({"LastName": "x", "Company": "y", "Status": "Nope"}),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "Status: bad value for restricted picklist field: Nope",
        ),
    ];
    for (body, want_code, message) in cases {
        let (status, resp) = json_of(e.post(&lead, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
        assert_eq!(code(&resp), want_code);
        assert_eq!(resp[0]["message"], message);
    }
    let (_, resp) = json_of(e.post(&lead, json!({"FirstName": "x"})).await).await;
    assert_eq!(resp[0]["fields"], json!(["LastName", "Company"]));

    let resp = e
        .http
        .post(e.url(&lead))
        .bearer_auth(&e.token)
        .header("Content-Type", "application/json")
        .body("{\"LastName\": ")
        .send()
        .await
        .expect("bad json");
    let (status, body) = json_of(resp).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR")
    );

    let opp = format!("{V}/sobjects/Opportunity");
    let (_, body) = json_of(e.post(&opp, json!({"Name": "o", "StageName": "Prospecting", "CloseDate": "2025-01-01", "Amount": "abc"})).await).await;
    assert_eq!(code(&body), "JSON_PARSER_ERROR");
    assert!(body[0]["message"].as_str().is_some_and(|m| m.starts_with("Cannot deserialize instance of double from VALUE_STRING value abc or request may be missing a required field at [line:1, column:")));
    let (_, body) = json_of(e.post(&opp, json!({"Name": "o", "StageName": "Prospecting", "CloseDate": "2025-01-01", "Amount": -5})).await).await;
    assert_eq!(
        body,
        json!([{"message": "Amount must not be negative", "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Amount"]}])
    );
    let (_, body) = json_of(
        e.post(
            &format!("{V}/sobjects/Campaign"),
            json!({"Name": "c", "StartDate": "2025-02-01", "EndDate": "2025-01-01"}),
        )
        .await,
    )
    .await;
    assert_eq!(body[0]["message"], "End Date must not be before Start Date");

    let contact = format!("{V}/sobjects/Contact");
    let (_, body) = json_of(
        e.post(&contact, json!({"LastName": "x", "AccountId": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        body,
        json!([{"message": "Account ID: id value of incorrect type: x", "errorCode": "MALFORMED_ID", "fields": ["AccountId"]}])
    );
    let lead_id = e.sb.find_records("Lead", "External_Id__c", "LEAD-5001")[0]["Id"].clone();
    let (_, body) = json_of(
        e.post(&contact, json!({"LastName": "x", "AccountId": lead_id}))
            .await,
    )
    .await;
    assert_eq!(
        body,
        json!([{"message": "invalid cross reference id", "errorCode": "INVALID_CROSS_REFERENCE_KEY", "fields": ["AccountId"]}])
    );
    let (_, body) = json_of(
        e.post(&contact, json!({"LastName": "x", "Title": "t".repeat(200)}))
            .await,
    )
    .await;
    assert_eq!(code(&body), "STRING_TOO_LONG");
    assert_eq!(body[0]["fields"], json!(["Title"]));
    let (_, body) = json_of(
        e.post(
            &contact,
            json!({"LastName": "x", "External_Id__c": "CON-2001"}),
        )
        .await,
    )
    .await;
    assert_eq!(code(&body), "DUPLICATE_VALUE");
    assert!(body[0]["message"].as_str().is_some_and(|m| m.starts_with(
        "duplicate value found: External_Id__c duplicates value on record with id: 003"
    )));

    let (status, body) = json_of(
        e.post(
            &lead,
            json!({"LastName": "Dup", "Company": "C", "Email": "MASON.REED@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "DUPLICATES_DETECTED");
    assert_eq!(body[0]["message"], "Use one of these records?");
    assert_eq!(body[0]["duplicateResult"]["allowSave"], false);
    assert_eq!(
        body[0]["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"]
            .as_str()
            .map(|s| &s[..3]),
        Some("00Q")
    );

    let (status, body) = json_of(
        e.post(&format!("{V}/sobjects/User"), json!({"LastName": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn business_rules() {
    let e = env().await;
    let a = e.create("Case", json!({"Subject": "one"})).await;
    let b = e
        .create("Case", json!({"Subject": "two", "Status": "Closed"}))
        .await;
    let ra = &e.sb.find_records("Case", "Id", &a)[0];
    let rb = &e.sb.find_records("Case", "Id", &b)[0];
    let na: u64 = ra["CaseNumber"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("number");
    assert_eq!(rb["CaseNumber"], format!("{:08}", na + 1));
    assert_eq!(
        (
            ra["Status"].clone(),
            ra["Priority"].clone(),
            ra["IsClosed"].clone()
        ),
        (json!("New"), json!("Medium"), json!(false))
    );
    assert_eq!(rb["IsClosed"], true);
    assert!(rb["ClosedDate"].is_string());
    let (_, body) = json_of(
        e.patch(
            &format!("{V}/sobjects/Case/{a}"),
            json!({"CaseNumber": "1"}),
        )
        .await,
    )
    .await;
    assert_eq!(code(&body), "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(
        e.patch(
            &format!("{V}/sobjects/Case/{a}"),
            json!({"Status": "Closed"})
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(e.sb.find_records("Case", "Id", &a)[0]["IsClosed"], true);

    let o = e
        .create(
            "Opportunity",
            json!({"Name": "o", "StageName": "Closed Won", "CloseDate": "2025-01-01T00:00:00Z"}),
        )
        .await;
    let ro = &e.sb.find_records("Opportunity", "Id", &o)[0];
    assert_eq!(
        (
            ro["IsClosed"].clone(),
            ro["IsWon"].clone(),
            ro["CloseDate"].clone()
        ),
        (json!(true), json!(true), json!("2025-01-01"))
    );

    let c = e
        .create(
            "CaseComment",
            json!({"ParentId": a, "CommentBody": "hello"}),
        )
        .await;
    assert!(c.starts_with("00a"));
    assert_eq!(
        e.sb.find_records("CaseComment", "Id", &c)[0]["IsPublished"],
        false
    );
    let (_, body) = json_of(
        e.post(
            &format!("{V}/sobjects/CaseComment"),
            json!({"CommentBody": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        body[0]["message"],
        "Required fields are missing: [ParentId]"
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn upsert_by_external_id() {
    let e = env().await;
    let path = format!("{V}/sobjects/Account/External_Id__c/ACC-9001");
    let (status, body) = json_of(e.patch(&path, json!({"Name": "Upserted Co"})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(
        body,
        json!({"id": id, "success": true, "errors": [], "created": true})
    );
    let (status, body) = json_of(e.patch(&path, json!({"Phone": "(415) 555-0101"})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"id": id, "success": true, "errors": [], "created": false})
    );
    assert_eq!(
        e.sb.find_records("Account", "External_Id__c", "ACC-9001")[0]["Phone"],
        "(415) 555-0101"
    );
    let old = e
        .patch(
            "/services/data/v40.0/sobjects/Account/External_Id__c/ACC-9001",
            json!({"Phone": "x"}),
        )
        .await;
    assert_eq!(old.status(), StatusCode::NO_CONTENT);

    let (status, body) = json_of(
        e.patch(
            &format!("{V}/sobjects/Contact/Legacy_Id__c/LEG-7"),
            json!({"Title": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::MULTIPLE_CHOICES);
    let urls = body.as_array().expect("urls");
    assert_eq!(urls.len(), 2);
    assert!(
        urls[0]
            .as_str()
            .is_some_and(|u| u.starts_with("/services/data/v66.0/sobjects/Contact/003"))
    );

    let (status, body) = json_of(
        e.patch(&format!("{V}/sobjects/Account/Name/Foo"), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body[0]["message"],
        "Provided external ID field does not exist or is not accessible: Name"
    );
    let (status, body) = json_of(e.patch(&path, json!({"External_Id__c": "OTHER"})).await).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD")
    );
    let (status, body) = json_of(
        e.get(&format!("{V}/sobjects/Account/External_Id__c/acc-9001"))
            .await,
    )
    .await;
    assert_eq!((status, body["Id"].clone()), (StatusCode::OK, json!(id)));
    let (status, _) = json_of(
        e.patch(
            &format!("{V}/sobjects/Contact/External_Id__c/new%20one"),
            json!({"LastName": "Encoded"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        e.sb.find_records("Contact", "External_Id__c", "new one")
            .len(),
        1
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn describe_endpoints() {
    let e = env().await;
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Lead/describe/")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["name"].clone(),
            body["keyPrefix"].clone(),
            body["queryable"].clone()
        ),
        (json!("Lead"), json!("00Q"), json!(true))
    );
    let fields = body["fields"].as_array().expect("fields");
    let email = fields.iter().find(|f| f["name"] == "Email").expect("email");
    assert_eq!(
        (email["type"].clone(), email["length"].clone()),
        (json!("email"), json!(80))
    );
    let (status, body) = json_of(e.get(&format!("{V}/sobjects")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["encoding"], "UTF-8");
    let names: Vec<&str> = body["sobjects"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for name in [
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Case",
        "Campaign",
        "CaseComment",
        "User",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Account")).await).await;
    assert_eq!(
        (status, body["objectDescribe"]["keyPrefix"].clone()),
        (StatusCode::OK, json!("001"))
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn social_care_record_types_and_contact_personas() {
    let e = env().await;
    let (status, body) = e
        .query("SELECT Id FROM RecordType WHERE SobjectType = 'Case' AND DeveloperName = 'Social_Care'")
        .await;
    assert_eq!(
        (status, body["totalSize"].clone()),
        (StatusCode::OK, json!(1))
    );
    let social = body["records"][0]["Id"]
        .as_str()
        .expect("rt id")
        .to_string();
    assert!(social.starts_with("012"));
    let (_, body) = e
        .query("SELECT Name, IsActive FROM RecordType WHERE SobjectType = 'Case' ORDER BY Name")
        .await;
    assert_eq!(body["records"][0]["Name"], "Social Care");
    assert_eq!(body["records"][1]["Name"], "Support");
    assert_eq!(body["records"][1]["IsActive"], true);
    let (status, body) = json_of(
        e.post(&format!("{V}/sobjects/RecordType"), json!({"Name": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    let case = e
        .create(
            "Case",
            json!({"RecordTypeId": social, "Subject": "@northwind: my parcel is lost",
                   "Origin": "Social", "Priority": "High", "Status": "New"}),
        )
        .await;
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Case/{case}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["RecordTypeId"].clone(),
            body["Origin"].clone(),
            body["Priority"].clone()
        ),
        (json!(social), json!("Social"), json!("High"))
    );
    let case_number = body["CaseNumber"].as_str().expect("number").to_string();
    let (_, body) = e
        .query(&format!(
            "SELECT Id, RecordType.Name FROM Case WHERE Id = '{case}'"
        ))
        .await;
    assert_eq!(body["records"][0]["RecordType"]["Name"], "Social Care");
    let (_, body) = e
        .query("SELECT COUNT() FROM Case WHERE RecordType.DeveloperName = 'Social_Care'")
        .await;
    assert_eq!(body["totalSize"], 1);

    let contact = e.find_first_contact().await;
    let persona = e
        .create(
            "Hootsuite_Contact_Persona__c",
            json!({"Name": "@alice_ships", "Case__c": case, "Contact__c": contact,
                   "Social_Network__c": "Twitter", "Social_Handle__c": "@alice_ships",
                   "Profile_Url__c": "https://twitter.example.com/alice_ships",
                   "Follower_Count__c": 1520, "External_Id__c": "HS-1"}),
        )
        .await;
    assert!(persona.starts_with("a0H"));
    let path = format!("{V}/sobjects/Hootsuite_Contact_Persona__c/{persona}");
    let (status, body) = json_of(e.get(&path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["attributes"]["type"].clone(),
            body["Case__c"].clone(),
            body["Follower_Count__c"].clone(),
            body["OwnerId"].is_string()
        ),
        (
            json!("Hootsuite_Contact_Persona__c"),
            json!(case),
            json!(1520.0),
            true
        )
    );
    let (status, body) = e
        .query(&format!(
            "SELECT Id, Name, Case__r.CaseNumber FROM Hootsuite_Contact_Persona__c WHERE Case__c = '{case}'"
        ))
        .await;
    assert_eq!(
        (status, body["totalSize"].clone()),
        (StatusCode::OK, json!(1))
    );
    let rec = &body["records"][0];
    assert_eq!(
        (
            rec["Id"].clone(),
            rec["Name"].clone(),
            rec["Case__r"]["attributes"]["type"].clone(),
            rec["Case__r"]["CaseNumber"].clone()
        ),
        (
            json!(persona),
            json!("@alice_ships"),
            json!("Case"),
            json!(case_number)
        )
    );

    // Upsert by the external id: update, then insert.
    let upsert = format!("{V}/sobjects/Hootsuite_Contact_Persona__c/External_Id__c/HS-1");
    let (status, body) = json_of(e.patch(&upsert, json!({"Follower_Count__c": 1600})).await).await;
    assert_eq!(
        (status, body["id"].clone()),
        (StatusCode::OK, json!(persona))
    );
    let upsert = format!("{V}/sobjects/Hootsuite_Contact_Persona__c/External_Id__c/HS-2");
    let (status, body) = json_of(
        e.patch(
            &upsert,
            json!({"Name": "alice.fb", "Social_Network__c": "Facebook"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["created"].clone()),
        (StatusCode::CREATED, json!(true))
    );
    let (status, _) = json_of(e.delete(&path).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = json_of(
        e.post(
            &format!("{V}/sobjects/Hootsuite_Contact_Persona__c"),
            json!({"Social_Handle__c": "@nobody"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "REQUIRED_FIELD_MISSING")
    );

    let (status, body) = json_of(
        e.get(&format!(
            "{V}/sobjects/Hootsuite_Contact_Persona__c/describe"
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["custom"].clone(),
            body["keyPrefix"].clone(),
            body["label"].clone()
        ),
        (json!(true), json!("a0H"), json!("Contact Persona"))
    );
    let fields = body["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("field {name}"))
    };
    for (name, ty, reference_to, relationship) in [
        ("Case__c", "reference", json!(["Case"]), json!("Case__r")),
        (
            "Contact__c",
            "reference",
            json!(["Contact"]),
            json!("Contact__r"),
        ),
        ("Social_Network__c", "picklist", json!([]), Value::Null),
        ("Social_Handle__c", "string", json!([]), Value::Null),
        ("Profile_Url__c", "url", json!([]), Value::Null),
        ("Follower_Count__c", "double", json!([]), Value::Null),
        ("External_Id__c", "string", json!([]), Value::Null),
        ("Name", "string", json!([]), Value::Null),
        ("OwnerId", "reference", json!(["User"]), json!("Owner")),
    ] {
        let f = field(name);
        assert_eq!(
            (
                f["type"].clone(),
                f["referenceTo"].clone(),
                f["relationshipName"].clone()
            ),
            (json!(ty), reference_to, relationship),
            "{name}"
        );
        assert_eq!(f["custom"], json!(name.ends_with("__c")), "{name}");
    }
    assert_eq!(
        field("Social_Network__c")["picklistValues"][4]["value"],
        "WhatsApp"
    );
    assert_eq!(
        (
            field("External_Id__c")["externalId"].clone(),
            field("External_Id__c")["unique"].clone()
        ),
        (json!(true), json!(true))
    );
    assert_eq!(
        (
            field("Name")["length"].clone(),
            field("Name")["nillable"].clone()
        ),
        (json!(80), json!(false))
    );
    let (_, body) = json_of(e.get(&format!("{V}/sobjects")).await).await;
    let summary = body["sobjects"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|o| o["name"] == "Hootsuite_Contact_Persona__c")
        })
        .cloned()
        .expect("in describeGlobal");
    assert_eq!(summary["custom"], true);
    let (_, body) = json_of(e.get(&format!("{V}/sobjects/Case/describe")).await).await;
    let rt = body["fields"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == "RecordTypeId"))
        .cloned()
        .expect("RecordTypeId");
    assert_eq!(
        (
            rt["referenceTo"].clone(),
            rt["relationshipName"].clone(),
            rt["updateable"].clone()
        ),
        (json!(["RecordType"]), json!("RecordType"), json!(true))
    );

    // Bad record type ids: unknown, of another object, and of another SobjectType.
    let other_type = {
        let obj = schema::object("RecordType").expect("obj");
        let input = store::system_input(
            obj,
            &[
                ("Name", json!("Partner")),
                ("DeveloperName", json!("Partner")),
                ("SobjectType", json!("Account")),
                ("IsActive", json!(true)),
            ],
        );
        let mut store = e.sb.org.store.lock();
        store
            .create(obj, input, store::Actor::system(&e.sb.org.integration_user))
            .expect("record type")
    };
    for bad in ["012D000000IqhSLIAZ", contact.as_str(), other_type.as_str()] {
        let (status, body) = json_of(
            e.post(
                &format!("{V}/sobjects/Case"),
                json!({"Subject": "x", "RecordTypeId": bad}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_CROSS_REFERENCE_KEY"),
            "{bad}"
        );
        assert_eq!(body[0]["fields"], json!(["RecordTypeId"]));
    }
    let (status, body) = json_of(
        e.patch(
            &format!("{V}/sobjects/Case/{case}"),
            json!({"RecordTypeId": other_type}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_CROSS_REFERENCE_KEY")
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn query_with_paging_and_parents() {
    let e = env().await;
    {
        let obj = schema::object("CaseComment").expect("obj");
        let parent = e.sb.find_records("Case", "Status", "New")[0]["Id"].clone();
        let mut store = e.sb.org.store.lock();
        for i in 0..445 {
            let input = store::system_input(
                obj,
                &[
                    ("ParentId", parent.clone()),
                    ("CommentBody", json!(format!("bulk {i}"))),
                ],
            );
            store
                .create(obj, input, store::Actor::system(&e.sb.org.integration_user))
                .expect("bulk");
        }
    }
    let total = e.sb.record_count("CaseComment");
    let mut seen = 0;
    let resp = e
        .http
        .get(e.url(&format!("{V}/query/")))
        .query(&[("q", "SELECT Id, CommentBody FROM CaseComment ORDER BY Id")])
        .bearer_auth(&e.token)
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .expect("query");
    let (status, mut page) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK);
    let mut last_id = String::new();
    loop {
        assert_eq!(page["totalSize"], total);
        for r in page["records"].as_array().expect("records") {
            let id = r["Id"].as_str().expect("id").to_string();
            assert!(id > last_id);
            last_id = id;
            seen += 1;
        }
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"].as_str().expect("next").to_string();
        assert!(next.starts_with("/services/data/v66.0/query/01g"), "{next}");
        assert_eq!(page["records"].as_array().map(Vec::len), Some(200));
        page = json_of(e.get(&next).await).await.1;
    }
    assert_eq!(seen, total);

    let (status, body) = e.query("SELECT Name, Email, Account.Name, Account.Phone FROM Contact WHERE Account.Name LIKE 'north%' ORDER BY LastName").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalSize"], 2);
    assert_eq!(body["done"], true);
    let rec = &body["records"][0];
    assert_eq!(rec["attributes"]["type"], "Contact");
    assert_eq!(rec["Account"]["attributes"]["type"], "Account");
    assert_eq!(rec["Account"]["Name"], "Northwind Logistics");
    assert!(rec.get("Id").is_none());

    let (_, body) = e
        .query("SELECT COUNT() FROM Lead WHERE Status = 'open - not contacted'")
        .await;
    assert_eq!(body["records"], json!([]));
    assert!(body["totalSize"].as_u64().is_some_and(|n| n >= 4));
    let (_, body) = e.query("SELECT MasterLabel FROM LeadStatus WHERE IsConverted = true ORDER BY SortOrder LIMIT 1").await;
    assert_eq!(body["records"][0]["MasterLabel"], "Closed - Converted");
    let (_, body) = e
        .query("SELECT Id, Account.Name FROM Contact WHERE AccountId = null")
        .await;
    assert_eq!(body["totalSize"], 0);
    let (_, body) = e.query("SELECT Subject, Contact.Account.Name FROM Case WHERE IsClosed = true AND (Priority = 'Low' OR Priority = 'Medium') ORDER BY CaseNumber DESC").await;
    assert_eq!(body["totalSize"], 3);
    assert!(body["records"][0]["Contact"]["Account"]["Name"].is_string());

    let (status, body) = e.query("SELECT Foo FROM Lead").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD")
    );
    assert!(
        body[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("No such column 'Foo' on entity 'Lead'"))
    );
    let (status, body) = e.query("SELECT Id FROM Foo").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_TYPE")
    );
    let (status, body) = e.query("SELECT Id FROM Lead WHERE Name = 'x' AND").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "MALFORMED_QUERY")
    );
    let (status, body) = json_of(e.get(&format!("{V}/query/01g5g0000000000AAA-200")).await).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR")
    );
    e.sb.shutdown().await;
}

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

#[tokio::test]
async fn soap_convert_lead() {
    let e = env().await;
    let lead = e.create("Lead", json!({"FirstName": "Grace", "LastName": "Hopper", "Company": "Compilers Inc", "Email": "grace@example.com", "Phone": "(415) 555-0170", "LeadSource": "Web"})).await;
    let body = convert_envelope(&e.token, &lead_convert(&lead, "Closed - Converted", ""));
    let usage = e.sb.api_usage();
    let (status, xml) = e.soap(body).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(xml.contains("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"urn:partner.soap.sforce.com\""));
    assert!(xml.contains("<type>API REQUESTS</type>"));
    assert_eq!(e.sb.api_usage(), usage + 1);
    assert_eq!(xml_value(&xml, "success").as_deref(), Some("true"));
    let account = xml_value(&xml, "accountId").expect("account");
    let contact = xml_value(&xml, "contactId").expect("contact");
    let opp = xml_value(&xml, "opportunityId").expect("opp");
    assert!(account.starts_with("001") && contact.starts_with("003") && opp.starts_with("006"));
    assert_eq!(xml_value(&xml, "leadId").as_deref(), Some(lead.as_str()));
    let l = &e.sb.find_records("Lead", "Id", &lead)[0];
    assert_eq!(
        (
            l["IsConverted"].clone(),
            l["Status"].clone(),
            l["ConvertedAccountId"].clone()
        ),
        (json!(true), json!("Closed - Converted"), json!(account))
    );
    assert_eq!(
        e.sb.find_records("Account", "Id", &account)[0]["Name"],
        "Compilers Inc"
    );
    let c = &e.sb.find_records("Contact", "Id", &contact)[0];
    assert_eq!(
        (c["Email"].clone(), c["AccountId"].clone()),
        (json!("grace@example.com"), json!(account))
    );
    let o = &e.sb.find_records("Opportunity", "Id", &opp)[0];
    assert_eq!(
        (o["Name"].clone(), o["StageName"].clone()),
        (json!("Compilers Inc-"), json!("Prospecting"))
    );
    let (_, body) = json_of(
        e.patch(&format!("{V}/sobjects/Lead/{lead}"), json!({"Title": "x"}))
            .await,
    )
    .await;
    assert_eq!(code(&body), "CANNOT_UPDATE_CONVERTED_LEAD");

    let again = e
        .soap(convert_envelope(
            &e.token,
            &lead_convert(&lead, "Closed - Converted", ""),
        ))
        .await
        .1;
    assert_eq!(
        xml_value(&again, "statusCode").as_deref(),
        Some("CANNOT_UPDATE_CONVERTED_LEAD")
    );
    assert_eq!(xml_value(&again, "success").as_deref(), Some("false"));
    assert!(again.contains("<accountId xsi:nil=\"true\"/>"));

    let other = e.sb.find_records("Lead", "External_Id__c", "LEAD-5002")[0]["Id"]
        .as_str()
        .expect("id")
        .to_string();
    let account_id = e.sb.find_records("Account", "External_Id__c", "ACC-1001")[0]["Id"]
        .as_str()
        .expect("acc")
        .to_string();
    let before = e.sb.record_count("Account");
    let multi = format!(
        "{}{}{}",
        lead_convert(&other, "Working - Contacted", ""),
        lead_convert("00Qbad", "Closed - Converted", ""),
        lead_convert(
            &other,
            "Closed - Converted",
            &format!(
                "<urn:accountId>{account_id}</urn:accountId><urn:opportunityName>Fjord Deal</urn:opportunityName>"
            )
        ),
    );
    let (status, xml) = e.soap(convert_envelope(&e.token, &multi)).await;
    assert_eq!(status, StatusCode::OK);
    let results: Vec<&str> = xml.split("<result>").skip(1).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(
        xml_value(results[0], "statusCode").as_deref(),
        Some("INVALID_STATUS")
    );
    assert_eq!(
        xml_value(results[0], "message").as_deref(),
        Some("invalid convertedStatus: Working - Contacted")
    );
    assert_eq!(
        xml_value(results[1], "statusCode").as_deref(),
        Some("MALFORMED_ID")
    );
    assert_eq!(xml_value(results[2], "success").as_deref(), Some("true"));
    assert_eq!(
        xml_value(results[2], "accountId").as_deref(),
        Some(account_id.as_str())
    );
    assert_eq!(e.sb.record_count("Account"), before);
    assert_eq!(
        e.sb.find_records("Opportunity", "Name", "Fjord Deal").len(),
        1
    );

    let no_opp = e
        .create("Lead", json!({"LastName": "Solo", "Company": "Solo Co"}))
        .await;
    let xml = e
        .soap(convert_envelope(
            &e.token,
            &lead_convert(&no_opp, "Closed - Converted", "").replace(
                "<urn:doNotCreateOpportunity>false",
                "<urn:doNotCreateOpportunity>true",
            ),
        ))
        .await
        .1;
    assert!(xml.contains("<opportunityId xsi:nil=\"true\"/>"), "{xml}");

    let (status, xml) = e
        .soap(convert_envelope(
            "bogus",
            &lead_convert(&no_opp, "Closed - Converted", ""),
        ))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(xml.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"));
    assert!(xml.contains("<faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring>"));
    let (status, xml) = e.soap("<not-xml".into()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(xml.contains("<faultcode>soapenv:Client</faultcode>"));
    e.sb.shutdown().await;
}

#[tokio::test]
async fn soap_login() {
    let e = env().await;
    let c = e.sb.credentials().clone();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{}</n1:username><n1:password>{}</n1:password></n1:login></env:Body></env:Envelope>"#,
        c.username, c.password
    );
    let (status, xml) = e.soap(body).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    let session = xml_value(&xml, "sessionId").expect("session");
    let resp = e
        .http
        .get(e.url(&format!("{V}/limits")))
        .bearer_auth(&session)
        .send()
        .await
        .expect("limits");
    assert_eq!(resp.status(), StatusCode::OK);
    e.sb.shutdown().await;
}

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

// ---- JWT bearer, refresh tokens, session TTL, OAuth faults, redaction ----

const PRIVATE_KEY_PEM: &str = include_str!("../../tests/fixtures/jwt/private_key.pem");
const CERTIFICATE_PEM: &str = include_str!("../../tests/fixtures/jwt/certificate.pem");
const EC_CERTIFICATE_PEM: &str = include_str!("../../tests/fixtures/jwt/ec_certificate.pem");

fn b64url(bytes: impl AsRef<[u8]>) -> String {
    base64::Engine::encode(&jwt::BASE64URL, bytes)
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
