//! Wires a [`Config`] into a running gateway, one concern a file:
//!
//! - `run`: the gRPC server — TLS, the layers (telemetry → authentication → limits),
//!   [`crate::api::routes`], reflection and health ([`run()`], [`run_reloading`], [`check`]);
//! - `tenants`: the per-tenant snapshots a configuration builds, and their replacement;
//! - `reload`: reloading the configuration on SIGHUP or a changed file;
//! - `drain`: graceful shutdown — NOT_SERVING, open health watches ended, a grace period;
//! - [`admin`]: the admin HTTP port (`/metrics`, `/healthz`, `/readyz`).

pub mod admin;
mod drain;
mod reload;
mod run;
mod tenants;

pub use run::{Listeners, SHARED_LIMITS_HEALTH, check, run, run_reloading};

#[cfg(doc)]
use crate::config::Config;
