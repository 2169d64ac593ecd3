//! The hot path, measured: `cargo bench --bench hot_path`.
//!
//! `GetLead` and `FindLeads` through sfgate to the sandbox org, and the very same Salesforce
//! requests (read back from the org's request log) sent straight to the org over HTTP, in one run:
//!
//! 1. Peak throughput of each path: closed loop, `CALLERS` callers calling back to back.
//! 2. Latency at half of the gateway's peak: an open loop sending on a fixed schedule (latency
//!    counted from the scheduled instant, so a stall is not hidden by sending later), the same
//!    rate for both paths; the gateway's added latency is the difference of their percentiles.
//! 3. The memory of a gateway with 1 and with 10,000 tenants configured.
//!
//! The org (`sfgate sandbox`, no injected latency) and the gateway (`sfgate --config`) run as
//! their own processes; this process only generates the load. Under `cargo test` (no `--bench`
//! argument) every part runs briefly, as a smoke test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::pb::{FindLeadsRequest, GetLeadRequest};
use support::{OrgAndGateway, memory, percentile, start_org_and_gateway};
use tonic::transport::Channel;

mod support;

/// Concurrent callers of the peak-throughput runs.
const CALLERS: usize = 32;
/// gRPC connections the callers share (HTTP/2 multiplexes the rest).
const GRPC_CONNECTIONS: usize = 4;
const API_KEY: &str = "bench-key";
/// The longest a call of the latency runs may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The rate of the light-load latency run, calls per second.
const LIGHT_LOAD: f64 = 500.0;

/// How long each measurement runs.
struct Durations {
    warm_up: Duration,
    peak: Duration,
    latency: Duration,
}

fn main() {
    let full = support::full_run();
    let durations = if full {
        Durations {
            warm_up: Duration::from_secs(1),
            peak: Duration::from_secs(5),
            latency: Duration::from_secs(10),
        }
    } else {
        Durations {
            warm_up: Duration::from_millis(100),
            peak: Duration::from_millis(300),
            latency: Duration::from_millis(300),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "# sfgate hot path ({})",
        if full { "full run" } else { "smoke run" }
    );
    runtime.block_on(hot_path(&durations));
    memory(full);
}

/// One of the two calls, by either path.
#[derive(Clone)]
enum Target {
    Gateway {
        channels: Vec<Channel>,
        call: Call,
    },
    Direct {
        http: reqwest::Client,
        url: String,
        /// The gateway's request headers (`Sforce-Query-Options` …) with this path's token.
        headers: reqwest::header::HeaderMap,
    },
}

#[derive(Clone, Copy, Debug)]
enum Call {
    GetLead,
    FindLeads,
}

impl Target {
    /// Makes the call `n` (which picks the connection); true when it succeeded.
    async fn call(&self, n: usize, lead_id: &str) -> bool {
        match self {
            Self::Gateway { channels, call } => {
                let mut client = LeadServiceClient::new(channels[n % channels.len()].clone());
                match call {
                    Call::GetLead => client
                        .get_lead(with_key(GetLeadRequest {
                            id: lead_id.to_owned(),
                            fields: None,
                        }))
                        .await
                        .is_ok(),
                    Call::FindLeads => client
                        .find_leads(with_key(find_reed()))
                        .await
                        .is_ok_and(|found| !found.into_inner().leads.is_empty()),
                }
            }
            Self::Direct { http, url, headers } => {
                match http.get(url).headers(headers.clone()).send().await {
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

/// Worker threads of the org process (`HOT_PATH_ORG_THREADS`, default 2).
fn org_threads() -> String {
    std::env::var("HOT_PATH_ORG_THREADS").unwrap_or_else(|_| "2".to_owned())
}

fn find_reed() -> FindLeadsRequest {
    FindLeadsRequest {
        last_name: "Reed".into(),
        ..Default::default()
    }
}

fn with_key<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", "bench".parse().unwrap());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {API_KEY}").parse().unwrap(),
    );
    request
}

async fn hot_path(durations: &Durations) {
    let OrgAndGateway {
        gateway,
        org,
        org_base,
        gateway_port,
    } = start_org_and_gateway(
        "bench",
        API_KEY,
        &[("TOKIO_WORKER_THREADS", &org_threads())],
    );
    let mut channels = Vec::new();
    for _ in 0..GRPC_CONNECTIONS {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{gateway_port}"))
                .unwrap()
                .tcp_nodelay(true)
                .connect()
                .await
                .unwrap(),
        );
    }

    // One call of each kind through the gateway, then the org's log tells what it sent.
    let http = sfgate::salesforce::http_client();
    let _ = http
        .delete(format!("{org_base}/_sandbox/requests"))
        .send()
        .await
        .unwrap();
    let lead_id = LeadServiceClient::new(channels[0].clone())
        .find_leads(with_key(find_reed()))
        .await
        .expect("FindLeads through the gateway")
        .into_inner()
        .leads[0]
        .id
        .clone();
    LeadServiceClient::new(channels[0].clone())
        .get_lead(with_key(GetLeadRequest {
            id: lead_id.clone(),
            fields: None,
        }))
        .await
        .expect("GetLead through the gateway");
    let sent: Vec<sfgate_sandbox::RecordedRequest> = http
        .get(format!("{org_base}/_sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent_request = |path_part: &str| {
        sent.iter()
            .rev()
            .find(|request| request.method == "GET" && request.path.contains(path_part))
            .unwrap_or_else(|| panic!("the gateway sent no GET {path_part}: {sent:#?}"))
            .clone()
    };
    let url_of = |request: &sfgate_sandbox::RecordedRequest| match &request.query {
        Some(query) => format!("{org_base}{}?{query}", request.path),
        None => format!("{org_base}{}", request.path),
    };
    let (get_sent, find_sent) = (sent_request("/sobjects/Lead/"), sent_request("/query"));
    let (get_url, find_url) = (url_of(&get_sent), url_of(&find_sent));
    let token: serde_json::Value = http
        .post(format!("{org_base}/services/oauth2/token"))
        .basic_auth("bench-client", Some("bench-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let authorization = format!("Bearer {}", token["access_token"].as_str().unwrap());
    // The gateway's headers as the org received them, but for the connection's own and the token.
    let headers_of = |request: &sfgate_sandbox::RecordedRequest| {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &request.headers {
            if !["authorization", "host", "content-length"].contains(&name.as_str()) {
                headers.append(
                    reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
        }
        headers.insert("authorization", authorization.parse().unwrap());
        headers
    };
    println!(
        "direct GetLead request:   GET {}",
        get_url.trim_start_matches(&org_base)
    );
    println!(
        "direct FindLeads request: GET {}",
        find_url.trim_start_matches(&org_base)
    );
    println!(
        "  with the gateway's headers: {:?}",
        find_sent
            .headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
    );
    println!(
        "load generator: {CALLERS} callers for peak throughput; open loop at half the gateway's peak for latency"
    );
    println!();

    for call in [Call::GetLead, Call::FindLeads] {
        let through = Target::Gateway {
            channels: channels.clone(),
            call,
        };
        let direct = Target::Direct {
            http: http.clone(),
            url: match call {
                Call::GetLead => get_url.clone(),
                Call::FindLeads => find_url.clone(),
            },
            headers: headers_of(match call {
                Call::GetLead => &get_sent,
                Call::FindLeads => &find_sent,
            }),
        };
        let processes = [
            ("load generator", std::process::id()),
            ("sfgate", gateway.process.0.id()),
            ("org", org.0.id()),
        ];
        let (direct_peak, direct_cpu) =
            peak_throughput(&direct, &lead_id, durations, &processes).await;
        let (gateway_peak, gateway_cpu) =
            peak_throughput(&through, &lead_id, durations, &processes).await;
        println!("## {call:?}");
        println!(
            "peak throughput: direct {direct_peak:.0}/s, through sfgate {gateway_peak:.0}/s = {:.0}% of direct (target >= 70%)",
            gateway_peak / direct_peak * 100.0
        );
        println!("CPU per call at peak, direct: {direct_cpu}; through sfgate: {gateway_cpu}");
        for (rate, label) in [
            (
                gateway_peak / 2.0,
                "half the gateway's peak; targets: added p50 <= 0.2 ms, p99 <= 1 ms",
            ),
            (LIGHT_LOAD, "light load"),
        ] {
            let direct_latency = latency_at(&direct, &lead_id, rate, durations).await;
            let gateway_latency = latency_at(&through, &lead_id, rate, durations).await;
            let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
            println!(
                "at {rate:.0}/s ({label}): direct p50 {:.3} ms p99 {:.3} ms; through sfgate p50 {:.3} ms p99 {:.3} ms; added p50 {:.3} ms p99 {:.3} ms ({} calls each, {} failed)",
                ms(direct_latency.p50),
                ms(direct_latency.p99),
                ms(gateway_latency.p50),
                ms(gateway_latency.p99),
                ms(gateway_latency.p50) - ms(direct_latency.p50),
                ms(gateway_latency.p99) - ms(direct_latency.p99),
                gateway_latency.calls,
                direct_latency.failed + gateway_latency.failed,
            );
        }
        println!();
    }
    println!(
        "gateway memory after the run: {}",
        gateway.process.resident_memory()
    );
}

/// CPU time a process has used (user + system), from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, in clock ticks of 1/100 s on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Calls per second with `CALLERS` callers calling back to back, and the CPU each process spent
/// per call meanwhile.
async fn peak_throughput(
    target: &Target,
    lead_id: &str,
    durations: &Durations,
    processes: &[(&str, u32)],
) -> (f64, String) {
    let run = |length: Duration| async move {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let (target, lead_id) = (target.clone(), lead_id.to_owned());
                let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if target.call(caller, &lead_id).await {
                            done.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let started = Instant::now();
        tokio::time::sleep(length).await;
        let (calls, elapsed) = (done.load(Ordering::Relaxed), started.elapsed());
        stop.store(true, Ordering::Relaxed);
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(failed.load(Ordering::Relaxed), 0, "calls failed");
        (calls as f64 / elapsed.as_secs_f64(), calls.max(1))
    };
    run(durations.warm_up).await;
    let cpu_before: Vec<Duration> = processes.iter().map(|(_, pid)| cpu_time(*pid)).collect();
    let (rate, calls) = run(durations.peak).await;
    let cpu = processes
        .iter()
        .zip(cpu_before)
        .map(|((name, pid), before)| {
            let per_call = (cpu_time(*pid) - before).as_secs_f64() * 1e6 / calls as f64;
            format!("{name} {per_call:.0} µs")
        })
        .collect::<Vec<_>>()
        .join(", ");
    (rate, cpu)
}

struct Latency {
    p50: Duration,
    p99: Duration,
    calls: usize,
    failed: usize,
}

/// Sends `rate` calls per second on a fixed schedule for the latency duration. A thread keeps
/// the schedule (tokio's timers tick in milliseconds); each call runs as its own task and its
/// latency counts from the instant it was due.
async fn latency_at(target: &Target, lead_id: &str, rate: f64, durations: &Durations) -> Latency {
    let run = |length: Duration| {
        let (target, lead_id) = (target.clone(), lead_id.to_owned());
        let runtime = tokio::runtime::Handle::current();
        async move {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let calls = (length.as_secs_f64() * rate) as usize;
            let (results, mut received) = tokio::sync::mpsc::unbounded_channel();
            let scheduler = std::thread::spawn(move || {
                let start = Instant::now();
                for n in 0..calls {
                    let due = start + interval * n as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let (target, lead_id, results) =
                        (target.clone(), lead_id.clone(), results.clone());
                    runtime.spawn(async move {
                        // A call that hangs counts as failed rather than stalling the run.
                        let ok = tokio::time::timeout(CALL_TIMEOUT, target.call(n, &lead_id))
                            .await
                            .unwrap_or(false);
                        let _ = results.send((ok, due.elapsed()));
                    });
                }
            });
            let mut latencies = Vec::with_capacity(calls);
            let mut failed = 0;
            while latencies.len() + failed < calls {
                let (ok, latency) = received.recv().await.expect("every call reports");
                if ok {
                    latencies.push(latency);
                } else {
                    failed += 1;
                }
            }
            scheduler.join().unwrap();
            assert!(!latencies.is_empty(), "every call failed");
            latencies.sort();
            Latency {
                p50: percentile(&latencies, 0.5),
                p99: percentile(&latencies, 0.99),
                calls,
                failed,
            }
        }
    };
    run(durations.warm_up).await;
    run(durations.latency).await
}
