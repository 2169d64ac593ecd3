//! Per-tenant limits as a tower layer, after authentication: a GCRA rate (requests per second
//! with a burst) and a cap on concurrent calls. A call over either limit fails at once with
//! RESOURCE_EXHAUSTED, `RetryInfo` (when a call would be admitted) and `QuotaFailure`; calls of
//! other tenants never wait on it. In shared mode ([`SharedStore`]) the rate is decided in Redis,
//! across replicas; the concurrency cap is always per replica.

mod gcra;
mod shared;

pub use gcra::{Gcra, Rate};
pub use shared::{SharedLimitsConfig, SharedStore};

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::error::{GatewayError, QuotaViolation, Reason, Refusal, Retry};
use crate::telemetry::metrics::metrics;
use crate::tenant::{Tenant, TenantId};

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

/// How soon a call refused for concurrency may be retried: calls usually last well under a second.
const CONCURRENCY_RETRY_DELAY: Duration = Duration::from_millis(100);

impl From<LimitExceeded> for GatewayError {
    fn from(exceeded: LimitExceeded) -> Self {
        let (reason, tenant, message, retry_after, quota) = match exceeded {
            LimitExceeded::Rate {
                tenant,
                rate,
                retry_after,
            } => (
                Reason::TenantRateLimited,
                tenant.clone(),
                format!(
                    "tenant {tenant} is over its rate limit of {} requests/s (burst {}); retry in {} ms",
                    rate.per_second,
                    rate.burst,
                    retry_after.as_millis().max(1)
                ),
                retry_after,
                format!(
                    "{} requests per second, burst {}",
                    rate.per_second, rate.burst
                ),
            ),
            LimitExceeded::Concurrency {
                tenant,
                max_concurrent_calls,
            } => (
                Reason::TenantConcurrencyLimited,
                tenant.clone(),
                format!(
                    "tenant {tenant} already has {max_concurrent_calls} calls in flight, its limit"
                ),
                CONCURRENCY_RETRY_DELAY,
                format!("{max_concurrent_calls} concurrent calls"),
            ),
        };
        GatewayError::Refused(Refusal {
            reason,
            message,
            metadata: vec![("tenant".to_owned(), tenant.to_string())],
            retry: Retry::After(retry_after),
            quota: Some(QuotaViolation {
                subject: format!("tenant:{tenant}"),
                description: quota,
            }),
        })
    }
}

/// One tenant's limiter: its GCRA state and its concurrency slots. It lives in the tenant's
/// snapshot; a reload that leaves the tenant's limits unchanged keeps the same limiter, so that a
/// reload neither refills its burst nor frees its busy slots.
#[derive(Debug)]
pub struct TenantLimiter {
    limits: TenantLimits,
    rate: Option<Gcra>,
    concurrency: Option<(Arc<Semaphore>, u32)>,
}

/// Holds a tenant's concurrency slot for as long as its call runs.
#[derive(Debug)]
pub struct Admission {
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TenantLimiter {
    /// A limiter enforcing `limits` locally, or (with a shared store) its local share of them.
    pub fn new(limits: TenantLimits, shared: Option<&SharedStore>) -> Self {
        let local_rate = |rate: Rate| shared.map_or(rate, |store| store.local_share(rate));
        Self {
            limits,
            rate: limits.rate.map(|rate| Gcra::new(local_rate(rate))),
            concurrency: limits
                .max_concurrent_calls
                .map(|cap| (Arc::new(Semaphore::new(cap as usize)), cap)),
        }
    }

    /// The limiter for a reloaded configuration: `previous` when its limits are `limits`, else a
    /// new one.
    pub fn carried_over(
        previous: Option<&Arc<Self>>,
        limits: TenantLimits,
        shared: Option<&SharedStore>,
    ) -> Arc<Self> {
        match previous {
            Some(kept) if kept.limits == limits => Arc::clone(kept),
            _ => Arc::new(Self::new(limits, shared)),
        }
    }

    /// The limits this limiter enforces.
    pub fn limits(&self) -> TenantLimits {
        self.limits
    }

    /// Admits a call of `tenant` now, or says which limit it is over. In shared mode the rate is
    /// decided in Redis; the local limiter (this replica's share) decides only when Redis cannot.
    pub async fn admit(
        &self,
        tenant: &TenantId,
        shared: Option<&SharedStore>,
    ) -> Result<Admission, LimitExceeded> {
        // The concurrency slot first: a call refused for concurrency must not spend rate.
        let slot = match &self.concurrency {
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
        if let (Some(rate), Some(local)) = (self.limits.rate, &self.rate) {
            let shared_decision = match shared {
                Some(store) => store.decide(tenant, rate).await,
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

/// The tower layer applying each authenticated call's [`TenantLimiter`], read from the
/// `Arc<Tenant>` that authentication put in the request extensions. `Org` is the snapshot's org
/// connection type, which this layer never touches.
pub struct RateLimitLayer<Org> {
    shared: Option<Arc<SharedStore>>,
    org: PhantomData<fn() -> Org>,
}

impl<Org> RateLimitLayer<Org> {
    /// Creates the layer; with a shared store, rates are decided across replicas.
    pub fn new(shared: Option<Arc<SharedStore>>) -> Self {
        Self {
            shared,
            org: PhantomData,
        }
    }
}

impl<Org> Clone for RateLimitLayer<Org> {
    fn clone(&self) -> Self {
        Self::new(self.shared.clone())
    }
}

impl<Org> std::fmt::Debug for RateLimitLayer<Org> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RateLimitLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, Org> Layer<S> for RateLimitLayer<Org> {
    type Service = RateLimit<S, Org>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            shared: self.shared.clone(),
            org: PhantomData,
        }
    }
}

/// The service [`RateLimitLayer`] produces.
pub struct RateLimit<S, Org> {
    inner: S,
    shared: Option<Arc<SharedStore>>,
    org: PhantomData<fn() -> Org>,
}

impl<S: Clone, Org> Clone for RateLimit<S, Org> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            org: PhantomData,
        }
    }
}

impl<S, Org> std::fmt::Debug for RateLimit<S, Org> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("RateLimit").finish_non_exhaustive()
    }
}

impl<S, Org, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for RateLimit<S, Org>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    Org: Send + Sync + 'static,
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
        // Health and reflection are not limited.
        if !crate::pb::is_api_path(request.uri().path()) {
            return self.inner.call(request).boxed();
        }
        let Some(tenant) = request
            .extensions()
            .get::<Arc<Tenant<Org, Arc<TenantLimiter>>>>()
            .cloned()
        else {
            // Authentication runs first and leaves the snapshot; an API call without one must
            // not pass unlimited.
            let error = GatewayError::Internal("call reached the limiter unauthenticated".into());
            return futures::future::ready(Ok(tonic::Status::from(error).into_http())).boxed();
        };
        let shared = self.shared.clone();
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        async move {
            let admission = match tenant.limiter.admit(&tenant.id, shared.as_deref()).await {
                Ok(admission) => admission,
                Err(exceeded) => {
                    tracing::debug!(tenant = %tenant.id, ?exceeded, "call over the tenant's limit");
                    let reason = match &exceeded {
                        LimitExceeded::Rate { .. } => "rate",
                        LimitExceeded::Concurrency { .. } => "concurrency",
                    };
                    metrics().limit_rejected(&tenant.id, reason);
                    return Ok(tonic::Status::from(GatewayError::from(exceeded)).into_http());
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
        let limits = TenantLimiter::new(
            TenantLimits {
                rate: None,
                max_concurrent_calls: Some(2),
            },
            None,
        );
        let first = limits.admit(&tenant, None).await.unwrap();
        let _second = limits.admit(&tenant, None).await.unwrap();
        assert!(matches!(
            limits.admit(&tenant, None).await,
            Err(LimitExceeded::Concurrency {
                max_concurrent_calls: 2,
                ..
            })
        ));
        drop(first);
        assert!(limits.admit(&tenant, None).await.is_ok());
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
        let (noisy_limiter, quiet_limiter) = (
            TenantLimiter::new(rate, None),
            TenantLimiter::new(rate, None),
        );
        assert!(noisy_limiter.admit(&noisy, None).await.is_ok());
        assert!(matches!(
            noisy_limiter.admit(&noisy, None).await,
            Err(LimitExceeded::Rate { .. })
        ));
        assert!(
            quiet_limiter.admit(&quiet, None).await.is_ok(),
            "the quiet tenant keeps its own allowance"
        );
        let unlimited = TenantLimiter::new(TenantLimits::default(), None);
        for _ in 0..100 {
            assert!(
                unlimited
                    .admit(&TenantId::new("unlimited"), None)
                    .await
                    .is_ok()
            );
        }
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
        let kept_before = Arc::new(TenantLimiter::new(one_per_second, None));
        let changed_before = Arc::new(TenantLimiter::new(one_per_second, None));
        assert!(kept_before.admit(&kept, None).await.is_ok());
        assert!(changed_before.admit(&changed, None).await.is_ok());
        let faster = TenantLimits {
            rate: Some(Rate {
                per_second: 10.0,
                burst: 1,
            }),
            ..one_per_second
        };
        let kept_after = TenantLimiter::carried_over(Some(&kept_before), one_per_second, None);
        let changed_after = TenantLimiter::carried_over(Some(&changed_before), faster, None);
        assert!(
            kept_after.admit(&kept, None).await.is_err(),
            "the spent burst stays spent across the reload"
        );
        assert!(
            changed_after.admit(&changed, None).await.is_ok(),
            "new limits start fresh"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_refused_for_concurrency_spends_no_rate() {
        let tenant = TenantId::new("acme");
        let limits = TenantLimiter::new(
            TenantLimits {
                rate: Some(Rate {
                    per_second: 1.0,
                    burst: 1,
                }),
                max_concurrent_calls: Some(1),
            },
            None,
        );
        let held = limits.admit(&tenant, None).await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(
            limits.admit(&tenant, None).await,
            Err(LimitExceeded::Concurrency { .. })
        ));
        drop(held);
        assert!(
            limits.admit(&tenant, None).await.is_ok(),
            "the rate allowance was not spent by the refused call"
        );
    }
}
