//! Tenant credentials from a real OpenBao server: KV v2 reads with token and AppRole login, token
//! renewal, rotation picked up without a restart, cached secrets while Vault is down, and a tenant
//! whose Vault is unreachable failing alone.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sfgate::config::{ProviderKind, VaultAuthSettings, VaultSettings};
use sfgate::credentials::vault::{SecretIdSource, VaultAuth, VaultConfig};
use sfgate::credentials::{CredentialError, CredentialProvider, VaultCredentialProvider};
use sfgate::pb::GetLeadRequest;
use sfgate_testkit::openbao::OpenBao;
use sfgate_testkit::{reason, spawn_app_with};
use tonic::Code;

fn provider(
    bao: &OpenBao,
    auth: VaultAuth,
    refresh_after: Duration,
    max_stale: Duration,
) -> VaultCredentialProvider {
    sfgate_testkit::init_test_logs();
    VaultCredentialProvider::new(
        sfgate::salesforce::http_client(),
        VaultConfig {
            address: bao.address.parse().unwrap(),
            mount: "secret".into(),
            namespace: None,
            auth,
            refresh_after,
            max_stale,
            timeout: Duration::from_secs(5),
        },
    )
}

fn exposed(secret: &Option<SecretString>) -> Option<&str> {
    secret.as_ref().map(|secret| secret.expose_secret())
}

#[tokio::test]
async fn reads_kv_v2_with_a_token_and_picks_up_a_rotation() {
    let Some(bao) = OpenBao::start("root-token-rotation").await else {
        return;
    };
    bao.put_secret("sfgate/acme", json!({"client_id": "3MVG9-acme", "client_secret": "first-secret", "username": "int@acme.example"})).await;
    let token = bao.token("1h").await;
    let vault = provider(
        &bao,
        VaultAuth::Token(token.into()),
        Duration::from_millis(500),
        Duration::from_secs(60),
    );

    let first = vault.credentials("sfgate/acme").await.unwrap();
    assert_eq!(exposed(&first.client_id), Some("3MVG9-acme"));
    assert_eq!(exposed(&first.client_secret), Some("first-secret"));
    assert_eq!(first.username.as_deref(), Some("int@acme.example"));

    bao.put_secret(
        "sfgate/acme",
        json!({"client_id": "3MVG9-acme", "client_secret": "rotated-secret"}),
    )
    .await;
    let cached = vault.credentials("sfgate/acme").await.unwrap();
    assert_eq!(
        exposed(&cached.client_secret),
        Some("first-secret"),
        "served from the cache until refresh_after"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rotated = vault.credentials("sfgate/acme").await.unwrap();
    assert_eq!(
        exposed(&rotated.client_secret),
        Some("rotated-secret"),
        "rotation picked up without a restart"
    );

    bao.put_secret("sfgate/acme", json!({"client_secret": "third-secret"}))
        .await;
    vault.invalidate("sfgate/acme");
    assert_eq!(
        exposed(
            &vault
                .credentials("sfgate/acme")
                .await
                .unwrap()
                .client_secret
        ),
        Some("third-secret")
    );

    let missing = vault.credentials("sfgate/nobody").await.unwrap_err();
    assert!(
        matches!(
            missing,
            CredentialError::NotFound {
                provider: "vault",
                ..
            }
        ),
        "{missing:?}"
    );
}

#[tokio::test]
async fn logs_in_with_approle() {
    let Some(bao) = OpenBao::start("root-token-approle").await else {
        return;
    };
    bao.put_secret(
        "sfgate/globex",
        json!({"client_id": "3MVG9-globex", "refresh_token": "5Aep-refresh"}),
    )
    .await;
    let (role_id, secret_id) = bao.approle().await;
    // A secret id from a file, as a Kubernetes secret or Vault agent would mount it.
    let secret_id_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_id_file.path(), format!("{secret_id}\n")).unwrap();
    let vault = provider(
        &bao,
        VaultAuth::AppRole {
            mount: "approle".into(),
            role_id,
            secret_id: SecretIdSource::File(secret_id_file.path().into()),
        },
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let credentials = vault.credentials("sfgate/globex").await.unwrap();
    assert_eq!(exposed(&credentials.refresh_token), Some("5Aep-refresh"));

    let refused = provider(
        &bao,
        VaultAuth::AppRole {
            mount: "approle".into(),
            role_id: "wrong".into(),
            secret_id: SecretIdSource::Value("wrong".to_string().into()),
        },
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let error = refused.credentials("sfgate/globex").await.unwrap_err();
    assert!(
        error.to_string().contains("login at auth/approle refused"),
        "{error}"
    );
}

#[tokio::test]
async fn renews_its_token_before_it_expires() {
    let Some(bao) = OpenBao::start("root-token-renewal").await else {
        return;
    };
    bao.put_secret("sfgate/renew", json!({"client_id": "renewed"}))
        .await;
    let token = bao.token("4s").await;
    let vault = provider(
        &bao,
        VaultAuth::Token(token.into()),
        Duration::ZERO,
        Duration::ZERO,
    );
    // Each read goes to Vault (refresh_after = 0); past two thirds of the TTL the token is renewed,
    // so reads keep working long after the original 4 s TTL.
    for _ in 0..8 {
        let credentials = vault
            .credentials("sfgate/renew")
            .await
            .expect("token still valid");
        assert_eq!(exposed(&credentials.client_id), Some("renewed"));
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
}

#[tokio::test]
async fn serves_cached_credentials_while_vault_is_down_until_they_are_too_old() {
    let Some(mut bao) = OpenBao::start("root-token-outage").await else {
        return;
    };
    bao.put_secret("sfgate/outage", json!({"client_id": "cached"}))
        .await;
    let vault = provider(
        &bao,
        VaultAuth::Token(bao.root_token.clone().into()),
        Duration::ZERO,
        Duration::from_secs(2),
    );
    assert!(vault.credentials("sfgate/outage").await.is_ok());
    bao.stop();
    let cached = vault
        .credentials("sfgate/outage")
        .await
        .expect("cached credentials keep serving");
    assert_eq!(exposed(&cached.client_id), Some("cached"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let error = vault.credentials("sfgate/outage").await.unwrap_err();
    assert!(
        matches!(
            error,
            CredentialError::Unavailable {
                provider: "vault",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "vault unavailable: unreachable",
        "callers learn what failed, not where Vault is (that goes to the log)"
    );
}

#[tokio::test]
async fn a_tenant_whose_vault_is_unreachable_fails_alone_and_names_vault() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|config| {
        config.credentials.vault = Some(VaultSettings {
            address: format!("http://127.0.0.1:{closed_port}").parse().unwrap(),
            mount: "secret".into(),
            namespace: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            auth: VaultAuthSettings::Token {
                token: Some("unused-token".to_string().into()),
            },
            refresh_after: Duration::from_secs(300),
            max_stale: Duration::from_secs(3600),
            timeout: Duration::from_secs(2),
        });
        let mut vaulted = config.tenants["sandbox"].clone();
        vaulted.credentials_provider = ProviderKind::Vault;
        vaulted.credentials_path = "sfgate/vaulted".into();
        config.tenants.insert("vaulted".into(), vaulted);
    })
    .await;
    let lead_id = app.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = |tenant: &str| {
        sfgate_testkit::with_metadata(
            GetLeadRequest {
                id: lead_id.clone(),
                fields: None,
            },
            tenant,
            sfgate_testkit::API_KEY,
        )
    };
    let status = app.leads().get_lead(request("vaulted")).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "CREDENTIALS_UNAVAILABLE")
    );
    assert!(status.message().contains("vault"), "{}", status.message());
    assert!(
        !status.message().contains("sfgate/vaulted"),
        "the secret path stays in the log"
    );
    // The tenant's connection indicator says the same, without a secret path.
    let connection =
        sfgate::pb::connection_service_client::ConnectionServiceClient::new(app.channel.clone())
            .get_connection(sfgate_testkit::with_metadata(
                sfgate::pb::GetConnectionRequest {},
                "vaulted",
                sfgate_testkit::API_KEY,
            ))
            .await
            .unwrap()
            .into_inner();
    assert!(!connection.connected);
    assert_eq!(connection.error_reason, "CREDENTIALS_UNAVAILABLE");
    assert_eq!(connection.credentials_provider, "vault");
    assert!(!format!("{connection:?}").contains("sfgate/vaulted"));
    app.leads()
        .get_lead(request("sandbox"))
        .await
        .expect("the other tenant serves");
}

/// Kubernetes' TokenReview API as OpenBao calls it: accepts exactly one service-account token.
async fn token_review_api(accepted_token: String) -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        post(move |axum::Json(review): axum::Json<serde_json::Value>| {
            let accepted = review["spec"]["token"] == accepted_token.as_str();
            async move {
                axum::Json(json!({
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview",
                    "status": if accepted {
                        json!({"authenticated": true, "user": {"username": "system:serviceaccount:sfgate:sfgate", "uid": "d1c2a3b4-0000-4000-8000-000000000001", "groups": ["system:serviceaccounts"]}})
                    } else {
                        json!({"authenticated": false, "error": "invalid token"})
                    }
                }))
            }
        }),
    );
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (address, server)
}

/// A service-account token as Kubernetes mounts it (a JWT; OpenBao reads its claims, the
/// TokenReview API vouches for it).
fn service_account_token() -> String {
    use base64::Engine as _;
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let claims = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "sfgate",
        "kubernetes.io/serviceaccount/secret.name": "sfgate-token",
        "kubernetes.io/serviceaccount/service-account.name": "sfgate",
        "kubernetes.io/serviceaccount/service-account.uid": "d1c2a3b4-0000-4000-8000-000000000001",
        "sub": "system:serviceaccount:sfgate:sfgate"
    });
    format!(
        "{}.{}.c2lnbmF0dXJl",
        encode(json!({"alg": "RS256", "typ": "JWT"})),
        encode(claims)
    )
}

#[tokio::test]
async fn logs_in_with_a_kubernetes_service_account_token() {
    let Some(bao) = OpenBao::start("root-token-kubernetes").await else {
        return;
    };
    bao.put_secret("sfgate/k8s", json!({"client_id": "3MVG9-k8s"}))
        .await;
    bao.create_read_policy().await;
    let jwt = service_account_token();
    let (kubernetes_api, _server) = token_review_api(jwt.clone()).await;
    bao.api(
        reqwest::Method::POST,
        "sys/auth/kubernetes",
        Some(json!({"type": "kubernetes"})),
    )
    .await;
    bao.api(
        reqwest::Method::POST,
        "auth/kubernetes/config",
        Some(json!({
            "kubernetes_host": kubernetes_api,
            "disable_local_ca_jwt": true,
            "token_reviewer_jwt": "reviewer",
            // Required with disable_local_ca_jwt; unused over plain HTTP to the loopback API.
            "kubernetes_ca_cert": include_str!("../fixtures/jwt/certificate.pem"),
        })),
    )
    .await;
    bao.api(
        reqwest::Method::POST,
        "auth/kubernetes/role/sfgate",
        Some(json!({
            "bound_service_account_names": ["sfgate"],
            "bound_service_account_namespaces": ["sfgate"],
            "token_policies": ["sfgate-read"],
            "ttl": "1h"
        })),
    )
    .await;
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), format!("{jwt}\n")).unwrap();
    let vault = provider(
        &bao,
        VaultAuth::Kubernetes {
            mount: "kubernetes".into(),
            role: "sfgate".into(),
            jwt_path: token_file.path().into(),
        },
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let credentials = vault
        .credentials("sfgate/k8s")
        .await
        .expect("kubernetes login and read");
    assert_eq!(exposed(&credentials.client_id), Some("3MVG9-k8s"));

    std::fs::write(token_file.path(), "not-the-service-account-token").unwrap();
    let refused = provider(
        &bao,
        VaultAuth::Kubernetes {
            mount: "kubernetes".into(),
            role: "sfgate".into(),
            jwt_path: token_file.path().into(),
        },
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    assert!(
        refused.credentials("sfgate/k8s").await.is_err(),
        "a token Kubernetes does not vouch for is refused"
    );
}

/// What a platform team's Vault asks of a client, set up in OpenBao: TLS from an internal CA with
/// client certificates required, the team's namespace, and AppRole at a mount of its own.
struct TeamVault {
    bao: OpenBao,
    pki: sfgate_testkit::pki::TestPki,
    role_id: String,
    secret_id: String,
}

const NAMESPACE: &str = "team-a";

async fn team_vault(root_token: &str) -> Option<TeamVault> {
    use reqwest::Method;
    let pki = sfgate_testkit::pki::TestPki::generate();
    let bao = OpenBao::start_with_tls(root_token, &pki).await?;
    let team = Some(NAMESPACE);
    bao.api(Method::POST, &format!("sys/namespaces/{NAMESPACE}"), None)
        .await;
    bao.api_in(
        team,
        Method::POST,
        "sys/mounts/secret",
        Some(json!({ "type": "kv", "options": { "version": "2" } })),
    )
    .await;
    let policy = r#"path "secret/data/sfgate/*" { capabilities = ["read"] }"#;
    bao.api_in(
        team,
        Method::PUT,
        "sys/policies/acl/sfgate-read",
        Some(json!({ "policy": policy })),
    )
    .await;
    bao.api_in(
        team,
        Method::POST,
        "sys/auth/sfgate-approle",
        Some(json!({ "type": "approle" })),
    )
    .await;
    bao.api_in(
        team,
        Method::POST,
        "auth/sfgate-approle/role/sfgate",
        Some(json!({ "token_policies": ["sfgate-read"], "token_ttl": "1h" })),
    )
    .await;
    let role_id = bao
        .api_in(
            team,
            Method::GET,
            "auth/sfgate-approle/role/sfgate/role-id",
            None,
        )
        .await["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id = bao
        .api_in(
            team,
            Method::POST,
            "auth/sfgate-approle/role/sfgate/secret-id",
            Some(json!({})),
        )
        .await["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    Some(TeamVault {
        bao,
        pki,
        role_id,
        secret_id,
    })
}

impl TeamVault {
    /// `[credentials.vault]` for it, with or without each of the settings it needs.
    fn settings(&self, namespace: bool, ca: bool, client_certificate: bool) -> VaultSettings {
        VaultSettings {
            address: self.bao.tls_address.clone().unwrap().parse().unwrap(),
            mount: "secret".into(),
            namespace: namespace.then(|| NAMESPACE.to_owned()),
            ca_file: ca.then(|| self.pki.ca_cert.clone()),
            client_cert_file: client_certificate.then(|| self.pki.client_cert.clone()),
            client_key_file: client_certificate.then(|| self.pki.client_key.clone()),
            auth: VaultAuthSettings::Approle {
                mount: "sfgate-approle".into(),
                role_id: self.role_id.clone(),
                secret_id: Some(self.secret_id.clone().into()),
                secret_id_file: None,
            },
            refresh_after: Duration::from_secs(300),
            max_stale: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        }
    }
}

#[tokio::test]
async fn reads_secrets_over_tls_with_a_client_certificate_from_a_namespace() {
    let Some(vault) = team_vault("root-token-team-vault").await else {
        return;
    };
    for (namespace, ca, client_certificate, serves) in [
        (true, true, true, true),
        (true, false, true, false),
        (true, true, false, false),
        (false, true, true, false),
    ] {
        let settings = vault.settings(namespace, ca, client_certificate);
        let app = spawn_app_with(move |config| {
            config.credentials.vault = Some(settings);
            let mut vaulted = config.tenants["sandbox"].clone();
            vaulted.credentials_provider = ProviderKind::Vault;
            vaulted.credentials_path = "sfgate/vaulted".into();
            config.tenants.insert("vaulted".into(), vaulted);
        })
        .await;
        let credentials = app.sandbox.credentials();
        vault
            .bao
            .api_in(
                Some(NAMESPACE),
                reqwest::Method::POST,
                "secret/data/sfgate/vaulted",
                Some(json!({ "data": {
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret,
                    "username": credentials.username,
                    "password": credentials.password,
                } })),
            )
            .await;
        let lead_id = app.seeded_lead();
        let outcome = app
            .leads()
            .get_lead(sfgate_testkit::with_metadata(
                GetLeadRequest {
                    id: lead_id.clone(),
                    fields: None,
                },
                "vaulted",
                sfgate_testkit::API_KEY,
            ))
            .await;
        let case =
            format!("namespace {namespace}, CA {ca}, client certificate {client_certificate}");
        if serves {
            assert_eq!(outcome.expect(&case).into_inner().id, lead_id, "{case}");
        } else {
            let status = outcome.expect_err(&case);
            assert_eq!(
                reason(&status),
                "CREDENTIALS_UNAVAILABLE",
                "{case}: {status:?}"
            );
        }
    }
}

/// Vault's own environment variables stand in for the settings, as the Vault CLI reads them.
#[tokio::test]
async fn takes_the_ca_client_certificate_and_namespace_from_vaults_environment_variables() {
    let Some(vault) = team_vault("root-token-team-vault-env").await else {
        return;
    };
    vault
        .bao
        .api_in(
            Some(NAMESPACE),
            reqwest::Method::POST,
            "secret/data/sfgate/vaulted",
            Some(json!({ "data": { "client_id": "3MVG9-env", "client_secret": "s", "username": "u", "password": "p" } })),
        )
        .await;
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[credentials.vault]\naddress = \"{}\"\nauth = {{ method = \"approle\", mount = \"sfgate-approle\", role_id = \"{}\" }}\n\n[tenants.vaulted]\nlogin_url = \"https://vaulted.my.salesforce.com\"\ngrant = \"password\"\ncredentials_path = \"sfgate/vaulted\"\n",
            vault.bao.tls_address.as_ref().unwrap(),
            vault.role_id
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(crate::BINARY)
        .args(["check-config", "--connect", "--no-mint", "--config"])
        .arg(config.path())
        .env("VAULT_CACERT", &vault.pki.ca_cert)
        .env("VAULT_CLIENT_CERT", &vault.pki.client_cert)
        .env("VAULT_CLIENT_KEY", &vault.pki.client_key)
        .env("VAULT_NAMESPACE", NAMESPACE)
        .env("VAULT_SECRET_ID", &vault.secret_id)
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("vault: ok: logged in with approle at auth/sfgate-approle"),
        "{printed}"
    );
    assert!(
        printed
            .contains("tenant vaulted: ok: password credentials at vault:sfgate/vaulted complete"),
        "{printed}"
    );
}

/// The README's AppRole walkthrough, its commands run as written against OpenBao, then a tenant
/// served with the role id and secret id file they made.
#[tokio::test]
async fn the_readmes_approle_walkthrough_works_as_written() {
    let Some(bao) = OpenBao::start("root-token-walkthrough").await else {
        return;
    };
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let commands = readme
        .split_once("<!-- approle walkthrough -->\n```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("the README's AppRole walkthrough")
        .0;
    assert!(readme.contains(
        "kubectl create secret generic sfgate-vault-approle --namespace sfgate --from-file=secret_id=secret-id"
    ));
    let dir = tempfile::tempdir().unwrap();
    let ran = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", commands])
        .current_dir(dir.path())
        .env("BAO_ADDR", &bao.address)
        .env("BAO_TOKEN", &bao.root_token)
        .output()
        .await
        .unwrap();
    assert!(
        ran.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    let role_id = std::fs::read_to_string(dir.path().join("role-id")).unwrap();
    let secret_id_file = dir.path().join("secret-id");

    let settings = VaultSettings {
        address: bao.address.parse().unwrap(),
        mount: "secret".into(),
        namespace: None,
        ca_file: None,
        client_cert_file: None,
        client_key_file: None,
        auth: VaultAuthSettings::Approle {
            mount: "approle".into(),
            role_id: role_id.trim().to_owned(),
            secret_id: None,
            secret_id_file: Some(secret_id_file),
        },
        refresh_after: Duration::from_secs(300),
        max_stale: Duration::from_secs(3600),
        timeout: Duration::from_secs(5),
    };
    let app = spawn_app_with(move |config| {
        config.credentials.vault = Some(settings);
        let mut vaulted = config.tenants["sandbox"].clone();
        vaulted.credentials_provider = ProviderKind::Vault;
        vaulted.credentials_path = "sfgate/walkthrough".into();
        config.tenants.insert("vaulted".into(), vaulted);
    })
    .await;
    let credentials = app.sandbox.credentials();
    bao.put_secret(
        "sfgate/walkthrough",
        json!({
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "username": credentials.username,
            "password": credentials.password,
        }),
    )
    .await;
    let lead_id = app.seeded_lead();
    let lead = app
        .leads()
        .get_lead(sfgate_testkit::with_metadata(
            GetLeadRequest {
                id: lead_id.clone(),
                fields: None,
            },
            "vaulted",
            sfgate_testkit::API_KEY,
        ))
        .await
        .expect("served with the walkthrough's AppRole")
        .into_inner();
    assert_eq!(lead.id, lead_id);
}
