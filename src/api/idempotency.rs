//! Idempotent creates: the metadata `idempotency-key` makes a retried create return the first
//! result instead of creating a second record.
//!
//! The first request with a key runs as its own task, so that it finishes and records its result
//! even if the caller's connection is cut mid-way (the case retries exist for). The same key with
//! the same request returns that result for 24 hours; with a different request it is refused; while
//! the first is still running, a retry is told to retry shortly. A first request that failed
//! frees its key for a retry — unless it may have created the record all the same (its answer
//! was lost: the connection broke after sending, the org timed out, the answer was unreadable):
//! then a retry with the key is refused (IDEMPOTENCY_KEY_OUTCOME_UNKNOWN), never run again.
//!
//! Keys live in memory, or in Redis when shared mode is configured, so that a retry that lands on
//! another replica still finds the first result. If Redis cannot be reached, this replica's memory
//! serves (a retry on another replica could then create a second record; the log says so). A
//! result Redis failed to record is kept in this replica's memory and recorded again until the
//! key's claim would expire.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tracing::Instrument as _;

use crate::error::GatewayError;
use crate::tenant::TenantId;

/// The metadata key callers set.
pub(crate) const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// How long a result is kept for retries.
const KEEP_RESULTS_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest key accepted.
const MAX_KEY_LENGTH: usize = 255;
/// Expired entries are swept every this many new keys.
const SWEEP_EVERY: usize = 1024;

enum State {
    Running,
    Done(Bytes),
    /// The first request failed in a way that may have created the record.
    OutcomeUnknown,
}

/// Whether a failed create may have created its record all the same: its answer was lost on the
/// way, or came from a proxy in front of Salesforce (502, 504) rather than from Salesforce.
fn may_have_created(error: &GatewayError) -> bool {
    use crate::salesforce::SalesforceError;
    matches!(
        error,
        GatewayError::Salesforce(
            SalesforceError::Timeout
                | SalesforceError::Unreachable {
                    request_sent: true,
                    ..
                }
                | SalesforceError::WriteAnswerLost { .. }
                | SalesforceError::Api {
                    http_status: 502 | 504,
                    ..
                }
        )
    )
}

struct Entry {
    fingerprint: [u8; 32],
    state: State,
    at: Instant,
}

/// The results of creates, by tenant and idempotency key.
#[derive(Default)]
pub(crate) struct IdempotencyStore {
    entries: Mutex<HashMap<(TenantId, String), Entry>>,
    inserted: Mutex<usize>,
    redis: Option<RedisKeys>,
}

/// Idempotency keys in Redis: `R:<fingerprint>` while running, `D:<fingerprint>:<result>` after.
struct RedisKeys {
    client: redis::Client,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    prefix: String,
}

/// How long a running claim lives in Redis: if its replica dies mid-create, the key frees up
/// after this instead of after a day.
const CLAIM_EXPIRES_AFTER: Duration = Duration::from_secs(300);

/// How long a Redis operation may take before this replica's memory is used instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Recording a result in Redis is tried again after this, then after twice as long each time…
const RECORD_FIRST_PAUSE: Duration = Duration::from_millis(250);
/// …up to this.
const RECORD_LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// How a first request with a key ended, as the key keeps it.
enum Finished {
    Done(Bytes),
    OutcomeUnknown,
    NothingCreated,
}

impl Finished {
    fn of(outcome: &Result<Bytes, GatewayError>) -> Self {
        match outcome {
            Ok(result) => Self::Done(result.clone()),
            Err(error) if may_have_created(error) => Self::OutcomeUnknown,
            Err(_) => Self::NothingCreated,
        }
    }
}

/// What Redis knows of a key.
enum Claim {
    Claimed,
    Running,
    Done(Bytes),
    OutcomeUnknown,
    Reused,
}

impl RedisKeys {
    async fn connection(&self) -> Result<redis::aio::ConnectionManager, String> {
        let connection = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.connection
                .get_or_try_init(|| redis::aio::ConnectionManager::new(self.client.clone())),
        )
        .await
        .map_err(|_| "timed out connecting".to_owned())?
        .map_err(|error| error.to_string())?;
        Ok(connection.clone())
    }

    fn key(&self, tenant: &TenantId, key: &str) -> String {
        format!(
            "{}:idempotency:{}:{}",
            self.prefix,
            tenant,
            hex::encode(Sha256::digest(key.as_bytes()))
        )
    }

    async fn claim(&self, redis_key: &str, fingerprint: &[u8; 32]) -> Result<Claim, String> {
        use base64::Engine as _;
        let mut connection = self.connection().await?;
        let running = format!("R:{}", hex::encode(fingerprint));
        let claim = redis::cmd("SET")
            .arg(redis_key)
            .arg(&running)
            .arg("NX")
            .arg("EX")
            .arg(CLAIM_EXPIRES_AFTER.as_secs())
            .to_owned();
        let refused = match query::<Option<String>>(&mut connection, &claim).await {
            Ok(Some(_)) => return Ok(Claim::Claimed),
            Ok(None) => None,
            // A Redis refusing writes (out of memory, read-only) may still say what it holds.
            Err(reason) => Some(reason),
        };
        let get = redis::cmd("GET").arg(redis_key).to_owned();
        let existing = match (
            query::<Option<String>>(&mut connection, &get).await?,
            refused,
        ) {
            (Some(existing), _) => existing,
            (None, Some(reason)) => return Err(reason),
            (None, None) => return Ok(Claim::Running), // released a moment ago: the caller retries
        };
        let (state, rest) = existing.split_at(existing.find(':').map_or(0, |at| at + 1));
        let (stored_fingerprint, result) = rest.split_once(':').unwrap_or((rest, ""));
        if stored_fingerprint != hex::encode(fingerprint) {
            return Ok(Claim::Reused);
        }
        match state {
            "D:" => base64::engine::general_purpose::STANDARD
                .decode(result)
                .map(|bytes| Claim::Done(Bytes::from(bytes)))
                .map_err(|_| "unreadable stored result".to_owned()),
            "U:" => Ok(Claim::OutcomeUnknown),
            _ => Ok(Claim::Running),
        }
    }

    async fn finish(
        &self,
        redis_key: &str,
        fingerprint: &[u8; 32],
        finished: &Finished,
    ) -> Result<(), String> {
        use base64::Engine as _;
        let mut connection = self.connection().await?;
        let command = match finished {
            Finished::Done(result) => {
                let done = format!(
                    "D:{}:{}",
                    hex::encode(fingerprint),
                    base64::engine::general_purpose::STANDARD.encode(result)
                );
                redis::cmd("SET")
                    .arg(redis_key)
                    .arg(done)
                    .arg("EX")
                    .arg(KEEP_RESULTS_FOR.as_secs())
                    .to_owned()
            }
            Finished::OutcomeUnknown => redis::cmd("SET")
                .arg(redis_key)
                .arg(format!("U:{}", hex::encode(fingerprint)))
                .arg("EX")
                .arg(KEEP_RESULTS_FOR.as_secs())
                .to_owned(),
            Finished::NothingCreated => redis::cmd("DEL").arg(redis_key).to_owned(),
        };
        query::<()>(&mut connection, &command).await
    }
}

/// Runs one Redis command, within [`REDIS_TIMEOUT`].
async fn query<T: redis::FromRedisValue>(
    connection: &mut redis::aio::ConnectionManager,
    command: &redis::Cmd,
) -> Result<T, String> {
    tokio::time::timeout(REDIS_TIMEOUT, command.query_async(connection))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|error| error.to_string())
}

/// A digest of what a request asks for; the same key must come with the same request.
pub(crate) fn fingerprint(method: &str, request: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(request);
    hasher.finalize().into()
}

/// Checks a key from the metadata.
pub(crate) fn check_key(key: &str) -> Result<(), GatewayError> {
    if key.is_empty() || key.len() > MAX_KEY_LENGTH || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(GatewayError::invalid_field(
            IDEMPOTENCY_HEADER,
            format!("must be 1-{MAX_KEY_LENGTH} printable ASCII characters (a UUID is ideal)"),
        ));
    }
    Ok(())
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IdempotencyStore")
            .field("shared", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore {
    /// Runs a create; with an idempotency `key`, at most once per `(tenant, key)`: a repeat gets
    /// the first result, decoded as `M`.
    pub(crate) async fn create_once<M: prost::Message + Default>(
        self: &std::sync::Arc<Self>,
        tenant: &TenantId,
        key: Option<&str>,
        fingerprint: [u8; 32],
        create: impl Future<Output = Result<M, GatewayError>> + Send + 'static,
    ) -> Result<M, GatewayError> {
        let Some(key) = key else {
            return create.await;
        };
        let work = async move {
            create
                .await
                .map(|created| Bytes::from(created.encode_to_vec()))
        };
        let stored = self.run(tenant, key, fingerprint, work).await?;
        M::decode(stored).map_err(|error| {
            GatewayError::Internal(format!("decoding a stored create result: {error}"))
        })
    }

    /// A store keeping keys in Redis at `redis_url` (keys prefixed with `prefix`).
    pub(crate) fn shared(redis_url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            redis: Some(RedisKeys {
                client: redis::Client::open(redis_url)?,
                connection: tokio::sync::OnceCell::new(),
                prefix: prefix.to_owned(),
            }),
            ..Self::default()
        })
    }

    /// Runs `work` once per `(tenant, key)`: a repeat with the same fingerprint gets the first
    /// result (encoded), a repeat with another fingerprint is refused.
    pub(crate) async fn run<F>(
        self: &std::sync::Arc<Self>,
        tenant: &TenantId,
        key: &str,
        fingerprint: [u8; 32],
        work: F,
    ) -> Result<Bytes, GatewayError>
    where
        F: Future<Output = Result<Bytes, GatewayError>> + Send + 'static,
    {
        if let Some(redis) = &self.redis {
            let redis_key = redis.key(tenant, key);
            match redis.claim(&redis_key, &fingerprint).await {
                Ok(Claim::Done(result)) => return Ok(result),
                Ok(Claim::Running) => return Err(GatewayError::IdempotencyKeyInUse),
                Ok(Claim::OutcomeUnknown) => return Err(GatewayError::IdempotencyOutcomeUnknown),
                Ok(Claim::Reused) => return Err(GatewayError::IdempotencyKeyReused),
                Ok(Claim::Claimed) => {
                    let claimed_at = Instant::now();
                    let store = std::sync::Arc::clone(self);
                    let entry_key = (tenant.clone(), key.to_owned());
                    let (result_sender, result) = oneshot::channel();
                    tokio::spawn(
                        async move {
                            let outcome = work.await;
                            // The caller gets the result now; a retry meanwhile finds the key
                            // running, and is told to retry shortly.
                            let finished = Finished::of(&outcome);
                            let _ = result_sender.send(outcome);
                            store
                                .record_in_redis(
                                    &redis_key,
                                    entry_key,
                                    fingerprint,
                                    finished,
                                    claimed_at,
                                )
                                .await;
                        }
                        .in_current_span(),
                    );
                    return result.await.unwrap_or_else(|_| {
                        Err(GatewayError::Internal(
                            "the create task ended without a result".into(),
                        ))
                    });
                }
                Err(reason) => tracing::warn!(
                    %reason,
                    "redis unavailable for idempotency keys: using this replica's memory (a retry on another replica could create a second record)"
                ),
            }
        }
        let entry_key = (tenant.clone(), key.to_owned());
        {
            let mut entries = self.entries.lock();
            if let Some(entry) = entries
                .get(&entry_key)
                .filter(|entry| entry.at.elapsed() < KEEP_RESULTS_FOR)
            {
                if entry.fingerprint != fingerprint {
                    return Err(GatewayError::IdempotencyKeyReused);
                }
                return match &entry.state {
                    State::Done(result) => Ok(result.clone()),
                    State::Running => Err(GatewayError::IdempotencyKeyInUse),
                    State::OutcomeUnknown => Err(GatewayError::IdempotencyOutcomeUnknown),
                };
            }
            entries.insert(
                entry_key.clone(),
                Entry {
                    fingerprint,
                    state: State::Running,
                    at: Instant::now(),
                },
            );
            self.sweep_now_and_then(&mut entries);
        }
        let (result_sender, result) = oneshot::channel();
        let store = std::sync::Arc::clone(self);
        tokio::spawn(
            async move {
                let outcome = work.await;
                match Finished::of(&outcome) {
                    // A create Salesforce refused created nothing: a retry may try again.
                    Finished::NothingCreated => {
                        store.entries.lock().remove(&entry_key);
                    }
                    finished => store.remember(entry_key, fingerprint, &finished),
                }
                let _ = result_sender.send(outcome);
            }
            .in_current_span(),
        );
        result.await.unwrap_or_else(|_| {
            Err(GatewayError::Internal(
                "the create task ended without a result".into(),
            ))
        })
    }

    /// Records in Redis how a claimed create ended, trying again while Redis fails until the
    /// claim would have expired; meanwhile this replica's memory keeps the outcome, so that a
    /// retry here finds it even with Redis gone.
    async fn record_in_redis(
        &self,
        redis_key: &str,
        entry_key: (TenantId, String),
        fingerprint: [u8; 32],
        finished: Finished,
        claimed_at: Instant,
    ) {
        let Some(redis) = &self.redis else { return };
        let mut pause = RECORD_FIRST_PAUSE;
        let mut remembered = false;
        loop {
            let reason = match redis.finish(redis_key, &fingerprint, &finished).await {
                Ok(()) if remembered => {
                    tracing::info!("recorded an idempotent create's result in redis after all");
                    return;
                }
                Ok(()) => return,
                Err(reason) => reason,
            };
            if !remembered {
                tracing::warn!(
                    %reason,
                    "could not record an idempotent create's result in redis: this replica keeps it and tries again"
                );
                self.remember(entry_key.clone(), fingerprint, &finished);
                remembered = true;
            }
            if claimed_at.elapsed() + pause >= CLAIM_EXPIRES_AFTER {
                tracing::error!(
                    %reason,
                    "gave up recording an idempotent create's result in redis: once its claim expires, a retry on another replica could create a second record"
                );
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECORD_LONGEST_PAUSE);
        }
    }

    /// Keeps how a create ended in this replica's memory.
    fn remember(&self, entry_key: (TenantId, String), fingerprint: [u8; 32], finished: &Finished) {
        let state = match finished {
            Finished::Done(result) => State::Done(result.clone()),
            Finished::OutcomeUnknown => State::OutcomeUnknown,
            Finished::NothingCreated => return,
        };
        let mut entries = self.entries.lock();
        entries.insert(
            entry_key,
            Entry {
                fingerprint,
                state,
                at: Instant::now(),
            },
        );
        self.sweep_now_and_then(&mut entries);
    }

    fn sweep_now_and_then(&self, entries: &mut HashMap<(TenantId, String), Entry>) {
        let mut inserted = self.inserted.lock();
        *inserted += 1;
        if (*inserted).is_multiple_of(SWEEP_EVERY) {
            entries.retain(|_, entry| {
                entry.at.elapsed() < KEEP_RESULTS_FOR || matches!(entry.state, State::Running)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_once_per_key_and_refuses_a_reused_key() {
        let store = Arc::new(IdempotencyStore::default());
        let tenant = TenantId::new("acme");
        let runs = Arc::new(AtomicUsize::new(0));
        let work = |runs: Arc<AtomicUsize>| async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from_static(b"created"))
        };
        let print = fingerprint("CreateLead", b"lead");
        for _ in 0..3 {
            let result = store
                .run(&tenant, "key-1", print, work(Arc::clone(&runs)))
                .await
                .unwrap();
            assert_eq!(&result[..], b"created");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let other = fingerprint("CreateLead", b"another lead");
        assert!(matches!(
            store
                .run(&tenant, "key-1", other, work(Arc::clone(&runs)))
                .await,
            Err(GatewayError::IdempotencyKeyReused)
        ));
        store
            .run(
                &TenantId::new("globex"),
                "key-1",
                other,
                work(Arc::clone(&runs)),
            )
            .await
            .expect("keys are per tenant");
    }

    #[tokio::test]
    async fn a_failed_create_can_be_retried() {
        let store = Arc::new(IdempotencyStore::default());
        let tenant = TenantId::new("acme");
        let print = fingerprint("CreateLead", b"lead");
        let failed = store
            .run(&tenant, "k", print, async {
                Err(GatewayError::DeadlineExceeded)
            })
            .await;
        assert!(failed.is_err());
        assert!(
            store
                .run(&tenant, "k", print, async { Ok(Bytes::from_static(b"ok")) })
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_create_whose_answer_was_lost_is_not_run_again() {
        use crate::salesforce::SalesforceError;
        let store = Arc::new(IdempotencyStore::default());
        let tenant = TenantId::new("acme");
        let print = fingerprint("CreateLead", b"lead");
        for (key, lost) in [
            (
                "sent",
                SalesforceError::Unreachable {
                    detail: "connection lost",
                    request_sent: true,
                },
            ),
            ("slow", SalesforceError::Timeout),
            (
                "garbled",
                SalesforceError::WriteAnswerLost {
                    http_status: 201,
                    detail: "no id".into(),
                },
            ),
            (
                "proxy",
                SalesforceError::Api {
                    http_status: 504,
                    errors: Vec::new(),
                },
            ),
        ] {
            let first = store
                .run(&tenant, key, print, async move {
                    Err(GatewayError::Salesforce(lost))
                })
                .await;
            assert!(first.is_err());
            let retry = store
                .run(&tenant, key, print, async {
                    Ok(Bytes::from_static(b"second"))
                })
                .await;
            assert!(
                matches!(retry, Err(GatewayError::IdempotencyOutcomeUnknown)),
                "{key}: {retry:?}"
            );
        }
        // Refused by Salesforce, or never sent: nothing was created, a retry runs.
        let refused = store
            .run(&tenant, "refused", print, async {
                Err(GatewayError::Salesforce(SalesforceError::Unreachable {
                    detail: "connection failed",
                    request_sent: false,
                }))
            })
            .await;
        assert!(refused.is_err());
        assert!(
            store
                .run(&tenant, "refused", print, async {
                    Ok(Bytes::from_static(b"ok"))
                })
                .await
                .is_ok()
        );
    }

    /// The caller of an idempotent create gets its result while Redis is still being told of it:
    /// a hung Redis costs the caller nothing (its deadline may be shorter than Redis's time-out).
    #[tokio::test]
    async fn a_hung_redis_does_not_hold_back_the_result_of_a_create() {
        use sfgate_testkit::redis::Redis;
        let Some(redis) = Redis::start() else { return };
        let store = Arc::new(IdempotencyStore::shared(&redis.url(), "test:").unwrap());
        let redis = Arc::new(redis);
        let hang_redis = Arc::clone(&redis);
        let tenant = TenantId::new("acme");
        let print = fingerprint("CreateLead", b"lead");
        let kept_here = || {
            store
                .entries
                .lock()
                .contains_key(&(tenant.clone(), "k".to_owned()))
        };
        // The key is claimed in Redis before the create runs; Redis hangs while it runs.
        let created = store
            .run(&tenant, "k", print, async move {
                hang_redis.signal("STOP");
                Ok(Bytes::from_static(b"created"))
            })
            .await;
        let recording_had_failed = kept_here();
        assert_eq!(&created.unwrap()[..], b"created");
        assert!(
            !recording_had_failed,
            "the caller waited for Redis to time out"
        );
        // Recording it did hang: after Redis's time-out this replica keeps the result itself.
        tokio::time::sleep(REDIS_TIMEOUT * 3).await;
        let recording_failed = kept_here();
        redis.signal("CONT");
        assert!(recording_failed);
    }

    /// Redis refusing to record a create's result (here: out of memory) neither loses it nor
    /// lets it run twice: another replica finds it once Redis takes writes again, and this
    /// replica finds it in its memory even with Redis gone.
    #[tokio::test]
    async fn a_result_redis_refused_to_record_is_recorded_later_and_kept_meanwhile() {
        use sfgate_testkit::redis::Redis;
        let Some(mut redis) = Redis::start() else {
            return;
        };
        let admin = redis::Client::open(redis.url()).unwrap();
        let set_maxmemory = |bytes: &'static str| {
            let admin = admin.clone();
            async move {
                let mut connection = admin.get_multiplexed_async_connection().await.unwrap();
                redis::cmd("CONFIG")
                    .arg("SET")
                    .arg("maxmemory")
                    .arg(bytes)
                    .query_async::<()>(&mut connection)
                    .await
                    .unwrap();
            }
        };
        let replica = || Arc::new(IdempotencyStore::shared(&redis.url(), "test:").unwrap());
        let (this, other) = (replica(), replica());
        let tenant = TenantId::new("acme");
        let print = fingerprint("CreateLead", b"lead");
        let runs = Arc::new(AtomicUsize::new(0));
        // Creates the record, after which Redis refuses writes.
        let create = |runs: Arc<AtomicUsize>| {
            let full = set_maxmemory("1");
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                full.await;
                Ok(Bytes::from_static(b"created"))
            }
        };
        let must_not_run = |runs: Arc<AtomicUsize>| async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(GatewayError::Internal("ran a second time".into()))
        };

        let first = this
            .run(&tenant, "a", print, create(Arc::clone(&runs)))
            .await;
        assert_eq!(&first.unwrap()[..], b"created");
        let meanwhile = other
            .run(&tenant, "a", print, must_not_run(Arc::clone(&runs)))
            .await;
        assert!(
            matches!(meanwhile, Err(GatewayError::IdempotencyKeyInUse)),
            "{meanwhile:?}"
        );
        set_maxmemory("0").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let later = loop {
            match other
                .run(&tenant, "a", print, must_not_run(Arc::clone(&runs)))
                .await
            {
                Err(GatewayError::IdempotencyKeyInUse) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                outcome => break outcome,
            }
        };
        assert_eq!(
            &later.unwrap()[..],
            b"created",
            "recorded once Redis took writes"
        );

        let second = this
            .run(&tenant, "b", print, create(Arc::clone(&runs)))
            .await;
        assert_eq!(&second.unwrap()[..], b"created");
        redis.stop();
        let without_redis = this
            .run(&tenant, "b", print, must_not_run(Arc::clone(&runs)))
            .await;
        assert_eq!(&without_redis.unwrap()[..], b"created", "kept in memory");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "each key's create ran once");
    }

    #[test]
    fn checks_keys() {
        assert!(check_key("3f1c0a2e-9b7d-4c55-8a61-0e2f4b6d8c90").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"x".repeat(256)).is_err());
    }
}
