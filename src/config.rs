//! Typed, validated configuration: a TOML file (`--config sfgate.toml`) with `SFGATE__` environment
//! overrides (`SFGATE__LISTEN=0.0.0.0:50051`, `SFGATE__TENANTS__ACME__API_VERSION=v65.0`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::auth::OAuthGrant;
use crate::credentials::{CREDENTIAL_KEYS, OrgCredentials, optional_secret};
pub use crate::telemetry::TelemetrySettings;
use crate::tenant::ApiKeyHash;

/// The API version used when a tenant names none.
pub const DEFAULT_API_VERSION: &str = "v66.0";

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the gRPC server listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How long in-flight calls may take to finish after SIGTERM/SIGINT
    /// (`shutdown_grace_seconds`).
    #[serde(
        rename = "shutdown_grace_seconds",
        default = "default_shutdown_grace",
        deserialize_with = "seconds"
    )]
    pub shutdown_grace: Duration,
    /// How often the file is checked for changes to reload (`reload_poll_seconds`; 0, here
    /// `None`: only on SIGHUP).
    #[serde(
        rename = "reload_poll_seconds",
        default = "default_reload_poll",
        deserialize_with = "seconds_or_never"
    )]
    pub reload_poll: Option<Duration>,
    /// Tenants by id (the value of `x-tenant-id`).
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Where the tenants' Salesforce secrets come from.
    #[serde(default)]
    pub credentials: CredentialsConfig,
    /// Share tenant rate limits across replicas through Redis.
    pub shared_limits: Option<SharedLimitsSettings>,
    /// Serve gRPC over TLS, optionally requiring client certificates (mutual TLS).
    pub tls: Option<TlsSettings>,
    /// The admin HTTP port: `/metrics`, `/healthz`, `/readyz`.
    pub admin: Option<AdminSettings>,
    /// Trace export.
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    /// Limits of the gRPC port: connections, streams, timeouts, keepalive.
    #[serde(default)]
    pub front_door: FrontDoorSettings,
    /// HTTP/JSON and gRPC-Web on the same port: which browser origins may call (CORS).
    #[serde(default)]
    pub http: HttpSettings,
    /// Schema files (`.proto` written by `sfgate schema`) whose typed services are served, and
    /// the tenants each is for (`[[schemas]]`).
    #[serde(default)]
    pub schemas: Vec<SchemaSettings>,
}

/// A schema file served (`[[schemas]]`): its services answer calls of these tenants.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSettings {
    /// The `.proto` file (relative to the working directory, like the other paths here). It is
    /// compiled at start and on every reload.
    pub file: PathBuf,
    /// The tenants whose orgs it describes.
    pub tenants: Vec<String>,
}

/// Browser access to the port (`[http]`): CORS is off unless origins are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Origins whose pages may call HTTP/JSON and gRPC-Web (`https://agent.example.com`, exactly
    /// as browsers send `Origin`), or `["*"]` for any.
    pub cors_allowed_origins: Vec<String>,
}

impl HttpSettings {
    fn validate(&self) -> anyhow::Result<()> {
        for origin in &self.cors_allowed_origins {
            if origin == "*" {
                continue;
            }
            let parsed = Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .filter(|url| url.origin().ascii_serialization() == *origin);
            if parsed.is_none() {
                bail!(
                    "http.cors_allowed_origins: {origin:?} is not an origin such as https://agent.example.com (scheme, host, optional port; no path or slash)"
                );
            }
        }
        Ok(())
    }
}

/// Limits of the gRPC port (`[front_door]`), so that no client can hold the gateway's memory or
/// sockets by opening connections or streams and then doing nothing with them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrontDoorSettings {
    /// Connections open at once; a connection beyond it is closed as soon as it is accepted.
    pub max_connections: u32,
    /// HTTP/2 streams (calls) open at once on one connection (`SETTINGS_MAX_CONCURRENT_STREAMS`);
    /// a client opening more has them refused (REFUSED_STREAM, which clients retry).
    pub max_concurrent_streams: u32,
    /// A new connection must start talking (its TLS handshake done, or its first bytes sent)
    /// within this (`header_timeout_seconds`); HTTP/2 bounds each call's headers by
    /// `max_header_list_size` (16 KiB).
    #[serde(rename = "header_timeout_seconds", deserialize_with = "seconds")]
    pub header_timeout: Duration,
    /// A connection without an open call for this long is closed with GOAWAY
    /// (`idle_timeout_seconds`; 0: never).
    #[serde(rename = "idle_timeout_seconds", deserialize_with = "seconds_or_never")]
    pub idle_timeout: Option<Duration>,
    /// A call's request message must have arrived within this after its headers
    /// (`request_body_timeout_seconds`); a call still waiting gets DEADLINE_EXCEEDED.
    #[serde(rename = "request_body_timeout_seconds", deserialize_with = "seconds")]
    pub request_body_timeout: Duration,
    /// The gateway pings each connection this often (`keepalive_interval_seconds`; 0: never)
    /// and closes it when a ping is not answered within `keepalive_timeout_seconds`, so that
    /// connections whose client vanished are closed.
    #[serde(
        rename = "keepalive_interval_seconds",
        deserialize_with = "seconds_or_never"
    )]
    pub keepalive_interval: Option<Duration>,
    /// How long a keepalive ping may go unanswered (`keepalive_timeout_seconds`).
    #[serde(rename = "keepalive_timeout_seconds", deserialize_with = "seconds")]
    pub keepalive_timeout: Duration,
}

/// The longest any front-door time-out may be.
const MAX_FRONT_DOOR_TIMEOUT: Duration = Duration::from_secs(86_400);

impl FrontDoorSettings {
    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=1_000_000).contains(&self.max_connections) {
            bail!("front_door.max_connections must be from 1 to 1000000");
        }
        if !(1..=100_000).contains(&self.max_concurrent_streams) {
            bail!("front_door.max_concurrent_streams must be from 1 to 100000");
        }
        for (key, value) in [
            ("header_timeout_seconds", self.header_timeout),
            ("request_body_timeout_seconds", self.request_body_timeout),
            ("keepalive_timeout_seconds", self.keepalive_timeout),
        ] {
            if value.is_zero() || value > MAX_FRONT_DOOR_TIMEOUT {
                bail!("front_door.{key} must be from 1 to 86400 (a day)");
            }
        }
        for (key, value) in [
            ("idle_timeout_seconds", self.idle_timeout),
            ("keepalive_interval_seconds", self.keepalive_interval),
        ] {
            if value.is_some_and(|value| value > MAX_FRONT_DOOR_TIMEOUT) {
                bail!("front_door.{key} must be from 0 (never) to 86400 (a day)");
            }
        }
        Ok(())
    }
}

impl Default for FrontDoorSettings {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_concurrent_streams: 1_024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(60)),
            request_body_timeout: Duration::from_secs(30),
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

/// The admin HTTP server, apart from the gRPC port so that it is never exposed with it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Where it listens, e.g. `0.0.0.0:9464`.
    pub listen: SocketAddr,
}

/// TLS for the gRPC port.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// The server's private key (PEM).
    pub key_file: PathBuf,
    /// The CA that signs client certificates (PEM); enables mutual TLS.
    pub client_ca_file: Option<PathBuf>,
    /// Refuse connections without a client certificate (otherwise API keys remain an option).
    #[serde(default)]
    pub require_client_certificate: bool,
}

/// Shared mode: the replicas of one deployment enforce each tenant's rate together.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedLimitsSettings {
    /// The Redis URL, e.g. `redis://redis.sfgate.svc:6379`.
    pub redis_url: String,
    /// The number of replicas; while Redis is down each enforces `1 / expected_replicas` of a
    /// tenant's rate locally.
    pub expected_replicas: u32,
    /// The longest a call waits for Redis's decision before the local share decides
    /// (`timeout_ms`).
    #[serde(
        rename = "timeout_ms",
        default = "default_redis_timeout",
        deserialize_with = "milliseconds"
    )]
    pub timeout: Duration,
    /// Prefix of the Redis keys, so that deployments sharing one Redis keep separate limits.
    #[serde(default = "default_redis_key_prefix")]
    pub key_prefix: String,
}

fn default_redis_key_prefix() -> String {
    "sfgate".to_owned()
}

fn default_redis_timeout() -> Duration {
    Duration::from_millis(50)
}

/// One tenant: one Salesforce org and the callers allowed to use it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The login host for token requests: `https://login.salesforce.com`, `https://test.salesforce.com`
    /// or the org's My Domain.
    pub login_url: Url,
    /// The REST API version, e.g. `v66.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The OAuth flow.
    pub grant: OAuthGrant,
    /// The provider holding this org's secrets.
    #[serde(default)]
    pub credentials_provider: ProviderKind,
    /// Where that provider keeps them (a Vault KV path such as `sfgate/acme`).
    pub credentials_path: String,
    /// The `aud` of JWT bearer assertions; default: the login URL's origin.
    pub jwt_audience: Option<String>,
    /// Hosts `instance_url` may point at.
    #[serde(default = "default_allowed_instance_hosts")]
    pub allowed_instance_hosts: Vec<String>,
    /// Time limit of one Salesforce request (`upstream_timeout_ms`).
    #[serde(
        rename = "upstream_timeout_ms",
        default = "default_upstream_timeout",
        deserialize_with = "milliseconds"
    )]
    pub upstream_timeout: Duration,
    /// The most requests to this org in flight at once, each on its own connection; more calls
    /// wait their turn within their deadline.
    #[serde(default = "default_max_upstream_requests")]
    pub max_upstream_requests: u32,
    /// The callers allowed to act for this tenant.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// Callers identified by their client certificate (mutual TLS).
    #[serde(default)]
    pub client_certificates: Vec<ClientCertificateConfig>,
    /// The tenant's request rate; unlimited when absent.
    pub rate_limit: Option<RateLimitConfig>,
    /// The most calls of this tenant in flight at once; unlimited when absent.
    pub max_concurrent_calls: Option<u32>,
    /// Refuse calls once the org has used this percentage of its daily API requests (e.g. 90).
    pub api_budget_percent: Option<f64>,
    /// While refusing for the budget, let one call through this often to re-read the usage
    /// (`api_budget_recheck_seconds`).
    #[serde(
        rename = "api_budget_recheck_seconds",
        default = "default_api_budget_recheck",
        deserialize_with = "seconds"
    )]
    pub api_budget_recheck: Duration,
}

/// A caller identified by the SHA-256 fingerprint of its client certificate
/// (`openssl x509 -in client.pem -noout -fingerprint -sha256`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificateConfig {
    /// The caller's name, for logs.
    pub caller: String,
    /// The certificate's SHA-256 fingerprint, hex with or without colons.
    #[serde(deserialize_with = "certificate_fingerprint")]
    pub sha256: ApiKeyHash,
}

/// A request rate with a burst.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second (fractions allowed: 0.5 is one every two seconds).
    pub requests_per_second: f64,
    /// Requests allowed at once after a quiet period; default: one second's worth.
    pub burst: Option<u32>,
}

impl RateLimitConfig {
    /// The limiter's rate.
    pub fn rate(&self) -> crate::ratelimit::Rate {
        let burst = self
            .burst
            .unwrap_or_else(|| self.requests_per_second.ceil().max(1.0) as u32);
        crate::ratelimit::Rate {
            per_second: self.requests_per_second,
            burst,
        }
    }
}

/// A caller's key, stored as its SHA-256 (`sfgate hash-key <key>` prints it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The caller's name, for logs.
    pub caller: String,
    /// SHA-256 of the key, 64 hex digits.
    #[serde(deserialize_with = "api_key_hash")]
    pub sha256: ApiKeyHash,
}

/// The credential providers tenants may use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// Vault or OpenBao, for production.
    pub vault: Option<VaultSettings>,
    /// Secrets written in this file, by path: for development only.
    #[serde(default)]
    pub file: HashMap<String, OrgCredentials>,
}

/// Which provider holds a tenant's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// `[credentials.vault]`.
    #[default]
    Vault,
    /// `[credentials.file."<path>"]` in this file.
    File,
    /// `SFGATE_SECRET_<PATH>_<KEY>` environment variables.
    Env,
}

impl ProviderKind {
    /// The configuration's name for it, e.g. `vault`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vault => "vault",
            Self::File => "file",
            Self::Env => "env",
        }
    }
}

/// Where Vault is and how sfgate logs in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSettings {
    /// Vault's address, e.g. `https://vault.internal:8200`.
    pub address: Url,
    /// The KV v2 mount holding the secrets.
    #[serde(default = "default_kv_mount")]
    pub mount: String,
    /// The namespace (Vault Enterprise, OpenBao) of the mounts and the auth method, sent as
    /// `X-Vault-Namespace`; else `VAULT_NAMESPACE`; else the root namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The CA certificates (PEM) Vault's server certificate is checked against, instead of the
    /// system's; else `VAULT_CACERT`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) for Vault listeners that require one; else `VAULT_CLIENT_CERT`.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM); else `VAULT_CLIENT_KEY`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// How sfgate logs in.
    pub auth: VaultAuthSettings,
    /// A cached secret older than this is re-read, so rotation is picked up within this time
    /// (`refresh_after_seconds`).
    #[serde(
        rename = "refresh_after_seconds",
        default = "default_refresh_after",
        deserialize_with = "seconds"
    )]
    pub refresh_after: Duration,
    /// While Vault is unreachable, cached secrets keep serving until they are this old
    /// (`max_stale_seconds`).
    #[serde(
        rename = "max_stale_seconds",
        default = "default_max_stale",
        deserialize_with = "seconds"
    )]
    pub max_stale: Duration,
    /// Time limit of one Vault request (`timeout_seconds`).
    #[serde(
        rename = "timeout_seconds",
        default = "default_vault_timeout",
        deserialize_with = "seconds"
    )]
    pub timeout: Duration,
}

/// The Vault login method.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultAuthSettings {
    /// A token: `token`, else the `VAULT_TOKEN` environment variable.
    Token {
        /// The token (prefer the environment).
        #[serde(default, deserialize_with = "optional_secret")]
        token: Option<SecretString>,
    },
    /// AppRole: `role_id` and a secret id from `secret_id`, `secret_id_file` or `VAULT_SECRET_ID`.
    Approle {
        /// The auth mount.
        #[serde(default = "default_approle_mount")]
        mount: String,
        /// The role id.
        role_id: String,
        /// The secret id (prefer a file or the environment).
        #[serde(default, deserialize_with = "optional_secret")]
        secret_id: Option<SecretString>,
        /// A file holding the secret id.
        secret_id_file: Option<PathBuf>,
    },
    /// Kubernetes: the pod's service-account token, for a Vault role bound to it.
    Kubernetes {
        /// The auth mount.
        #[serde(default = "default_kubernetes_mount")]
        mount: String,
        /// The Vault role.
        role: String,
        /// Where the service-account token is mounted.
        #[serde(default = "default_service_account_token_path")]
        jwt_path: PathBuf,
    },
}

fn default_kv_mount() -> String {
    "secret".to_owned()
}

fn default_approle_mount() -> String {
    "approle".to_owned()
}

fn default_kubernetes_mount() -> String {
    "kubernetes".to_owned()
}

fn default_service_account_token_path() -> PathBuf {
    PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token")
}

fn default_refresh_after() -> Duration {
    Duration::from_secs(300)
}

fn default_max_stale() -> Duration {
    Duration::from_secs(3600)
}

fn default_vault_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}

/// The default interval at which a tenant over its API budget re-reads the org's usage.
fn default_api_budget_recheck() -> Duration {
    Duration::from_secs(60)
}

fn default_reload_poll() -> Option<Duration> {
    Some(Duration::from_secs(2))
}

fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

fn default_allowed_instance_hosts() -> Vec<String> {
    vec!["*.salesforce.com".to_owned(), "*.force.com".to_owned()]
}

fn default_max_upstream_requests() -> u32 {
    256
}

fn default_upstream_timeout() -> Duration {
    Duration::from_secs(30)
}

/// A whole number of seconds.
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// A whole number of seconds; 0 means never.
fn seconds_or_never<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let seconds = u64::deserialize(deserializer)?;
    Ok((seconds > 0).then(|| Duration::from_secs(seconds)))
}

/// A whole number of milliseconds.
fn milliseconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

/// An API key's SHA-256, 64 hex digits.
fn api_key_hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ApiKeyHash, D::Error> {
    let text = String::deserialize(deserializer)?;
    ApiKeyHash::from_hex(&text).ok_or_else(|| D::Error::custom("sha256 must be 64 hex digits"))
}

/// A certificate's SHA-256 fingerprint, hex with or without colons.
fn certificate_fingerprint<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<ApiKeyHash, D::Error> {
    let text = String::deserialize(deserializer)?;
    ApiKeyHash::from_fingerprint(&text).ok_or_else(|| {
        D::Error::custom("sha256 must be the certificate's SHA-256 fingerprint (64 hex digits)")
    })
}

/// The secrets of `[credentials.vault.auth]`; with [`CREDENTIAL_KEYS`] (those of
/// `[credentials.file.*]`), the keys whose values are text however they look.
const VAULT_AUTH_SECRET_KEYS: [&str; 2] = ["token", "secret_id"];

/// Whether an environment override's key (`credentials__file__org__password` before the split,
/// `credentials.file.org.password` after it) names a text value.
fn is_text_key(key: &str) -> bool {
    let key = key.replace("__", ".");
    let last = key.rsplit('.').next().unwrap_or(&key);
    key.starts_with("credentials")
        && CREDENTIAL_KEYS
            .iter()
            .chain(&VAULT_AUTH_SECRET_KEYS)
            .any(|text| last.eq_ignore_ascii_case(text))
}

/// A configuration error without the lines of the file it quotes (a TOML syntax error shows the
/// offending line, which may hold a secret), keeping where and what.
fn without_source_excerpts(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            let quoted = line
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit());
            !quoted.trim_start().starts_with('|')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What [`Config::single_tenant`] is built from.
#[derive(Debug)]
pub struct SingleTenant {
    /// The tenant id callers name in `x-tenant-id`.
    pub tenant: String,
    /// Where the gRPC server listens.
    pub listen: SocketAddr,
    /// The org's login URL (also its instance host).
    pub login_url: Url,
    /// The org's credentials, for the password grant.
    pub credentials: OrgCredentials,
    /// The one caller's name, for logs.
    pub caller: String,
    /// The caller's API key.
    pub api_key: SecretString,
}

impl Config {
    /// A configuration of one tenant, reached with the password grant and credentials held in
    /// the configuration itself (the file provider): the no-config run in front of a local org,
    /// and the starting point of tests. Everything else takes its default.
    pub fn single_tenant(single: SingleTenant) -> Self {
        use secrecy::ExposeSecret as _;
        let SingleTenant {
            tenant,
            listen,
            login_url,
            credentials,
            caller,
            api_key,
        } = single;
        let instance_host = login_url.host_str().unwrap_or("127.0.0.1").to_owned();
        let tenant_config = TenantConfig {
            login_url,
            api_version: default_api_version(),
            grant: OAuthGrant::Password,
            credentials_provider: ProviderKind::File,
            credentials_path: tenant.clone(),
            jwt_audience: None,
            allowed_instance_hosts: vec![instance_host],
            upstream_timeout: default_upstream_timeout(),
            max_upstream_requests: default_max_upstream_requests(),
            api_keys: vec![ApiKeyConfig {
                caller,
                sha256: ApiKeyHash::of_key(api_key.expose_secret()),
            }],
            client_certificates: Vec::new(),
            rate_limit: None,
            max_concurrent_calls: None,
            api_budget_percent: None,
            api_budget_recheck: default_api_budget_recheck(),
        };
        Self {
            listen,
            shutdown_grace: default_shutdown_grace(),
            reload_poll: default_reload_poll(),
            tenants: BTreeMap::from([(tenant.clone(), tenant_config)]),
            credentials: CredentialsConfig {
                vault: None,
                file: HashMap::from([(tenant, credentials)]),
            },
            shared_limits: None,
            tls: None,
            admin: None,
            telemetry: TelemetrySettings::default(),
            front_door: FrontDoorSettings::default(),
            http: HttpSettings::default(),
            schemas: Vec::new(),
        }
    }

    /// The schema files it names (`[[schemas]] file`), in order.
    pub fn schema_files(&self) -> Vec<PathBuf> {
        self.schemas
            .iter()
            .map(|schema| schema.file.clone())
            .collect()
    }

    /// Loads a file and the `SFGATE__` environment overrides, then validates.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            bail!("configuration file {} does not exist", path.display());
        }
        let overrides = Env::prefixed("SFGATE__").split("__");
        let mut figment = Figment::new()
            .merge(Toml::file(path))
            .merge(overrides.clone().filter(|key| !is_text_key(key.as_str())));
        // Env reads `0012` as the number 12 and `"x"` as x: secrets are taken as written.
        for (key, value) in overrides.iter() {
            if is_text_key(key.as_str()) {
                figment = figment.merge(Serialized::default(key.as_str(), value));
            }
        }
        Self::extract(figment).with_context(|| format!("reading configuration {}", path.display()))
    }

    /// Reads configuration text alone (no `SFGATE__` environment), then validates.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        Self::extract(Figment::from(Toml::string(text)))
    }

    fn extract(figment: Figment) -> anyhow::Result<Self> {
        let config: Config = figment
            .extract()
            .map_err(|error| anyhow::anyhow!(without_source_excerpts(&error.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, versions, hashes, references between sections.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(shared) = &self.shared_limits {
            if shared.expected_replicas == 0 {
                bail!("shared_limits.expected_replicas must be at least 1");
            }
            if shared.timeout.is_zero() {
                bail!("shared_limits.timeout_ms must be at least 1");
            }
            if !shared.redis_url.starts_with("redis://")
                && !shared.redis_url.starts_with("rediss://")
            {
                bail!("shared_limits.redis_url must be a redis:// or rediss:// URL");
            }
        }
        if let Some(tls) = &self.tls
            && tls.require_client_certificate
            && tls.client_ca_file.is_none()
        {
            bail!(
                "tls.require_client_certificate needs tls.client_ca_file to check client certificates against"
            );
        }
        self.front_door.validate()?;
        self.http.validate()?;
        if !(0.0..=1.0).contains(&self.telemetry.sample_ratio) {
            bail!("telemetry.sample_ratio must be from 0 to 1");
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint
            && !endpoint.starts_with("http://")
        {
            bail!(
                "telemetry.otlp_endpoint {endpoint:?}: expected http://host:4317 (OTLP/gRPC without TLS, e.g. a collector on the node or in the cluster)"
            );
        }
        for (index, schema) in self.schemas.iter().enumerate() {
            let file = schema.file.display();
            if schema.tenants.is_empty() {
                bail!("schemas[{index}] ({file}): tenants is empty: name the tenants it is for");
            }
            if let Some(unknown) = schema
                .tenants
                .iter()
                .find(|tenant| !self.tenants.contains_key(*tenant))
            {
                bail!("schemas[{index}] ({file}): tenant {unknown:?} is not configured");
            }
        }
        if self.tenants.is_empty() {
            bail!("no tenants configured: add a [tenants.<id>] section");
        }
        for (id, tenant) in &self.tenants {
            let valid_id = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_id {
                bail!("tenant id {id:?}: use 1-64 letters, digits, '-' or '_'");
            }
            if !is_api_version(&tenant.api_version) {
                bail!(
                    "tenants.{id}.api_version {:?}: expected the form v66.0",
                    tenant.api_version
                );
            }
            if tenant.upstream_timeout.is_zero() {
                bail!("tenants.{id}.upstream_timeout_ms must be positive");
            }
            if !(1..=10_000).contains(&tenant.max_upstream_requests) {
                bail!("tenants.{id}.max_upstream_requests must be from 1 to 10000");
            }
            if let Some(rate) = &tenant.rate_limit
                && !((0.001..=1_000_000.0).contains(&rate.requests_per_second)
                    && rate.burst != Some(0))
            {
                bail!(
                    "tenants.{id}.rate_limit: requests_per_second must be from 0.001 to 1000000, burst at least 1"
                );
            }
            if tenant.max_concurrent_calls == Some(0) {
                bail!("tenants.{id}.max_concurrent_calls must be at least 1");
            }
            if let Some(percent) = tenant.api_budget_percent
                && !(percent > 0.0 && percent <= 100.0)
            {
                bail!("tenants.{id}.api_budget_percent must be in (0, 100], e.g. 90");
            }
            if tenant.allowed_instance_hosts.is_empty() {
                bail!("tenants.{id}.allowed_instance_hosts must not be empty");
            }
            if !tenant.client_certificates.is_empty()
                && self
                    .tls
                    .as_ref()
                    .is_none_or(|tls| tls.client_ca_file.is_none())
            {
                bail!(
                    "tenants.{id}.client_certificates need [tls] with client_ca_file (mutual TLS)"
                );
            }
            let login_host = tenant.login_url.host_str().unwrap_or_default();
            if tenant.grant == OAuthGrant::ClientCredentials
                && matches!(login_host, "login.salesforce.com" | "test.salesforce.com")
            {
                bail!(
                    "tenants.{id}: the client_credentials flow needs the org's My Domain as login_url \
                     (https://<domain>.my.salesforce.com), not {login_host}"
                );
            }
            match tenant.credentials_provider {
                ProviderKind::Vault if self.credentials.vault.is_none() => {
                    bail!(
                        "tenants.{id} uses credentials_provider \"vault\" but there is no [credentials.vault] section"
                    )
                }
                ProviderKind::File
                    if !self.credentials.file.contains_key(&tenant.credentials_path) =>
                {
                    bail!(
                        "tenants.{id}.credentials_path {:?} has no [credentials.file.\"{}\"] section",
                        tenant.credentials_path,
                        tenant.credentials_path
                    )
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn is_api_version(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|number| number.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
listen = "127.0.0.1:50052"

[tenants.acme]
login_url = "https://acme.my.salesforce.com"
grant = "client_credentials"
credentials_path = "sfgate/acme"
credentials_provider = "file"
api_keys = [{ caller = "ivr", sha256 = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" }]

[credentials.file."sfgate/acme"]
client_id = "3MVG9"
client_secret = "shh"
"#;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn loads_a_file_with_defaults() {
        let file = write(EXAMPLE);
        let config = Config::load(file.path()).unwrap();
        let acme = &config.tenants["acme"];
        assert_eq!(config.listen.port(), 50052);
        assert_eq!(acme.api_version, DEFAULT_API_VERSION);
        assert_eq!(
            acme.allowed_instance_hosts,
            default_allowed_instance_hosts()
        );
        assert_eq!(acme.upstream_timeout, Duration::from_secs(30));
        assert_eq!(config.reload_poll, Some(Duration::from_secs(2)));
        assert_eq!(
            acme.api_keys[0].sha256,
            ApiKeyHash::from_hex(
                "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
            )
            .unwrap()
        );
    }

    #[test]
    fn rejects_what_would_fail_later() {
        for (broken, complaint) in [
            (
                EXAMPLE.replace(
                    "credentials_path = \"sfgate/acme\"",
                    "credentials_path = \"sfgate/other\"",
                ),
                "has no [credentials.file",
            ),
            (
                EXAMPLE.replace("credentials_provider = \"file\"\n", ""),
                "no [credentials.vault] section",
            ),
            (EXAMPLE.replace("2bb80d", "zz"), "64 hex digits"),
            (
                EXAMPLE.replace(
                    "[tenants.acme]",
                    "[tenants.acme]\nrate_limit = { requests_per_second = 0 }",
                ),
                "requests_per_second must be from 0.001 to 1000000",
            ),
            (
                EXAMPLE.replace("[tenants.acme]", "[tenants.acme]\napi_budget_percent = 120"),
                "api_budget_percent must be in (0, 100]",
            ),
            (
                EXAMPLE.replace("acme.my.salesforce.com", "login.salesforce.com"),
                "needs the org's My Domain",
            ),
            (
                EXAMPLE.replace("[tenants.acme]", "[tenants.acme]\napi_version = \"66\""),
                "v66.0",
            ),
            (EXAMPLE.replace("listen", "listne"), "unknown field"),
        ] {
            let file = write(&broken);
            let error = format!("{:#}", Config::load(file.path()).unwrap_err());
            assert!(error.contains(complaint), "{error}");
        }
    }

    #[test]
    fn reads_vault_settings_with_defaults() {
        let vault = EXAMPLE.replace("credentials_provider = \"file\"\n", "")
            + "[credentials.vault]\naddress = \"https://vault.internal:8200\"\nauth = { method = \"approle\", role_id = \"r-1\", secret_id_file = \"/run/secret_id\" }\n";
        let file = write(&vault);
        let config = Config::load(file.path()).unwrap();
        let settings = config.credentials.vault.unwrap();
        assert_eq!(settings.mount, "secret");
        assert_eq!(settings.refresh_after, Duration::from_secs(300));
        assert!(
            matches!(settings.auth, VaultAuthSettings::Approle { ref mount, .. } if mount == "approle")
        );
        assert_eq!(
            config.tenants["acme"].credentials_provider,
            ProviderKind::Vault
        );
    }

    #[test]
    fn secrets_made_of_digits_are_text_and_never_echoed() {
        let numeric = EXAMPLE.replace("client_secret = \"shh\"", "client_secret = 12345678");
        let file = write(&numeric);
        let config = Config::load(file.path()).unwrap();
        let secret = config.credentials.file["sfgate/acme"]
            .client_secret
            .as_ref()
            .unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(secret), "12345678");
        // Invalid TOML (a leading zero): the error says where, not what the line holds.
        let broken = EXAMPLE.replace("client_secret = \"shh\"", "client_secret = 0099887766");
        let file = write(&broken);
        let error = format!("{:#}", Config::load(file.path()).unwrap_err());
        assert!(!error.contains("0099887766"), "{error}");
        assert!(error.contains("line"), "{error}");
    }

    #[test]
    fn the_secret_keys_of_environment_overrides_are_known() {
        assert!(is_text_key("credentials__file__org__client_secret"));
        assert!(is_text_key("credentials.vault.auth.token"));
        assert!(!is_text_key("tenants.acme.api_version"));
        assert!(!is_text_key("listen"));
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let file = write(EXAMPLE);
        let config = Config::load(file.path()).unwrap();
        assert!(!format!("{config:?}").contains("shh"));
    }
}
