//! The gateway's Prometheus metrics: one process-wide registry, served as text on the admin port.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `sfgate_rpc_requests_total` | counter | service, method, code, tenant |
//! | `sfgate_rpc_duration_seconds` | histogram | service, method, code, tenant |
//! | `sfgate_upstream_requests_total` | counter | tenant, method, resource, status |
//! | `sfgate_upstream_duration_seconds` | histogram | tenant, method, resource, status |
//! | `sfgate_token_mints_total` | counter | tenant, grant, outcome |
//! | `sfgate_rate_limit_rejections_total` | counter | tenant, reason |
//! | `sfgate_salesforce_api_usage` | gauge | tenant (the org's daily API requests used) |
//! | `sfgate_salesforce_api_limit` | gauge | tenant (the org's daily API request limit) |
//! | `sfgate_upstream_retries_total` | counter | tenant, outcome (`retried`, `budget_exhausted`) |
//! | `sfgate_upstream_circuit_state` | gauge | tenant (0 closed, 1 open, 2 probing) |
//! | `sfgate_upstream_circuit_rejections_total` | counter | tenant (calls failed at once) |
//! | `sfgate_schema_drift_fields` | gauge | tenant (fields of its schema files its org lacks or types differently) |
//! | `sfgate_connections_open` | gauge | (connections to the gRPC port) |
//! | `sfgate_connections_closed_total` | counter | reason |
//! | `sfgate_build_info` | gauge | version |
//!
//! `tenant` is empty for calls refused before their tenant was authenticated, so that made-up
//! tenant ids cannot grow the label set; `method` is one of the API's methods or `unknown`.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::tenant::TenantId;

/// Labels of a finished RPC.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// Fully qualified service, e.g. `sfgate.v1.LeadService`.
    pub service: &'static str,
    /// Method, e.g. `GetLead`.
    pub method: &'static str,
    /// gRPC status code name, e.g. `OK`, `NOT_FOUND`.
    pub code: &'static str,
    /// The authenticated tenant, or empty.
    pub tenant: Option<TenantId>,
}

/// Labels of one request to Salesforce.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// The tenant whose org was called.
    pub tenant: TenantId,
    /// HTTP method.
    pub method: &'static str,
    /// The API resource: `sobjects`, `query`, `search`, `limits`, `soap`, `oauth2` …
    pub resource: &'static str,
    /// HTTP status code, or `error` when no response came.
    pub status: String,
}

/// Labels of a token request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MintLabels {
    /// The tenant.
    pub tenant: TenantId,
    /// The OAuth grant.
    pub grant: &'static str,
    /// `success` or `failure`.
    pub outcome: &'static str,
}

/// Labels of a refusal by the tenant's own limits.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    /// The tenant.
    pub tenant: TenantId,
    /// `rate`, `concurrency` or `org_api_budget`.
    pub reason: &'static str,
}

/// Labels naming a tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// The tenant.
    pub tenant: TenantId,
}

/// What became of a request's second try.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RetryOutcome {
    /// It was sent.
    Retried,
    /// The org's retry budget was spent: the first try's outcome stood.
    BudgetExhausted,
}

impl EncodeLabelValue for RetryOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        let label = match self {
            Self::Retried => "retried",
            Self::BudgetExhausted => "budget_exhausted",
        };
        EncodeLabelValue::encode(&label, encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    tenant: TenantId,
    outcome: RetryOutcome,
}

/// The state of an org's circuit breaker.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls fail at once.
    Open,
    /// One probe call is out.
    Probing,
}

/// Why a connection to the gRPC port was closed.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ConnectionClosed {
    /// Refused on arrival: `front_door.max_connections` were open.
    OverCapacity,
    /// The TLS handshake failed.
    Handshake,
    /// No TLS handshake or first call within `front_door.header_timeout_seconds`.
    HeaderTimeout,
    /// No call for `front_door.idle_timeout_seconds` (GOAWAY).
    Idle,
    /// The gateway is shutting down (GOAWAY).
    Draining,
    /// The client closed it, or it failed (e.g. an unanswered keepalive ping).
    ByPeer,
}

impl ConnectionClosed {
    /// The metric's label value.
    fn label(self) -> &'static str {
        match self {
            Self::OverCapacity => "over_capacity",
            Self::Handshake => "handshake",
            Self::HeaderTimeout => "header_timeout",
            Self::Idle => "idle",
            Self::Draining => "draining",
            Self::ByPeer => "by_peer",
        }
    }
}

impl EncodeLabelValue for ConnectionClosed {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.label(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionClosedLabels {
    reason: ConnectionClosed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric the gateway keeps.
pub struct Metrics {
    registry: Registry,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_duration: Family<RpcLabels, Histogram>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_duration: Family<UpstreamLabels, Histogram>,
    token_mints: Family<MintLabels, Counter>,
    rate_limit_rejections: Family<RejectionLabels, Counter>,
    api_usage: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    api_limit: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    connections_open: Gauge,
    connections_closed: Family<ConnectionClosedLabels, Counter>,
    upstream_retries: Family<RetryLabels, Counter>,
    circuit_state: Family<TenantLabels, Gauge>,
    circuit_rejections: Family<TenantLabels, Counter>,
    schema_drift: Family<TenantLabels, Gauge>,
}

/// Latency buckets from 0.25 ms to 30 s, in seconds.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl EncodeLabelValue for TenantId {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Metrics").finish_non_exhaustive()
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        registry.register(
            "sfgate_rpc_requests",
            "gRPC calls finished, by service, method, status code and tenant",
            rpc_requests.clone(),
        );
        let rpc_duration =
            Family::<RpcLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "sfgate_rpc_duration_seconds",
            "gRPC call latency, from the request's arrival to the response's end",
            rpc_duration.clone(),
        );
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "sfgate_upstream_requests",
            "requests sent to Salesforce, by tenant, HTTP method, API resource and HTTP status",
            upstream_requests.clone(),
        );
        let upstream_duration = Family::<UpstreamLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> _,
        );
        registry.register(
            "sfgate_upstream_duration_seconds",
            "latency of requests to Salesforce, until the whole response body arrived",
            upstream_duration.clone(),
        );
        let token_mints = Family::<MintLabels, Counter>::default();
        registry.register(
            "sfgate_token_mints",
            "OAuth access tokens requested from Salesforce, by tenant, grant and outcome",
            token_mints.clone(),
        );
        let rate_limit_rejections = Family::<RejectionLabels, Counter>::default();
        registry.register(
            "sfgate_rate_limit_rejections",
            "calls refused by a tenant's own limits (rate, concurrency, org API budget)",
            rate_limit_rejections.clone(),
        );
        let api_usage = Family::<TenantLabels, Gauge<u64, AtomicU64>>::default();
        registry.register(
            "sfgate_salesforce_api_usage",
            "the org's daily API requests used, as Salesforce last reported (Sforce-Limit-Info)",
            api_usage.clone(),
        );
        let api_limit = Family::<TenantLabels, Gauge<u64, AtomicU64>>::default();
        registry.register(
            "sfgate_salesforce_api_limit",
            "the org's daily API request limit, as Salesforce last reported (Sforce-Limit-Info)",
            api_limit.clone(),
        );
        let upstream_retries = Family::<RetryLabels, Counter>::default();
        registry.register(
            "sfgate_upstream_retries",
            "second tries of failed Salesforce requests, by tenant and whether the retry budget allowed them",
            upstream_retries.clone(),
        );
        let circuit_state = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "sfgate_upstream_circuit_state",
            "each org's circuit breaker: 0 closed, 1 open (calls fail at once), 2 probing",
            circuit_state.clone(),
        );
        let schema_drift = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "sfgate_schema_drift_fields",
            "fields of the tenant's schema files that its org lacks or types differently, at the last check",
            schema_drift.clone(),
        );
        let circuit_rejections = Family::<TenantLabels, Counter>::default();
        registry.register(
            "sfgate_upstream_circuit_rejections",
            "calls failed at once because their org's circuit was open",
            circuit_rejections.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "sfgate_connections_open",
            "connections to the gRPC port open now",
            connections_open.clone(),
        );
        let connections_closed = Family::<ConnectionClosedLabels, Counter>::default();
        registry.register(
            "sfgate_connections_closed",
            "connections to the gRPC port closed, by reason",
            connections_closed.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("sfgate_build_info", "the running version", build_info);
        Self {
            registry,
            rpc_requests,
            rpc_duration,
            upstream_requests,
            upstream_duration,
            token_mints,
            rate_limit_rejections,
            api_usage,
            api_limit,
            schema_drift,
            connections_open,
            connections_closed,
            upstream_retries,
            circuit_state,
            circuit_rejections,
        }
    }

    /// Counts a second try of a request, or one the retry budget refused.
    pub fn upstream_retried(&self, tenant: &TenantId, outcome: RetryOutcome) {
        self.upstream_retries
            .get_or_create(&RetryLabels {
                tenant: tenant.clone(),
                outcome,
            })
            .inc();
    }

    /// Records an org's circuit breaker changing state.
    pub fn circuit_changed(&self, tenant: &TenantId, state: CircuitState) {
        let value = match state {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::Probing => 2,
        };
        self.circuit_state
            .get_or_create(&TenantLabels {
                tenant: tenant.clone(),
            })
            .set(value);
    }

    /// Records how many schema fields the tenant's org lacks or types differently.
    pub fn schema_drift_checked(&self, tenant: &TenantId, drifted: usize) {
        self.schema_drift
            .get_or_create(&TenantLabels {
                tenant: tenant.clone(),
            })
            .set(i64::try_from(drifted).unwrap_or(i64::MAX));
    }

    /// Counts a call failed at once by an open circuit.
    pub fn circuit_rejected(&self, tenant: &TenantId) {
        self.circuit_rejections
            .get_or_create(&TenantLabels {
                tenant: tenant.clone(),
            })
            .inc();
    }

    /// Counts a connection accepted onto the gRPC port.
    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    /// Counts an accepted connection gone.
    pub fn connection_dropped(&self) {
        self.connections_open.dec();
    }

    /// Counts a connection closed (or refused) and why.
    pub fn connection_closed(&self, reason: ConnectionClosed) {
        self.connections_closed
            .get_or_create(&ConnectionClosedLabels { reason })
            .inc();
    }

    /// Counts a finished RPC and its latency.
    pub fn rpc_finished(&self, labels: &RpcLabels, elapsed: Duration) {
        self.rpc_requests.get_or_create(labels).inc();
        self.rpc_duration
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request to Salesforce and its latency.
    pub fn upstream_finished(&self, labels: &UpstreamLabels, elapsed: Duration) {
        self.upstream_requests.get_or_create(labels).inc();
        self.upstream_duration
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a token request.
    pub fn token_minted(&self, tenant: &TenantId, grant: &'static str, success: bool) {
        self.token_mints
            .get_or_create(&MintLabels {
                tenant: tenant.clone(),
                grant,
                outcome: if success { "success" } else { "failure" },
            })
            .inc();
    }

    /// Counts a call refused by the tenant's own limits.
    pub fn limit_rejected(&self, tenant: &TenantId, reason: &'static str) {
        self.rate_limit_rejections
            .get_or_create(&RejectionLabels {
                tenant: tenant.clone(),
                reason,
            })
            .inc();
    }

    /// Records the org's API usage as Salesforce reported it.
    pub fn api_usage_reported(&self, tenant: &TenantId, used: u64, limit: u64) {
        let labels = TenantLabels {
            tenant: tenant.clone(),
        };
        self.api_usage.get_or_create(&labels).set(used);
        self.api_limit.get_or_create(&labels).set(limit);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_histograms_and_gauges_with_their_labels() {
        let metrics = Metrics::new();
        let labels = RpcLabels {
            service: "sfgate.v1.LeadService",
            method: "GetLead",
            code: "OK",
            tenant: Some(TenantId::new("acme")),
        };
        metrics.rpc_finished(&labels, Duration::from_micros(700));
        metrics.rpc_finished(&labels, Duration::from_millis(3));
        let acme = TenantId::new("acme");
        metrics.limit_rejected(&acme, "rate");
        metrics.api_usage_reported(&acme, 25, 15_000);
        let text = metrics.encode();
        let expected = [
            r#"sfgate_rpc_requests_total{service="sfgate.v1.LeadService",method="GetLead",code="OK",tenant="acme"} 2"#,
            r#"sfgate_rpc_duration_seconds_bucket{le="0.001",service="sfgate.v1.LeadService",method="GetLead",code="OK",tenant="acme"} 1"#,
            r#"sfgate_rpc_duration_seconds_count{service="sfgate.v1.LeadService",method="GetLead",code="OK",tenant="acme"} 2"#,
            r#"sfgate_rate_limit_rejections_total{tenant="acme",reason="rate"} 1"#,
            r#"sfgate_salesforce_api_usage{tenant="acme"} 25"#,
            r#"sfgate_salesforce_api_limit{tenant="acme"} 15000"#,
            r#"sfgate_build_info{version=""#,
        ];
        for line in expected {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
