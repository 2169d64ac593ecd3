//! Graceful shutdown: once the shutdown signal completes, readiness goes false, every service is
//! reported NOT_SERVING and open `Health/Watch` streams end (so that Envoy or a gRPC client's
//! health check does not hold the drain open), then in-flight calls get a grace period.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::admin::Readiness;

/// What a drain tells and waits for.
pub(super) struct Drain {
    pub(super) health: HealthReporter,
    pub(super) readiness: Readiness,
    /// The services reported NOT_SERVING, beside the server as a whole (`""`), as they stand
    /// when the drain starts (a reload may have changed the schema services).
    pub(super) services: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    /// Health entries whose watches must end too, though they are not API services.
    pub(super) also_cleared: Vec<&'static str>,
    pub(super) grace: Duration,
}

impl Drain {
    /// The future that stops the server accepting calls (`serve_with_incoming_shutdown`), and
    /// the one that completes when the grace period after it is over.
    pub(super) fn on(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (
        impl Future<Output = ()> + Send + 'static,
        impl Future<Output = ()> + Send + 'static,
    ) {
        let Self {
            mut health,
            readiness,
            services,
            also_cleared,
            grace,
        } = self;
        let (drain_started, drained) = oneshot::channel::<()>();
        let stop_accepting = async move {
            shutdown.await;
            tracing::info!(
                grace_seconds = grace.as_secs(),
                "shutting down: finishing in-flight calls"
            );
            readiness.set(false);
            let services = services();
            let everything = || std::iter::once("").chain(services.iter().map(String::as_str));
            for service in everything() {
                health
                    .set_service_status(service, ServingStatus::NotServing)
                    .await;
            }
            // Watchers have been told NOT_SERVING; now their streams end.
            for service in everything().chain(also_cleared.iter().copied()) {
                health.clear_service_status(service).await;
            }
            let _ = drain_started.send(());
        };
        let grace_over = async move {
            // The grace period starts once the shutdown signal has been seen.
            let _ = drained.await;
            tokio::time::sleep(grace).await;
        };
        (stop_accepting, grace_over)
    }
}
