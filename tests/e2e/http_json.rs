//! Every RPC over HTTP/JSON on the gRPC port, as HTTP-only workflow engines call it: resource
//! paths, path variables, query parameters, JSON bodies, a field mask, a streamed query as
//! newline-delimited JSON, errors as HTTP statuses with AIP-193 bodies, and the same
//! authentication and idempotency as gRPC.

use serde_json::{Value, json};
use sfgate_testkit::{API_KEY, TestApp, spawn_app};

/// An HTTP/1.1 client, as workflow engines and curl are.
fn http() -> reqwest::Client {
    sfgate::salesforce::http_client_builder()
        .http1_only()
        .build()
        .unwrap()
}

fn url(app: &TestApp, path: &str) -> String {
    format!("http://{}{path}", app.address)
}

/// A request of the sandbox tenant, authenticated as gRPC calls are.
fn call(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, url(app, path))
        .header("x-tenant-id", "sandbox")
        .header("authorization", format!("Bearer {API_KEY}"))
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

/// The `ErrorInfo` reason of an AIP-193 error body.
fn reason(body: &Value) -> &str {
    body["error"]["details"]
        .as_array()
        .and_then(|details| {
            details
                .iter()
                .find(|detail| detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
        })
        .and_then(|info| info["reason"].as_str())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_lead_actions_work_as_plain_http_calls() {
    let app = spawn_app().await;
    let id = app.seeded_lead();

    // GET with a path variable and a field mask as a query parameter.
    let (status, lead) = json_of(
        call(
            &app,
            reqwest::Method::GET,
            &format!("/v1/leads/{id}?fields=lastName,company"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{lead}");
    assert_eq!(lead["id"], id);
    assert_eq!(lead["lastName"], "Reed");

    // POST with the resource as the body, original field names accepted.
    let (status, created) = json_of(
        call(&app, reqwest::Method::POST, "/v1/leads")
            .json(&json!({ "last_name": "Ekwueme-Http", "company": "Harbor Freight Co", "email": "ekwueme.http@example.com" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let created_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.sandbox
            .find_records("Lead", "LastName", "Ekwueme-Http")
            .len(),
        1
    );

    // PATCH with the id in the path, the mask in the query, the fields in the body.
    let (status, updated) = json_of(
        call(
            &app,
            reqwest::Method::PATCH,
            &format!("/v1/leads/{created_id}?updateMask=title"),
        )
        .json(&json!({ "title": "Head of Logistics" }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["title"], "Head of Logistics");
    assert_eq!(
        updated["company"], "Harbor Freight Co",
        "unmasked fields stay"
    );

    // A custom method on the collection with criteria as query parameters.
    let (status, found) = json_of(
        call(
            &app,
            reqwest::Method::GET,
            "/v1/leads:find?email=ekwueme.http%40example.com",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["leads"][0]["id"], created_id.as_str());

    // DELETE answers the empty message.
    let (status, deleted) = json_of(
        call(
            &app,
            reqwest::Method::DELETE,
            &format!("/v1/leads/{created_id}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, deleted), (200, json!({})));
    assert!(
        app.sandbox
            .find_records("Lead", "LastName", "Ekwueme-Http")
            .is_empty()
    );
}

#[tokio::test]
async fn a_query_streams_one_json_line_per_page() {
    let app = spawn_app().await;
    for index in 0..250 {
        app.sandbox
            .insert_record(
                "Campaign",
                json!({ "Name": format!("Streamed {index:03}"), "Type": "Webinar" }),
            )
            .unwrap();
    }
    let response = call(&app, reqwest::Method::POST, "/v1/query")
        .json(&json!({
            "soql": "SELECT Id, Name FROM Campaign WHERE Name LIKE :prefix",
            "params": { "prefix": "Streamed %" },
            "batchSize": 200,
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"].clone();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{}", &text[..text.len().min(500)]);
    assert_eq!(content_type, "application/x-ndjson");
    let pages: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page["records"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![200, 50], "one line a page");
    assert_eq!(
        pages[0]["totalSize"], "250",
        "64-bit integers are JSON strings"
    );
}

#[tokio::test]
async fn a_query_failing_after_its_first_page_ends_with_an_error_line() {
    let app = spawn_app().await;
    for index in 0..250 {
        app.sandbox
            .insert_record(
                "Campaign",
                json!({ "Name": format!("Broken {index:03}"), "Type": "Webinar" }),
            )
            .unwrap();
    }
    // The first page comes from `/query?q=…`, the next from `/query/<locator>`: that one fails.
    app.sandbox
        .inject_fault(fault("/query/", 400, "INVALID_QUERY_LOCATOR"));
    let response = call(&app, reqwest::Method::POST, "/v1/query")
        .json(&json!({ "soql": "SELECT Id FROM Campaign WHERE Name LIKE 'Broken %'", "batchSize": 200 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the first page was on its way");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "a page, then the error");
    assert_eq!(lines[0]["records"].as_array().unwrap().len(), 200);
    assert!(lines[1]["error"]["status"].is_string(), "{}", lines[1]);
    assert!(lines[1]["error"]["code"].is_number(), "{}", lines[1]);
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_status_body_and_nothing_sent() {
    let app = spawn_app().await;
    let sent_before = app.data_requests().len();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            http()
                .get(url(&app, "/v1/leads/00Q5g00000AbCdEAAA"))
                .header("x-tenant-id", "sandbox"),
            401,
            "UNAUTHENTICATED",
            "API_KEY_MISSING",
        ),
        (
            call(&app, reqwest::Method::GET, "/v1/nothing/here"),
            404,
            "NOT_FOUND",
            "ROUTE_NOT_FOUND",
        ),
        (
            call(&app, reqwest::Method::PUT, "/v1/leads/00Q5g00000AbCdEAAA"),
            405,
            "UNIMPLEMENTED",
            "METHOD_NOT_ALLOWED",
        ),
        (
            call(&app, reqwest::Method::POST, "/v1/leads")
                .header("content-type", "application/json")
                .body("{\"lastName\": "),
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
        ),
        (
            call(&app, reqwest::Method::POST, "/v1/leads")
                .header("content-type", "text/plain")
                .body("lastName=Reed"),
            415,
            "INVALID_ARGUMENT",
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            call(&app, reqwest::Method::POST, "/v1/leads")
                .json(&json!({ "lastName": "X", "nickname": "Y" })),
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
        ),
        (
            call(&app, reqwest::Method::GET, "/v1/leads/not-an-id"),
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
        ),
        (
            call(&app, reqwest::Method::GET, "/v1/leads:find?shoeSize=9"),
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
        ),
        (
            call(&app, reqwest::Method::POST, "/v1/leads")
                .json(&json!({ "lastName": "x".repeat(5 * 1024 * 1024) })),
            413,
            "INVALID_ARGUMENT",
            "REQUEST_TOO_LARGE",
        ),
    ];
    for (request, status, code, expected_reason) in cases {
        let (got, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"]["code"], status, "{body}");
        assert_eq!(body["error"]["status"], code, "{body}");
        assert_eq!(reason(&body), expected_reason, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    // The unknown field and parameter are named.
    let (_, body) = json_of(
        call(&app, reqwest::Method::POST, "/v1/leads")
            .json(&json!({ "lastName": "X", "nickname": "Y" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nickname"),
        "{body}"
    );
    let (_, body) = json_of(
        call(&app, reqwest::Method::GET, "/v1/leads:find?shoeSize=9")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shoeSize"),
        "{body}"
    );
    assert_eq!(
        app.data_requests().len(),
        sent_before,
        "nothing reached Salesforce"
    );
}

#[tokio::test]
async fn an_idempotency_key_header_makes_a_retried_create_return_the_first_result() {
    let app = spawn_app().await;
    let create = || {
        call(&app, reqwest::Method::POST, "/v1/leads")
            .header("idempotency-key", "http-step-9")
            .json(&json!({ "lastName": "Idempotent", "company": "Once Ltd" }))
    };
    let (_, first) = json_of(create().send().await.unwrap()).await;
    let (status, second) = json_of(create().send().await.unwrap()).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(first["id"], second["id"]);
    assert_eq!(
        app.sandbox
            .find_records("Lead", "LastName", "Idempotent")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_limit_reached_over_grpc_refuses_the_tenants_http_calls_too() {
    let app = sfgate_testkit::spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().rate_limit =
            Some(sfgate::config::RateLimitConfig {
                requests_per_second: 0.1,
                burst: Some(1),
            });
    })
    .await;
    let id = app.seeded_lead();
    app.leads()
        .get_lead(app.request(sfgate::pb::GetLeadRequest {
            id: id.clone(),
            fields: None,
        }))
        .await
        .expect("the burst's one call, over gRPC");
    let response = call(&app, reqwest::Method::GET, &format!("/v1/leads/{id}"))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(reason(&body), "TENANT_RATE_LIMITED");
    assert!((1..=10).contains(&retry_after), "Retry-After {retry_after}");
    let details = body["error"]["details"].as_array().unwrap();
    let retry = details
        .iter()
        .find(|detail| detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        .expect("RetryInfo");
    assert!(
        retry["retryDelay"].as_str().unwrap().ends_with('s'),
        "{retry}"
    );
    let quota = details
        .iter()
        .find(|detail| detail["@type"] == "type.googleapis.com/google.rpc.QuotaFailure")
        .expect("QuotaFailure");
    assert_eq!(quota["violations"][0]["subject"], "tenant:sandbox");
}

#[tokio::test]
async fn http_callers_are_authenticated_as_grpc_callers_are() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let path = format!("/v1/leads/{id}");
    let cases = [
        (
            None,
            Some(format!("Bearer {API_KEY}")),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            Some("sandbox"),
            Some("Bearer wrong-key".to_owned()),
            401,
            "UNAUTHENTICATED",
        ),
        (
            Some("sandbox"),
            Some(API_KEY.to_owned()),
            401,
            "UNAUTHENTICATED",
        ),
        (
            Some("elsewhere"),
            Some(format!("Bearer {API_KEY}")),
            403,
            "PERMISSION_DENIED",
        ),
    ];
    for (tenant, authorization, status, code) in cases {
        let mut request = http().get(url(&app, &path));
        if let Some(tenant) = tenant {
            request = request.header("x-tenant-id", tenant);
        }
        if let Some(authorization) = &authorization {
            request = request.header("authorization", authorization);
        }
        let (got, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(
            (got, body["error"]["status"].as_str().unwrap()),
            (status, code),
            "{tenant:?} {authorization:?}: {body}"
        );
        assert!(
            !body.to_string().contains("wrong-key"),
            "the key is not echoed"
        );
    }
}

/// Every `$ref` in a document, for checking that each resolves.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(target)) = object.get("$ref") {
                found.push(target.clone());
            }
            object.values().for_each(|inner| refs(inner, found));
        }
        Value::Array(items) => items.iter().for_each(|inner| refs(inner, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_validates() {
    let app = spawn_app().await;
    // No key needed: the document is public, like reflection.
    let (status, document) =
        json_of(http().get(url(&app, "/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let operations: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|path| path.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let pool = sfgate::pb::descriptor_pool();
    for service in pool.services() {
        for rpc in service.methods() {
            let id = format!("{}_{}", service.name(), rpc.name());
            assert!(operations.contains(&id.as_str()), "{id} is not documented");
        }
    }
    let create = &document["paths"]["/v1/leads"]["post"];
    assert_eq!(create["operationId"], "LeadService_CreateLead");
    assert!(
        create["summary"]
            .as_str()
            .unwrap()
            .starts_with("Creates a lead"),
        "{create}"
    );
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/sfgate.v1.Lead"
    );
    let lead = &document["components"]["schemas"]["sfgate.v1.Lead"]["properties"];
    assert_eq!(lead["lastName"]["type"], "string", "{lead}");
    assert_eq!(
        document["paths"]["/v1/query"]["post"]["responses"]["200"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["application/x-ndjson"]
    );
    assert_eq!(
        document["components"]["securitySchemes"]["tenant"]["name"],
        "X-Tenant-Id"
    );
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    for target in targets {
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{target} does not resolve"
        );
    }

    // An OpenAPI validator (PyPI openapi-spec-validator) accepts it.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), document.to_string()).unwrap();
    let validated = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&validated.stderr).to_string();
    if said.contains("No module named openapi_spec_validator") {
        let message =
            "openapi-spec-validator (PyPI) is not installed: the OpenAPI document is not validated";
        assert!(
            std::env::var("SFGATE_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "{message} and SFGATE_TEST_REQUIRE_SERVERS=1"
        );
        eprintln!(
            "\n!!! SKIPPED: {message}. Install it with `pip install openapi-spec-validator`. !!!\n"
        );
        return;
    }
    assert!(
        validated.status.success(),
        "{}{said}",
        String::from_utf8_lossy(&validated.stdout)
    );
}

#[tokio::test]
async fn every_route_shape_reaches_its_rpc() {
    let app = spawn_app().await;
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = call(&app, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { json_of(request.send().await.unwrap()).await }
    };
    // Upsert by an external ID, twice: created, then updated.
    let path = "/v1/accounts/External_Id__c/ERP-HTTP-7:upsert";
    let (status, first) = send(
        reqwest::Method::POST,
        path,
        Some(json!({ "name": "Upserted Co" })),
    )
    .await;
    assert_eq!(
        (status, first["created"].as_bool()),
        (200, Some(true)),
        "{first}"
    );
    let (_, second) = send(
        reqwest::Method::POST,
        path,
        Some(json!({ "name": "Upserted Co 2" })),
    )
    .await;
    assert_eq!(
        second["created"].as_bool(),
        None,
        "false is the default, left out: {second}"
    );
    assert_eq!(second["account"]["id"], first["account"]["id"]);

    // A lead converted through its custom method, the options in the body.
    let (_, lead) = send(
        reqwest::Method::POST,
        "/v1/leads",
        Some(json!({ "lastName": "Convertible", "company": "Convert Co" })),
    )
    .await;
    let lead_id = lead["id"].as_str().unwrap();
    let (status, converted) = send(
        reqwest::Method::POST,
        &format!("/v1/leads/{lead_id}:convert"),
        Some(json!({ "doNotCreateOpportunity": true })),
    )
    .await;
    assert_eq!(status, 200, "{converted}");
    assert!(
        converted["accountId"]
            .as_str()
            .is_some_and(|id| id.starts_with("001")),
        "{converted}"
    );

    // The data dip, a comment on the open case, and the case read back.
    let (status, found) = send(
        reqwest::Method::GET,
        "/v1/lookup/phone/%2B1%20(415)%20555-0143",
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let case_id = found["openCases"][0]["id"].as_str().unwrap().to_owned();
    let (status, comment) = send(
        reqwest::Method::POST,
        &format!("/v1/cases/{case_id}/comments"),
        Some(json!({ "body": "Call 7c1e: over HTTP", "isPublished": false })),
    )
    .await;
    assert_eq!(status, 200, "{comment}");
    assert!(
        comment["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("00a")),
        "{comment}"
    );

    // Any object through RecordService: create, read with field names, update, describe, delete.
    let (status, record) = send(
        reqwest::Method::POST,
        "/v1/records/Campaign",
        Some(json!({ "Name": "HTTP Summit", "Type": "Conference" })),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    let record_id = record["id"].as_str().unwrap().to_owned();
    let (_, read) = send(
        reqwest::Method::GET,
        &format!("/v1/records/Campaign/{record_id}?fieldNames=Name&fieldNames=Type"),
        None,
    )
    .await;
    assert_eq!(read["fields"]["Type"], "Conference", "{read}");
    let (status, updated) = send(
        reqwest::Method::PATCH,
        &format!("/v1/records/Campaign/{record_id}"),
        Some(json!({ "Type": "Webinar" })),
    )
    .await;
    assert_eq!(
        (status, &updated["fields"]["Type"]),
        (200, &json!("Webinar")),
        "{updated}"
    );
    let (status, described) =
        send(reqwest::Method::GET, "/v1/records/Campaign:describe", None).await;
    assert_eq!(
        (status, &described["name"]),
        (200, &json!("Campaign")),
        "{described}"
    );
    let (status, _) = send(
        reqwest::Method::DELETE,
        &format!("/v1/records/Campaign/{record_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // The connection indicator.
    let (status, connection) = send(reqwest::Method::GET, "/v1/connection", None).await;
    assert_eq!(
        (status, connection["connected"].as_bool()),
        (200, Some(true)),
        "{connection}"
    );
}

#[tokio::test]
async fn salesforce_errors_keep_their_mapping_over_http() {
    use sfgate_sandbox::{Fault, FaultKind};
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let get = || call(&app, reqwest::Method::GET, &format!("/v1/leads/{id}"));
    let rows: Vec<(Fault, u16, &str)> = vec![
        (fault("/sobjects/Lead/", 404, "NOT_FOUND"), 404, "NOT_FOUND"),
        (
            fault("/sobjects/Lead/", 400, "MALFORMED_ID"),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            fault("/sobjects/Lead/", 403, "INSUFFICIENT_ACCESS_OR_READONLY"),
            403,
            "PERMISSION_DENIED",
        ),
        (
            fault("/sobjects/Lead/", 403, "REQUEST_LIMIT_EXCEEDED"),
            429,
            "RESOURCE_EXHAUSTED",
        ),
        (
            fault("/sobjects/Lead/", 400, "DUPLICATE_VALUE"),
            409,
            "ALREADY_EXISTS",
        ),
        (
            fault("/sobjects/Lead/", 400, "UNABLE_TO_LOCK_ROW"),
            409,
            "ABORTED",
        ),
        (
            fault("/sobjects/Lead/", 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
            400,
            "FAILED_PRECONDITION",
        ),
        (
            fault("/sobjects/Lead/", 500, "UNKNOWN_EXCEPTION"),
            503,
            "UNAVAILABLE",
        ),
    ];
    for (injected, status, code) in rows {
        app.sandbox.clear_faults();
        app.sandbox.inject_fault(injected);
        let (got, body) = json_of(get().send().await.unwrap()).await;
        assert_eq!(
            (got, body["error"]["status"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
        assert_eq!(body["error"]["code"], status);
    }
    app.sandbox.clear_faults();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 0,
        kind: FaultKind::Latency(std::time::Duration::from_secs(3)),
    });
    let (got, body) = json_of(
        get()
            .header("x-request-timeout", "300ms")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (got, body["error"]["status"].as_str().unwrap()),
        (504, "DEADLINE_EXCEEDED"),
        "{body}"
    );

    // A connection the org drops (tried once more, as a read): 503.
    app.sandbox.clear_faults();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 0,
        kind: FaultKind::CloseConnection,
    });
    let (got, body) = json_of(get().send().await.unwrap()).await;
    assert_eq!(
        (got, reason(&body)),
        (503, "UPSTREAM_UNREACHABLE"),
        "{body}"
    );

    // 401 INVALID_SESSION_ID after one token refresh and retry: 503, with when to try again.
    app.sandbox.clear_faults();
    app.sandbox
        .inject_fault(fault("/sobjects/Lead/", 401, "INVALID_SESSION_ID"));
    let response = get().send().await.unwrap();
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
    let (got, body) = json_of(response).await;
    assert_eq!(
        (got, reason(&body)),
        (503, "UPSTREAM_AUTH_FAILED"),
        "{body}"
    );
}

fn fault(path: &str, status: u16, error_code: &str) -> sfgate_sandbox::Fault {
    sfgate_sandbox::Fault {
        path_contains: Some(path.into()),
        method: None,
        times: 0,
        kind: sfgate_sandbox::FaultKind::Error {
            http_status: status,
            error_code: error_code.into(),
            message: format!("injected {error_code}"),
        },
    }
}

#[tokio::test]
async fn the_query_cannot_overrule_the_path_or_the_body() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let sent_before = app.data_requests().len();
    for (method, path, body, field) in [
        // The path says which record; the query may not say another.
        (
            reqwest::Method::DELETE,
            format!("/v1/records/Lead/{id}?object=User"),
            None,
            "object",
        ),
        (
            reqwest::Method::GET,
            format!("/v1/leads/{id}?id=00Q000000000000AAA"),
            None,
            "id",
        ),
        // A `body: "*"` route takes its fields in the body only.
        (
            reqwest::Method::POST,
            "/v1/query?soql=SELECT%20Id%20FROM%20User".to_owned(),
            Some(json!({ "soql": "SELECT Id FROM Lead" })),
            "soql",
        ),
        // A single field given twice is ambiguous.
        (
            reqwest::Method::GET,
            "/v1/leads:find?lastName=Reed&lastName=Okafor".to_owned(),
            None,
            "lastName",
        ),
    ] {
        let mut request = call(&app, method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, answer) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 400, "{path}: {answer}");
        let violation = &answer["error"]["details"][1]["fieldViolations"][0];
        assert_eq!(violation["field"], field, "{path}: {answer}");
    }
    assert_eq!(
        app.data_requests().len(),
        sent_before,
        "nothing reached Salesforce"
    );
}

#[tokio::test]
async fn a_query_failing_on_its_first_page_is_an_http_error() {
    let app = spawn_app().await;
    app.sandbox
        .inject_fault(fault("/query", 400, "MALFORMED_QUERY"));
    let response = call(&app, reqwest::Method::POST, "/v1/query")
        .json(&json!({ "soql": "SELECT Id FROM Lead" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{body}"
    );
}

#[tokio::test]
async fn a_405_names_the_methods_and_head_reads_like_get() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let refused = call(&app, reqwest::Method::PUT, &format!("/v1/leads/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 405);
    let allow = refused.headers()["allow"].to_str().unwrap().to_owned();
    for method in ["GET", "PATCH", "DELETE"] {
        assert!(allow.contains(method), "{allow}");
    }
    let head = call(&app, reqwest::Method::HEAD, &format!("/v1/leads/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert!(head.bytes().await.unwrap().is_empty());
}
