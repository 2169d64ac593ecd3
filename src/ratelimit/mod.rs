//! Per-tenant limits as a tower layer, after authentication: a GCRA rate (requests per second
//! with a burst) and a cap on concurrent calls. A call over either limit fails at once with
//! RESOURCE_EXHAUSTED, `RetryInfo` (when a call would be admitted) and `QuotaFailure`; calls of
//! other tenants never wait on it. In shared mode ([`SharedStore`]) the rate is decided in Redis,
//! across replicas; the concurrency cap is always per replica.

mod gcra;
mod shared;

pub use gcra::{Gcra, Rate};
pub use shared::{SharedLimitsConfig, SharedStore};

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::api::context::{Caller, TenantId};
use crate::error::GatewayError;
use crate::telemetry::metrics::metrics;

/// The limits of one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TenantLimits {
    /// The request rate, if limited.
    pub rate: Option<Rate>,
    /// The most calls in flight at once, if capped.
    pub max_concurrent_calls: Option<u32>,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitExceeded {
    /// The tenant's request rate.
    Rate {
        /// The tenant.
        tenant: TenantId,
        /// The configured rate.
        rate: Rate,
        /// When a call would be admitted.
        retry_after: Duration,
    },
    /// The tenant's concurrent-call cap.
    Concurrency {
        /// The tenant.
        tenant: TenantId,
        /// The cap.
        max_concurrent_calls: u32,
    },
}

#[derive(Debug)]
struct TenantLimiter {
    limits: TenantLimits,
    rate: Option<Gcra>,
    concurrency: Option<(Arc<Semaphore>, u32)>,
}

impl TenantLimiter {
    /// A limiter enforcing `limits` locally, or (with a shared store) its local share of them.
    fn new(limits: TenantLimits, shared: Option<&SharedStore>) -> Self {
        let local_rate = |rate: Rate| shared.map_or(rate, |store| store.local_share(rate));
        Self {
            limits,
            rate: limits.rate.map(|rate| Gcra::new(local_rate(rate))),
            concurrency: limits
                .max_concurrent_calls
                .map(|cap| (Arc::new(Semaphore::new(cap as usize)), cap)),
        }
    }
}

/// The limiters of every tenant.
#[derive(Debug, Default)]
pub struct RateLimits {
    by_tenant: HashMap<TenantId, Arc<TenantLimiter>>,
    shared: Option<Arc<SharedStore>>,
}

/// The limits in force; a configuration reload swaps in new ones.
pub type SharedRateLimits = Arc<arc_swap::ArcSwap<RateLimits>>;

/// Holds a tenant's concurrency slot for as long as its call runs.
#[derive(Debug)]
pub struct Admission {
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl RateLimits {
    /// Creates the limiters from each tenant's limits.
    pub fn new(limits: impl IntoIterator<Item = (TenantId, TenantLimits)>) -> Self {
        Self::carrying_over(&Self::default(), limits, None)
    }

    /// Creates the limiters for a reloaded configuration: a tenant whose limits did not change
    /// keeps its limiter, so a reload neither refills its burst nor frees its busy slots.
    pub fn carrying_over(
        previous: &Self,
        limits: impl IntoIterator<Item = (TenantId, TenantLimits)>,
        shared: Option<Arc<SharedStore>>,
    ) -> Self {
        let same_store = match (&previous.shared, &shared) {
            (Some(before), Some(after)) => Arc::ptr_eq(before, after),
            (None, None) => true,
            _ => false,
        };
        let by_tenant = limits
            .into_iter()
            .map(|(tenant, limits)| {
                let limiter = match previous.by_tenant.get(&tenant) {
                    Some(kept) if kept.limits == limits && same_store => Arc::clone(kept),
                    _ => Arc::new(TenantLimiter::new(limits, shared.as_deref())),
                };
                (tenant, limiter)
            })
            .collect();
        Self { by_tenant, shared }
    }

    /// Admits a call of `tenant` now, or says which limit it is over.
    pub async fn admit(&self, tenant: &TenantId) -> Result<Admission, LimitExceeded> {
        let Some(limiter) = self.by_tenant.get(tenant) else {
            return Ok(Admission { _slot: None });
        };
        // The concurrency slot first: a call refused for concurrency must not spend rate.
        let slot = match &limiter.concurrency {
            Some((semaphore, cap)) => {
                Some(Arc::clone(semaphore).try_acquire_owned().map_err(|_| {
                    LimitExceeded::Concurrency {
                        tenant: tenant.clone(),
                        max_concurrent_calls: *cap,
                    }
                })?)
            }
            None => None,
        };
        if let (Some(rate), Some(local)) = (limiter.limits.rate, &limiter.rate) {
            // Shared mode asks Redis; the local limiter (this replica's share) decides only when
            // Redis cannot.
            let shared_decision = match &self.shared {
                Some(store) => store.decide(tenant.as_str(), rate).await,
                None => None,
            };
            let decision =
                shared_decision.unwrap_or_else(|| local.check(tokio::time::Instant::now()));
            decision.map_err(|retry_after| LimitExceeded::Rate {
                tenant: tenant.clone(),
                rate,
                retry_after,
            })?;
        }
        Ok(Admission { _slot: slot })
    }
}

/// The tower layer applying [`RateLimits`] to authenticated calls.
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limits: SharedRateLimits,
}

impl RateLimitLayer {
    /// Creates the layer.
    pub fn new(limits: SharedRateLimits) -> Self {
        Self { limits }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            limits: Arc::clone(&self.limits),
        }
    }
}

/// The service [`RateLimitLayer`] produces.
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    limits: SharedRateLimits,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for RateLimit<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let Some(tenant) = request
            .extensions()
            .get::<Caller>()
            .map(|caller| caller.tenant.clone())
        else {
            return self.inner.call(request).boxed();
        };
        let limits = self.limits.load_full();
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        async move {
            let admission = match limits.admit(&tenant).await {
                Ok(admission) => admission,
                Err(exceeded) => {
                    tracing::debug!(%tenant, ?exceeded, "call over the tenant's limit");
                    let reason = match &exceeded {
                        LimitExceeded::Rate { .. } => "rate",
                        LimitExceeded::Concurrency { .. } => "concurrency",
                    };
                    metrics().limit_rejected(tenant.as_str(), reason);
                    return Ok(
                        tonic::Status::from(GatewayError::LimitExceeded(exceeded)).into_http()
                    );
                }
            };
            let response = ready.call(request).await;
            drop(admission);
            response
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn concurrency_slots_are_returned_when_calls_end() {
        let tenant = TenantId::new("acme");
        let limits = RateLimits::new([(
            tenant.clone(),
            TenantLimits {
                rate: None,
                max_concurrent_calls: Some(2),
            },
        )]);
        let first = limits.admit(&tenant).await.unwrap();
        let _second = limits.admit(&tenant).await.unwrap();
        assert!(matches!(
            limits.admit(&tenant).await,
            Err(LimitExceeded::Concurrency {
                max_concurrent_calls: 2,
                ..
            })
        ));
        drop(first);
        assert!(limits.admit(&tenant).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn tenants_do_not_share_limits() {
        let (noisy, quiet) = (TenantId::new("noisy"), TenantId::new("quiet"));
        let rate = TenantLimits {
            rate: Some(Rate {
                per_second: 1.0,
                burst: 1,
            }),
            max_concurrent_calls: None,
        };
        let limits = RateLimits::new([(noisy.clone(), rate), (quiet.clone(), rate)]);
        assert!(limits.admit(&noisy).await.is_ok());
        assert!(matches!(
            limits.admit(&noisy).await,
            Err(LimitExceeded::Rate { .. })
        ));
        assert!(
            limits.admit(&quiet).await.is_ok(),
            "the quiet tenant keeps its own allowance"
        );
        assert!(limits.admit(&TenantId::new("unlimited")).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_keeps_the_state_of_unchanged_limits() {
        let (kept, changed) = (TenantId::new("kept"), TenantId::new("changed"));
        let one_per_second = TenantLimits {
            rate: Some(Rate {
                per_second: 1.0,
                burst: 1,
            }),
            max_concurrent_calls: None,
        };
        let before = RateLimits::new([
            (kept.clone(), one_per_second),
            (changed.clone(), one_per_second),
        ]);
        assert!(before.admit(&kept).await.is_ok());
        assert!(before.admit(&changed).await.is_ok());
        let faster = TenantLimits {
            rate: Some(Rate {
                per_second: 10.0,
                burst: 1,
            }),
            ..one_per_second
        };
        let after = RateLimits::carrying_over(
            &before,
            [(kept.clone(), one_per_second), (changed.clone(), faster)],
            None,
        );
        assert!(
            after.admit(&kept).await.is_err(),
            "the spent burst stays spent across the reload"
        );
        assert!(
            after.admit(&changed).await.is_ok(),
            "new limits start fresh"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_refused_for_concurrency_spends_no_rate() {
        let tenant = TenantId::new("acme");
        let limits = RateLimits::new([(
            tenant.clone(),
            TenantLimits {
                rate: Some(Rate {
                    per_second: 1.0,
                    burst: 1,
                }),
                max_concurrent_calls: Some(1),
            },
        )]);
        let held = limits.admit(&tenant).await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(
            limits.admit(&tenant).await,
            Err(LimitExceeded::Concurrency { .. })
        ));
        drop(held);
        assert!(
            limits.admit(&tenant).await.is_ok(),
            "the rate allowance was not spent by the refused call"
        );
    }
}
