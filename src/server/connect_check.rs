//! `sfgate check-config --connect`: beyond building the configuration, reach what it names — log
//! in to Vault, read every tenant's secret and check it holds what the tenant's grant needs, mint
//! a token per tenant (unless `--no-mint`), ping Redis — and say per line what is ok, or what is
//! wrong and what to do about it. Nothing here prints a secret.

use std::fmt;

use crate::auth::{AuthError, OAuthGrant};
use crate::config::Config;
use crate::credentials::CredentialError;
use crate::salesforce::http_client;
use crate::tenant::TenantId;

use super::tenants::Tenants;

/// One checked thing: `vault`, `redis` or `tenant acme`, and how it went.
#[derive(Debug)]
pub struct CheckedLine {
    /// What was checked.
    pub subject: String,
    /// `Ok(what was seen)` or `Err(what is wrong, and what to do)`.
    pub outcome: Result<String, String>,
}

/// Everything `--connect` checked, one line each.
#[derive(Debug, Default)]
pub struct ConnectReport {
    /// The lines, Vault and Redis first, then the tenants by name.
    pub lines: Vec<CheckedLine>,
}

impl ConnectReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|line| line.outcome.is_ok())
    }

    fn push(&mut self, subject: impl Into<String>, outcome: Result<String, String>) {
        self.lines.push(CheckedLine {
            subject: subject.into(),
            outcome,
        });
    }
}

impl fmt::Display for ConnectReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            match &line.outcome {
                Ok(seen) => writeln!(formatter, "{}: ok: {seen}", line.subject)?,
                Err(wrong) => writeln!(formatter, "{}: FAILED: {wrong}", line.subject)?,
            }
        }
        Ok(())
    }
}

/// Builds the configuration and reaches everything it names; `mint`: also ask each tenant's org
/// for a token.
pub async fn check_connections(config: &Config, mint: bool) -> anyhow::Result<ConnectReport> {
    let tenants = Tenants::build(config, http_client())?;
    let mut report = ConnectReport::default();
    if let Some(vault) = tenants.vault() {
        let outcome = vault
            .check_login()
            .await
            .map(|how| format!("logged in with {how}"))
            .map_err(|error| {
                format!("{error}: check [credentials.vault] address, TLS settings and auth (role, its policies, the secret id or token)")
            });
        report.push("vault", outcome);
    }
    if let Some(shared) = &tenants.shared {
        let outcome = shared.ping().await.map(|()| "PING answered".to_owned()).map_err(|error| {
            format!("{error}: check [shared_limits] redis_url; without Redis each replica enforces its share of the limits")
        });
        report.push("redis", outcome);
    }
    let registry = tenants.registry.load_full();
    let mut names: Vec<&String> = config.tenants.keys().collect();
    names.sort();
    for name in names {
        let Some(tenant) = registry.get(&TenantId::new(name)) else {
            continue;
        };
        let auth = tenant.org.auth();
        let settings = auth.config();
        let source = format!(
            "{}:{}",
            settings.credentials_provider, settings.credentials_path
        );
        let mut outcome = auth
            .check_credentials()
            .await
            .map(|()| format!("{} credentials at {source} complete", settings.grant.name()))
            .map_err(|error| what_to_do(&error, settings.grant, &source));
        if mint && outcome.is_ok() {
            outcome = match auth.session().await {
                Ok(session) => Ok(format!(
                    "{} grant minted a token at {} (instance {})",
                    settings.grant.name(),
                    settings.login_url,
                    session.instance_url().as_str().trim_end_matches('/')
                )),
                Err(error) => Err(what_to_do(&error, settings.grant, &source)),
            };
        }
        report.push(format!("tenant {name}"), outcome);
    }
    Ok(report)
}

/// What a failure means for the operator, and what to do about it.
fn what_to_do(error: &AuthError, grant: OAuthGrant, source: &str) -> String {
    let grant = grant.name();
    match error {
        AuthError::Credentials(CredentialError::NotFound { provider, .. }) => {
            format!(
                "{provider} has no secret at {source}: write it with the keys the {grant} grant needs (README: Tenant secrets in Vault)"
            )
        }
        AuthError::Credentials(CredentialError::Unavailable { reason, .. }) => {
            format!(
                "cannot read {source}: {reason}: check the provider's settings and that its policy may read this path"
            )
        }
        AuthError::MissingCredential { field, .. } => {
            format!("the secret at {source} has no {field}, which the {grant} grant needs: add it")
        }
        AuthError::Assertion(reason) => {
            format!(
                "the private_key at {source} cannot sign a JWT ({reason}): it must be the PEM RSA key whose certificate is on the connected app"
            )
        }
        AuthError::Rejected { error, description } => {
            let hint = match (error.as_str(), description.as_str()) {
                ("invalid_client_id", _) => "client_id is not the connected app's consumer key",
                ("invalid_client", _) => "client_secret is not the connected app's consumer secret",
                (_, "audience is invalid") => {
                    "the assertion's aud is wrong: set jwt_audience (login.salesforce.com, test.salesforce.com or the Experience Cloud site)"
                }
                (_, "user hasn't approved this consumer") => {
                    "username is wrong, inactive, or not pre-authorized for the connected app (its profile or permission set)"
                }
                (_, "invalid assertion") => {
                    "the connected app does not hold the certificate of this private_key"
                }
                (_, "authentication failure") => {
                    "username or password (with its security token) is wrong, or the user is locked"
                }
                (_, "expired access/refresh token") => {
                    "the refresh token was revoked or expired: issue a new one"
                }
                _ => "check the connected app and the secret",
            };
            format!("the org refused the credentials ({error}: {description}): {hint}")
        }
        AuthError::Unreachable(reason) => {
            format!(
                "the token endpoint is unreachable ({reason}): check login_url and that this host may reach it"
            )
        }
        AuthError::DisallowedInstance(host) => {
            format!(
                "the org's instance {host} is not in allowed_instance_hosts: add it if it is your org's"
            )
        }
        AuthError::CoolingDown { last_error, .. } => last_error.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_prints_one_line_each_and_fails_on_any_failure() {
        let mut report = ConnectReport::default();
        report.push("vault", Ok("logged in with approle at auth/approle".into()));
        assert!(report.ok());
        report.push(
            "tenant acme",
            Err("the secret at vault:sfgate/acme has no private_key".into()),
        );
        assert!(!report.ok());
        assert_eq!(
            report.to_string(),
            "vault: ok: logged in with approle at auth/approle\ntenant acme: FAILED: the secret at vault:sfgate/acme has no private_key\n"
        );
    }

    #[test]
    fn every_failure_says_what_to_do() {
        let refused = |error: &str, description: &str| AuthError::Rejected {
            error: error.into(),
            description: description.into(),
        };
        let said = what_to_do(
            &refused("invalid_grant", "audience is invalid"),
            OAuthGrant::JwtBearer,
            "vault:sfgate/acme",
        );
        assert!(said.contains("set jwt_audience"), "{said}");
        let said = what_to_do(
            &AuthError::MissingCredential {
                grant: OAuthGrant::JwtBearer,
                field: "private_key",
            },
            OAuthGrant::JwtBearer,
            "vault:sfgate/acme",
        );
        assert_eq!(
            said,
            "the secret at vault:sfgate/acme has no private_key, which the jwt_bearer grant needs: add it"
        );
    }
}
