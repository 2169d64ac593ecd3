//! Every OAuth flow and both Vault logins run at TRACE log level with canary secrets; no canary may
//! appear in the logs (of sfgate and every library under it), in any status returned to callers,
//! or in the Debug output of the configuration and credential types.
//!
//! One test in its own binary: it installs the process-wide log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use sfgate::auth::OAuthGrant;
use sfgate::config::{ProviderKind, VaultAuthSettings, VaultSettings};
use sfgate::credentials::VaultCredentialProvider;
use sfgate::credentials::vault::{SecretIdSource, VaultAuth, VaultConfig};
use sfgate::pb::GetLeadRequest;
use sfgate_sandbox::SandboxConfig;
use sfgate_testkit::openbao::OpenBao;
use sfgate_testkit::{API_KEY, TestApp, spawn_app_on};

const CLIENT_ID: &str = "canary-client-id-5c1d";
const CLIENT_SECRET: &str = "canary-client-secret-9e2b";
const WRONG_PASSWORD: &str = "canary-wrong-password-41aa";
const VAULT_ROOT_TOKEN: &str = "canary-vault-root-token-77c3";
const VAULT_CLIENT_TOKEN: &str = "canary-vault-client-token-1b9e";
const PRIVATE_KEY: &str = include_str!("fixtures/jwt/private_key.pem");
const CERTIFICATE: &str = include_str!("fixtures/jwt/certificate.pem");
/// `{"alg":"RS256"}`, the start of every JWT assertion sfgate signs.
const JWT_HEADER: &str = "eyJhbGciOiJSUzI1NiJ9";

#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        ..SandboxConfig::default()
    }
}

async fn call(app: &TestApp, tenant: &str) -> String {
    let id = app.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request =
        sfgate_testkit::with_metadata(GetLeadRequest { id, fields: None }, tenant, API_KEY);
    match app.leads().get_lead(request).await {
        Ok(response) => format!("{:?}", response.into_inner()),
        Err(status) => format!(
            "{status:?} {:?}",
            tonic_types::StatusExt::get_error_details(&status)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_logs_errors_or_debug_output() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let bao = OpenBao::start(VAULT_ROOT_TOKEN).await;
    let mut canaries: Vec<String> = [
        CLIENT_ID,
        CLIENT_SECRET,
        WRONG_PASSWORD,
        VAULT_ROOT_TOKEN,
        VAULT_CLIENT_TOKEN,
        API_KEY,
        JWT_HEADER,
    ]
    .map(String::from)
    .to_vec();
    canaries.push(PRIVATE_KEY.lines().nth(1).unwrap().to_owned());
    let mut seen_by_callers = Vec::new();
    let mut debug_output = Vec::new();

    // Password, client credentials, JWT bearer and refresh token tenants on one sandbox org, plus a
    // password tenant with a wrong password, plus (with OpenBao) JWT bearer credentials from Vault.
    let mut approle_secret_id = None;
    if let Some(bao) = &bao {
        bao.put_secret(
            "sfgate/vaulted",
            json!({"client_id": CLIENT_ID, "username": "integration@sfgate-sandbox.example", "private_key": PRIVATE_KEY}),
        )
        .await;
        let (role_id, secret_id) = bao.approle().await;
        bao.api(
            reqwest::Method::POST,
            "auth/token/create",
            Some(json!({"id": VAULT_CLIENT_TOKEN, "policies": ["sfgate-read"], "ttl": "1h"})),
        )
        .await;
        approle_secret_id = Some((role_id, secret_id));
    }
    let app = spawn_app_on(sandbox_config(), |config| {
        let base = config.tenants["sandbox"].clone();
        let base_credentials = config.credentials.file["sandbox"].clone();
        for (name, grant) in [
            ("client-credentials", OAuthGrant::ClientCredentials),
            ("jwt", OAuthGrant::JwtBearer),
            ("refresh", OAuthGrant::RefreshToken),
            ("wrong-password", OAuthGrant::Password),
        ] {
            let mut tenant = base.clone();
            tenant.grant = grant;
            tenant.credentials_path = name.into();
            config.tenants.insert(name.into(), tenant);
            let mut credentials = base_credentials.clone();
            credentials.private_key = Some(SecretString::from(PRIVATE_KEY));
            if name == "wrong-password" {
                credentials.password = Some(SecretString::from(WRONG_PASSWORD));
            }
            config.credentials.file.insert(name.into(), credentials);
        }
        if let Some(bao) = &bao {
            config.credentials.vault = Some(VaultSettings {
                address: bao.address.parse().unwrap(),
                mount: "secret".into(),
                namespace: None,
                ca_file: None,
                client_cert_file: None,
                client_key_file: None,
                auth: VaultAuthSettings::Token {
                    token: Some(SecretString::from(VAULT_CLIENT_TOKEN)),
                },
                refresh_after: Duration::from_secs(300),
                max_stale: Duration::from_secs(3600),
                timeout: Duration::from_secs(5),
            });
            let mut tenant = base.clone();
            tenant.grant = OAuthGrant::JwtBearer;
            tenant.credentials_provider = ProviderKind::Vault;
            tenant.credentials_path = "sfgate/vaulted".into();
            config.tenants.insert("vaulted".into(), tenant);
        }
        debug_output.push(format!("{config:?}"));
    })
    .await;
    app.sandbox.register_certificate(CERTIFICATE).unwrap();
    let sandbox_secrets = app.sandbox.credentials();
    canaries.extend([
        sandbox_secrets.password.clone(),
        sandbox_secrets.refresh_token.clone(),
    ]);
    if let Some((_, secret_id)) = &approle_secret_id {
        canaries.push(secret_id.clone());
    }

    let mut tenants = vec![
        "sandbox",
        "client-credentials",
        "jwt",
        "refresh",
        "wrong-password",
    ];
    if bao.is_some() {
        tenants.push("vaulted");
    }
    for tenant in &tenants {
        seen_by_callers.push(call(&app, tenant).await);
    }
    // A session rejected mid-traffic: refresh and retry, then an outright refusal.
    app.sandbox.expire_sessions();
    for tenant in &tenants {
        seen_by_callers.push(call(&app, tenant).await);
    }
    assert!(
        seen_by_callers[0].contains("Reed"),
        "the password tenant works: {}",
        seen_by_callers[0]
    );
    assert!(
        seen_by_callers[2].contains("Reed"),
        "the JWT tenant works: {}",
        seen_by_callers[2]
    );
    assert!(
        seen_by_callers[4].contains("Unavailable"),
        "the wrong password fails: {}",
        seen_by_callers[4]
    );
    if bao.is_some() {
        assert!(
            seen_by_callers[5].contains("Reed"),
            "the Vault tenant works: {}",
            seen_by_callers[5]
        );
    }
    debug_output.push(format!(
        "{:?}",
        app.sandbox.credentials().refresh_token.len()
    ));
    // The Vault client's own types, holding the token or a secret id.
    let vault_config = VaultConfig {
        address: "http://127.0.0.1:8200".parse().unwrap(),
        mount: "secret".into(),
        namespace: None,
        auth: VaultAuth::Token(SecretString::from(VAULT_CLIENT_TOKEN)),
        refresh_after: Duration::from_secs(300),
        max_stale: Duration::from_secs(3600),
        timeout: Duration::from_secs(5),
    };
    debug_output.push(format!("{vault_config:?}"));
    debug_output.push(format!(
        "{:?}",
        VaultCredentialProvider::new(sfgate::salesforce::http_client(), vault_config.clone())
    ));
    debug_output.push(format!(
        "{:?}",
        VaultAuth::AppRole {
            mount: "approle".into(),
            role_id: "role".into(),
            secret_id: SecretIdSource::Value(SecretString::from(VAULT_CLIENT_TOKEN)),
        }
    ));

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("TRACE"), "TRACE logging was on");
    assert!(logs.contains("minted salesforce access token"));
    for canary in &canaries {
        assert!(
            !logs.contains(canary.as_str()),
            "a secret leaked into the logs: {canary}"
        );
        for seen in &seen_by_callers {
            assert!(
                !seen.contains(canary.as_str()),
                "a secret leaked to a caller: {canary} in {seen}"
            );
        }
        for debug in &debug_output {
            assert!(
                !debug.contains(canary.as_str()),
                "a secret leaked into Debug output: {canary}"
            );
        }
    }
    let access_token = regex_free_find(&logs, "!A");
    assert!(
        access_token.is_none(),
        "an access token leaked into the logs: {access_token:?}"
    );
}

/// Finds a Salesforce-style access token (`00D…!A…`) in the text.
fn regex_free_find(text: &str, marker: &str) -> Option<String> {
    text.match_indices(marker).find_map(|(at, _)| {
        let start = at.checked_sub(15)?;
        let candidate = &text[start..at];
        candidate
            .starts_with("00D")
            .then(|| text[start..(at + 10).min(text.len())].to_owned())
    })
}
