//! Wires a [`Config`] into a running gRPC server: credentials, org connections, tenant registry,
//! services, reflection (v1 and v1alpha), health, and graceful shutdown.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use url::Url;

use crate::api::Gateway;
use crate::api::account::AccountApi;
use crate::api::campaign::CampaignApi;
use crate::api::case::CaseApi;
use crate::api::contact::ContactApi;
use crate::api::context::TenantId;
use crate::api::lead::LeadApi;
use crate::api::opportunity::OpportunityApi;
use crate::auth::{OAuthGrant, OrgAuthConfig, OrgAuthenticator};
use crate::config::{
    ApiKeyConfig, Config, CredentialsConfig, DEFAULT_API_VERSION, ProviderKind, RateLimitConfig,
    TenantConfig, VaultAuthSettings, VaultSettings, default_shutdown_grace_seconds,
    default_upstream_timeout_ms,
};
use crate::credentials::vault::{SecretIdSource, VaultAuth, VaultConfig};
use crate::credentials::{
    CredentialProvider, EnvCredentialProvider, OrgCredentials, StaticCredentialProvider,
    VaultCredentialProvider,
};
use crate::pb::account_service_server::AccountServiceServer;
use crate::pb::campaign_service_server::CampaignServiceServer;
use crate::pb::case_service_server::CaseServiceServer;
use crate::pb::contact_service_server::ContactServiceServer;
use crate::pb::lead_service_server::LeadServiceServer;
use crate::pb::opportunity_service_server::OpportunityServiceServer;
use crate::ratelimit::{RateLimitLayer, RateLimits, TenantLimits};
use crate::salesforce::{SalesforceClient, http_client};
use crate::sandbox::SandboxHandle;
use crate::tenancy::{ApiKeyHash, AuthenticateLayer, KeyGrant, TenantRegistry};

/// Time limit of one token request.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the gateway on `listener` until `shutdown` completes, then lets in-flight calls finish
/// within the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (registry, limits, gateway) = build(&config)?;
    let gateway = Arc::new(gateway);

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

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<LeadServiceServer<LeadApi>>()
        .await;
    health_reporter
        .set_serving::<ContactServiceServer<ContactApi>>()
        .await;
    health_reporter
        .set_serving::<AccountServiceServer<AccountApi>>()
        .await;
    health_reporter
        .set_serving::<OpportunityServiceServer<OpportunityApi>>()
        .await;
    health_reporter
        .set_serving::<CaseServiceServer<CaseApi>>()
        .await;
    health_reporter
        .set_serving::<CampaignServiceServer<CampaignApi>>()
        .await;

    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let address = listener
        .local_addr()
        .context("reading the listener address")?;
    tracing::info!(%address, tenants = config.tenants.len(), "sfgate serving");

    let (drain_started, drained) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down: finishing in-flight calls"
        );
        health_reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let _ = drain_started.send(());
    };
    let server = Server::builder()
        .layer(AuthenticateLayer::new(Arc::new(registry)))
        .layer(RateLimitLayer::new(Arc::new(limits)))
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
        .add_service(CampaignServiceServer::new(CampaignApi::new(gateway)))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal);

    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served.context("gRPC server failed")?,
        () = async {
            // The grace period starts once the shutdown signal has been seen.
            let _ = drained.await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("grace period over: dropping calls still in flight"),
    }
    tracing::info!("sfgate stopped");
    Ok(())
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
    };
    Ok(Config {
        listen,
        shutdown_grace_seconds: default_shutdown_grace_seconds(),
        tenants: BTreeMap::from([("sandbox".to_owned(), tenant)]),
        credentials: CredentialsConfig {
            vault: None,
            file: HashMap::from([("sandbox".to_owned(), credentials)]),
        },
    })
}

/// Builds the tenant registry and each tenant's org connection from the configuration.
fn build(config: &Config) -> anyhow::Result<(TenantRegistry, RateLimits, Gateway)> {
    let http = http_client();
    let providers = credential_providers(config, &http)?;
    let mut grants = HashMap::new();
    let mut clients = HashMap::new();
    let mut limits = Vec::new();
    for (name, tenant) in &config.tenants {
        let tenant_id = TenantId::new(name);
        let keys = tenant
            .api_keys
            .iter()
            .filter_map(|key| {
                Some(KeyGrant {
                    caller: Arc::from(key.caller.as_str()),
                    hash: ApiKeyHash::from_hex(&key.sha256)?,
                })
            })
            .collect();
        grants.insert(tenant_id.clone(), keys);
        let provider = providers
            .get(&tenant.credentials_provider)
            .with_context(|| {
                format!(
                    "tenant {name}: credential provider {:?} is not configured",
                    tenant.credentials_provider
                )
            })?;
        let auth = OrgAuthenticator::new(
            http.clone(),
            OrgAuthConfig {
                login_url: tenant.login_url.clone(),
                grant: tenant.grant,
                credentials_path: tenant.credentials_path.clone(),
                allowed_instance_hosts: tenant.allowed_instance_hosts.clone(),
                timeout: TOKEN_REQUEST_TIMEOUT,
                jwt_audience: tenant.jwt_audience.clone(),
            },
            Arc::clone(provider),
        );
        let client = SalesforceClient::new(
            http.clone(),
            auth,
            tenant.api_version.clone(),
            tenant.upstream_timeout(),
            tenant.api_budget_percent,
        );
        clients.insert(tenant_id.clone(), client);
        let tenant_limits = TenantLimits {
            rate: tenant.rate_limit.as_ref().map(RateLimitConfig::rate),
            max_concurrent_calls: tenant.max_concurrent_calls,
        };
        limits.push((tenant_id, tenant_limits));
    }
    Ok((
        TenantRegistry::new(grants),
        RateLimits::new(limits),
        Gateway::new(clients),
    ))
}

/// One instance of each configured credential provider, shared by the tenants that use it.
fn credential_providers(
    config: &Config,
    http: &reqwest::Client,
) -> anyhow::Result<HashMap<ProviderKind, Arc<dyn CredentialProvider>>> {
    let mut providers: HashMap<ProviderKind, Arc<dyn CredentialProvider>> = HashMap::new();
    providers.insert(
        ProviderKind::File,
        Arc::new(StaticCredentialProvider::new(
            config.credentials.file.clone(),
        )),
    );
    providers.insert(ProviderKind::Env, Arc::new(EnvCredentialProvider));
    if let Some(settings) = &config.credentials.vault {
        let vault = VaultCredentialProvider::new(http.clone(), vault_config(settings)?);
        providers.insert(ProviderKind::Vault, Arc::new(vault));
    }
    Ok(providers)
}

/// Resolves the Vault settings, reading the login secret from where the settings point.
fn vault_config(settings: &VaultSettings) -> anyhow::Result<VaultConfig> {
    let from_env = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.is_empty())
            .map(SecretString::from)
    };
    let auth = match &settings.auth {
        VaultAuthSettings::Token { token } => VaultAuth::Token(
            token
                .clone()
                .or_else(|| from_env("VAULT_TOKEN"))
                .context("vault token auth: set auth.token or VAULT_TOKEN")?,
        ),
        VaultAuthSettings::Approle {
            mount,
            role_id,
            secret_id,
            secret_id_file,
        } => {
            let secret_id = match (secret_id, secret_id_file) {
                (Some(secret_id), _) => SecretIdSource::Value(secret_id.clone()),
                (None, Some(path)) => SecretIdSource::File(path.clone()),
                (None, None) => SecretIdSource::Value(
                    from_env("VAULT_SECRET_ID")
                        .context("vault approle auth: set auth.secret_id, auth.secret_id_file or VAULT_SECRET_ID")?,
                ),
            };
            VaultAuth::AppRole {
                mount: mount.clone(),
                role_id: role_id.clone(),
                secret_id,
            }
        }
        VaultAuthSettings::Kubernetes {
            mount,
            role,
            jwt_path,
        } => VaultAuth::Kubernetes {
            mount: mount.clone(),
            role: role.clone(),
            jwt_path: jwt_path.clone(),
        },
    };
    Ok(VaultConfig {
        address: settings.address.clone(),
        mount: settings.mount.clone(),
        auth,
        refresh_after: Duration::from_secs(settings.refresh_after_seconds),
        max_stale: Duration::from_secs(settings.max_stale_seconds),
        timeout: Duration::from_secs(settings.timeout_seconds),
    })
}
