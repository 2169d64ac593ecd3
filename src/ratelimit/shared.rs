//! Shared mode: each tenant's GCRA state lives in Redis, so all replicas draw on one allowance.
//! One Lua script decides atomically, on Redis's own clock (replicas' clocks may differ).
//!
//! When Redis is unreachable or slow (past `timeout`), each replica falls back to its share of
//! the limit (`rate / expected_replicas`) locally, says so once in the log, reports it, and tries
//! Redis again every second until it answers — on a call's decision, and with a background `PING`
//! so that recovery needs no traffic; no call waits on a dead Redis beyond the timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;

use super::gcra::Rate;
use crate::tenant::TenantId;

/// The GCRA decision: `{1, 0}` admitted, `{0, microseconds until admitted}` refused.
const GCRA_SCRIPT: &str = r"
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_us)
if tat < now_us then tat = now_us end
local allowed_from = tat - tolerance
if now_us < allowed_from then
  return {0, allowed_from - now_us}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now_us) / 1000) + 1000)
return {1, 0}
";

/// How long after a Redis failure the next attempt is made.
const RETRY_REDIS_AFTER: Duration = Duration::from_secs(1);
/// How long the background probe waits for Redis's `PONG`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long establishing the connection may take (in the background, never on a call's path).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where shared limits live and how long to wait for them.
#[derive(Debug, Clone)]
pub struct SharedLimitsConfig {
    /// The Redis URL, e.g. `redis://redis:6379`.
    pub redis_url: String,
    /// How many replicas share the limits; each falls back to `1 / expected_replicas` of them.
    pub expected_replicas: u32,
    /// The longest a decision may wait for Redis.
    pub timeout: Duration,
    /// Prefix of the Redis keys, so that deployments sharing a Redis keep separate limits.
    pub key_prefix: String,
}

/// The connection to the shared limit store, and whether it is working.
pub struct SharedStore {
    client: redis::Client,
    connection: Arc<OnceCell<ConnectionManager>>,
    connecting: Arc<AtomicBool>,
    script: redis::Script,
    config: SharedLimitsConfig,
    unavailable_until: Mutex<Option<Instant>>,
    degraded: watch::Sender<bool>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SharedStore")
            .field("expected_replicas", &self.config.expected_replicas)
            .field("degraded", &*self.degraded.borrow())
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Prepares the store; Redis is first contacted by the first decision.
    pub fn new(config: SharedLimitsConfig) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(config.redis_url.as_str())?,
            connection: Arc::new(OnceCell::new()),
            connecting: Arc::new(AtomicBool::new(false)),
            script: redis::Script::new(GCRA_SCRIPT),
            config,
            unavailable_until: Mutex::new(None),
            degraded: watch::Sender::new(false),
        })
    }

    /// Connects to Redis and sends `PING`, within the connection time-out.
    pub async fn ping(&self) -> Result<(), String> {
        let ping = async {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
        }
    }

    /// `true` while limits are enforced locally because Redis is unavailable.
    pub fn degraded(&self) -> watch::Receiver<bool> {
        self.degraded.subscribe()
    }

    /// This replica's share of a rate, for when Redis is unavailable.
    pub fn local_share(&self, rate: Rate) -> Rate {
        let replicas = self.config.expected_replicas.max(1);
        Rate {
            per_second: rate.per_second / f64::from(replicas),
            burst: (rate.burst / replicas).max(1),
        }
    }

    /// Decides a call of `tenant` at `rate` in Redis: `Some(Ok)` admitted, `Some(Err(wait))`
    /// refused, `None` when Redis cannot decide (the caller falls back to its local share).
    pub async fn decide(&self, tenant: &TenantId, rate: Rate) -> Option<Result<(), Duration>> {
        let Some(connection) = self.connection.get() else {
            self.connect_in_background();
            return None;
        };
        if self
            .unavailable_until
            .lock()
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        let decision = tokio::time::timeout(
            self.config.timeout,
            self.run_script(connection, tenant, rate),
        )
        .await;
        match decision {
            Ok(Ok((admitted, wait_us))) => {
                self.recovered();
                Some(if admitted == 1 {
                    Ok(())
                } else {
                    Err(Duration::from_micros(wait_us.max(1)))
                })
            }
            failure => {
                let reason = match failure {
                    Ok(Err(error)) => error.to_string(),
                    _ => format!("no answer within {} ms", self.config.timeout.as_millis()),
                };
                *self.unavailable_until.lock() = Some(Instant::now() + RETRY_REDIS_AFTER);
                if !self.degraded.send_replace(true) {
                    tracing::warn!(
                        %reason,
                        replicas = self.config.expected_replicas,
                        "redis unavailable: limiting each tenant to this replica's share, locally"
                    );
                }
                None
            }
        }
    }

    /// Limits are shared again: Redis answered.
    fn recovered(&self) {
        *self.unavailable_until.lock() = None;
        if self.degraded.send_replace(false) {
            tracing::info!("redis is back: tenant limits are shared across replicas again");
        }
    }

    /// Starts watching Redis while limits are local, with a `PING` every second, so that the
    /// replica shares limits again (and its health says so) as soon as Redis answers, calls or
    /// none. The watch ends when the store is dropped.
    pub fn spawn_recovery_probe(self: &Arc<Self>) {
        let store = Arc::downgrade(self);
        let mut degraded = self.degraded.subscribe();
        tokio::spawn(async move {
            loop {
                if degraded.wait_for(|degraded| *degraded).await.is_err() {
                    return;
                }
                tokio::time::sleep(RETRY_REDIS_AFTER).await;
                let Some(store) = store.upgrade() else { return };
                let Some(connection) = store.connection.get() else {
                    store.connect_in_background();
                    continue;
                };
                let mut connection = connection.clone();
                let ping = redis::cmd("PING");
                let pong = ping.query_async::<String>(&mut connection);
                if let Ok(Ok(_)) = tokio::time::timeout(PROBE_TIMEOUT, pong).await {
                    store.recovered();
                }
            }
        });
    }

    /// Connects once, off the calls' path (a slow first handshake must not make every call time
    /// out); calls use the local share until the connection is up. The connection manager then
    /// reconnects by itself.
    fn connect_in_background(&self) {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let (client, cell, connecting) = (
            self.client.clone(),
            Arc::clone(&self.connection),
            Arc::clone(&self.connecting),
        );
        let degraded = self.degraded.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, ConnectionManager::new(client)).await {
                Ok(Ok(connection)) => {
                    let _ = cell.set(connection);
                    if degraded.send_replace(false) {
                        tracing::info!(
                            "redis is back: tenant limits are shared across replicas again"
                        );
                    }
                }
                failure => {
                    let reason = match failure {
                        Ok(Err(error)) => error.to_string(),
                        _ => "connection timed out".to_owned(),
                    };
                    if !degraded.send_replace(true) {
                        tracing::warn!(%reason, "redis unavailable: limiting each tenant to this replica's share, locally");
                    }
                    // A pause before the next attempt, which the next call starts.
                    tokio::time::sleep(RETRY_REDIS_AFTER).await;
                }
            }
            connecting.store(false, Ordering::Release);
        });
    }

    async fn run_script(
        &self,
        connection: &ConnectionManager,
        tenant: &TenantId,
        rate: Rate,
    ) -> Result<(u64, u64), redis::RedisError> {
        let mut connection = connection.clone();
        let interval_us = rate.emission_interval().as_micros() as u64;
        let tolerance_us = rate.burst_tolerance().as_micros() as u64;
        let (admitted, wait_us): (u64, u64) = self
            .script
            .key(format!("{}:rate:{tenant}", self.config.key_prefix))
            .arg(interval_us)
            .arg(tolerance_us)
            .invoke_async(&mut connection)
            .await?;
        Ok((admitted, wait_us))
    }
}
