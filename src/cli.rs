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
    /// Without a configuration file: an X.509 certificate (PEM file) to register with the
    /// embedded sandbox org's connected app, so that JWT bearer assertions signed with its key
    /// are accepted.
    #[arg(long, env = "SFGATE_SANDBOX_JWT_CERTIFICATE")]
    pub(crate) jwt_certificate: Option<PathBuf>,
    /// Without a configuration file: a schema file (`sfgate schema` output) to serve for the
    /// embedded sandbox org's tenant (repeatable). With one, use `[[schemas]]`.
    #[arg(long = "schema", value_name = "PROTO_FILE")]
    pub(crate) schemas: Vec<PathBuf>,
}

impl ServeArgs {
    /// These arguments, with `other`'s where these have none.
    pub(crate) fn or(self, other: Self) -> Self {
        Self {
            config: self.config.or(other.config),
            listen: self.listen.or(other.listen),
            admin_listen: self.admin_listen.or(other.admin_listen),
            jwt_certificate: self.jwt_certificate.or(other.jwt_certificate),
            schemas: if self.schemas.is_empty() {
                other.schemas
            } else {
                self.schemas
            },
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
    /// it loads and every tenant builds, and with `--connect` when everything it names answers.
    CheckConfig {
        /// The configuration file.
        #[arg(long, env = "SFGATE_CONFIG")]
        config: PathBuf,
        /// Also log in to Vault, read every tenant's secret and check its keys, mint a token per
        /// tenant and ping Redis; one line each, ok or what is wrong and what to do.
        #[arg(long)]
        connect: bool,
        /// With `--connect`: check the secrets but ask no org for a token.
        #[arg(long, requires = "connect")]
        no_mint: bool,
    },
    /// Write the `.proto` of an org's objects from their describes: a typed message and service
    /// per object, to serve with `[[schemas]]`.
    Schema(SchemaArgs),
    /// Print the SHA-256 of an API key, for `api_keys` in the configuration. Reads the key
    /// from standard input (one line) when it is `-` or not given, which keeps it out of shell
    /// history and the process list.
    HashKey {
        /// The key, or `-` for standard input.
        key: Option<String>,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct SchemaArgs {
    /// Configuration file naming the tenant. Without one, the embedded sandbox org is described
    /// (tenant `sandbox`).
    #[arg(long, env = "SFGATE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The tenant whose org is described (required with `--config`).
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// An object to generate, by API name (repeat for more).
    #[arg(long = "object", value_name = "API_NAME")]
    pub(crate) objects: Vec<String>,
    /// Also generate every custom object of the org.
    #[arg(long)]
    pub(crate) custom: bool,
    /// The proto package, lower case and versioned, e.g. `acme.v1`.
    #[arg(long)]
    pub(crate) package: String,
    /// The file to write (its field numbers are kept when it exists); standard output without.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
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
    /// An X.509 certificate (PEM file) to register with the connected app: JWT bearer
    /// assertions signed with its key are accepted.
    #[arg(long, env = "SFGATE_SANDBOX_JWT_CERTIFICATE")]
    pub(crate) jwt_certificate: Option<PathBuf>,
}

/// The key `sfgate hash-key` hashes: the argument, or (for `-` or none) the first line of
/// standard input without its line ending. An empty key is refused.
pub(crate) fn key_to_hash(argument: Option<String>) -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _};
    let key = match argument.filter(|key| key != "-") {
        Some(key) => key,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("API key (then Enter): ");
            }
            let mut line = String::new();
            stdin.lock().read_line(&mut line)?;
            let line = line.strip_suffix('\n').unwrap_or(&line);
            line.strip_suffix('\r').unwrap_or(line).to_owned()
        }
    };
    anyhow::ensure!(
        !key.is_empty(),
        "the key is empty: give it as the argument or on standard input"
    );
    Ok(key)
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
