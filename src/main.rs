//! The `sfgate` binary: parses the command line and runs the gateway or the sandbox org.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rand::distr::{Alphanumeric, SampleString};
use sfgate::config::{AdminSettings, Config, TelemetrySettings};
use sfgate::sandbox::{self, SandboxConfig, SandboxHandle};
use sfgate::server::Listeners;
use sfgate::telemetry::{self, LogFormat};
use sfgate::tenancy::ApiKeyHash;
use tokio::net::TcpListener;

/// mimalloc: the gateway allocates and frees many small buffers per call (headers, JSON, protobuf);
/// measured in `benches/hot_path.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A gRPC connector gateway for Salesforce.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Configuration file. Without one, sfgate serves the embedded sandbox org.
    #[arg(long, env = "SFGATE_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC listen address (overrides the configuration).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Admin HTTP listen address for /metrics, /healthz and /readyz (overrides the
    /// configuration's `[admin] listen`; without a configuration file: 127.0.0.1:9464).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
}

impl ServeArgs {
    /// These arguments, with `other`'s where these have none.
    fn or(self, other: Self) -> Self {
        Self {
            config: self.config.or(other.config),
            listen: self.listen.or(other.listen),
            admin_listen: self.admin_listen.or(other.admin_listen),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway (the default).
    Serve(ServeArgs),
    /// Run only the sandbox org, for pointing any Salesforce client at it.
    Sandbox {
        /// HTTP listen address.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// The org's daily API request allowance (`Sforce-Limit-Info`); past it calls answer
        /// REQUEST_LIMIT_EXCEEDED.
        #[arg(long, default_value_t = 15_000)]
        daily_api_limit: u64,
    },
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve, cli.log_format).await,
        // `sfgate --config f serve --listen a` means what it says: the flags on either side.
        Some(Command::Serve(args)) => serve(args.or(cli.serve), cli.log_format).await,
        Some(Command::Sandbox {
            listen,
            daily_api_limit,
        }) => {
            let telemetry = telemetry::init(cli.log_format, &TelemetrySettings::default())?;
            let result = run_sandbox(listen, daily_api_limit).await;
            telemetry.shutdown().await;
            result
        }
        Some(Command::CheckConfig { config }) => {
            let loaded = Config::load(&config)?;
            sfgate::server::check(&loaded)?;
            telemetry::otlp_endpoint(&loaded.telemetry)?;
            println!(
                "{}: configuration OK, {} tenant(s)",
                config.display(),
                loaded.tenants.len()
            );
            Ok(())
        }
        Some(Command::HashKey { key }) => {
            println!("{}", ApiKeyHash::of_key(&key).to_hex());
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs, log_format: LogFormat) -> anyhow::Result<()> {
    let file_config = args.config.as_deref().map(Config::load).transpose()?;
    let telemetry = telemetry::init(
        log_format,
        file_config
            .as_ref()
            .map_or(&TelemetrySettings::default(), |config| &config.telemetry),
    )?;
    let served = serve_until_signal(args, file_config).await;
    telemetry.shutdown().await;
    served
}

async fn serve_until_signal(args: ServeArgs, file_config: Option<Config>) -> anyhow::Result<()> {
    let (mut config, sandbox, demo_key) = match file_config {
        Some(config) => (config, None, None),
        None => {
            let sandbox = start_sandbox(SandboxConfig {
                listen: "127.0.0.1:0".parse()?,
                ..SandboxConfig::default()
            })
            .await?;
            let demo_key = std::env::var("SFGATE_DEMO_API_KEY")
                .ok()
                .filter(|key| !key.is_empty())
                .unwrap_or_else(|| {
                    format!(
                        "sfgate-demo-{}",
                        Alphanumeric.sample_string(&mut rand::rng(), 24)
                    )
                });
            let mut config =
                sfgate::server::sandbox_config("127.0.0.1:50051".parse()?, &sandbox, &demo_key)?;
            config.admin = Some(AdminSettings {
                listen: "127.0.0.1:9464".parse()?,
            });
            (config, Some(sandbox), Some(demo_key))
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(listen) = args.admin_listen {
        config.admin = Some(AdminSettings { listen });
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let admin_listener = match &config.admin {
        Some(admin) => match TcpListener::bind(admin.listen).await {
            Ok(admin_listener) => Some(admin_listener),
            // The demo run goes on without metrics rather than fail on a busy port.
            Err(error) if sandbox.is_some() && args.admin_listen.is_none() => {
                tracing::warn!(address = %admin.listen, %error, "admin endpoints not served");
                None
            }
            Err(error) => {
                return Err(error).with_context(|| format!("binding {}", admin.listen));
            }
        },
        None => None,
    };
    if let (Some(sandbox), Some(key)) = (&sandbox, demo_key.as_deref()) {
        let admin_address = admin_listener
            .as_ref()
            .and_then(|admin| admin.local_addr().ok());
        print_demo(listener.local_addr()?, admin_address, sandbox, key);
    }
    let listeners = Listeners {
        grpc: listener,
        admin: admin_listener,
    };
    sfgate::server::run_reloading(config, args.config.clone(), listeners, shutdown_signal())
        .await?;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(())
}

async fn start_sandbox(config: SandboxConfig) -> anyhow::Result<SandboxHandle> {
    let config = SandboxConfig {
        client_id: std::env::var("SFGATE_SANDBOX_CLIENT_ID")
            .ok()
            .filter(|value| !value.is_empty()),
        client_secret: std::env::var("SFGATE_SANDBOX_CLIENT_SECRET")
            .ok()
            .filter(|value| !value.is_empty()),
        ..config
    };
    sandbox::start(config)
        .await
        .context("starting the sandbox org")
}

async fn run_sandbox(listen: SocketAddr, daily_api_limit: u64) -> anyhow::Result<()> {
    let jwt_enabled = std::env::var_os("SFGATE_SANDBOX_JWT_CERTIFICATE").is_some();
    let sandbox = start_sandbox(SandboxConfig {
        listen,
        daily_api_limit,
        ..SandboxConfig::default()
    })
    .await?;
    let credentials = sandbox.credentials();
    println!("sandbox org listening on {}", sandbox.base_url());
    println!("org id: {}", sandbox.org_id());
    println!("client_id:     {}", credentials.client_id);
    println!("client_secret: {}", credentials.client_secret);
    println!("username:      {}", credentials.username);
    println!(
        "password:      {}  (password + security token)",
        credentials.password
    );
    println!();
    println!("get a token:");
    println!(
        "  curl -s {}/services/oauth2/token -d grant_type=password -d client_id={} -d client_secret={} -d username={} -d password={}",
        sandbox.base_url(),
        credentials.client_id,
        credentials.client_secret,
        credentials.username,
        credentials.password
    );
    println!(
        "  curl -s {}/services/oauth2/token -d grant_type=refresh_token -d client_id={} -d client_secret={} -d refresh_token={}",
        sandbox.base_url(),
        credentials.client_id,
        credentials.client_secret,
        credentials.refresh_token
    );
    if jwt_enabled {
        println!(
            "  (JWT bearer: sign assertions with the key of SFGATE_SANDBOX_JWT_CERTIFICATE, iss = client_id)"
        );
    }
    println!(
        "  curl -s {}/services/oauth2/token -u {}:{} -d grant_type=client_credentials",
        sandbox.base_url(),
        credentials.client_id,
        credentials.client_secret
    );
    shutdown_signal().await;
    sandbox.shutdown().await;
    tracing::info!("sandbox org stopped");
    Ok(())
}

fn print_demo(
    address: SocketAddr,
    admin_address: Option<SocketAddr>,
    sandbox: &SandboxHandle,
    key: &str,
) {
    let headers = format!("-H 'x-tenant-id: sandbox' -H 'authorization: Bearer {key}'");
    println!();
    println!(
        "sfgate is serving gRPC on {address}, in front of the embedded sandbox org at {}",
        sandbox.base_url()
    );
    println!("tenant: sandbox    demo API key: {key}");
    println!();
    println!("try it:");
    println!("  grpcurl -plaintext {address} list");
    println!(
        "  grpcurl -plaintext {headers} -d '{{\"last_name\": \"Reed\"}}' {address} sfgate.v1.LeadService/FindLeads"
    );
    println!(
        "  grpcurl -plaintext {headers} -d '{{\"lead\": {{\"first_name\": \"Jordan\", \"last_name\": \"Ellis\", \"company\": \"Harbor Freight Co\", \"email\": \"jordan.ellis@example.com\"}}}}' {address} sfgate.v1.LeadService/CreateLead"
    );
    println!(
        "  grpcurl -plaintext {headers} -d '{{\"open_only\": true}}' {address} sfgate.v1.CaseService/FindCases"
    );
    if let Some(admin_address) = admin_address {
        println!();
        println!("metrics and health: http://{admin_address}/metrics  /healthz  /readyz");
    }
    println!();
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
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
