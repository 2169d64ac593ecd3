//! The gRPC server: TLS, the layers every call passes (telemetry → authentication → limits), the
//! API's routes, reflection (v1 and v1alpha) and health, served until the drain is over.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::admin;
use super::drain::Drain;
use super::reload::{RestartOnly, watch_config};
use super::schemas::{self, SchemaFront};
use super::tenants::Tenants;
use super::{front_door, tls};
use crate::api::{SchemaRouter, SharedSchemaServices};
use crate::config::Config;
use crate::ratelimit::RateLimitLayer;
use crate::salesforce::{SalesforceClient, http_client};
use crate::telemetry::rpc::RpcTelemetryLayer;
use crate::tenancy::AuthenticateLayer;

/// The health service name reporting whether tenant limits are shared.
pub const SHARED_LIMITS_HEALTH: &str = "sfgate.SharedRateLimits";

/// The bound sockets the gateway serves on.
#[derive(Debug)]
pub struct Listeners {
    /// The gRPC API.
    pub grpc: TcpListener,
    /// The admin HTTP endpoints (`/metrics`, `/healthz`, `/readyz`), if any.
    pub admin: Option<TcpListener>,
}

/// Serves the gateway on `listener` until `shutdown` completes, then lets in-flight calls finish
/// within the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listeners = Listeners {
        grpc: listener,
        admin: None,
    };
    run_reloading(config, None, listeners, shutdown).await
}

/// Builds everything a configuration describes (tenants, credential providers, limits) without
/// serving or calling anything, to check it before a deployment.
pub fn check(config: &Config) -> anyhow::Result<()> {
    schemas::load(config, &Default::default())?;
    Tenants::build(config, http_client()).map(drop)
}

/// Like [`run`], and reloads the configuration from `config_path` on SIGHUP or when the file
/// changes. A configuration that does not load or build is refused with a log line and changes
/// nothing; calls in flight finish with the configuration they started with.
pub async fn run_reloading(
    config: Config,
    config_path: Option<PathBuf>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Listeners {
        grpc: listener,
        admin: admin_listener,
    } = listeners;
    let schemas = schemas::load(&config, &Default::default())?;
    let tenants = Arc::new(Tenants::build(&config, http_client())?);
    let schema_services = SharedSchemaServices::default();
    let api = crate::api::routes(&tenants.api, &schema_services);
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for service in &api.names {
        health_reporter
            .set_service_status(service, ServingStatus::Serving)
            .await;
    }
    // The schema files' services, reflection and the HTTP/JSON front, rebuilt on reload.
    let registry = Arc::clone(&tenants.registry);
    let refusal: crate::http::CallerCheck = Arc::new(move |headers, extensions| {
        crate::tenancy::refusal(&registry, headers, extensions)
    });
    let front = Arc::new(
        SchemaFront::new(
            schema_services,
            schemas,
            Arc::clone(&tenants.registry),
            api.names.clone(),
            config.http.cors_allowed_origins.clone(),
            refusal,
            health_reporter.clone(),
        )
        .await?,
    );
    if let Some(path) = config_path {
        tokio::spawn(watch_config(
            path,
            config.reload_poll,
            Arc::clone(&tenants),
            Arc::clone(&front),
            RestartOnly::of(&config),
            config.schema_files(),
        ));
    }
    if let Some(store) = &tenants.shared {
        store.spawn_recovery_probe();
        tokio::spawn(report_shared_limits(
            store.degraded(),
            health_reporter.clone(),
        ));
    }

    let address = listener
        .local_addr()
        .context("reading the listener address")?;
    tracing::info!(
        %address,
        tenants = config.tenants.len(),
        shared_limits = if tenants.shared.is_some() { "on (redis)" } else { "off" },
        "sfgate serving"
    );
    let readiness = admin::Readiness::default();
    readiness.set(true);
    let admin_server = match admin_listener {
        Some(admin_listener) => {
            let admin_address = admin_listener
                .local_addr()
                .context("reading the admin listener address")?;
            tracing::info!(address = %admin_address, "admin endpoints serving: /metrics /healthz /readyz");
            let server = admin::serve(admin_listener, readiness.clone());
            Some(AbortOnDrop(tokio::spawn(async move {
                if let Err(error) = server.await {
                    tracing::error!(%error, "the admin server failed");
                }
            })))
        }
        None => None,
    };

    let drain = Drain {
        health: health_reporter,
        readiness,
        services: {
            let built_in = api.names.clone();
            let front = Arc::clone(&front);
            Box::new(move || {
                built_in
                    .iter()
                    .map(|name| (*name).to_owned())
                    .chain(front.service_names())
                    .collect()
            })
        },
        also_cleared: vec![SHARED_LIMITS_HEALTH],
        grace: config.shutdown_grace,
    };
    let (stop_accepting, grace_over) = drain.on(shutdown);
    let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
    let service = tower::ServiceBuilder::new()
        .layer(RpcTelemetryLayer)
        .layer(AuthenticateLayer::new(Arc::clone(&tenants.registry)))
        .layer(RateLimitLayer::<SalesforceClient>::new(
            tenants.shared.clone(),
        ))
        .service(
            front
                .routes(
                    api.routes.add_service(health_service),
                    SchemaRouter::new(tenants.api.clone(), Arc::clone(&front.services)),
                )
                .prepare(),
        );
    // HTTP/JSON calls become gRPC calls of the same stack; gRPC and gRPC-Web calls pass through.
    // gRPC-Web is translated to gRPC in front of the same stack; other requests pass through.
    let service = tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), service);
    let service = crate::http::Transcode::new(service, Arc::clone(&front.http));
    let server = front_door::serve(listener, service, &config.front_door, tls, stop_accepting);

    tokio::pin!(server);
    tokio::select! {
        () = &mut server => {}
        () = grace_over => tracing::warn!("grace period over: dropping calls still in flight"),
    }
    drop(admin_server);
    tracing::info!("sfgate stopped");
    Ok(())
}

/// A spawned task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The health service `sfgate.SharedRateLimits` is SERVING while limits are shared through Redis
/// and NOT_SERVING while each replica enforces its share locally.
async fn report_shared_limits(
    mut degraded: tokio::sync::watch::Receiver<bool>,
    health: HealthReporter,
) {
    loop {
        let status = if *degraded.borrow_and_update() {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        health
            .set_service_status(SHARED_LIMITS_HEALTH, status)
            .await;
        if degraded.changed().await.is_err() {
            return;
        }
    }
}
