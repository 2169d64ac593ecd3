//! GetLead over HTTP/JSON against GetLead over gRPC, through the same gateway in one run:
//! `cargo bench --bench http_json`.
//!
//! For each protocol in turn, `CALLERS` callers call back to back for the run's length (a closed
//! loop): calls a second, the latency percentiles of those calls, and the gateway process's CPU
//! time per call (user + system, from `/proc/<pid>/stat`). The org (`sfgate sandbox`) and the
//! gateway run as their own processes; the figures to read are the ratios HTTP/JSON ÷ gRPC.
//! Under `cargo test` (no `--bench` argument) it runs briefly, as a smoke test.

use std::time::{Duration, Instant};

use sfgate::pb::GetLeadRequest;
use sfgate::pb::lead_service_client::LeadServiceClient;
use support::{OrgAndGateway, percentile, start_org_and_gateway};

mod support;

const CALLERS: usize = 16;
const API_KEY: &str = "bench-key";

fn main() {
    let full = support::full_run();
    let (warm_up, run) = if full {
        (Duration::from_secs(1), Duration::from_secs(8))
    } else {
        (Duration::from_millis(100), Duration::from_millis(300))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "# GetLead over HTTP/JSON and gRPC ({})",
        if full { "full run" } else { "smoke run" }
    );
    runtime.block_on(compare(warm_up, run));
}

/// One of the two ways to make the call.
#[derive(Clone)]
enum Protocol {
    Grpc(tonic::transport::Channel),
    HttpJson(reqwest::Client, String),
}

impl Protocol {
    fn name(&self) -> &'static str {
        match self {
            Self::Grpc(_) => "gRPC",
            Self::HttpJson(..) => "HTTP/JSON",
        }
    }

    async fn get_lead(&self, id: &str) -> bool {
        match self {
            Self::Grpc(channel) => {
                let mut request = tonic::Request::new(GetLeadRequest {
                    id: id.to_owned(),
                    fields: None,
                });
                request
                    .metadata_mut()
                    .insert("x-tenant-id", "bench".parse().unwrap());
                request.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {API_KEY}").parse().unwrap(),
                );
                LeadServiceClient::new(channel.clone())
                    .get_lead(request)
                    .await
                    .is_ok()
            }
            Self::HttpJson(http, base) => {
                let response = http
                    .get(format!("{base}/v1/leads/{id}"))
                    .header("x-tenant-id", "bench")
                    .header("authorization", format!("Bearer {API_KEY}"))
                    .send()
                    .await;
                match response {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        response.bytes().await.is_ok() && ok
                    }
                    Err(_) => false,
                }
            }
        }
    }
}

/// `CALLERS` callers reading the lead `id` back to back over `protocol` for `run`.
async fn closed_loop(protocol: &Protocol, id: &str, run: Duration) -> (Vec<Duration>, usize) {
    let (protocol, id) = (protocol.clone(), id.to_owned());
    support::closed_loop(CALLERS, run, move || {
        let (protocol, id) = (protocol.clone(), id.clone());
        async move { protocol.get_lead(&id).await }
    })
    .await
}

async fn compare(warm_up: Duration, run: Duration) {
    let OrgAndGateway {
        gateway,
        org: _org,
        org_base: _,
        gateway_port,
    } = start_org_and_gateway("bench", API_KEY, &[]);
    let pid = gateway.process.0.id();
    let base = format!("http://127.0.0.1:{gateway_port}");
    let channel = tonic::transport::Endpoint::from_shared(base.clone())
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let http = sfgate::salesforce::http_client_builder()
        .http1_only()
        .pool_max_idle_per_host(CALLERS)
        .build()
        .unwrap();
    let id = support::seeded_lead_id(&http, &base, API_KEY).await;
    let mut rows = Vec::new();
    for protocol in [Protocol::Grpc(channel), Protocol::HttpJson(http, base)] {
        closed_loop(&protocol, &id, warm_up).await;
        let cpu_before = support::cpu_time(pid);
        let started = Instant::now();
        let (latencies, failures) = closed_loop(&protocol, &id, run).await;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = support::cpu_time(pid).saturating_sub(cpu_before);
        assert!(
            !latencies.is_empty(),
            "{}: no call succeeded",
            protocol.name()
        );
        assert_eq!(failures, 0, "{}: calls failed", protocol.name());
        #[allow(clippy::cast_precision_loss)] // call counts are far below 2^52
        let calls = latencies.len() as f64;
        let cpu_per_call = cpu.as_secs_f64() * 1e6 / calls;
        println!(
            "{:<10} {:>8.0} calls/s  p50 {:>7.2} ms  p99 {:>7.2} ms  gateway CPU {:>6.1} µs/call",
            protocol.name(),
            calls / elapsed,
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            cpu_per_call
        );
        rows.push((calls / elapsed, percentile(&latencies, 0.5), cpu_per_call));
    }
    let (grpc, http) = (rows[0], rows[1]);
    println!(
        "HTTP/JSON ÷ gRPC: throughput {:.2}, p50 latency {:.2}, gateway CPU per call {:.2}",
        http.0 / grpc.0,
        http.1.as_secs_f64() / grpc.1.as_secs_f64(),
        http.2 / grpc.2
    );
}
