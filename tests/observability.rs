//! Operating sfgate: spans exported over OTLP to a real receiver, continuing the caller's trace;
//! Prometheus metrics, `/healthz` and `/readyz` on the admin port; JSON logs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::pb::record_service_client::RecordServiceClient;
use sfgate::pb::{FindLeadsRequest, GetLeadRequest, QueryRequest};
use sfgate::tenant::ApiKeyHash;
use sfgate_sandbox::{Fault, FaultKind, SandboxConfig, SandboxHandle};
use sfgate_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use sfgate_testkit::process::{Running, free_port, terminate};
use sfgate_testkit::{API_KEY, spawn_app_with, with_metadata};
use tonic::Code;

/// The binary under test.
const BINARY: &str = env!("CARGO_BIN_EXE_sfgate");
const TRACE_KEY: &str = "trace-test-key-5f1c2e";
const CALLER_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// A fault on the org's next Lead record request.
fn lead_fault(kind: FaultKind) -> Fault {
    Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 1,
        kind,
    }
}

/// The org's answer with its JSON error array.
fn org_error(http_status: u16, error_code: &str) -> FaultKind {
    FaultKind::Error {
        http_status,
        error_code: error_code.into(),
        message: format!("{error_code} injected by the test"),
    }
}

/// A configuration file for the binary: tenant `acme` in front of `org`, with `extra` on top.
fn config_file(org: &SandboxHandle, extra: &str) -> tempfile::NamedTempFile {
    let credentials = org.credentials();
    let text = format!(
        "{extra}\n[tenants.acme]\nlogin_url = \"{}\"\ngrant = \"password\"\ncredentials_provider = \"file\"\n\
         credentials_path = \"org\"\nallowed_instance_hosts = [\"127.0.0.1\"]\n\
         api_keys = [{{ caller = \"workflow-engine\", sha256 = \"{}\" }}]\n\
         \n[credentials.file.org]\nclient_id = \"{}\"\nclient_secret = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
        org.base_url(),
        ApiKeyHash::of_key(TRACE_KEY).to_hex(),
        credentials.client_id,
        credentials.client_secret,
        credentials.username,
        credentials.password
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

/// Starts the binary and waits until its gRPC port answers.
async fn start_binary(
    config: &std::path::Path,
    grpc_port: u16,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Running {
    let child = Command::new(BINARY)
        .envs(envs.iter().copied())
        .arg("--config")
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{grpc_port}")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", grpc_port))
        .await
        .is_err()
    {
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut log = String::new();
            let _ = std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut log);
            panic!("sfgate exited early ({status}): {log}");
        }
        assert!(Instant::now() < deadline, "sfgate did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

fn leads(port: u16) -> LeadServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    LeadServiceClient::new(channel)
}

fn traced<T>(message: T, span_id: &str) -> tonic::Request<T> {
    let mut request = with_metadata(message, "acme", TRACE_KEY);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{CALLER_TRACE_ID}-{span_id}-01")
            .parse()
            .unwrap(),
    );
    request
}

/// FindLeads for the seeded Reed leads, as tenant `acme` with `key`.
fn find_reed_as(key: &str) -> tonic::Request<FindLeadsRequest> {
    with_metadata(
        FindLeadsRequest {
            last_name: "Reed".into(),
            ..Default::default()
        },
        "acme",
        key,
    )
}

fn traced_get(id: &str, span_id: &str) -> tonic::Request<GetLeadRequest> {
    traced(
        GetLeadRequest {
            id: id.to_owned(),
            ..Default::default()
        },
        span_id,
    )
}

fn server_span<'a>(spans: &'a [ReceivedSpan], method: &str, parent: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|span| {
            span.name == format!("sfgate.v1.LeadService/{method}") && span.parent_span_id == parent
        })
        .unwrap_or_else(|| panic!("no server span for {method} under {parent}: {spans:#?}"))
}

fn children<'a>(spans: &'a [ReceivedSpan], parent: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|span| span.parent_span_id == parent.span_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_real_otlp_receiver_and_continue_the_callers_trace() {
    let Some(receiver) = OtlpReceiver::start() else {
        return;
    };
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let config = config_file(
        &org,
        &format!(
            "[telemetry]\notlp_endpoint = \"{}\"\nservice_name = \"sfgate-trace-test\"\n",
            receiver.endpoint()
        ),
    );
    let port = free_port();
    let mut sfgate = start_binary(config.path(), port, &["--log-format", "json"], &[]).await;
    let mut client = leads(port);

    // A workflow engine's step: find the caller's lead, then read it, both in the engine's trace.
    let found = client
        .find_leads(traced(
            FindLeadsRequest {
                last_name: "Reed".into(),
                ..Default::default()
            },
            CALLER_SPAN_ID,
        ))
        .await
        .expect("FindLeads")
        .into_inner();
    let lead_id = found.leads[0].id.clone();
    client
        .get_lead(traced_get(&lead_id, "00f067aa0ba902b8"))
        .await
        .expect("GetLead");
    // Errors: the org is down for one call (a server error) and a lead is missing (not one).
    // A read answered 503 is tried once more: both tries fail, and both are in the trace.
    org.inject_fault(Fault {
        times: 2,
        ..lead_fault(org_error(503, "SERVER_UNAVAILABLE"))
    });
    let unavailable = client
        .get_lead(traced_get(&lead_id, "00f067aa0ba902b9"))
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Code::Unavailable);
    org.inject_fault(lead_fault(org_error(404, "NOT_FOUND")));
    let missing = client
        .get_lead(traced_get(&lead_id, "00f067aa0ba902ba"))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    // The same read over HTTP/JSON continues the caller's trace from its `traceparent` header.
    let over_http = sfgate::salesforce::http_client()
        .get(format!("http://127.0.0.1:{port}/v1/leads/{lead_id}"))
        .header("x-tenant-id", "acme")
        .header("authorization", format!("Bearer {TRACE_KEY}"))
        .header(
            "traceparent",
            format!("00-{CALLER_TRACE_ID}-00f067aa0ba902bb-01"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(over_http.status(), 200);

    // The batch exporter waits seconds before sending; a clean shutdown must flush it.
    let status = terminate(&mut sfgate).await;
    assert!(status.success(), "sfgate exited with {status}");
    let spans = receiver.wait_for(Duration::from_secs(5), "the flushed spans", |spans| {
        spans
            .iter()
            .filter(|span| span.name.starts_with("sfgate.v1.LeadService/"))
            .count()
            >= 5
    });
    let over_http = server_span(&spans, "GetLead", "00f067aa0ba902bb");
    assert_eq!(
        over_http.trace_id, CALLER_TRACE_ID,
        "the HTTP call is in the caller's trace"
    );
    assert!(
        children(&spans, over_http)
            .iter()
            .any(|span| span.name == "GET sobjects"),
        "the HTTP call's Salesforce request is under its span"
    );

    // The server span of FindLeads is a child of the caller's span, in the caller's trace.
    let find = server_span(&spans, "FindLeads", CALLER_SPAN_ID);
    assert_eq!(find.trace_id, CALLER_TRACE_ID);
    assert_eq!(find.kind, 2, "a server span");
    assert_eq!(find.service, "sfgate-trace-test");
    for (key, value) in [
        ("rpc.system", "grpc"),
        ("rpc.service", "sfgate.v1.LeadService"),
        ("rpc.method", "FindLeads"),
        ("rpc.grpc.status_code", "0"),
        ("tenant", "acme"),
        ("caller", "workflow-engine"),
    ] {
        assert_eq!(
            find.attribute(key).as_deref(),
            Some(value),
            "{key} of {find:#?}"
        );
    }
    // Under it: the token request (the tenant's first call) and the SOQL query, as client spans.
    let find_children = children(&spans, find);
    let token = find_children
        .iter()
        .find(|span| span.name == "salesforce.token")
        .unwrap_or_else(|| panic!("no token span under FindLeads: {find_children:#?}"));
    assert_eq!(token.attribute("oauth.grant").as_deref(), Some("password"));
    assert_eq!(token.attribute("tenant").as_deref(), Some("acme"));
    let query = find_children
        .iter()
        .find(|span| span.name == "GET query")
        .unwrap_or_else(|| panic!("no query span under FindLeads: {find_children:#?}"));
    assert_eq!(query.trace_id, CALLER_TRACE_ID);
    assert_eq!(query.kind, 3, "a client span");
    assert_eq!(
        query.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(query.attribute("tenant").as_deref(), Some("acme"));
    assert!(
        query.attributes["http.response.status_code"].is_i64(),
        "an integer, as OpenTelemetry's HTTP conventions want"
    );
    let request_id = query
        .attribute("salesforce.request_id")
        .expect("the org's request id");
    let recorded = org.requests();
    let sent = recorded
        .iter()
        .find(|request| request.request_id == request_id)
        .expect("the request id is one the org issued");
    assert!(sent.path.ends_with("/query"), "{sent:?}");
    assert_eq!(
        query.attribute("url.path").as_deref(),
        Some(sent.path.as_str())
    );

    // GetLead: its own span under its own caller span, with the sObject read under it.
    let get = server_span(&spans, "GetLead", "00f067aa0ba902b8");
    assert_eq!(get.trace_id, CALLER_TRACE_ID);
    let get_children = children(&spans, get);
    assert!(
        get_children
            .iter()
            .any(|span| span.name == "GET sobjects" && span.kind == 3),
        "{get_children:#?}"
    );

    // A server error marks the span as an error; NOT_FOUND is the caller's problem, not ours.
    let failed = server_span(&spans, "GetLead", "00f067aa0ba902b9");
    assert_eq!(
        failed.attribute("rpc.grpc.status_code").as_deref(),
        Some("14")
    );
    assert_eq!(failed.status_code, 2, "UNAVAILABLE is a server error");
    let tries = children(&spans, failed)
        .iter()
        .filter(|span| {
            span.attribute("http.response.status_code").as_deref() == Some("503")
                && span.status_code == 2
        })
        .count();
    assert_eq!(tries, 2, "each 503 from the org is an error span");
    let not_found = server_span(&spans, "GetLead", "00f067aa0ba902ba");
    assert_eq!(
        not_found.attribute("rpc.grpc.status_code").as_deref(),
        Some("5")
    );
    assert_ne!(not_found.status_code, 2);

    // The logs name the trace: the token mint, logged inside FindLeads, carries the caller's id.
    let stderr = sfgate.0.stderr.take().unwrap();
    let minted = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .find(|line| line["fields"]["message"] == "minted salesforce access token")
        .expect("the mint is logged");
    assert!(
        minted["spans"]
            .as_array()
            .expect("the enclosing spans")
            .iter()
            .any(|span| span["name"] == "grpc.request" && span["trace_id"] == CALLER_TRACE_ID),
        "{minted:#}"
    );

    // Never a secret in any span.
    let credentials = org.credentials();
    for span in &spans {
        let text = format!("{span:?}");
        for secret in [
            TRACE_KEY,
            credentials.client_secret.as_str(),
            credentials.password.as_str(),
        ] {
            assert!(!text.contains(secret), "a secret in {text}");
        }
        assert!(!text.to_lowercase().contains("bearer"), "a token in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_trace_context_starts_a_trace_of_its_own_whatever_the_log_level() {
    let Some(receiver) = OtlpReceiver::start() else {
        return;
    };
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let config = config_file(
        &org,
        &format!("[telemetry]\notlp_endpoint = \"{}\"\n", receiver.endpoint()),
    );
    let port = free_port();
    // What is traced does not depend on the log level.
    let mut sfgate = start_binary(config.path(), port, &[], &[("RUST_LOG", "warn")]).await;
    leads(port)
        .find_leads(find_reed_as(TRACE_KEY))
        .await
        .expect("FindLeads");
    assert!(terminate(&mut sfgate).await.success());
    let spans = receiver.wait_for(Duration::from_secs(5), "the FindLeads span", |spans| {
        spans
            .iter()
            .any(|span| span.name == "sfgate.v1.LeadService/FindLeads")
    });
    let find = server_span(&spans, "FindLeads", "");
    assert_eq!(find.service, "sfgate", "the default service name");
    assert!(
        spans
            .iter()
            .any(|span| span.parent_span_id == find.span_id && span.name == "GET query")
    );
}

/// Waits until the org has received a request whose path contains `path`.
async fn wait_until_the_org_received(app: &sfgate_testkit::TestApp, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app
        .sandbox
        .requests()
        .iter()
        .any(|request| request.path.contains(path))
    {
        assert!(Instant::now() < deadline, "the org never received {path}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn calls_that_end_before_their_answer_are_counted() {
    const TENANT: &str = "cancelled-tenant";
    let app = spawn_app_with(|config| {
        let tenant = config.tenants["sandbox"].clone();
        config.tenants.insert(TENANT.to_owned(), tenant);
    })
    .await;
    let lead_id = app.seeded_lead();
    let get = move || {
        with_metadata(
            GetLeadRequest {
                id: lead_id.clone(),
                ..Default::default()
            },
            TENANT,
            API_KEY,
        )
    };
    let slow_org = || lead_fault(FaultKind::Latency(Duration::from_secs(2)));
    // Warm up: the tenant's token.
    app.leads().get_lead(get()).await.expect("GetLead");
    // The caller's deadline passes while the org is slow: DEADLINE_EXCEEDED.
    app.sandbox.inject_fault(slow_org());
    let mut request = get();
    request.set_timeout(Duration::from_millis(400));
    let late = app.leads().get_lead(request).await.unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded);
    // The caller gives up (no deadline sent): the gateway drops the call, counted as CANCELLED.
    app.sandbox.inject_fault(slow_org());
    app.sandbox.clear_requests();
    let mut client = app.leads();
    let abandoned = tokio::spawn(async move { client.get_lead(get()).await });
    wait_until_the_org_received(&app, "/sobjects/Lead/").await;
    abandoned.abort();

    let http = sfgate::salesforce::http_client();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = http
            .get(format!("http://{}/metrics", app.admin_address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let count = |code: &str| {
            sample(
                &metrics,
                "sfgate_rpc_requests_total",
                &[
                    ("service", "sfgate.v1.LeadService"),
                    ("method", "GetLead"),
                    ("code", code),
                    ("tenant", TENANT),
                ],
            )
        };
        if count("DEADLINE_EXCEEDED") == Some(1.0) && count("CANCELLED") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "DEADLINE_EXCEEDED and CANCELLED not both counted once:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the sample with exactly these labels, if present.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = series.split_once('{')?;
        if series_name != name {
            return None;
        }
        let found: HashMap<&str, &str> = series_labels
            .trim_end_matches('}')
            .split(',')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key, value.trim_matches('"')))
            })
            .collect();
        let matches = found.len() == labels.len()
            && labels
                .iter()
                .all(|(key, value)| found.get(key) == Some(value));
        matches.then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test]
async fn the_admin_port_serves_metrics_health_and_readiness() {
    const TENANT: &str = "metrics-tenant";
    let mut app = spawn_app_with(|config| {
        // A rate-limited copy of the sandbox tenant; `sandbox` itself stays unlimited.
        let mut tenant = config.tenants["sandbox"].clone();
        tenant.rate_limit = Some(sfgate::config::RateLimitConfig {
            requests_per_second: 0.01,
            burst: Some(4),
        });
        config.tenants.insert(TENANT.to_owned(), tenant);
    })
    .await;
    let http = sfgate::salesforce::http_client();
    let admin = format!("http://{}", app.admin_address);
    let mut client = app.leads();
    let lead_id = app.seeded_lead();
    let get = |id: &str| {
        with_metadata(
            GetLeadRequest {
                id: id.to_owned(),
                ..Default::default()
            },
            TENANT,
            API_KEY,
        )
    };

    // 1: OK. 2: NOT_FOUND from the org. 3: a streamed query. 4: unauthenticated. Then the tenant's
    // burst of 4 is spent (the unauthenticated call spent none of it): refused for its rate.
    client.get_lead(get(&lead_id)).await.expect("GetLead");
    app.sandbox
        .inject_fault(lead_fault(org_error(404, "NOT_FOUND")));
    let missing = client.get_lead(get(&lead_id)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let mut stream = RecordServiceClient::new(app.channel.clone())
        .query(with_metadata(
            QueryRequest {
                soql: "SELECT Id FROM Lead".into(),
                ..Default::default()
            },
            TENANT,
            API_KEY,
        ))
        .await
        .expect("Query")
        .into_inner();
    while stream.message().await.expect("a page").is_some() {}
    let unauthenticated = client
        .get_lead(with_metadata(
            GetLeadRequest {
                id: lead_id.clone(),
                ..Default::default()
            },
            TENANT,
            "not-a-key",
        ))
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
    client.get_lead(get(&lead_id)).await.expect("the 4th call");
    let limited = client.get_lead(get(&lead_id)).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);

    // A tenant nobody configured is refused and never becomes a label.
    let unknown_tenant = client
        .get_lead(with_metadata(
            GetLeadRequest {
                id: lead_id.clone(),
                ..Default::default()
            },
            "made-up-tenant",
            API_KEY,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_tenant.code(), Code::PermissionDenied);

    let response = http.get(format!("{admin}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let metrics = response.text().await.unwrap();
    fn rpc<'a>(method: &'a str, code: &'a str, tenant: &'a str) -> [(&'a str, &'a str); 4] {
        [
            (
                "service",
                if method == "Query" {
                    "sfgate.v1.RecordService"
                } else {
                    "sfgate.v1.LeadService"
                },
            ),
            ("method", method),
            ("code", code),
            ("tenant", tenant),
        ]
    }
    for (labels, expected) in [
        (rpc("GetLead", "OK", TENANT), 2.0),
        (rpc("GetLead", "NOT_FOUND", TENANT), 1.0),
        (rpc("Query", "OK", TENANT), 1.0),
        (rpc("GetLead", "RESOURCE_EXHAUSTED", TENANT), 1.0),
    ] {
        assert_eq!(
            sample(&metrics, "sfgate_rpc_requests_total", &labels),
            Some(expected),
            "{labels:?} in\n{metrics}"
        );
        assert_eq!(
            sample(&metrics, "sfgate_rpc_duration_seconds_count", &labels),
            Some(expected),
            "{labels:?} in\n{metrics}"
        );
    }
    // Calls refused before their tenant was known are counted without one.
    assert!(!metrics.contains("made-up-tenant"));
    assert!(
        sample(
            &metrics,
            "sfgate_rpc_requests_total",
            &rpc("GetLead", "PERMISSION_DENIED", "")
        )
        .is_some_and(|count| count >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "sfgate_rpc_requests_total",
            &rpc("GetLead", "UNAUTHENTICATED", "")
        )
        .is_some_and(|count| count >= 1.0),
        "{metrics}"
    );
    let upstream = |status: &str, resource: &str| {
        sample(
            &metrics,
            "sfgate_upstream_requests_total",
            &[
                ("tenant", TENANT),
                ("method", "GET"),
                ("resource", resource),
                ("status", status),
            ],
        )
    };
    assert_eq!(upstream("200", "sobjects"), Some(2.0), "{metrics}");
    assert_eq!(upstream("404", "sobjects"), Some(1.0), "{metrics}");
    assert_eq!(upstream("200", "query"), Some(1.0), "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            "sfgate_token_mints_total",
            &[
                ("tenant", TENANT),
                ("grant", "password"),
                ("outcome", "success")
            ]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "sfgate_rate_limit_rejections_total",
            &[("tenant", TENANT), ("reason", "rate")]
        ),
        Some(1.0),
        "{metrics}"
    );
    let usage = sample(
        &metrics,
        "sfgate_salesforce_api_usage",
        &[("tenant", TENANT)],
    )
    .expect("the API usage gauge");
    assert!(
        usage >= 1.0 && usage <= app.sandbox.api_usage() as f64,
        "{usage}"
    );
    assert!(
        sample(
            &metrics,
            "sfgate_salesforce_api_limit",
            &[("tenant", TENANT)]
        )
        .is_some_and(|limit| limit > usage)
    );

    let healthz = http.get(format!("{admin}/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = http.get(format!("{admin}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200);

    // Shutting down: a call still in flight, /readyz says 503 so that traffic goes elsewhere.
    app.sandbox
        .inject_fault(lead_fault(FaultKind::Latency(Duration::from_secs(2))));
    app.sandbox.clear_requests();
    let in_flight = tokio::spawn({
        let mut client = app.leads();
        let request = app.request(GetLeadRequest {
            id: lead_id.clone(),
            ..Default::default()
        });
        async move { client.get_lead(request).await }
    });
    wait_until_the_org_received(&app, "/sobjects/Lead/").await;
    let _ = app.shutdown_sender().send(());
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let readyz = http.get(format!("{admin}/readyz")).send().await.unwrap();
        if readyz.status() == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {}",
            readyz.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let healthz = http.get(format!("{admin}/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200, "alive while draining");
    in_flight
        .await
        .unwrap()
        .expect("the call in flight finishes");
    drop(app);
}

#[tokio::test]
async fn json_logs_carry_the_calls_tenant_and_never_the_key() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let config = config_file(&org, "");
    let port = free_port();
    let mut sfgate = start_binary(
        config.path(),
        port,
        &["--log-format", "json"],
        &[("RUST_LOG", "info,sfgate=debug")],
    )
    .await;
    // A refused call is logged; the tenant's first call logs the token it minted.
    let refused = leads(port)
        .find_leads(find_reed_as("wrong-key"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    leads(port)
        .find_leads(find_reed_as(TRACE_KEY))
        .await
        .expect("FindLeads");
    assert!(terminate(&mut sfgate).await.success());
    let stderr = sfgate.0.stderr.take().unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stderr)
        .lines()
        .map(|line| {
            let line = line.unwrap();
            assert!(
                !line.contains(TRACE_KEY) && !line.contains("wrong-key"),
                "{line}"
            );
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
        })
        .collect();
    let message =
        |line: &serde_json::Value| line["fields"]["message"].as_str().unwrap_or("").to_owned();
    assert!(lines.iter().any(|line| message(line) == "sfgate serving"));
    assert!(
        lines.iter().any(
            |line| message(line) == "call refused" && line["span"]["rpc.method"] == "FindLeads"
        ),
        "{lines:#?}"
    );
    let minted = lines
        .iter()
        .find(|line| message(line) == "minted salesforce access token")
        .expect("the mint is logged");
    let spans = minted["spans"].as_array().expect("the enclosing spans");
    assert!(
        spans
            .iter()
            .any(|span| span["tenant"] == "acme" && span["caller"] == "workflow-engine"),
        "{minted:#}"
    );
    // Each Salesforce request's debug line sits in the call's span, with what was asked and
    // answered; the request's own span is for traces only.
    let query = lines
        .iter()
        .find(|line| {
            message(line) == "salesforce call" && line["fields"]["salesforce.resource"] == "query"
        })
        .expect("the query is logged at debug");
    assert_eq!(
        query["fields"]["http.response.status_code"], 200,
        "{query:#}"
    );
    assert_eq!(query["fields"]["http.request.method"], "GET", "{query:#}");
    assert_eq!(query["span"]["rpc.method"], "FindLeads", "{query:#}");
    assert_eq!(query["span"]["tenant"], "acme", "{query:#}");
    assert!(
        lines
            .iter()
            .all(|line| !line.to_string().contains("salesforce.request_id")),
        "the Salesforce request span is not in the logs"
    );
}
