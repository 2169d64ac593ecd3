//! What the benchmarks share: processes of the real binary, free ports, percentiles, and the
//! memory of a gateway with many tenants configured.

use std::time::{Duration, Instant};

use sfgate::tenant::ApiKeyHash;

/// The tenant count of the memory measure.
#[allow(dead_code, reason = "not every bench measures memory")]
pub(crate) const TENANTS: usize = 10_000;

/// Whether `cargo bench` runs this (`--bench`), rather than `cargo test`'s brief smoke run.
pub(crate) fn full_run() -> bool {
    std::env::args().any(|argument| argument == "--bench")
}

/// A latency percentile of a sorted sample.
pub(crate) fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

/// A port free at the time of asking.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
pub(crate) struct Process(pub(crate) std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// The process's resident memory as `/proc` reports it, e.g. `92312 kB`.
    #[allow(dead_code, reason = "not every bench measures memory")]
    pub(crate) fn resident_memory(&self) -> String {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .unwrap_or("?")
            .trim()
            .to_owned()
    }
}

/// Starts an `sfgate` process with `args` and waits until it logs `ready`.
pub(crate) fn start_process(args: &[&str], env: &[(&str, &str)], ready: &str) -> Process {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sfgate"))
        .args(args)
        // Logs at info (the ready line) and no trace export, whatever the shell has set.
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    while let Some(Ok(line)) = lines.next() {
        if line.contains(ready) {
            break;
        }
    }
    // Keep draining the log so the process never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Process(child)
}

/// A gateway process (`sfgate --config`); its configuration file goes when it is dropped.
pub(crate) struct Gateway {
    /// Killed first (fields drop in order), then the file is removed.
    pub(crate) process: Process,
    _config: tempfile::NamedTempFile,
}

/// Writes `config` to a file and starts a gateway on it, waiting until it serves.
pub(crate) fn start_gateway(config: &str) -> Gateway {
    let file = tempfile::Builder::new()
        .prefix("sfgate-bench-")
        .suffix(".toml")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), config).unwrap();
    let process = start_process(
        &["--config", file.path().to_str().unwrap()],
        &[],
        "sfgate serving",
    );
    Gateway {
        process,
        _config: file,
    }
}

/// The resident memory of an `sfgate` process with 1 and with 10,000 tenants configured (100 in
/// the smoke run), each with a rate limit, a concurrency cap, an API key and file credentials.
#[allow(dead_code, reason = "not every bench measures memory")]
pub(crate) fn memory(full: bool) {
    let many = if full { TENANTS } else { 100 };
    for tenants in [1, many] {
        let mut text = String::from("listen = \"127.0.0.1:0\"\nreload_poll_seconds = 0\n");
        let hash = ApiKeyHash::of_key("bench-key").to_hex();
        for index in 0..tenants {
            text.push_str(&format!(
                "[tenants.t{index}]\nlogin_url = \"https://t{index}.my.salesforce.com\"\ngrant = \"client_credentials\"\ncredentials_provider = \"file\"\ncredentials_path = \"shared\"\nrate_limit = {{ requests_per_second = 50, burst = 100 }}\nmax_concurrent_calls = 20\napi_keys = [{{ caller = \"c{index}\", sha256 = \"{hash}\" }}]\n"
            ));
        }
        text.push_str(
            "[credentials.file.shared]\nclient_id = \"id\"\nclient_secret = \"secret\"\n",
        );
        let started = Instant::now();
        let gateway = start_gateway(&text);
        let ready_after = started.elapsed();
        // Serving once it logs so; then its resident memory settles.
        std::thread::sleep(Duration::from_millis(300));
        println!(
            "memory, {tenants} tenants configured: {} (serving after {ready_after:?})",
            gateway.process.resident_memory()
        );
    }
}

/// A sandbox org process and a gateway process with one tenant in front of it.
#[allow(dead_code, reason = "not every bench starts an org")]
pub(crate) struct OrgAndGateway {
    /// The gateway (dropped first).
    pub(crate) gateway: Gateway,
    /// The org.
    pub(crate) org: Process,
    /// The org's base URL, e.g. `http://127.0.0.1:41234`.
    pub(crate) org_base: String,
    /// The gateway's gRPC port.
    pub(crate) gateway_port: u16,
}

/// Starts `sfgate sandbox` (with `org_env`) and a gateway whose one tenant `tenant` calls it with
/// the client credentials grant; `api_key` is the tenant's one caller's key.
#[allow(dead_code, reason = "not every bench starts an org")]
pub(crate) fn start_org_and_gateway(
    tenant: &str,
    api_key: &str,
    org_env: &[(&str, &str)],
) -> OrgAndGateway {
    start_org_and_gateway_with(tenant, api_key, org_env, "")
}

/// [`start_org_and_gateway`] with `extra` configuration before the tenant's section (e.g.
/// `[[schemas]]`).
pub(crate) fn start_org_and_gateway_with(
    tenant: &str,
    api_key: &str,
    org_env: &[(&str, &str)],
    extra: &str,
) -> OrgAndGateway {
    let org_port = free_port();
    let org_base = format!("http://127.0.0.1:{org_port}");
    let mut env = vec![
        ("SFGATE_SANDBOX_CLIENT_ID", "bench-client"),
        ("SFGATE_SANDBOX_CLIENT_SECRET", "bench-secret"),
    ];
    env.extend_from_slice(org_env);
    let org = start_process(
        &[
            "sandbox",
            "--listen",
            &format!("127.0.0.1:{org_port}"),
            "--daily-api-limit",
            "1000000000000",
        ],
        &env,
        "sandbox org started",
    );
    let gateway_port = free_port();
    let config = format!(
        "listen = \"127.0.0.1:{gateway_port}\"\nreload_poll_seconds = 0\n{extra}\n\
         [tenants.{tenant}]\nlogin_url = \"{org_base}\"\ngrant = \"client_credentials\"\n\
         credentials_provider = \"file\"\ncredentials_path = \"org\"\n\
         allowed_instance_hosts = [\"127.0.0.1\"]\n\
         api_keys = [{{ caller = \"bench\", sha256 = \"{}\" }}]\n\
         [credentials.file.org]\nclient_id = \"bench-client\"\nclient_secret = \"bench-secret\"\n",
        ApiKeyHash::of_key(api_key).to_hex()
    );
    OrgAndGateway {
        gateway: start_gateway(&config),
        org,
        org_base,
        gateway_port,
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
#[allow(dead_code, reason = "not every bench measures CPU")]
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name; 100 ticks a second.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// `callers` tasks making calls back to back for `run` (a closed loop); `call` makes one and says
/// whether it succeeded. Every successful call's latency, sorted, and the failures.
#[allow(dead_code, reason = "not every bench drives a closed loop")]
pub(crate) async fn closed_loop<Call, Made>(
    callers: usize,
    run: Duration,
    call: Call,
) -> (Vec<Duration>, usize)
where
    Call: Fn() -> Made + Clone + Send + 'static,
    Made: std::future::Future<Output = bool> + Send,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (call, stop) = (call.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let started = std::time::Instant::now();
                    if call().await {
                        latencies.push(started.elapsed());
                    } else {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, failures) = task.await.unwrap();
        all.extend(latencies);
        failed += failures;
    }
    all.sort();
    (all, failed)
}

/// The ID of the seeded lead Reed, found through the gateway at `base` over HTTP/JSON.
#[allow(dead_code, reason = "not every bench reads a lead")]
pub(crate) async fn seeded_lead_id(http: &reqwest::Client, base: &str, api_key: &str) -> String {
    let found: serde_json::Value = http
        .get(format!("{base}/v1/leads:find?lastName=Reed"))
        .header("x-tenant-id", "bench")
        .header("authorization", format!("Bearer {api_key}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    found["leads"][0]["id"]
        .as_str()
        .expect("a lead to read")
        .to_owned()
}
