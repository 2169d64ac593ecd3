//! Wires a [`Config`] into a running gRPC server: the per-tenant state ([`tenants`]), services,
//! reflection (v1 and v1alpha), health, configuration reload (SIGHUP or a changed file), and
//! graceful shutdown.

pub mod admin;
mod tenants;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use url::Url;

use crate::api::account::AccountApi;
use crate::api::campaign::CampaignApi;
use crate::api::case::CaseApi;
use crate::api::connection::ConnectionApi;
use crate::api::contact::ContactApi;
use crate::api::lead::LeadApi;
use crate::api::lookup::LookupApi;
use crate::api::opportunity::OpportunityApi;
use crate::api::record::RecordApi;
use crate::auth::OAuthGrant;
use crate::config::{
    ApiKeyConfig, Config, CredentialsConfig, DEFAULT_API_VERSION, ProviderKind, TenantConfig,
    TlsSettings, default_reload_poll_seconds, default_shutdown_grace_seconds,
    default_upstream_timeout_ms,
};
use crate::credentials::OrgCredentials;
use crate::pb::account_service_server::AccountServiceServer;
use crate::pb::campaign_service_server::CampaignServiceServer;
use crate::pb::case_service_server::CaseServiceServer;
use crate::pb::connection_service_server::ConnectionServiceServer;
use crate::pb::contact_service_server::ContactServiceServer;
use crate::pb::lead_service_server::LeadServiceServer;
use crate::pb::lookup_service_server::LookupServiceServer;
use crate::pb::opportunity_service_server::OpportunityServiceServer;
use crate::pb::record_service_server::RecordServiceServer;
use crate::ratelimit::RateLimitLayer;
use crate::salesforce::http_client;
use crate::sandbox::SandboxHandle;
use crate::telemetry::rpc::RpcTelemetryLayer;
use crate::tenancy::{ApiKeyHash, AuthenticateLayer};
use tenants::Tenants;

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
    Tenants::build(config, http_client()).map(drop)
}

/// The bound sockets the gateway serves on.
#[derive(Debug)]
pub struct Listeners {
    /// The gRPC API.
    pub grpc: TcpListener,
    /// The admin HTTP endpoints (`/metrics`, `/healthz`, `/readyz`), if any.
    pub admin: Option<TcpListener>,
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
    let tenants = Arc::new(Tenants::build(&config, http_client())?);
    let gateway = Arc::clone(&tenants.gateway);
    if let Some(path) = config_path {
        let poll = (config.reload_poll_seconds > 0)
            .then(|| Duration::from_secs(config.reload_poll_seconds));
        tokio::spawn(watch_config(
            path,
            poll,
            Arc::clone(&tenants),
            RestartOnly::of(&config),
        ));
    }

    // The google.rpc error details are served too, so that grpcurl and other reflection clients
    // can decode the ErrorInfo, BadRequest and RetryInfo every error carries.
    let descriptor_sets = [
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
    ];
    let reflection = || {
        descriptor_sets.iter().fold(
            tonic_reflection::server::Builder::configure(),
            |builder, set| builder.register_encoded_file_descriptor_set(set),
        )
    };
    let reflection_v1 = reflection().build_v1().context("building reflection v1")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    let (mut health_reporter, health_service) = tonic_health::server::health_reporter();
    for service in api_services() {
        health_reporter
            .set_service_status(service, tonic_health::ServingStatus::Serving)
            .await;
    }

    if let Some(store) = &tenants.shared {
        tokio::spawn(report_shared_limits(
            store.degraded(),
            health_reporter.clone(),
        ));
    }

    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let address = listener
        .local_addr()
        .context("reading the listener address")?;
    tracing::info!(%address, tenants = config.tenants.len(), "sfgate serving");
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

    let (drain_started, drained) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down: finishing in-flight calls"
        );
        readiness.set(false);
        for service in std::iter::once("").chain(api_services()) {
            health_reporter
                .set_service_status(service, tonic_health::ServingStatus::NotServing)
                .await;
        }
        // Watchers have been told NOT_SERVING; now their streams end, so that an open
        // `Health/Watch` (Envoy, gRPC client-side health checks) does not hold the drain open for
        // the whole grace period.
        for service in std::iter::once("")
            .chain(api_services())
            .chain([SHARED_LIMITS_HEALTH])
        {
            health_reporter.clear_service_status(service).await;
        }
        let _ = drain_started.send(());
    };
    let mut builder = Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder
            .tls_config(server_tls(tls)?)
            .context("configuring TLS")?;
    }
    let server = builder
        .layer(RpcTelemetryLayer)
        .layer(AuthenticateLayer::new(Arc::clone(&tenants.registry)))
        .layer(RateLimitLayer::new(Arc::clone(&tenants.limits)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(LeadServiceServer::new(LeadApi::new(Arc::clone(&gateway))))
        .add_service(ContactServiceServer::new(ContactApi::new(Arc::clone(
            &gateway,
        ))))
        .add_service(AccountServiceServer::new(AccountApi::new(Arc::clone(
            &gateway,
        ))))
        .add_service(OpportunityServiceServer::new(OpportunityApi::new(
            Arc::clone(&gateway),
        )))
        .add_service(CaseServiceServer::new(CaseApi::new(Arc::clone(&gateway))))
        .add_service(LookupServiceServer::new(LookupApi::new(Arc::clone(
            &gateway,
        ))))
        .add_service(ConnectionServiceServer::new(ConnectionApi::new(
            Arc::clone(&gateway),
        )))
        .add_service(RecordServiceServer::new(RecordApi::new(Arc::clone(
            &gateway,
        ))))
        .add_service(CampaignServiceServer::new(CampaignApi::new(gateway)))
        // Small gRPC messages must not wait on Nagle's algorithm for the peer's delayed ACK.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), signal);

    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served.context("gRPC server failed")?,
        () = async {
            // The grace period starts once the shutdown signal has been seen.
            let _ = drained.await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("grace period over: dropping calls still in flight"),
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

/// Reloads the configuration on SIGHUP and, with `poll`, when the file's modification time changes.
/// The settings a reload cannot change: a new value needs a restart.
#[derive(Debug, PartialEq)]
struct RestartOnly {
    listen: SocketAddr,
    tls: Option<TlsSettings>,
    shared_limits: Option<crate::config::SharedLimitsSettings>,
    admin: Option<crate::config::AdminSettings>,
    telemetry: crate::config::TelemetrySettings,
}

impl RestartOnly {
    fn of(config: &Config) -> Self {
        Self {
            listen: config.listen,
            tls: config.tls.clone(),
            shared_limits: config.shared_limits.clone(),
            admin: config.admin.clone(),
            telemetry: config.telemetry.clone(),
        }
    }
}

async fn watch_config(
    path: PathBuf,
    poll: Option<Duration>,
    tenants: Arc<Tenants>,
    running: RestartOnly,
) {
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloading on file changes only");
            None
        }
    };
    let mut last_modified = modified(&path);
    loop {
        let hangup_received = async {
            #[cfg(unix)]
            if let Some(hangup) = hangup.as_mut() {
                hangup.recv().await;
                return;
            }
            std::future::pending::<()>().await
        };
        let trigger = tokio::select! {
            () = hangup_received => "SIGHUP",
            () = sleep_or_forever(poll) => {
                let now_modified = modified(&path);
                if now_modified == last_modified {
                    continue;
                }
                "file change"
            }
        };
        last_modified = modified(&path);
        match Config::load(&path) {
            Ok(config) => {
                if RestartOnly::of(&config) != running {
                    tracing::warn!(
                        "changes to listen, [tls], [shared_limits], [admin] or [telemetry] take effect only after a restart"
                    );
                }
                match tenants.reload(&config) {
                    Ok(()) => tracing::info!(
                        trigger,
                        tenants = config.tenants.len(),
                        "configuration reloaded"
                    ),
                    Err(error) => tracing::error!(
                        trigger,
                        "configuration reload rejected: {error:#}; still serving the previous configuration"
                    ),
                }
            }
            Err(error) => tracing::error!(
                trigger,
                "configuration reload rejected: {error:#}; still serving the previous configuration"
            ),
        }
    }
}

/// TLS for the gRPC port; with a client CA, mutual TLS (client certificates optional unless
/// required, so that API-key callers keep working).
fn server_tls(settings: &TlsSettings) -> anyhow::Result<ServerTlsConfig> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
        read(&settings.cert_file)?,
        read(&settings.key_file)?,
    ));
    if let Some(client_ca) = &settings.client_ca_file {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(client_ca)?))
            .client_auth_optional(!settings.require_client_certificate);
    }
    Ok(tls)
}

/// The health service `sfgate.SharedRateLimits` is SERVING while limits are shared through Redis
/// and NOT_SERVING while each replica enforces its share locally.
async fn report_shared_limits(
    mut degraded: tokio::sync::watch::Receiver<bool>,
    health: tonic_health::server::HealthReporter,
) {
    loop {
        let status = if *degraded.borrow_and_update() {
            tonic_health::ServingStatus::NotServing
        } else {
            tonic_health::ServingStatus::Serving
        };
        health
            .set_service_status(SHARED_LIMITS_HEALTH, status)
            .await;
        if degraded.changed().await.is_err() {
            return;
        }
    }
}

/// The gateway's own gRPC services, by name.
fn api_services() -> [&'static str; 9] {
    use tonic::server::NamedService;
    [
        LeadServiceServer::<LeadApi>::NAME,
        ContactServiceServer::<ContactApi>::NAME,
        AccountServiceServer::<AccountApi>::NAME,
        OpportunityServiceServer::<OpportunityApi>::NAME,
        CaseServiceServer::<CaseApi>::NAME,
        CampaignServiceServer::<CampaignApi>::NAME,
        LookupServiceServer::<LookupApi>::NAME,
        ConnectionServiceServer::<ConnectionApi>::NAME,
        RecordServiceServer::<RecordApi>::NAME,
    ]
}

/// The health service name reporting whether tenant limits are shared.
pub const SHARED_LIMITS_HEALTH: &str = "sfgate.SharedRateLimits";

async fn sleep_or_forever(period: Option<Duration>) {
    match period {
        Some(period) => tokio::time::sleep(period).await,
        None => std::future::pending().await,
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

/// The configuration of the no-config run and the tests: one tenant, `sandbox`, in front of the
/// embedded sandbox org, reached with the password flow; `api_key` is the demo key.
pub fn sandbox_config(
    listen: SocketAddr,
    sandbox: &SandboxHandle,
    api_key: &str,
) -> anyhow::Result<Config> {
    let base_url = Url::parse(sandbox.base_url()).context("the sandbox URL")?;
    let host = base_url.host_str().unwrap_or("127.0.0.1").to_owned();
    let app = sandbox.credentials();
    let credentials = OrgCredentials {
        client_id: Some(SecretString::from(app.client_id.clone())),
        client_secret: Some(SecretString::from(app.client_secret.clone())),
        username: Some(app.username.clone()),
        password: Some(SecretString::from(app.password.clone())),
        refresh_token: Some(SecretString::from(app.refresh_token.clone())),
        ..OrgCredentials::default()
    };
    let tenant = TenantConfig {
        login_url: base_url,
        api_version: DEFAULT_API_VERSION.to_owned(),
        grant: OAuthGrant::Password,
        credentials_provider: ProviderKind::File,
        credentials_path: "sandbox".to_owned(),
        jwt_audience: None,
        allowed_instance_hosts: vec![host],
        upstream_timeout_ms: default_upstream_timeout_ms(),
        api_keys: vec![ApiKeyConfig {
            caller: "demo".to_owned(),
            sha256: ApiKeyHash::of_key(api_key).to_hex(),
        }],
        rate_limit: None,
        max_concurrent_calls: None,
        api_budget_percent: None,
        api_budget_recheck_seconds: crate::config::default_api_budget_recheck_seconds(),
        client_certificates: Vec::new(),
    };
    Ok(Config {
        listen,
        shutdown_grace_seconds: default_shutdown_grace_seconds(),
        reload_poll_seconds: default_reload_poll_seconds(),
        shared_limits: None,
        tls: None,
        admin: None,
        telemetry: crate::config::TelemetrySettings::default(),
        tenants: BTreeMap::from([("sandbox".to_owned(), tenant)]),
        credentials: CredentialsConfig {
            vault: None,
            file: HashMap::from([("sandbox".to_owned(), credentials)]),
        },
    })
}
