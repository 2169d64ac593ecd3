//! The generic cell rate algorithm: a rate with a burst, decided from one timestamp per tenant
//! (the theoretical arrival time of the next request). The Redis script of shared mode runs the
//! same arithmetic.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// A request rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may arrive at once after a quiet period.
    pub burst: u32,
}

impl Rate {
    /// The time one request "costs" at the sustained rate.
    pub fn emission_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }

    /// How far ahead of now the arrival time may run: the burst minus the request itself.
    pub fn burst_tolerance(&self) -> Duration {
        self.emission_interval() * self.burst.saturating_sub(1)
    }
}

/// One tenant's GCRA state.
#[derive(Debug)]
pub struct Gcra {
    rate: Rate,
    emission_interval: Duration,
    burst_tolerance: Duration,
    theoretical_arrival: Mutex<Option<Instant>>,
}

impl Gcra {
    /// A limiter that has seen no request yet (its full burst is available).
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            emission_interval: rate.emission_interval(),
            burst_tolerance: rate.burst_tolerance(),
            theoretical_arrival: Mutex::new(None),
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Admits a request arriving at `now`, or says how long until one would be admitted.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        let mut theoretical_arrival = self.theoretical_arrival.lock();
        let arrival = theoretical_arrival.map_or(now, |at| at.max(now));
        let allowed_from = arrival.checked_sub(self.burst_tolerance).unwrap_or(now);
        if now < allowed_from {
            return Err(allowed_from - now);
        }
        *theoretical_arrival = Some(arrival + self.emission_interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn admits_the_burst_then_the_sustained_rate() {
        let gcra = Gcra::new(Rate {
            per_second: 10.0,
            burst: 5,
        });
        let start = Instant::now();
        for _ in 0..5 {
            assert!(gcra.check(start).is_ok());
        }
        let wait = gcra.check(start).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_millis(100),
            "the next slot opens one emission interval later"
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(gcra.check(Instant::now()).is_ok());
        assert!(gcra.check(Instant::now()).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn admits_exactly_the_rate_over_time() {
        let gcra = Gcra::new(Rate {
            per_second: 50.0,
            burst: 10,
        });
        let mut admitted = 0;
        for _ in 0..10_000 {
            if gcra.check(Instant::now()).is_ok() {
                admitted += 1;
            }
            tokio::time::advance(Duration::from_micros(500)).await; // 2000 attempts per second
        }
        // 5 s at 50/s plus the initial burst.
        assert!((259..=261).contains(&admitted), "{admitted}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_period_restores_the_burst_but_no_more() {
        let gcra = Gcra::new(Rate {
            per_second: 1.0,
            burst: 3,
        });
        tokio::time::advance(Duration::from_secs(3600)).await;
        let now = Instant::now();
        assert_eq!((0..10).filter(|_| gcra.check(now).is_ok()).count(), 3);
    }
}
