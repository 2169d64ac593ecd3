//! The command line of the `sfgate` binary, and the signal that ends a run.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sfgate::telemetry::LogFormat;

/// A gRPC connector gateway for Salesforce.
#[derive(Parser, Debug)]
#[command(version, about)]
pub(crate) struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// Configuration file. Without one, sfgate serves the embedded sandbox org.
    #[arg(long, env = "SFGATE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// gRPC listen address (overrides the configuration).
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
    /// Admin HTTP listen address for /metrics, /healthz and /readyz (overrides the
    /// configuration's `[admin] listen`; without a configuration file: 127.0.0.1:9464).
    #[arg(long)]
    pub(crate) admin_listen: Option<SocketAddr>,
}

impl ServeArgs {
    /// These arguments, with `other`'s where these have none.
    pub(crate) fn or(self, other: Self) -> Self {
        Self {
            config: self.config.or(other.config),
            listen: self.listen.or(other.listen),
            admin_listen: self.admin_listen.or(other.admin_listen),
        }
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the gateway (the default).
    Serve(ServeArgs),
    /// Run only the sandbox org, for pointing any Salesforce client at it.
    Sandbox(SandboxArgs),
    /// Check a configuration file (with its `SFGATE__` overrides) without serving: exits 0 when
    /// it loads and every tenant builds.
    CheckConfig {
        /// The configuration file.
        #[arg(long, env = "SFGATE_CONFIG")]
        config: PathBuf,
    },
    /// Print the SHA-256 of an API key, for `api_keys` in the configuration.
    HashKey {
        /// The key.
        key: String,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct SandboxArgs {
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub(crate) listen: SocketAddr,
    /// The org's daily API request allowance (`Sforce-Limit-Info`); past it calls answer
    /// REQUEST_LIMIT_EXCEEDED.
    #[arg(long, default_value_t = 15_000)]
    pub(crate) daily_api_limit: u64,
}

/// Completes on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
