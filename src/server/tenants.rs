//! The per-tenant state built from a configuration — one snapshot per tenant (its grants, its
//! limiter, its org connection) in one registry, and the credential providers — and its
//! replacement when the configuration reloads.
//!
//! A reload builds every snapshot first and stores the new registry in a single swap only if all
//! of it built, so a bad configuration changes nothing. Calls in flight keep the snapshot they
//! were admitted with. A tenant whose org settings did not change keeps its org connection (and
//! so its cached token); one whose limits did not change keeps its limiter state.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::api::ApiState;
use crate::auth::{OrgAuthConfig, OrgAuthenticator};
use crate::config::{
    Config, ProviderKind, RateLimitConfig, TenantConfig, VaultAuthSettings, VaultSettings,
};
use crate::credentials::vault::{SecretIdSource, VaultAuth, VaultConfig};
use crate::credentials::{
    CredentialProvider, EnvCredentialProvider, StaticCredentialProvider, VaultCredentialProvider,
};
use crate::ratelimit::{SharedLimitsConfig, SharedStore, TenantLimiter, TenantLimits};
use crate::salesforce::{ApiBudget, SalesforceClient, http_client_builder};
use crate::tenancy::{SharedRegistry, TenantRegistry};
use crate::tenant::{CredentialKind, KeyGrant, Tenant, TenantId};

/// The limiter as the snapshot holds it: shared by the snapshots of successive configurations
/// while the tenant's limits stay the same.
pub(crate) type Limiter = Arc<TenantLimiter>;
/// One tenant's snapshot, as the server builds it.
pub(crate) type Snapshot = Tenant<SalesforceClient, Limiter>;

/// Time limit of one token request.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What an org connection is built from; equal settings let a reload keep the connection.
#[derive(Debug, Clone, PartialEq)]
struct OrgSettings {
    tenant: TenantConfig,
    /// For Vault tenants, the Vault settings they read through.
    vault: Option<String>,
}

/// The live per-tenant state, shared with the layers and services.
pub(crate) struct Tenants {
    pub(crate) registry: SharedRegistry<SalesforceClient, Limiter>,
    pub(crate) api: ApiState<Limiter>,
    http: reqwest::Client,
    file: Arc<StaticCredentialProvider>,
    env: Arc<EnvCredentialProvider>,
    /// What the registry in force was built from, for the next reload to compare against; its
    /// lock also keeps two reloads from interleaving.
    built_from: Mutex<BuiltFrom>,
    /// Redis-backed limits, set up at start (a change needs a restart).
    pub(crate) shared: Option<Arc<SharedStore>>,
}

/// Everything a configuration needs, built but not yet in force.
struct Built {
    registry: TenantRegistry<SalesforceClient, Limiter>,
    from: BuiltFrom,
}

/// The settings a registry was built from: each tenant's org settings, and the Vault provider
/// with the fingerprint of its settings.
#[derive(Default)]
struct BuiltFrom {
    org_settings: HashMap<TenantId, OrgSettings>,
    vault: Option<(String, Arc<VaultCredentialProvider>)>,
}

impl Tenants {
    /// Builds the state of a configuration.
    pub(crate) fn build(config: &Config, http: reqwest::Client) -> anyhow::Result<Self> {
        let shared = match &config.shared_limits {
            Some(settings) => Some(Arc::new(
                SharedStore::new(SharedLimitsConfig {
                    redis_url: settings.redis_url.clone(),
                    expected_replicas: settings.expected_replicas,
                    timeout: settings.timeout,
                    key_prefix: settings.key_prefix.clone(),
                })
                .context("shared_limits.redis_url")?,
            )),
            None => None,
        };
        let tenants = Self {
            registry: Arc::new(ArcSwap::from_pointee(TenantRegistry::default())),
            api: match &config.shared_limits {
                Some(settings) => {
                    ApiState::with_shared_idempotency(&settings.redis_url, &settings.key_prefix)
                        .context("shared_limits.redis_url")?
                }
                None => ApiState::new(),
            },
            http,
            file: Arc::new(StaticCredentialProvider::new(HashMap::new())),
            env: Arc::new(EnvCredentialProvider),
            built_from: Mutex::new(BuiltFrom::default()),
            shared,
        };
        tenants.reload(config)?;
        Ok(tenants)
    }

    /// The Vault provider in force, if the configuration has `[credentials.vault]`.
    pub(crate) fn vault(&self) -> Option<Arc<VaultCredentialProvider>> {
        self.built_from
            .lock()
            .vault
            .as_ref()
            .map(|(_, provider)| Arc::clone(provider))
    }

    /// Puts a new configuration in force, or changes nothing if any part of it fails to build.
    pub(crate) fn reload(&self, config: &Config) -> anyhow::Result<()> {
        let mut built_from = self.built_from.lock();
        let built = self.prepare(config, &built_from)?;
        self.file.replace(config.credentials.file.clone());
        // One store: a call is admitted by either the old registry or the new one, and finds its
        // tenant's grants, limiter and org connection in the same snapshot.
        self.registry.store(Arc::new(built.registry));
        *built_from = built.from;
        Ok(())
    }

    fn prepare(&self, config: &Config, previous_build: &BuiltFrom) -> anyhow::Result<Built> {
        let vault = match &config.credentials.vault {
            Some(settings) => {
                let fingerprint = vault_fingerprint(settings);
                match previous_build.vault.clone() {
                    Some((kept, provider)) if kept == fingerprint => Some((kept, provider)),
                    _ => Some((
                        fingerprint,
                        Arc::new(VaultCredentialProvider::new(
                            vault_http_client(settings)?,
                            vault_config(settings)?,
                        )),
                    )),
                }
            }
            None => None,
        };
        let previous = self.registry.load_full();
        let previous_settings = &previous_build.org_settings;
        let mut snapshots = Vec::with_capacity(config.tenants.len());
        let mut org_settings = HashMap::new();
        for (name, tenant) in &config.tenants {
            let tenant_id = TenantId::new(name);
            let api_keys = tenant
                .api_keys
                .iter()
                .map(|key| (&key.caller, key.sha256, CredentialKind::ApiKey));
            let certificates = tenant.client_certificates.iter().map(|certificate| {
                (
                    &certificate.caller,
                    certificate.sha256,
                    CredentialKind::ClientCertificate,
                )
            });
            let grants = api_keys
                .chain(certificates)
                .map(|(caller, hash, kind)| KeyGrant {
                    caller: Arc::from(caller.as_str()),
                    hash,
                    kind,
                })
                .collect();
            let settings = OrgSettings {
                tenant: TenantConfig {
                    api_keys: Vec::new(),
                    client_certificates: Vec::new(),
                    rate_limit: None,
                    max_concurrent_calls: None,
                    ..tenant.clone()
                },
                vault: match tenant.credentials_provider {
                    ProviderKind::Vault => {
                        vault.as_ref().map(|(fingerprint, _)| fingerprint.clone())
                    }
                    ProviderKind::File | ProviderKind::Env => None,
                },
            };
            let previous_snapshot = previous.get(&tenant_id);
            let kept_org = previous_settings
                .get(&tenant_id)
                .filter(|previous| **previous == settings)
                .and(previous_snapshot)
                .map(|snapshot| snapshot.org.clone());
            let org = match kept_org {
                Some(org) => org,
                None => self.connect(
                    &tenant_id,
                    tenant,
                    vault.as_ref().map(|(_, provider)| provider),
                )?,
            };
            let limits = TenantLimits {
                rate: tenant.rate_limit.as_ref().map(RateLimitConfig::rate),
                max_concurrent_calls: tenant.max_concurrent_calls,
            };
            let limiter = TenantLimiter::carried_over(
                previous_snapshot.map(|snapshot| &snapshot.limiter),
                limits,
                self.shared.as_deref(),
            );
            org_settings.insert(tenant_id.clone(), settings);
            snapshots.push(Snapshot {
                id: tenant_id,
                grants,
                limiter,
                org,
            });
        }
        Ok(Built {
            registry: TenantRegistry::new(snapshots),
            from: BuiltFrom {
                org_settings,
                vault,
            },
        })
    }

    fn connect(
        &self,
        name: &TenantId,
        tenant: &TenantConfig,
        vault: Option<&Arc<VaultCredentialProvider>>,
    ) -> anyhow::Result<SalesforceClient> {
        let provider: Arc<dyn CredentialProvider> = match tenant.credentials_provider {
            ProviderKind::File => self.file.clone(),
            ProviderKind::Env => self.env.clone(),
            ProviderKind::Vault => vault
                .cloned()
                .with_context(|| format!("tenant {name}: [credentials.vault] is not configured"))?,
        };
        let auth = OrgAuthenticator::new(
            self.http.clone(),
            OrgAuthConfig {
                tenant: name.clone(),
                login_url: tenant.login_url.clone(),
                grant: tenant.grant,
                credentials_provider: tenant.credentials_provider.name(),
                credentials_path: tenant.credentials_path.clone(),
                allowed_instance_hosts: tenant.allowed_instance_hosts.clone(),
                timeout: TOKEN_REQUEST_TIMEOUT,
                jwt_audience: tenant.jwt_audience.clone(),
            },
            provider,
        );
        tracing::info!(
            tenant = %name,
            grant = tenant.grant.name(),
            credentials_provider = tenant.credentials_provider.name(),
            credentials_path = %tenant.credentials_path,
            login_url = %tenant.login_url,
            "tenant org connection built"
        );
        if let Some(audience) = auth.jwt_audience_in_use() {
            tracing::debug!(tenant = %name, %audience, "JWT bearer assertions carry this aud");
        }
        Ok(SalesforceClient::new(
            self.http.clone(),
            auth,
            tenant.api_version.clone(),
            tenant.upstream_timeout,
            tenant.max_upstream_requests as usize,
            tenant.api_budget_percent.map(|ceiling_percent| ApiBudget {
                ceiling_percent,
                recheck_after: tenant.api_budget_recheck,
            }),
        ))
    }
}

/// A digest of everything the Vault provider is built from, secrets included, so that any change
/// (a new token, say) builds a new provider and nothing else does.
fn vault_fingerprint(settings: &VaultSettings) -> String {
    let secret = |value: &Option<SecretString>| {
        value
            .as_ref()
            .map(|secret| secret.expose_secret().to_owned())
    };
    let auth = match &settings.auth {
        VaultAuthSettings::Token { token } => format!("token|{:?}", secret(token)),
        VaultAuthSettings::Approle {
            mount,
            role_id,
            secret_id,
            secret_id_file,
        } => {
            format!(
                "approle|{mount}|{role_id}|{:?}|{secret_id_file:?}",
                secret(secret_id)
            )
        }
        VaultAuthSettings::Kubernetes {
            mount,
            role,
            jwt_path,
        } => format!("kubernetes|{mount}|{role}|{jwt_path:?}"),
    };
    let text = format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{auth}|{:?}|{:?}|{:?}",
        settings.address,
        settings.mount,
        settings.namespace,
        settings.ca_file,
        settings.client_cert_file,
        settings.client_key_file,
        settings.refresh_after,
        settings.max_stale,
        settings.timeout
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A path from the configuration, else from the environment variable Vault's own CLI reads.
fn path_or_env(configured: &Option<PathBuf>, variable: &str) -> Option<PathBuf> {
    configured.clone().or_else(|| {
        std::env::var_os(variable)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    })
}

/// The HTTP client for Vault: the shared settings, with the CA certificates of `ca_file`
/// (`VAULT_CACERT`) as the only roots, and the client certificate when one is configured.
fn vault_http_client(settings: &VaultSettings) -> anyhow::Result<reqwest::Client> {
    let ca_file = path_or_env(&settings.ca_file, "VAULT_CACERT");
    let client_cert = path_or_env(&settings.client_cert_file, "VAULT_CLIENT_CERT");
    let client_key = path_or_env(&settings.client_key_file, "VAULT_CLIENT_KEY");
    let read = |path: &PathBuf, what: &str| {
        std::fs::read(path)
            .with_context(|| format!("[credentials.vault] {what}: reading {}", path.display()))
    };
    let mut builder = http_client_builder();
    if let Some(path) = &ca_file {
        let certificates = reqwest::Certificate::from_pem_bundle(&read(path, "ca_file")?)
            .ok()
            .filter(|certificates| !certificates.is_empty())
            .with_context(|| {
                format!(
                    "[credentials.vault] ca_file {}: no PEM certificate in it",
                    path.display()
                )
            })?;
        builder = builder.tls_certs_only(certificates);
    }
    match (&client_cert, &client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert, "client_cert_file")?;
            pem.push(b'\n');
            pem.extend(read(key, "client_key_file")?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                anyhow::anyhow!(
                    "[credentials.vault] client_cert_file {} and client_key_file {}: not a PEM certificate and its private key",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => anyhow::bail!(
            "[credentials.vault]: client_cert_file and client_key_file (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY) go together"
        ),
    }
    builder
        .build()
        .context("[credentials.vault]: building the TLS client")
}

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
        namespace: settings
            .namespace
            .clone()
            .or_else(|| std::env::var("VAULT_NAMESPACE").ok())
            .filter(|namespace| !namespace.is_empty()),
        auth,
        refresh_after: settings.refresh_after,
        max_stale: settings.max_stale,
        timeout: settings.timeout,
    })
}
