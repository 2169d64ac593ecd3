//! The REST data API: versions, limits and headers, sObject CRUD, validation,
//! business rules, and upsert by external id.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sfgate_sandbox::SandboxConfig;

use crate::{V, code, env, env_with, json_of};

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
    // Well-formed: alphanumeric, with the case-safe checksum of its 15-char body.
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    assert_eq!(to18(&id[..15]), id);
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
    // A well-formed Lead id of this org's pod that was never issued.
    let missing = to18("00Q5g0000000001");
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

/// Salesforce's 18-char form of a 15-char id: per 5-char chunk, one character
/// of `A-Z0-5` whose bits tell which characters of the chunk are upper case.
fn to18(body: &str) -> String {
    const CHECKSUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let suffix: String = body
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0, |acc, (i, _)| acc | (1 << i));
            char::from(CHECKSUM[bits])
        })
        .collect();
    format!("{body}{suffix}")
}
