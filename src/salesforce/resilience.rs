//! Staying useful while an org fails, without making it worse: a request that failed in a way
//! a second try can fix is tried once more — a read on a lost connection or a 502/503, a write
//! only when it provably never left — as long as the org's retry budget allows (20% of its
//! requests, and a floor of 2 a second); and a circuit breaker per org fails calls at once,
//! UNAVAILABLE with a RetryInfo, once the org has failed 5 times in a row, until one probe
//! request gets through.
//!
//! | after a request … | read (GET) | write |
//! |---|---|---|
//! | could not connect (nothing sent) | retried | retried |
//! | connection lost (may have arrived) | retried | not retried |
//! | HTTP 502 or 503 | retried | not retried |
//! | timed out (the tenant's upstream time-out) | not retried | not retried |
//!
//! The breaker counts a request as failed when no answer came or the answer was 502, 503 or 504.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use parking_lot::Mutex;
use tower::retry::budget::{Budget as _, TpsBudget};

use crate::telemetry::metrics::{CircuitState, RetryOutcome, metrics};
use crate::tenant::TenantId;

/// Failures in a row that open an org's circuit.
pub const FAILURES_TO_OPEN: u32 = 5;
/// How long an open circuit fails calls before it lets a probe through.
pub const OPEN_FOR: Duration = Duration::from_secs(5);
/// The share of an org's requests that may be retries, over the last 10 seconds.
const RETRY_PERCENT: f32 = 0.2;
/// Retries allowed each second whatever the share.
const RETRY_FLOOR_PER_SECOND: u32 = 2;

/// How one attempt at a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempted {
    /// Salesforce answered with this status.
    Answered(StatusCode),
    /// No connection could be made: the request never left.
    NotSent,
    /// The connection broke before a whole answer came: the request may have arrived.
    Lost,
    /// No answer within the tenant's upstream time-out.
    TimedOut,
}

impl Attempted {
    fn is_failure(self) -> bool {
        match self {
            Self::Answered(status) => matches!(status.as_u16(), 502..=504),
            Self::NotSent | Self::Lost | Self::TimedOut => true,
        }
    }

    fn may_retry(self, method: &Method) -> bool {
        let read = method == Method::GET;
        match self {
            Self::NotSent => true,
            Self::Lost => read,
            Self::Answered(status) => read && matches!(status.as_u16(), 502 | 503),
            Self::TimedOut => false,
        }
    }
}

/// An org's retry budget and circuit breaker.
pub(crate) struct Resilience {
    tenant: TenantId,
    budget: TpsBudget,
    breaker: Mutex<Breaker>,
    /// A probe that has not reported within this is taken as lost, and another may go.
    probe_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Breaker {
    /// Requests go; this many have failed in a row.
    Closed { failures: u32 },
    /// Requests fail at once until then.
    Open { until: Instant },
    /// One probe request is out since then; the others fail at once.
    Probing { since: Instant },
}

impl Resilience {
    /// The budget and breaker of one org, whose requests time out after `upstream_timeout`.
    pub(crate) fn new(tenant: TenantId, upstream_timeout: Duration) -> Self {
        Self {
            tenant,
            budget: TpsBudget::new(
                Duration::from_secs(10),
                RETRY_FLOOR_PER_SECOND,
                RETRY_PERCENT,
            ),
            breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            // A probe cancelled by its caller never reports: after this, another may go.
            probe_timeout: upstream_timeout.min(OPEN_FOR),
        }
    }

    /// Whether a request may go now; if not, how long until the circuit lets one through.
    pub(crate) fn admit(&self) -> Result<(), Duration> {
        let now = Instant::now();
        let mut breaker = self.breaker.lock();
        let refused_for = match *breaker {
            Breaker::Closed { .. } => return Ok(()),
            Breaker::Open { until } if now < until => until - now,
            Breaker::Probing { since } if now < since + self.probe_timeout => {
                since + self.probe_timeout - now
            }
            Breaker::Open { .. } | Breaker::Probing { .. } => {
                *breaker = Breaker::Probing { since: now };
                drop(breaker);
                metrics().circuit_changed(&self.tenant, CircuitState::Probing);
                return Ok(());
            }
        };
        drop(breaker);
        metrics().circuit_rejected(&self.tenant);
        Err(refused_for.max(Duration::from_millis(100)))
    }

    /// Records how an attempt ended, for the breaker and the budget (`first`: not a retry).
    pub(crate) fn record(&self, attempted: Attempted, first: bool) {
        if first {
            self.budget.deposit();
        }
        let failed = attempted.is_failure();
        let mut breaker = self.breaker.lock();
        let changed = match (*breaker, failed) {
            (Breaker::Closed { failures }, true) if failures + 1 >= FAILURES_TO_OPEN => {
                Some(CircuitState::Open)
            }
            (Breaker::Closed { failures }, true) => {
                *breaker = Breaker::Closed {
                    failures: failures + 1,
                };
                None
            }
            (Breaker::Closed { .. }, false) => {
                *breaker = Breaker::Closed { failures: 0 };
                None
            }
            (Breaker::Probing { .. }, true) => Some(CircuitState::Open),
            (Breaker::Probing { .. }, false) => Some(CircuitState::Closed),
            // A request admitted before the circuit opened, finishing late, changes nothing.
            (Breaker::Open { .. }, _) => None,
        };
        match changed {
            Some(CircuitState::Open) => {
                *breaker = Breaker::Open {
                    until: Instant::now() + OPEN_FOR,
                };
            }
            Some(CircuitState::Closed) => *breaker = Breaker::Closed { failures: 0 },
            Some(CircuitState::Probing) | None => {}
        }
        drop(breaker);
        if let Some(state) = changed {
            if state == CircuitState::Open {
                tracing::warn!(tenant = %self.tenant, "salesforce keeps failing: calls to this org fail at once for {} s", OPEN_FOR.as_secs());
            } else {
                tracing::info!(tenant = %self.tenant, "salesforce answers again: calls to this org go through");
            }
            metrics().circuit_changed(&self.tenant, state);
        }
    }

    /// Whether a first attempt that ended so is tried once more (and the budget allows it).
    pub(crate) fn retry(&self, method: &Method, attempted: Attempted) -> bool {
        if !attempted.may_retry(method) {
            return false;
        }
        let allowed = self.budget.withdraw();
        metrics().upstream_retried(
            &self.tenant,
            if allowed {
                RetryOutcome::Retried
            } else {
                RetryOutcome::BudgetExhausted
            },
        );
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Resilience {
        Resilience::new(TenantId::new("t"), Duration::from_secs(30))
    }

    #[test]
    fn reads_retry_more_than_writes() {
        let cases = [
            (Attempted::NotSent, true, true),
            (Attempted::Lost, true, false),
            (
                Attempted::Answered(StatusCode::SERVICE_UNAVAILABLE),
                true,
                false,
            ),
            (Attempted::Answered(StatusCode::BAD_GATEWAY), true, false),
            (
                Attempted::Answered(StatusCode::INTERNAL_SERVER_ERROR),
                false,
                false,
            ),
            (Attempted::Answered(StatusCode::BAD_REQUEST), false, false),
            (Attempted::TimedOut, false, false),
        ];
        for (attempted, read, write) in cases {
            assert_eq!(attempted.may_retry(&Method::GET), read, "{attempted:?}");
            assert_eq!(attempted.may_retry(&Method::POST), write, "{attempted:?}");
            assert_eq!(attempted.may_retry(&Method::PATCH), write, "{attempted:?}");
        }
    }

    #[test]
    fn the_circuit_opens_after_failures_in_a_row_and_closes_after_a_probe() {
        let org = org();
        for _ in 0..FAILURES_TO_OPEN - 1 {
            org.record(Attempted::Lost, true);
        }
        org.record(Attempted::Answered(StatusCode::OK), true);
        for _ in 0..FAILURES_TO_OPEN - 1 {
            org.record(Attempted::Lost, true);
            assert!(org.admit().is_ok(), "a success in between resets the count");
        }
        org.record(Attempted::Answered(StatusCode::SERVICE_UNAVAILABLE), true);
        let refused_for = org.admit().expect_err("open");
        assert!(refused_for <= OPEN_FOR && refused_for > OPEN_FOR - Duration::from_secs(1));

        // Once the open time is over, one probe goes and the others wait for it.
        *org.breaker.lock() = Breaker::Open {
            until: Instant::now(),
        };
        assert!(org.admit().is_ok(), "the probe");
        assert!(org.admit().is_err(), "a second call while the probe is out");
        org.record(Attempted::Answered(StatusCode::OK), true);
        assert!(org.admit().is_ok(), "closed again");

        // A failed probe opens it again.
        *org.breaker.lock() = Breaker::Probing {
            since: Instant::now(),
        };
        org.record(Attempted::NotSent, true);
        assert!(org.admit().is_err());
    }

    /// A probe whose caller gave up never reports; the circuit lets another go once the probe
    /// must have timed out (its upstream time-out, at most the open time), not never.
    #[test]
    fn a_probe_that_never_reports_frees_the_circuit_after_its_time_out() {
        let probing_for = |org: &Resilience, elapsed: Duration| {
            *org.breaker.lock() = Breaker::Probing {
                since: Instant::now() - elapsed,
            };
            org.admit()
        };
        let slow_org = Resilience::new(TenantId::new("slow"), Duration::from_secs(30));
        let refused_for = probing_for(&slow_org, Duration::from_secs(4)).expect_err("probe out");
        assert!(refused_for <= Duration::from_secs(1), "{refused_for:?}");
        assert!(
            probing_for(&slow_org, OPEN_FOR + Duration::from_millis(100)).is_ok(),
            "a 30 s upstream time-out holds the circuit at most {OPEN_FOR:?}"
        );

        let quick_org = Resilience::new(TenantId::new("quick"), Duration::from_millis(500));
        let refused_for = probing_for(&quick_org, Duration::ZERO).expect_err("probe out");
        assert!(refused_for <= Duration::from_millis(500), "{refused_for:?}");
        assert!(
            probing_for(&quick_org, Duration::from_millis(600)).is_ok(),
            "a probe past its 500 ms upstream time-out is lost"
        );
    }

    #[test]
    fn retries_stop_when_the_budget_is_spent() {
        let org = org();
        let allowed = (0..100)
            .filter(|_| org.retry(&Method::GET, Attempted::Lost))
            .count();
        // The floor over the budget's 10-second window, and no more without deposits.
        assert!(allowed > 0 && allowed <= 2 * 10 + 1, "{allowed}");
        for _ in 0..1_000 {
            org.record(Attempted::Answered(StatusCode::OK), true);
        }
        assert!(
            org.retry(&Method::GET, Attempted::Lost),
            "deposits refill it"
        );
    }
}
