//! Credentials written in the configuration file itself: for development and the sandbox.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{CredentialError, CredentialProvider, OrgCredentials};

/// Serves credentials held in memory, keyed by secret path.
#[derive(Debug, Default)]
pub struct StaticCredentialProvider {
    by_path: arc_swap::ArcSwap<HashMap<String, OrgCredentials>>,
}

impl StaticCredentialProvider {
    /// Creates a provider serving the given credentials.
    pub fn new(by_path: HashMap<String, OrgCredentials>) -> Self {
        Self {
            by_path: arc_swap::ArcSwap::from_pointee(by_path),
        }
    }

    /// Serves the credentials of a reloaded configuration from now on.
    pub fn replace(&self, by_path: HashMap<String, OrgCredentials>) {
        self.by_path.store(std::sync::Arc::new(by_path));
    }
}

#[async_trait]
impl CredentialProvider for StaticCredentialProvider {
    async fn credentials(&self, path: &str) -> Result<OrgCredentials, CredentialError> {
        self.by_path
            .load()
            .get(path)
            .cloned()
            .ok_or_else(|| CredentialError::NotFound {
                provider: "file",
                path: path.to_owned(),
            })
    }
}
