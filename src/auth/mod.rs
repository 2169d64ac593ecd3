//! OAuth access tokens per tenant: minted from the tenant's credentials, cached and shared by all
//! calls of that tenant, minted by one caller at a time, and dropped when Salesforce rejects them.
//! After a failed mint the tenant cools down (1 s, doubling to 30 s) before the token endpoint is
//! tried again, so a broken org or a dead login host is never hammered.

mod jwt;

pub use jwt::{AssertionError, bearer_assertion};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderValue;
use parking_lot::RwLock;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::Instrument as _;
use url::Url;

use crate::credentials::{CredentialError, CredentialProvider, OrgCredentials};
use crate::telemetry::metrics::{UpstreamLabels, metrics};
use crate::tenant::TenantId;

/// The OAuth flow a tenant's integration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthGrant {
    /// JWT bearer flow: an assertion for `username` signed with `private_key`; needs `client_id`.
    JwtBearer,
    /// Client credentials flow: client id/secret of a connected app with a run-as user (My Domain).
    ClientCredentials,
    /// Refresh token flow: a refresh token issued to the connected app, with client id/secret.
    RefreshToken,
    /// Username-password flow: client id/secret plus username and password + security token.
    Password,
}

impl OAuthGrant {
    /// The grant's configuration name, e.g. `jwt_bearer`.
    pub fn name(self) -> &'static str {
        match self {
            Self::JwtBearer => "jwt_bearer",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::Password => "password",
        }
    }
}

/// The longest a tenant waits before its token endpoint is tried again after failures.
const MAX_COOL_DOWN: Duration = Duration::from_secs(30);
/// The wait after a first failure; it doubles with each failure in a row.
const FIRST_COOL_DOWN: Duration = Duration::from_secs(1);

/// How to obtain tokens for one org.
#[derive(Debug, Clone)]
pub struct OrgAuthConfig {
    /// The tenant, for spans and metrics.
    pub tenant: TenantId,
    /// The login host (`https://login.salesforce.com`, `https://test.salesforce.com` or My Domain).
    pub login_url: Url,
    /// The OAuth flow.
    pub grant: OAuthGrant,
    /// The credential provider's name (`vault`, `file`, `env`), for logs and GetConnection.
    pub credentials_provider: &'static str,
    /// Where the credential provider keeps this org's secrets.
    pub credentials_path: String,
    /// Hosts the token endpoint may send us to as `instance_url` (`*.salesforce.com` style patterns).
    pub allowed_instance_hosts: Vec<String>,
    /// Time limit of one token request.
    pub timeout: Duration,
    /// The `aud` of JWT bearer assertions; `None` uses the login host.
    pub jwt_audience: Option<String>,
}

/// An authenticated session with an org: its access token and instance.
pub struct Session {
    access_token: SecretString,
    instance_url: Url,
    scopes: Vec<String>,
}

impl Session {
    /// The `Authorization` header value, marked sensitive so that no layer logs it.
    pub fn authorization_header(&self) -> HeaderValue {
        let mut value =
            HeaderValue::try_from(format!("Bearer {}", self.access_token.expose_secret()))
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
        value.set_sensitive(true);
        value
    }

    /// The access token, for the SOAP session header.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The org's instance, e.g. `https://acme.my.salesforce.com`.
    pub fn instance_url(&self) -> &Url {
        &self.instance_url
    }

    /// The OAuth scopes the token endpoint granted.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Session")
            .field("access_token", &"[REDACTED]")
            .field("instance_url", &self.instance_url.as_str())
            .finish()
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credential provider failed.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The stored credentials lack a value the flow needs.
    #[error("credentials for the {grant:?} flow lack {field}")]
    MissingCredential {
        /// The flow.
        grant: OAuthGrant,
        /// The missing key.
        field: &'static str,
    },
    /// The token endpoint refused the request (`invalid_grant`, `invalid_client_id`, ...).
    #[error("token request refused: {error}: {description}")]
    Rejected {
        /// OAuth `error`.
        error: String,
        /// OAuth `error_description`.
        description: String,
    },
    /// The token endpoint could not be reached or timed out.
    #[error("token endpoint unreachable: {0}")]
    Unreachable(String),
    /// The token endpoint sent us to a host outside the tenant's allowed hosts.
    #[error(
        "token endpoint returned instance_url host {0:?}, which is not an allowed instance host"
    )]
    DisallowedInstance(String),
    /// The token endpoint answered something that is not a token response.
    #[error("unexpected token response: {0}")]
    BadResponse(String),
    /// The JWT assertion could not be signed.
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    /// An earlier mint failed; the token endpoint is not tried again before the cool-down ends.
    #[error("{last_error} (not retried for another {}s)", retry_after.as_secs().max(1))]
    CoolingDown {
        /// What the last attempt failed with.
        last_error: String,
        /// How long until the next attempt.
        retry_after: Duration,
        /// What kind of failure it was.
        cause: FailureCause,
    },
}

/// What kind of failure kept a token from being minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// The credential store (Vault, ...) had no usable secret or could not be reached.
    Credentials,
    /// The token endpoint could not be reached.
    Unreachable,
    /// The org refused the credentials, or its answer made no sense.
    Refused,
}

impl FailureCause {
    /// A short name, for spans.
    pub fn name(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::Unreachable => "unreachable",
            Self::Refused => "refused",
        }
    }
}

impl AuthError {
    /// What kind of failure this is.
    pub fn cause(&self) -> FailureCause {
        match self {
            Self::Credentials(_) | Self::MissingCredential { .. } | Self::Assertion(_) => {
                FailureCause::Credentials
            }
            Self::Unreachable(_) => FailureCause::Unreachable,
            Self::Rejected { .. } | Self::DisallowedInstance(_) | Self::BadResponse(_) => {
                FailureCause::Refused
            }
            Self::CoolingDown { cause, .. } => *cause,
        }
    }
}

/// The last failed mint, for the cool-down.
struct MintFailure {
    message: String,
    cause: FailureCause,
    failures_in_a_row: u32,
    retry_at: Instant,
}

/// Mints and caches the access token of one org.
pub struct OrgAuthenticator {
    http: reqwest::Client,
    config: OrgAuthConfig,
    credentials: Arc<dyn CredentialProvider>,
    current: RwLock<Option<Arc<Session>>>,
    minting: tokio::sync::Mutex<()>,
    last_failure: parking_lot::Mutex<Option<MintFailure>>,
}

impl fmt::Debug for OrgAuthenticator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OrgAuthenticator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    instance_url: String,
    /// Space-separated granted scopes (`api refresh_token`); absent in some flows.
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl OrgAuthenticator {
    /// Creates an authenticator; no token is minted until the first call needs one.
    pub fn new(
        http: reqwest::Client,
        config: OrgAuthConfig,
        credentials: Arc<dyn CredentialProvider>,
    ) -> Self {
        Self {
            http,
            config,
            credentials,
            current: RwLock::new(None),
            minting: tokio::sync::Mutex::new(()),
            last_failure: parking_lot::Mutex::new(None),
        }
    }

    /// The tenant this authenticator mints for.
    pub fn tenant(&self) -> &TenantId {
        &self.config.tenant
    }

    /// How this authenticator obtains tokens.
    pub fn config(&self) -> &OrgAuthConfig {
        &self.config
    }

    /// The `aud` of the assertions it signs, when its grant is the JWT bearer flow.
    pub fn jwt_audience_in_use(&self) -> Option<String> {
        (self.config.grant == OAuthGrant::JwtBearer).then(|| self.jwt_audience())
    }

    /// Returns the cached session, minting one if there is none. Concurrent callers on a cold
    /// cache wait for a single token request; after a failure they share its error until the
    /// cool-down ends. The token request runs on a task of its own: a caller that gives up (its
    /// deadline passed) does not cancel it, and its token is cached for the calls after.
    pub async fn session(self: &Arc<Self>) -> Result<Arc<Session>, AuthError> {
        if let Some(session) = self.current.read().clone() {
            return Ok(session);
        }
        self.check_cool_down()?;
        let authenticator = Arc::clone(self);
        tokio::spawn(async move { authenticator.session_or_mint().await }.in_current_span())
            .await
            .map_err(|failed| {
                AuthError::BadResponse(format!("the token request failed: {failed}"))
            })?
    }

    /// The cached session, or one minted now by the one caller holding the minting lock.
    async fn session_or_mint(&self) -> Result<Arc<Session>, AuthError> {
        let _minting = self.minting.lock().await;
        if let Some(session) = self.current.read().clone() {
            return Ok(session);
        }
        self.check_cool_down()?;
        let span = tracing::info_span!(
            "salesforce.token",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            tenant = %self.config.tenant,
            oauth.grant = self.config.grant.name(),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let minted = self.mint().instrument(span.clone()).await;
        metrics().token_minted(
            &self.config.tenant,
            self.config.grant.name(),
            minted.is_ok(),
        );
        if let Err(error) = &minted {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", error.cause().name());
        }
        match minted {
            Ok(session) => {
                let session = Arc::new(session);
                *self.current.write() = Some(Arc::clone(&session));
                *self.last_failure.lock() = None;
                Ok(session)
            }
            Err(error) => {
                self.record_failure(&error);
                Err(error)
            }
        }
    }

    fn check_cool_down(&self) -> Result<(), AuthError> {
        let last_failure = self.last_failure.lock();
        match last_failure.as_ref() {
            Some(failure) if Instant::now() < failure.retry_at => Err(AuthError::CoolingDown {
                last_error: failure.message.clone(),
                retry_after: failure.retry_at.saturating_duration_since(Instant::now()),
                cause: failure.cause,
            }),
            _ => Ok(()),
        }
    }

    fn record_failure(&self, error: &AuthError) {
        if matches!(error, AuthError::Rejected { .. }) {
            // The org refused these credentials: the next attempt re-reads them, in case they rotated.
            self.credentials.invalidate(&self.config.credentials_path);
        }
        let mut last_failure = self.last_failure.lock();
        let failures_in_a_row = last_failure
            .as_ref()
            .map_or(1, |failure| failure.failures_in_a_row + 1);
        let cool_down = FIRST_COOL_DOWN
            .saturating_mul(1 << (failures_in_a_row - 1).min(5))
            .min(MAX_COOL_DOWN);
        tracing::warn!(
            error = %error,
            credentials_path = %self.config.credentials_path,
            cool_down_seconds = cool_down.as_secs(),
            "minting a salesforce token failed"
        );
        *last_failure = Some(MintFailure {
            message: error.to_string(),
            cause: error.cause(),
            failures_in_a_row,
            retry_at: Instant::now() + cool_down,
        });
    }

    /// Forgets `stale` (Salesforce rejected it) unless a newer session already replaced it.
    pub fn invalidate(&self, stale: &Arc<Session>) {
        let mut current = self.current.write();
        if current
            .as_ref()
            .is_some_and(|session| Arc::ptr_eq(session, stale))
        {
            *current = None;
        }
    }

    /// Forgets a session Salesforce rejected although it was freshly minted (the integration
    /// user cannot use the API, say), and cools the tenant down as after a failed mint.
    pub fn reject(&self, rejected: &Arc<Session>) {
        self.invalidate(rejected);
        self.record_failure(&AuthError::Rejected {
            error: "INVALID_SESSION_ID".into(),
            description: "salesforce rejected a freshly minted session".into(),
        });
    }

    /// Reads the tenant's credentials and checks that they hold what its grant needs (for the JWT
    /// bearer grant: a private key that signs), without calling the token endpoint.
    pub async fn check_credentials(&self) -> Result<(), AuthError> {
        let credentials = self
            .credentials
            .credentials(&self.config.credentials_path)
            .await?;
        self.token_request(&credentials).map(drop)
    }

    /// The token request of the tenant's grant, not yet sent.
    fn token_request(
        &self,
        credentials: &OrgCredentials,
    ) -> Result<reqwest::RequestBuilder, AuthError> {
        let token_url = self
            .config
            .login_url
            .join("/services/oauth2/token")
            .map_err(|error| AuthError::BadResponse(error.to_string()))?;
        let request = self.http.post(token_url).timeout(self.config.timeout);
        match self.config.grant {
            OAuthGrant::JwtBearer => jwt_bearer_grant(request, credentials, &self.jwt_audience()),
            OAuthGrant::ClientCredentials => client_credentials_grant(request, credentials),
            OAuthGrant::RefreshToken => refresh_token_grant(request, credentials),
            OAuthGrant::Password => password_grant(request, credentials),
        }
    }

    async fn mint(&self) -> Result<Session, AuthError> {
        let credentials = self
            .credentials
            .credentials(&self.config.credentials_path)
            .await?;
        let request = self.token_request(&credentials)?;
        let started = std::time::Instant::now();
        let received = async {
            let response = request.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        }
        .await;
        metrics().upstream_finished(
            &UpstreamLabels {
                tenant: self.config.tenant.clone(),
                method: "POST",
                resource: "oauth2",
                status: received.as_ref().map_or_else(
                    |_| "error".to_owned(),
                    |(status, _)| status.as_u16().to_string(),
                ),
            },
            started.elapsed(),
        );
        let (status, body) =
            received.map_err(|error| AuthError::Unreachable(without_url(&error)))?;
        tracing::Span::current().record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            // The endpoint is down or overloaded: nothing was said of the credentials.
            return Err(AuthError::Unreachable(format!(
                "HTTP {status} from the token endpoint"
            )));
        }
        if !status.is_success() {
            return Err(match serde_json::from_slice::<OAuthErrorBody>(&body) {
                Ok(refusal) => AuthError::Rejected {
                    error: refusal.error,
                    description: refusal.error_description,
                },
                Err(_) => AuthError::BadResponse(format!("HTTP {status} from the token endpoint")),
            });
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            AuthError::BadResponse("token response lacks access_token or instance_url".into())
        })?;
        let instance_url = Url::parse(&token.instance_url)
            .map_err(|_| AuthError::BadResponse("instance_url is not a URL".into()))?;
        check_instance_url(&instance_url, &self.config.allowed_instance_hosts)?;
        tracing::info!(login_url = %self.config.login_url, instance_url = %instance_url, grant = self.config.grant.name(), "minted salesforce access token");
        let scopes = token
            .scope
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Session {
            access_token: token.access_token,
            instance_url,
            scopes,
        })
    }
}

impl OrgAuthenticator {
    /// The audience of JWT assertions: configured, or the login host's origin.
    fn jwt_audience(&self) -> String {
        if let Some(audience) = &self.config.jwt_audience {
            return audience.clone();
        }
        default_jwt_audience(&self.config.login_url)
    }
}

/// Salesforce expects `https://login.salesforce.com` as the audience for production orgs and
/// `https://test.salesforce.com` for sandboxes, whatever login host the token request goes to.
/// A login URL outside salesforce.com (the embedded sandbox org) is its own audience.
fn default_jwt_audience(login_url: &Url) -> String {
    let host = login_url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".to_owned()
    } else if host.ends_with(".salesforce.com") || host == "salesforce.com" {
        "https://login.salesforce.com".to_owned()
    } else {
        login_url.origin().ascii_serialization()
    }
}

fn required<'a>(
    value: &'a Option<SecretString>,
    grant: OAuthGrant,
    field: &'static str,
) -> Result<&'a str, AuthError> {
    value
        .as_ref()
        .map(|secret| secret.expose_secret())
        .ok_or(AuthError::MissingCredential { grant, field })
}

fn password_grant(
    request: reqwest::RequestBuilder,
    credentials: &OrgCredentials,
) -> Result<reqwest::RequestBuilder, AuthError> {
    let grant = OAuthGrant::Password;
    let username = credentials
        .username
        .as_deref()
        .ok_or(AuthError::MissingCredential {
            grant,
            field: "username",
        })?;
    let password = SecretString::from(format!(
        "{}{}",
        required(&credentials.password, grant, "password")?,
        credentials
            .security_token
            .as_ref()
            .map(|token| token.expose_secret())
            .unwrap_or_default()
    ));
    Ok(request.form(&[
        ("grant_type", "password"),
        (
            "client_id",
            required(&credentials.client_id, grant, "client_id")?,
        ),
        (
            "client_secret",
            required(&credentials.client_secret, grant, "client_secret")?,
        ),
        ("username", username),
        ("password", password.expose_secret()),
    ]))
}

fn client_credentials_grant(
    request: reqwest::RequestBuilder,
    credentials: &OrgCredentials,
) -> Result<reqwest::RequestBuilder, AuthError> {
    let grant = OAuthGrant::ClientCredentials;
    let client_id = required(&credentials.client_id, grant, "client_id")?;
    let client_secret = required(&credentials.client_secret, grant, "client_secret")?;
    Ok(request
        .basic_auth(client_id, Some(client_secret))
        .form(&[("grant_type", "client_credentials")]))
}

fn jwt_bearer_grant(
    request: reqwest::RequestBuilder,
    credentials: &OrgCredentials,
    audience: &str,
) -> Result<reqwest::RequestBuilder, AuthError> {
    let grant = OAuthGrant::JwtBearer;
    let client_id = required(&credentials.client_id, grant, "client_id")?;
    let username = credentials
        .username
        .as_deref()
        .ok_or(AuthError::MissingCredential {
            grant,
            field: "username",
        })?;
    let private_key = credentials
        .private_key
        .as_ref()
        .ok_or(AuthError::MissingCredential {
            grant,
            field: "private_key",
        })?;
    let assertion = bearer_assertion(
        private_key,
        client_id,
        username,
        audience,
        SystemTime::now(),
    )?;
    Ok(request.form(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.expose_secret()),
    ]))
}

fn refresh_token_grant(
    request: reqwest::RequestBuilder,
    credentials: &OrgCredentials,
) -> Result<reqwest::RequestBuilder, AuthError> {
    let grant = OAuthGrant::RefreshToken;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        (
            "client_id",
            required(&credentials.client_id, grant, "client_id")?,
        ),
        (
            "refresh_token",
            required(&credentials.refresh_token, grant, "refresh_token")?,
        ),
    ];
    if let Some(secret) = &credentials.client_secret {
        form.push(("client_secret", secret.expose_secret()));
    }
    Ok(request.form(&form))
}

/// Describes a transport error without its URL or any request content.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

/// Accepts an instance URL only on an allowed host, and only over HTTPS unless it is loopback.
fn check_instance_url(instance_url: &Url, allowed_hosts: &[String]) -> Result<(), AuthError> {
    let host = instance_url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    let allowed = allowed_hosts
        .iter()
        .any(|pattern| host_matches(&host, pattern));
    if !allowed || (instance_url.scheme() != "https" && !loopback) {
        return Err(AuthError::DisallowedInstance(host));
    }
    Ok(())
}

fn host_matches(host: &str, pattern: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_hosts() -> Vec<String> {
        vec!["*.salesforce.com".into(), "*.force.com".into()]
    }

    #[test]
    fn instance_hosts_must_match_an_allowed_pattern() {
        let allowed =
            |url: &str| check_instance_url(&Url::parse(url).unwrap(), &default_hosts()).is_ok();
        assert!(allowed("https://acme.my.salesforce.com"));
        assert!(allowed("https://na1.force.com/"));
        assert!(!allowed("https://salesforce.com.evil.example"));
        assert!(!allowed("https://evilsalesforce.com"));
        assert!(!allowed("https://salesforce.com"));
        assert!(
            !allowed("http://acme.my.salesforce.com"),
            "plain http to a remote host"
        );
        assert!(!allowed("http://169.254.169.254/latest"));
        let loopback = vec!["127.0.0.1".to_string()];
        assert!(
            check_instance_url(&Url::parse("http://127.0.0.1:8080").unwrap(), &loopback).is_ok()
        );
    }

    #[test]
    fn jwt_audience_follows_the_kind_of_org() {
        let audience = |url: &str| default_jwt_audience(&Url::parse(url).unwrap());
        assert_eq!(
            audience("https://login.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            audience("https://acme.my.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            audience("https://test.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(
            audience("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(audience("http://127.0.0.1:8443/"), "http://127.0.0.1:8443");
    }

    #[test]
    fn session_debug_hides_the_token() {
        let session = Session {
            access_token: SecretString::from("00Dcanary!SECRET"),
            instance_url: Url::parse("https://acme.my.salesforce.com").unwrap(),
            scopes: vec!["api".into()],
        };
        let shown = format!("{session:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(session.authorization_header().is_sensitive());
    }
}
