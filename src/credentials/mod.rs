//! Where each tenant's Salesforce secrets come from. Providers hand out [`OrgCredentials`], whose
//! secrets stay [`SecretString`]s until the token request is written.
//!
//! | provider | for | secrets live in |
//! |---|---|---|
//! | [`VaultCredentialProvider`] | production | Vault / OpenBao KV v2, `{mount}/data/{path}` |
//! | [`EnvCredentialProvider`] | development, CI | `SFGATE_SECRET_<PATH>_<KEY>` variables |
//! | [`StaticCredentialProvider`] | development, the sandbox | the configuration file |

mod env;
mod file;
mod scalar_text;
pub mod vault;

pub use env::{EnvCredentialProvider, variable_name as env_variable_name};
pub use file::StaticCredentialProvider;
pub use vault::VaultCredentialProvider;

use async_trait::async_trait;
use secrecy::SecretString;

pub(crate) use scalar_text::{optional_secret, optional_text};

/// The keys a secret may hold, as stored in Vault, in the file and (upper-cased) in the environment.
pub const CREDENTIAL_KEYS: [&str; 7] = [
    "client_id",
    "client_secret",
    "username",
    "password",
    "security_token",
    "private_key",
    "refresh_token",
];

/// The secrets a tenant's OAuth flow needs. Which fields are set depends on the flow.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgCredentials {
    /// The connected app's consumer key.
    #[serde(default, deserialize_with = "optional_secret")]
    pub client_id: Option<SecretString>,
    /// The connected app's consumer secret.
    #[serde(default, deserialize_with = "optional_secret")]
    pub client_secret: Option<SecretString>,
    /// The integration user's username (password and JWT bearer flows).
    #[serde(default, deserialize_with = "optional_text")]
    pub username: Option<String>,
    /// The integration user's password (password flow).
    #[serde(default, deserialize_with = "optional_secret")]
    pub password: Option<SecretString>,
    /// The integration user's security token, appended to the password (password flow).
    #[serde(default, deserialize_with = "optional_secret")]
    pub security_token: Option<SecretString>,
    /// The PEM private key whose certificate the connected app holds (JWT bearer flow).
    #[serde(default, deserialize_with = "optional_secret")]
    pub private_key: Option<SecretString>,
    /// A refresh token issued to the connected app (refresh token flow).
    #[serde(default, deserialize_with = "optional_secret")]
    pub refresh_token: Option<SecretString>,
}

impl OrgCredentials {
    /// Builds credentials from key/value pairs named as in [`CREDENTIAL_KEYS`]; returns the keys it
    /// did not know (never their values).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, SecretString)>,
    ) -> (Self, Vec<String>) {
        let mut credentials = Self::default();
        let mut unknown = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "client_id" => credentials.client_id = Some(value),
                "client_secret" => credentials.client_secret = Some(value),
                "username" => {
                    credentials.username =
                        Some(secrecy::ExposeSecret::expose_secret(&value).to_owned())
                }
                "password" => credentials.password = Some(value),
                "security_token" => credentials.security_token = Some(value),
                "private_key" => credentials.private_key = Some(value),
                "refresh_token" => credentials.refresh_token = Some(value),
                _ => unknown.push(key),
            }
        }
        (credentials, unknown)
    }
}

/// A failure to obtain a tenant's credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The provider has no secret at this path (the path is logged, not shown to callers).
    #[error("{provider} has no credentials at the tenant's credentials_path")]
    NotFound {
        /// The provider.
        provider: &'static str,
        /// The secret path from the tenant's configuration.
        path: String,
    },
    /// The provider could not be reached or refused us.
    #[error("{provider} unavailable: {reason}")]
    Unavailable {
        /// The provider.
        provider: &'static str,
        /// What went wrong, free of secrets.
        reason: String,
    },
}

impl CredentialError {
    /// The provider that failed, for the caller's error message.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::NotFound { provider, .. } | Self::Unavailable { provider, .. } => provider,
        }
    }
}

/// A source of per-tenant Salesforce credentials, addressed by the secret path the tenant's
/// configuration names.
#[async_trait]
pub trait CredentialProvider: Send + Sync + 'static {
    /// Returns the credentials stored at `path`.
    async fn credentials(&self, path: &str) -> Result<OrgCredentials, CredentialError>;

    /// Forgets anything cached for `path`, so that the next read sees a rotated secret.
    fn invalidate(&self, _path: &str) {}
}
