//! The end-to-end tests, one module per concern, in one binary so that the harness
//! (`sfgate-testkit`) and the gateway link once: real tonic clients → sfgate on loopback → the
//! sandbox org over HTTP, with real OpenBao, Redis and `sfgate` processes where a test needs
//! them. Two concerns that install process-wide state run as binaries of their own:
//! `tests/observability.rs` (the metrics registry, the trace exporter) and
//! `tests/secrets_never_leak.rs` (the TRACE-level log subscriber).

mod acknowledged_writes;
mod check_config;
mod cli;
mod config_reload;
mod connection;
mod error_mapping;
mod front_door;
mod grpc_web;
mod http_json;
mod idempotent_creates;
mod jwt_rehearsal;
mod lead_conversion_and_comments;
mod lookup_by_phone;
mod mutual_tls;
mod oauth_flows;
mod record_service;
mod resilience;
mod schema_services;
mod server;
mod shared_limits;
mod tenant_isolation;
mod typed_objects;
mod vault_credentials;

/// The binary under test.
const BINARY: &str = env!("CARGO_BIN_EXE_sfgate");
