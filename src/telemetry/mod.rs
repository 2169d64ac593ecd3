//! Logs, traces and metrics.
//!
//! - Logs: human-readable lines by default, one JSON object a line with `--log-format json`;
//!   `RUST_LOG` filters. Written to stderr.
//! - Traces: `tracing` spans for every call ([`rpc`]) and every Salesforce request, exported over
//!   OTLP/gRPC through `tracing-opentelemetry` when `[telemetry] otlp_endpoint` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`) is set; a caller's W3C `traceparent` becomes the parent.
//! - Metrics: [`metrics`], served in Prometheus text on the admin port.

pub mod metrics;
pub mod rpc;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// OpenTelemetry trace export (`[telemetry]` in the configuration).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An OTLP/gRPC collector, e.g. `http://otel-collector:4317`; no export when absent (unless
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set).
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// The share of new traces sampled, 0 to 1; a caller's sampling decision is always followed.
    #[serde(default = "default_sample_ratio")]
    pub sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: default_service_name(),
            sample_ratio: default_sample_ratio(),
        }
    }
}

fn default_service_name() -> String {
    "sfgate".to_owned()
}

fn default_sample_ratio() -> f64 {
    1.0
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported, so that a caller's trace context is worth reading.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The installed telemetry; [`Telemetry::shutdown`] flushes the spans not exported yet.
#[must_use = "call shutdown() before exiting, or spans of the last seconds are lost"]
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter.
    pub async fn shutdown(self) {
        let Some(provider) = self.tracer_provider else {
            return;
        };
        EXPORTING.store(false, Ordering::Relaxed);
        // The SDK blocks its thread while it flushes; the exporter runs on the runtime.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match flushed {
            Ok(Ok(())) => tracing::debug!("trace export stopped"),
            Ok(Err(error)) => tracing::warn!(%error, "flushing the trace export failed"),
            Err(error) => tracing::warn!(%error, "flushing the trace export failed"),
        }
    }
}

/// The target of spans that traces carry but log lines do not: a log line inside a call names
/// its RPC span (method, tenant, caller, trace id) already, and formatting the fields of every
/// Salesforce request for the logs, which seldom print one, cost about 5% of a call's CPU. The
/// log filter always turns this target off (a `RUST_LOG` directive for it is replaced).
pub(crate) const TRACE_ONLY_TARGET: &str = "sfgate::trace_only";

/// Installs the global subscriber: logs to stderr (stdout is for what the user asked to see) and,
/// with an OTLP endpoint, the span export. `RUST_LOG` overrides the default `info` level. Must run
/// inside the Tokio runtime.
pub fn init(format: LogFormat, settings: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,h2=warn,hyper=warn,tower=warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // The log filter applies to the logs only: what is traced does not depend on RUST_LOG.
    let filter = filter.add_directive(
        format!("{TRACE_ONLY_TARGET}=off")
            .parse()
            .expect("a valid directive"),
    );
    let fmt = match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
    };
    let endpoint = otlp_endpoint(settings)?;
    let tracer_provider = endpoint
        .as_deref()
        .map(|endpoint| tracer_provider(endpoint, settings))
        .transpose()?;
    let otel = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("sfgate"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            // Only the gateway's own spans go out (not the exporter's own HTTP/2 client's), and
            // no log events: they stay in the logs.
            .with_filter(filter_fn(|metadata| {
                metadata.is_span() && metadata.target().starts_with("sfgate")
            }))
    });
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    if let Some(endpoint) = &endpoint {
        tracing::info!(%endpoint, sample_ratio = settings.sample_ratio, "exporting traces over OTLP/gRPC");
    }
    EXPORTING.store(tracer_provider.is_some(), Ordering::Relaxed);
    Ok(Telemetry { tracer_provider })
}

/// Where spans are exported: the configuration's endpoint, else OpenTelemetry's standard
/// variables (the trace-specific one first); an endpoint the exporter cannot use is an error.
pub fn otlp_endpoint(settings: &TelemetrySettings) -> anyhow::Result<Option<String>> {
    let endpoint = settings.otlp_endpoint.clone().or_else(|| {
        [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    });
    match endpoint {
        Some(endpoint) if !endpoint.starts_with("http://") => anyhow::bail!(
            "OTLP endpoint {endpoint:?}: expected http://host:4317 (OTLP/gRPC without TLS, e.g. a collector on the node or in the cluster)"
        ),
        endpoint => Ok(endpoint),
    }
}

fn tracer_provider(
    endpoint: &str,
    settings: &TelemetrySettings,
) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(std::time::Duration::from_secs(10))
        .build()
        .with_context(|| format!("setting up the OTLP exporter for {endpoint}"))?;
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build())
}
