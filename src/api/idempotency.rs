//! Idempotent creates: the metadata `idempotency-key` makes a retried create return the first
//! result instead of creating a second record.
//!
//! The first request with a key runs as its own task, so that it finishes and records its result
//! even if the caller's connection is cut mid-way (the case retries exist for). The same key with
//! the same request returns that result for 24 hours; with a different request it is refused; while
//! the first is still running, a retry is told to retry shortly.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::context::TenantId;
use crate::error::GatewayError;

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

impl IdempotencyStore {
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
        tokio::spawn(async move {
            let outcome = work.await;
            {
                let mut entries = store.entries.lock();
                match &outcome {
                    Ok(result) => {
                        if let Some(entry) = entries.get_mut(&entry_key) {
                            entry.state = State::Done(result.clone());
                        }
                    }
                    // A failed create created nothing: a retry may try again.
                    Err(_) => {
                        entries.remove(&entry_key);
                    }
                }
            }
            let _ = result_sender.send(outcome);
        });
        result.await.unwrap_or_else(|_| {
            Err(GatewayError::Internal(
                "the create task ended without a result".into(),
            ))
        })
    }

    fn sweep_now_and_then(&self, entries: &mut HashMap<(TenantId, String), Entry>) {
        let mut inserted = self.inserted.lock();
        *inserted += 1;
        if *inserted % SWEEP_EVERY == 0 {
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

    #[test]
    fn checks_keys() {
        assert!(check_key("3f1c0a2e-9b7d-4c55-8a61-0e2f4b6d8c90").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"x".repeat(256)).is_err());
    }
}
