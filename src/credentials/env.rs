//! Credentials from environment variables: `SFGATE_SECRET_<PATH>_<KEY>`, where `<PATH>` is the
//! secret path upper-cased with every other character turned into `_` (`sfgate/acme` ->
//! `SFGATE_ACME`) and `<KEY>` one of the credential keys (`CLIENT_ID`, `PRIVATE_KEY`, ...).

use async_trait::async_trait;
use secrecy::SecretString;

use super::{CREDENTIAL_KEYS, CredentialError, CredentialProvider, OrgCredentials};

/// Reads credentials from the process environment at each call.
#[derive(Debug, Default)]
pub struct EnvCredentialProvider;

/// The environment variable holding `key` of the secret at `path`.
pub fn variable_name(path: &str, key: &str) -> String {
    let path: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SFGATE_SECRET_{path}_{}", key.to_ascii_uppercase())
}

#[async_trait]
impl CredentialProvider for EnvCredentialProvider {
    async fn credentials(&self, path: &str) -> Result<OrgCredentials, CredentialError> {
        let pairs: Vec<(String, SecretString)> = CREDENTIAL_KEYS
            .iter()
            .filter_map(|key| {
                let value = std::env::var(variable_name(path, key))
                    .ok()
                    .filter(|value| !value.is_empty())?;
                Some(((*key).to_owned(), SecretString::from(value)))
            })
            .collect();
        if pairs.is_empty() {
            return Err(CredentialError::NotFound {
                provider: "env",
                path: path.to_owned(),
            });
        }
        Ok(OrgCredentials::from_pairs(pairs).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_variables_after_path_and_key() {
        assert_eq!(
            variable_name("sfgate/acme-prod", "client_id"),
            "SFGATE_SECRET_SFGATE_ACME_PROD_CLIENT_ID"
        );
    }
}
