//! Wires a [`Config`] into a running gateway, one concern a file:
//!
//! - `run`: the gRPC server — the layers (telemetry → authentication → limits),
//!   [`crate::api::routes`], reflection and health ([`run()`], [`run_reloading`], [`check`]);
//! - `front_door`: the port's connections, bounded by `[front_door]`;
//! - `tls`: the port's TLS and mutual TLS;
//! - `tenants`: the per-tenant snapshots a configuration builds, and their replacement;
//! - `connect_check`: `check-config --connect`, reaching Vault, Redis and every tenant's org;
//! - `schemas`: the schema files' services, reflection and HTTP/JSON routes, rebuilt on reload;
//! - `schema_source`: the describes `sfgate schema` generates from, read through a tenant;
//! - `reload`: reloading the configuration on SIGHUP or a changed file;
//! - `drain`: graceful shutdown — NOT_SERVING, open health watches ended, a grace period;
//! - [`admin`]: the admin HTTP port (`/metrics`, `/healthz`, `/readyz`).

pub mod admin;
mod connect_check;
mod drain;
mod front_door;
mod reload;
mod run;
mod schema_source;
mod schemas;
mod tenants;
mod tls;

pub use connect_check::{CheckedLine, ConnectReport, check_connections};
pub use run::{Listeners, SHARED_LIMITS_HEALTH, check, run, run_reloading};
pub use schema_source::describe_objects;

#[cfg(doc)]
use crate::config::Config;
