//! Credentials from Vault or OpenBao: KV v2 (`GET /v1/{mount}/data/{path}` -> `data.data`), with
//! token, AppRole or Kubernetes service-account login.
//!
//! Secrets are cached: a cached secret is re-read once it is older than `refresh_after` (so a
//! rotation is picked up without a restart), and while Vault is unreachable a cached secret keeps
//! serving until it is older than `max_stale`. The Vault token is renewed once two thirds of its
//! TTL have passed, or replaced by a new login when it cannot be renewed.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::HeaderValue;
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{CredentialError, CredentialProvider, OrgCredentials};

const PROVIDER: &str = "vault";

/// How sfgate logs in to Vault.
#[derive(Clone)]
pub enum VaultAuth {
    /// A Vault token given to sfgate (renewed if renewable).
    Token(SecretString),
    /// AppRole login with a role id and secret id.
    AppRole {
        /// The auth mount, usually `approle`.
        mount: String,
        /// The role id.
        role_id: String,
        /// Where the secret id comes from; a file is re-read at each login, so a rotated or
        /// single-use secret id works without a restart.
        secret_id: SecretIdSource,
    },
    /// Kubernetes login with the pod's service-account token.
    Kubernetes {
        /// The auth mount, usually `kubernetes`.
        mount: String,
        /// The Vault role bound to the service account.
        role: String,
        /// Where the service-account token is mounted.
        jwt_path: PathBuf,
    },
}

impl fmt::Debug for VaultAuth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => formatter.write_str("Token([REDACTED])"),
            Self::AppRole { mount, role_id, .. } => formatter
                .debug_struct("AppRole")
                .field("mount", mount)
                .field("role_id", role_id)
                .field("secret_id", &"[REDACTED]")
                .finish(),
            Self::Kubernetes {
                mount,
                role,
                jwt_path,
            } => formatter
                .debug_struct("Kubernetes")
                .field("mount", mount)
                .field("role", role)
                .field("jwt_path", jwt_path)
                .finish(),
        }
    }
}

/// A secret given directly, or the file that holds it (`Debug` shows `[REDACTED]` for a value).
#[derive(Clone, Debug)]
pub enum SecretIdSource {
    /// The value itself.
    Value(SecretString),
    /// A file holding the value (read at each use).
    File(PathBuf),
}

/// How long a failed Vault login is reported to later callers before Vault is tried again.
const LOGIN_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Where Vault is and how to use it.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// Vault's address, e.g. `https://vault.internal:8200`.
    pub address: Url,
    /// The KV v2 mount holding the tenants' secrets, e.g. `secret`.
    pub mount: String,
    /// The namespace (Vault Enterprise, OpenBao) every request goes to, sent as
    /// `X-Vault-Namespace`; `None`: the root namespace.
    pub namespace: Option<String>,
    /// How to log in.
    pub auth: VaultAuth,
    /// A cached secret older than this is re-read.
    pub refresh_after: Duration,
    /// While Vault is unreachable, a cached secret serves until it is this old.
    pub max_stale: Duration,
    /// Time limit of one Vault request.
    pub timeout: Duration,
}

/// Reads tenant credentials from Vault.
pub struct VaultCredentialProvider {
    http: reqwest::Client,
    config: VaultConfig,
    token: tokio::sync::Mutex<Option<VaultToken>>,
    last_login_failure: Mutex<Option<(Instant, String)>>,
    cache: Mutex<HashMap<String, CachedSecret>>,
}

impl fmt::Debug for VaultCredentialProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("VaultCredentialProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct VaultToken {
    value: SecretString,
    /// When to renew (or log in again); `None` for tokens that never expire.
    renew_at: Option<Instant>,
    expires_at: Option<Instant>,
    renewable: bool,
}

#[derive(Clone)]
struct CachedSecret {
    credentials: OrgCredentials,
    fetched: Instant,
}

#[derive(Deserialize)]
struct AuthResponse {
    auth: AuthBody,
}

#[derive(Deserialize)]
struct AuthBody {
    client_token: SecretString,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct LookupResponse {
    data: LookupBody,
}

#[derive(Deserialize)]
struct LookupBody {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
    /// `null` for tokens that never expire (a TTL of 0 may also mean "about to expire").
    expire_time: Option<String>,
}

#[derive(Deserialize)]
struct KvResponse {
    data: KvData,
}

#[derive(Deserialize)]
struct KvData {
    data: HashMap<String, SecretString>,
}

impl VaultCredentialProvider {
    /// Creates the provider; nothing is contacted until the first secret is needed.
    pub fn new(http: reqwest::Client, config: VaultConfig) -> Self {
        Self {
            http,
            config,
            token: tokio::sync::Mutex::new(None),
            last_login_failure: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Logs in (or checks the configured token) now; answers how, e.g. `approle at auth/approle`.
    pub async fn check_login(&self) -> Result<String, CredentialError> {
        self.token().await?;
        Ok(match &self.config.auth {
            VaultAuth::Token(_) => "a token (VAULT_TOKEN or token)".to_owned(),
            VaultAuth::AppRole { mount, .. } => format!("approle at auth/{mount}"),
            VaultAuth::Kubernetes { mount, .. } => format!("kubernetes at auth/{mount}"),
        })
    }

    fn unavailable(&self, reason: impl Into<String>) -> CredentialError {
        CredentialError::Unavailable {
            provider: PROVIDER,
            reason: reason.into(),
        }
    }

    /// A request to the Vault API at `v1/{segments}`, with the time limit and the namespace.
    fn request(
        &self,
        method: reqwest::Method,
        segments: &[&str],
    ) -> Result<reqwest::RequestBuilder, CredentialError> {
        let request = self
            .http
            .request(method, self.url(segments)?)
            .timeout(self.config.timeout);
        Ok(match &self.config.namespace {
            Some(namespace) => request.header("X-Vault-Namespace", namespace),
            None => request,
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, CredentialError> {
        let mut url = self.config.address.clone();
        url.path_segments_mut()
            .map_err(|()| self.unavailable("the Vault address cannot hold a path"))?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        Ok(url)
    }

    fn transport(&self, error: &reqwest::Error) -> CredentialError {
        let what = if error.is_timeout() {
            "timed out"
        } else {
            "unreachable"
        };
        // The address and the cause (a TLS certificate the CA does not vouch for, a refused
        // connection) are for operators (the log), not for callers.
        let mut cause = String::new();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            cause.push_str(": ");
            cause.push_str(&inner.to_string());
            source = inner.source();
        }
        tracing::warn!(vault_address = %self.config.address, cause = %cause.trim_start_matches(": "), "vault {what}");
        self.unavailable(what)
    }

    /// A token good for the next request: the current one, renewed, or a fresh login.
    async fn token(&self) -> Result<SecretString, CredentialError> {
        let mut current = self.token.lock().await;
        let now = Instant::now();
        if let Some(token) = current.as_ref() {
            let due = token.renew_at.is_some_and(|renew_at| now >= renew_at);
            if !due {
                return Ok(token.value.clone());
            }
            let alive = token.expires_at.is_none_or(|expires_at| now < expires_at);
            if token.renewable && alive {
                match self.renew(&token.value).await {
                    Ok(renewed) => {
                        let value = renewed.value.clone();
                        *current = Some(renewed);
                        return Ok(value);
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "vault token renewal failed; logging in again")
                    }
                }
            }
        }
        if let Some((failed_at, reason)) = self.last_login_failure.lock().as_ref()
            && failed_at.elapsed() < LOGIN_RETRY_DELAY
        {
            return Err(self.unavailable(reason.clone()));
        }
        match self.login().await {
            Ok(token) => {
                *self.last_login_failure.lock() = None;
                let value = token.value.clone();
                *current = Some(token);
                Ok(value)
            }
            Err(error) => {
                let reason = match &error {
                    CredentialError::Unavailable { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                *self.last_login_failure.lock() = Some((Instant::now(), reason));
                Err(error)
            }
        }
    }

    async fn secret_id(&self, source: &SecretIdSource) -> Result<SecretString, CredentialError> {
        match source {
            SecretIdSource::Value(value) => Ok(value.clone()),
            SecretIdSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map(|text| SecretString::from(text.trim().to_owned()))
                .map_err(|error| {
                    self.unavailable(format!(
                        "cannot read the AppRole secret id file {}: {error}",
                        path.display()
                    ))
                }),
        }
    }

    async fn login(&self) -> Result<VaultToken, CredentialError> {
        let (mount, body) = match &self.config.auth {
            VaultAuth::Token(token) => return self.lookup(token).await,
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => (
                mount,
                serde_json::json!({ "role_id": role_id, "secret_id": self.secret_id(secret_id).await?.expose_secret() }),
            ),
            VaultAuth::Kubernetes {
                mount,
                role,
                jwt_path,
            } => {
                let jwt = tokio::fs::read_to_string(jwt_path).await.map_err(|error| {
                    self.unavailable(format!(
                        "cannot read the service-account token {}: {error}",
                        jwt_path.display()
                    ))
                })?;
                (
                    mount,
                    serde_json::json!({ "role": role, "jwt": jwt.trim() }),
                )
            }
        };
        let response = self
            .request(reqwest::Method::POST, &["auth", mount, "login"])?
            .json(&body)
            .send()
            .await
            .map_err(|error| self.transport(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.unavailable(format!("login at auth/{mount} refused (HTTP {status})")));
        }
        let auth: AuthResponse = response
            .json()
            .await
            .map_err(|_| self.unavailable("login answered without a client token"))?;
        tracing::info!(mount = %mount, ttl_seconds = auth.auth.lease_duration, "logged in to vault");
        // A login lease of 0 is a token that never expires.
        let lease = (auth.auth.lease_duration > 0).then_some(auth.auth.lease_duration);
        Ok(token_with_lease(
            auth.auth.client_token,
            lease,
            auth.auth.renewable,
        ))
    }

    /// Learns the TTL of a given token, so that it is renewed in time.
    async fn lookup(&self, token: &SecretString) -> Result<VaultToken, CredentialError> {
        let response = self
            .request(reqwest::Method::GET, &["auth", "token", "lookup-self"])?
            .header("X-Vault-Token", sensitive(token)?)
            .send()
            .await
            .map_err(|error| self.transport(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.unavailable(format!(
                "the configured Vault token was refused (HTTP {status})"
            )));
        }
        let lookup: LookupResponse = response
            .json()
            .await
            .map_err(|_| self.unavailable("token lookup answered nonsense"))?;
        let lease = lookup.data.expire_time.map(|_| lookup.data.ttl);
        Ok(token_with_lease(
            token.clone(),
            lease,
            lookup.data.renewable,
        ))
    }

    async fn renew(&self, token: &SecretString) -> Result<VaultToken, CredentialError> {
        let response = self
            .request(reqwest::Method::POST, &["auth", "token", "renew-self"])?
            .header("X-Vault-Token", sensitive(token)?)
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|error| self.transport(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.unavailable(format!("token renewal refused (HTTP {status})")));
        }
        let auth: AuthResponse = response
            .json()
            .await
            .map_err(|_| self.unavailable("renewal answered nonsense"))?;
        tracing::debug!(
            ttl_seconds = auth.auth.lease_duration,
            "renewed vault token"
        );
        Ok(token_with_lease(
            auth.auth.client_token,
            Some(auth.auth.lease_duration),
            auth.auth.renewable,
        ))
    }

    /// Reads a secret, logging in again once if Vault refuses the token.
    async fn read(&self, path: &str) -> Result<OrgCredentials, CredentialError> {
        let segments: Vec<&str> = path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .collect();
        if segments.is_empty()
            || segments
                .iter()
                .any(|segment| *segment == "." || *segment == "..")
        {
            return Err(CredentialError::NotFound {
                provider: PROVIDER,
                path: path.to_owned(),
            });
        }
        let mut url_segments = vec![self.config.mount.as_str(), "data"];
        url_segments.extend(&segments);
        for attempt in 0..2 {
            let token = self.token().await?;
            let response = self
                .request(reqwest::Method::GET, &url_segments)?
                .header("X-Vault-Token", sensitive(&token)?)
                .send()
                .await
                .map_err(|error| self.transport(&error))?;
            match response.status().as_u16() {
                200 => {
                    let secret: KvResponse = response
                        .json()
                        .await
                        .map_err(|_| self.unavailable(format!("{path:?} is not a KV v2 secret")))?;
                    let (credentials, unknown) = OrgCredentials::from_pairs(secret.data.data);
                    if !unknown.is_empty() {
                        tracing::warn!(path, keys = ?unknown, "vault secret has keys sfgate does not use");
                    }
                    return Ok(credentials);
                }
                404 => {
                    return Err(CredentialError::NotFound {
                        provider: PROVIDER,
                        path: path.to_owned(),
                    });
                }
                403 if attempt == 0 => {
                    tracing::info!("vault refused the token; logging in again");
                    let mut current = self.token.lock().await;
                    // Another call may have replaced it already; only the refused token goes.
                    if current
                        .as_ref()
                        .is_some_and(|held| held.value.expose_secret() == token.expose_secret())
                    {
                        *current = None;
                    }
                }
                status => {
                    return Err(
                        self.unavailable(format!("reading a secret failed (HTTP {status})"))
                    );
                }
            }
        }
        Err(self.unavailable("permission denied reading the secret"))
    }
}

/// A token whose lease ends in `lease_seconds` (`None`: it never expires; `Some(0)`: due now).
fn token_with_lease(
    value: SecretString,
    lease_seconds: Option<u64>,
    renewable: bool,
) -> VaultToken {
    let now = Instant::now();
    let Some(lease_seconds) = lease_seconds else {
        return VaultToken {
            value,
            renew_at: None,
            expires_at: None,
            renewable: false,
        };
    };
    let lease = Duration::from_secs(lease_seconds);
    VaultToken {
        value,
        renew_at: Some(now + lease * 2 / 3),
        expires_at: Some(now + lease),
        renewable,
    }
}

fn sensitive(token: &SecretString) -> Result<HeaderValue, CredentialError> {
    let mut value =
        HeaderValue::from_str(token.expose_secret()).map_err(|_| CredentialError::Unavailable {
            provider: PROVIDER,
            reason: "the Vault token is not a valid header value".into(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

#[async_trait]
impl CredentialProvider for VaultCredentialProvider {
    async fn credentials(&self, path: &str) -> Result<OrgCredentials, CredentialError> {
        let cached = self.cache.lock().get(path).cloned();
        if let Some(cached) = &cached
            && cached.fetched.elapsed() < self.config.refresh_after
        {
            return Ok(cached.credentials.clone());
        }
        match self.read(path).await {
            Ok(credentials) => {
                let entry = CachedSecret {
                    credentials: credentials.clone(),
                    fetched: Instant::now(),
                };
                self.cache.lock().insert(path.to_owned(), entry);
                Ok(credentials)
            }
            Err(error @ CredentialError::NotFound { .. }) => {
                self.cache.lock().remove(path);
                Err(error)
            }
            Err(error) => match cached {
                Some(cached) if cached.fetched.elapsed() < self.config.max_stale => {
                    tracing::warn!(error = %error, path, age_seconds = cached.fetched.elapsed().as_secs(), "vault unavailable; serving cached credentials");
                    Ok(cached.credentials)
                }
                _ => Err(error),
            },
        }
    }

    fn invalidate(&self, path: &str) {
        self.cache.lock().remove(path);
    }
}
