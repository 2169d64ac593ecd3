//! The `sfgate` binary: parses the command line and runs the gateway, the sandbox org alone, a
//! configuration check or the key hasher. Without a configuration file it serves a demo tenant
//! in front of the embedded sandbox org ([`demo`]).

mod cli;
mod demo;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use sfgate::config::{AdminSettings, Config, TelemetrySettings};
use sfgate::server::Listeners;
use sfgate::telemetry::{self, LogFormat};
use sfgate::tenant::ApiKeyHash;
use tokio::net::TcpListener;

use cli::{Cli, Command, ServeArgs};

/// mimalloc: the gateway allocates and frees many small buffers per call (headers, JSON, protobuf);
/// measured in `benches/hot_path.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve, cli.log_format).await,
        // `sfgate --config f serve --listen a` means what it says: the flags on either side.
        Some(Command::Serve(args)) => serve(args.or(cli.serve), cli.log_format).await,
        Some(Command::Sandbox(args)) => {
            let telemetry = telemetry::init(cli.log_format, &TelemetrySettings::default())?;
            let result = demo::run_sandbox_alone(args).await;
            telemetry.shutdown().await;
            result
        }
        Some(Command::CheckConfig {
            config,
            connect,
            no_mint,
        }) => {
            let loaded = check_config(&config)?;
            if connect {
                let telemetry = telemetry::init(cli.log_format, &TelemetrySettings::default())?;
                let report = sfgate::server::check_connections(&loaded, !no_mint).await;
                telemetry.shutdown().await;
                let report = report?;
                print!("{report}");
                anyhow::ensure!(
                    report.ok(),
                    "{}: some checks failed (above)",
                    config.display()
                );
            }
            Ok(())
        }
        Some(Command::Schema(args)) => {
            let telemetry = telemetry::init(cli.log_format, &TelemetrySettings::default())?;
            let result = schema(args).await;
            telemetry.shutdown().await;
            result
        }
        Some(Command::HashKey { key }) => {
            println!("{}", ApiKeyHash::of_key(&cli::key_to_hash(key)?).to_hex());
            Ok(())
        }
    }
}

/// Loads and builds the configuration at `path`, says so, and hands it back for `--connect`.
fn check_config(path: &std::path::Path) -> anyhow::Result<Config> {
    let loaded = Config::load(path)?;
    sfgate::server::check(&loaded)?;
    telemetry::otlp_endpoint(&loaded.telemetry)?;
    println!(
        "{}: configuration OK, {} tenant(s)",
        path.display(),
        loaded.tenants.len()
    );
    Ok(loaded)
}

/// `sfgate schema`: describes the objects in the tenant's org and writes their `.proto`.
async fn schema(args: cli::SchemaArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.objects.is_empty() || args.custom,
        "name the objects to generate with --object (repeatable), or --custom for every custom object"
    );
    let (describes, tenant) = match &args.config {
        Some(path) => {
            let tenant = args
                .tenant
                .clone()
                .context("--tenant is required with --config: the tenant whose org to describe")?;
            let config = Config::load(path)?;
            let describes =
                sfgate::server::describe_objects(&config, &tenant, &args.objects, args.custom)
                    .await?;
            (describes, tenant)
        }
        None => {
            let demo = demo::Demo::start(None).await?;
            let tenant = args
                .tenant
                .clone()
                .unwrap_or_else(|| demo::TENANT.to_owned());
            let describes = sfgate::server::describe_objects(
                &demo.config(&[])?,
                &tenant,
                &args.objects,
                args.custom,
            )
            .await;
            demo.stop().await;
            (describes?, tenant)
        }
    };
    let previous = match &args.out {
        Some(path) if path.exists() => sfgate::schema::numbers_of_file(path)?,
        _ => Default::default(),
    };
    let source = format!("tenant {tenant}");
    let generated = sfgate::schema::generate::generate(
        &sfgate::schema::generate::Generation {
            package: &args.package,
            source: &source,
            previous: &previous,
        },
        &describes,
    )?;
    for skipped in &generated.skipped {
        eprintln!("skipped {skipped}: no proto type maps it");
    }
    match &args.out {
        Some(path) => {
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(path, &generated.text)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} ({} object(s)) to {}",
                args.package,
                describes.len(),
                path.display()
            );
        }
        None => print!("{}", generated.text),
    }
    Ok(())
}

async fn serve(args: ServeArgs, log_format: LogFormat) -> anyhow::Result<()> {
    let file_config = args.config.as_deref().map(Config::load).transpose()?;
    let telemetry_settings = file_config
        .as_ref()
        .map_or_else(TelemetrySettings::default, |config| {
            config.telemetry.clone()
        });
    let telemetry = telemetry::init(log_format, &telemetry_settings)?;
    let served = match file_config {
        Some(config) => {
            if args.jwt_certificate.is_some() {
                tracing::warn!(
                    "--jwt-certificate (SFGATE_SANDBOX_JWT_CERTIFICATE) is for the embedded sandbox org: with --config it does nothing"
                );
            }
            anyhow::ensure!(
                args.schemas.is_empty(),
                "--schema is for the embedded sandbox org: with --config, list schema files under [[schemas]]"
            );
            serve_config(config, &args, None).await
        }
        None => {
            let demo = demo::Demo::start(args.jwt_certificate.as_deref()).await?;
            let served = serve_config(demo.config(&args.schemas)?, &args, Some(&demo)).await;
            demo.stop().await;
            served
        }
    };
    telemetry.shutdown().await;
    served
}

/// Binds the listeners (flags over the configuration) and serves until SIGTERM/SIGINT.
async fn serve_config(
    mut config: Config,
    args: &ServeArgs,
    demo: Option<&demo::Demo>,
) -> anyhow::Result<()> {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(listen) = args.admin_listen {
        config.admin = Some(AdminSettings { listen });
    }
    let grpc = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let admin = match &config.admin {
        Some(admin) => match TcpListener::bind(admin.listen).await {
            Ok(admin_listener) => Some(admin_listener),
            // The demo run goes on without metrics rather than fail on a busy port.
            Err(error) if demo.is_some() && args.admin_listen.is_none() => {
                tracing::warn!(address = %admin.listen, %error, "admin endpoints not served");
                None
            }
            Err(error) => return Err(error).with_context(|| format!("binding {}", admin.listen)),
        },
        None => None,
    };
    if let Some(demo) = demo {
        demo.print_banner(&grpc, admin.as_ref());
    }
    let config_path: Option<PathBuf> = args.config.clone();
    let listeners = Listeners { grpc, admin };
    sfgate::server::run_reloading(config, config_path, listeners, cli::shutdown_signal()).await
}
