//! Tenant limits, measured: `cargo bench --bench tenant_limits`.
//!
//! 1. The limiter's cost per call, with 10,000 tenants configured.
//! 2. Isolation: tenant B's latency at half its limit, alone and while tenant A sends ten times
//!    its own limit, through a real gateway in front of the sandbox org.
//! 3. The memory of an `sfgate` process with 1 and with 10,000 tenants configured.
//!
//! Under `cargo test` (no `--bench` argument) it runs each part briefly, as a smoke test.

use std::time::{Duration, Instant};

use sfgate::pb::GetLeadRequest;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::ratelimit::{Rate, TenantLimiter, TenantLimits};
use sfgate::tenant::ApiKeyHash;
use sfgate::tenant::TenantId;
use support::{TENANTS, free_port, memory, percentile, start_gateway, start_process};

mod support;

fn main() {
    let full = support::full_run();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "# sfgate tenant limits ({})",
        if full { "full run" } else { "smoke run" }
    );
    runtime.block_on(limiter_cost(full));
    runtime.block_on(isolation(full));
    memory(full);
}

async fn limiter_cost(full: bool) {
    let calls = if full { 2_000_000 } else { 20_000 };
    let tenants: Vec<TenantId> = (0..TENANTS)
        .map(|index| TenantId::new(&format!("tenant-{index}")))
        .collect();
    let generous = Rate {
        per_second: 1e9,
        burst: 1_000_000,
    };
    for (label, limits) in [
        ("no limits configured", TenantLimits::default()),
        (
            "rate",
            TenantLimits {
                rate: Some(generous),
                max_concurrent_calls: None,
            },
        ),
        (
            "rate + concurrency cap",
            TenantLimits {
                rate: Some(generous),
                max_concurrent_calls: Some(1_000),
            },
        ),
    ] {
        // Each tenant's snapshot holds its limiter (authentication found the snapshot already).
        let limiters: Vec<TenantLimiter> = tenants
            .iter()
            .map(|_| TenantLimiter::new(limits, None))
            .collect();
        let started = Instant::now();
        for call in 0..calls {
            let tenant = call % TENANTS;
            let admission = limiters[tenant]
                .admit(&tenants[tenant], None)
                .await
                .expect("admitted");
            drop(admission);
        }
        let per_call = started.elapsed().as_nanos() as f64 / calls as f64;
        println!("limiter cost, {TENANTS} tenants, {label}: {per_call:.0} ns per call");
    }
}

/// The sandbox org and the gateway run as their own processes, as in production; this process
/// only makes the calls.
async fn isolation(full: bool) {
    let seconds = if full { 10.0 } else { 1.0 };
    let org_port = free_port();
    let org_listen = format!("127.0.0.1:{org_port}");
    let org = start_process(
        &["sandbox", "--listen", &org_listen],
        &[
            ("SFGATE_SANDBOX_CLIENT_ID", "bench-client"),
            ("SFGATE_SANDBOX_CLIENT_SECRET", "bench-secret"),
        ],
        "sandbox org started",
    );
    let gateway_port = free_port();
    let hash = ApiKeyHash::of_key("bench-key").to_hex();
    let mut config = format!("listen = \"127.0.0.1:{gateway_port}\"\nreload_poll_seconds = 0\n");
    for tenant in ["a", "b"] {
        config.push_str(&format!(
            "[tenants.{tenant}]\nlogin_url = \"http://{org_listen}\"\ngrant = \"client_credentials\"\ncredentials_provider = \"file\"\ncredentials_path = \"org\"\nallowed_instance_hosts = [\"127.0.0.1\"]\nrate_limit = {{ requests_per_second = 100, burst = 10 }}\napi_keys = [{{ caller = \"bench\", sha256 = \"{hash}\" }}]\n"
        ));
    }
    config.push_str(
        "[credentials.file.org]\nclient_id = \"bench-client\"\nclient_secret = \"bench-secret\"\n",
    );
    let gateway = start_gateway(&config);
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{gateway_port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
    // A lead id from the org, through the gateway.
    let mut find = tonic::Request::new(sfgate::pb::FindLeadsRequest {
        last_name: "Reed".into(),
        ..Default::default()
    });
    find.metadata_mut()
        .insert("x-tenant-id", "b".parse().unwrap());
    find.metadata_mut()
        .insert("authorization", "Bearer bench-key".parse().unwrap());
    let id = LeadServiceClient::new(channel.clone())
        .find_leads(find)
        .await
        .unwrap()
        .into_inner()
        .leads[0]
        .id
        .clone();
    let call = move |tenant: &'static str| {
        let (channel, id) = (channel.clone(), id.clone());
        async move {
            let mut request = tonic::Request::new(GetLeadRequest { id, fields: None });
            request
                .metadata_mut()
                .insert("x-tenant-id", tenant.parse().unwrap());
            request
                .metadata_mut()
                .insert("authorization", "Bearer bench-key".parse().unwrap());
            let started = Instant::now();
            let outcome = LeadServiceClient::new(channel).get_lead(request).await;
            (outcome.is_ok(), started.elapsed())
        }
    };
    // B at half its limit: 50 calls per second.
    let run_b = |seconds: f64| {
        let call = call.clone();
        async move {
            let mut latencies = Vec::new();
            let mut refused = 0;
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            let started = Instant::now();
            while started.elapsed().as_secs_f64() < seconds {
                ticker.tick().await;
                let (admitted, latency) = call("b").await;
                if !admitted {
                    refused += 1;
                }
                latencies.push(latency);
            }
            latencies.sort();
            (
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                refused,
                latencies.len(),
            )
        }
    };
    call("b").await; // warm up: token, connections
    let alone = run_b(seconds).await;
    // A at ten times its limit: 1,000 calls per second from 20 callers.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noisy: Vec<_> = (0..20)
        .map(|_| {
            let (call, stop) = (call.clone(), stop.clone());
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_millis(20));
                let mut refused = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    ticker.tick().await;
                    if !call("a").await.0 {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let beside_noise = run_b(seconds).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut a_refused = 0;
    for task in noisy {
        a_refused += task.await.unwrap();
    }
    println!(
        "isolation, B at 50/s (limit 100/s) alone: p50 {:?} p99 {:?}, {} refused of {}",
        alone.0, alone.1, alone.2, alone.3
    );
    println!(
        "isolation, B at 50/s beside A at 1000/s (limit 100/s): p50 {:?} p99 {:?}, {} refused of {}; A refused {a_refused}",
        beside_noise.0, beside_noise.1, beside_noise.2, beside_noise.3
    );
    println!(
        "isolation, B's p99 beside A / alone: {:.2}x",
        beside_noise.1.as_secs_f64() / alone.1.as_secs_f64()
    );
    drop(gateway);
    drop(org);
}
