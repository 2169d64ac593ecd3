//! Where each tenant's Salesforce secrets come from. Providers hand out [`OrgCredentials`], whose
//! secrets stay [`SecretString`]s until the token request is written.

mod file;

pub use file::StaticCredentialProvider;

use async_trait::async_trait;
use secrecy::SecretString;

/// The secrets a tenant's OAuth flow needs. Which fields are set depends on the flow.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgCredentials {
    /// The connected app's consumer key.
    pub client_id: Option<SecretString>,
    /// The connected app's consumer secret.
    pub client_secret: Option<SecretString>,
    /// The integration user's username (password flow).
    pub username: Option<String>,
    /// The integration user's password (password flow).
    pub password: Option<SecretString>,
    /// The integration user's security token, appended to the password (password flow).
    pub security_token: Option<SecretString>,
}

/// A failure to obtain a tenant's credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The provider has no secret at this path.
    #[error("no credentials stored at {path:?}")]
    NotFound {
        /// The secret path from the tenant's configuration.
        path: String,
    },
    /// The provider could not be reached.
    #[error("credential store unavailable: {reason}")]
    Unavailable {
        /// What went wrong, free of secrets.
        reason: String,
    },
}

/// A source of per-tenant Salesforce credentials, addressed by the secret path the tenant's
/// configuration names.
#[async_trait]
pub trait CredentialProvider: Send + Sync + 'static {
    /// Returns the credentials stored at `path`.
    async fn credentials(&self, path: &str) -> Result<OrgCredentials, CredentialError>;
}
