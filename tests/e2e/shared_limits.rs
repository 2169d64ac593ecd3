//! Shared mode with two real sfgate processes and one real redis-server: the replicas together
//! admit a tenant's configured rate; with Redis down each falls back to its share, without
//! waiting on Redis, says so, and recovers when Redis returns.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sfgate::pb::GetLeadRequest;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate_sandbox::SandboxConfig;
use sfgate_testkit::process::connect_when_up;
use sfgate_testkit::redis::Redis;
use sfgate_testkit::{config_text, with_metadata};
use tonic::Code;
use tonic::transport::Channel;

const RATE: f64 = 40.0;
/// The tenant's burst: enough tolerance (10 intervals, 5 for each replica's local share) that
/// callers slowed by a busy machine do not leave allowance unused, so the counts measure the rate.
const BURST: u32 = 10;

struct Replica {
    child: Child,
    channel: Channel,
    log: tempfile::NamedTempFile,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_replica(config: &std::path::Path) -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sfgate"))
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let channel = connect_when_up(port).await;
    Replica {
        child,
        channel,
        log,
    }
}

/// Calls back to back from 8 concurrent callers for `duration`, enough to keep the limiter
/// saturated; returns (admitted, refused, slowest call).
async fn drive(channel: Channel, id: String, duration: Duration) -> (u32, u32, Duration) {
    let callers = (0..8).map(|_| {
        let (channel, id) = (channel.clone(), id.clone());
        tokio::spawn(async move {
            let (mut admitted, mut refused, mut slowest) = (0, 0, Duration::ZERO);
            let started = Instant::now();
            while started.elapsed() < duration {
                let request = with_metadata(
                    GetLeadRequest {
                        id: id.clone(),
                        fields: None,
                    },
                    "acme",
                    "key-a",
                );
                let call_started = Instant::now();
                match LeadServiceClient::new(channel.clone())
                    .get_lead(request)
                    .await
                {
                    Ok(_) => admitted += 1,
                    Err(status) if status.code() == Code::ResourceExhausted => refused += 1,
                    Err(status) => panic!("unexpected failure: {status:?}"),
                }
                slowest = slowest.max(call_started.elapsed());
            }
            (admitted, refused, slowest)
        })
    });
    let mut total = (0, 0, Duration::ZERO);
    for caller in futures::future::join_all(callers).await {
        let (admitted, refused, slowest) = caller.unwrap();
        total = (total.0 + admitted, total.1 + refused, total.2.max(slowest));
    }
    total
}

async fn health(channel: &Channel) -> i32 {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let request = HealthCheckRequest {
        service: sfgate::server::SHARED_LIMITS_HEALTH.into(),
    };
    HealthClient::new(channel.clone())
        .check(request)
        .await
        .unwrap()
        .into_inner()
        .status
}

fn within(admitted: u32, expected: f64, tolerance: f64) -> bool {
    (f64::from(admitted) - expected).abs() <= expected * tolerance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_rate_and_fall_back_to_their_share_without_redis() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let org = sfgate_sandbox::start(SandboxConfig {
        daily_api_limit: 1_000_000,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let shared = format!(
        "[shared_limits]\nredis_url = \"{}\"\nexpected_replicas = 2\ntimeout_ms = 50\n",
        redis.url()
    );
    let text = config_text(&org, &[("acme", &["key-a"])], "")
        .replace("reload_poll_seconds = 1", "reload_poll_seconds = 0")
        .replace(
            "api_keys = [",
            &format!(
                "rate_limit = {{ requests_per_second = {RATE}, burst = {BURST} }}\napi_keys = ["
            ),
        )
        + &shared;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let first = start_replica(file.path()).await;
    let second = start_replica(file.path()).await;
    // The start-up log names each tenant's grant and credentials (never a secret), and whether
    // limits are shared.
    let started = sfgate_testkit::process::logged(first.log.path(), "sfgate serving").await;
    let tenant_line = started
        .lines()
        .find(|line| line.contains("tenant org connection built"))
        .unwrap_or_else(|| panic!("no tenant line in:\n{started}"));
    for expected in [
        "tenant=acme",
        "grant=\"password\"",
        "credentials_provider=\"file\"",
        "credentials_path=org",
    ] {
        assert!(
            tenant_line.contains(expected),
            "{expected} in {tenant_line}"
        );
    }
    assert!(
        started
            .lines()
            .any(|line| line.contains("sfgate serving") && line.contains("on (redis)")),
        "{started}"
    );
    let id = org.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Until a replica's Redis connection is up, it decides on its local share: warm both up,
    // then let the shared allowance refill to its burst.
    tokio::join!(
        drive(
            first.channel.clone(),
            id.clone(),
            Duration::from_millis(500)
        ),
        drive(
            second.channel.clone(),
            id.clone(),
            Duration::from_millis(500)
        )
    );
    tokio::time::sleep(Duration::from_secs_f64(f64::from(BURST) / RATE)).await;

    // Both replicas saturated, far above the tenant's 40/s together.
    let window = Duration::from_secs(4);
    let started = Instant::now();
    let (a, b) = tokio::join!(
        drive(first.channel.clone(), id.clone(), window),
        drive(second.channel.clone(), id.clone(), window)
    );
    let elapsed = started.elapsed().as_secs_f64();
    let expected = RATE * elapsed + f64::from(BURST);
    let combined = a.0 + b.0;
    assert!(
        a.1 > 0 && b.1 > 0,
        "both replicas refused calls over the shared rate"
    );
    assert!(
        within(combined, expected, 0.05),
        "combined admitted {combined}, expected {expected:.0} ±5%"
    );
    assert_eq!(
        health(&first.channel).await,
        1,
        "SERVING: limits are shared"
    );

    // Redis hung (stopped, not gone): decisions time out after 50 ms, the local share decides,
    // and no call waits longer than that.
    redis.signal("STOP");
    let (hung, _, slowest) = drive(first.channel.clone(), id.clone(), Duration::from_secs(2)).await;
    assert!(hung > 0, "calls were admitted by the local share");
    assert!(
        slowest < Duration::from_millis(300),
        "a call waited {slowest:?} on a hung Redis"
    );
    assert_eq!(
        health(&first.channel).await,
        2,
        "NOT_SERVING while Redis hangs"
    );
    redis.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(&first.channel).await != 1 {
        drive(
            first.channel.clone(),
            id.clone(),
            Duration::from_millis(100),
        )
        .await;
        assert!(
            Instant::now() < deadline,
            "the replica did not go back to shared limits after the hang"
        );
    }

    // Redis down: each replica enforces half the rate locally, and no call waits on Redis.
    redis.stop();
    let window = Duration::from_secs(3);
    let started = Instant::now();
    let (a, b) = tokio::join!(
        drive(first.channel.clone(), id.clone(), window),
        drive(second.channel.clone(), id.clone(), window)
    );
    let elapsed = started.elapsed().as_secs_f64();
    for (admitted, _, slowest) in [a, b] {
        assert!(
            within(admitted, RATE / 2.0 * elapsed + f64::from(BURST / 2), 0.15),
            "local share admitted {admitted}"
        );
        assert!(
            slowest < Duration::from_millis(300),
            "a call waited {slowest:?} on a dead Redis"
        );
    }
    assert_eq!(
        health(&first.channel).await,
        2,
        "NOT_SERVING: limits are local"
    );
    let logged = std::fs::read_to_string(first.log.path()).unwrap();
    assert!(logged.contains("redis unavailable"), "{logged}");

    // Redis back: shared again within seconds, without a call to find out.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    for replica in [&first, &second] {
        while health(&replica.channel).await != 1 {
            assert!(
                Instant::now() < deadline,
                "the replica did not go back to shared limits without traffic"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        std::fs::read_to_string(first.log.path())
            .unwrap()
            .contains("redis is back")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_create_retried_on_another_replica_is_not_repeated() {
    use sfgate::pb::{CreateLeadRequest, Lead};
    let Some(redis) = Redis::start() else { return };
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let shared = format!(
        "[shared_limits]\nredis_url = \"{}\"\nexpected_replicas = 2\n",
        redis.url()
    );
    let text = config_text(&org, &[("acme", &["key-a"])], "")
        .replace("reload_poll_seconds = 1", "reload_poll_seconds = 0")
        + &shared;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let first = start_replica(file.path()).await;
    let second = start_replica(file.path()).await;
    let create = |company: &str| {
        let mut request = with_metadata(
            CreateLeadRequest {
                lead: Some(Lead {
                    last_name: Some("Replicated".into()),
                    company: Some(company.into()),
                    ..Lead::default()
                }),
            },
            "acme",
            "key-a",
        );
        request
            .metadata_mut()
            .insert("idempotency-key", "step-7f".parse().unwrap());
        request
    };
    let on_first = LeadServiceClient::new(first.channel.clone())
        .create_lead(create("Retry Co"))
        .await
        .unwrap()
        .into_inner();
    let on_second = LeadServiceClient::new(second.channel.clone())
        .create_lead(create("Retry Co"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        on_first.id, on_second.id,
        "the second replica returned the first result"
    );
    assert_eq!(
        org.find_records("Lead", "LastName", "Replicated").len(),
        1,
        "exactly one record"
    );
    let reused = LeadServiceClient::new(second.channel.clone())
        .create_lead(create("Other Co"))
        .await
        .unwrap_err();
    assert_eq!(sfgate_testkit::reason(&reused), "IDEMPOTENCY_KEY_REUSED");
}
