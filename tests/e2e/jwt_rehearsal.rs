//! The JWT bearer grant rehearsed as the README tells it: a key and certificate made with
//! openssl, `sfgate sandbox --jwt-certificate`, and a gateway tenant with `grant = "jwt_bearer"`
//! serving calls; an assertion signed with another key is refused, and the sandbox says why.

use std::path::Path;
use std::process::{Command, Stdio};

use sfgate::pb::connection_service_client::ConnectionServiceClient;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::tenant::ApiKeyHash;
use sfgate_testkit::process::{Running, connect_when_up, free_port, logged};
use sfgate_testkit::with_metadata;

use crate::BINARY;

/// `openssl req -x509`: an RSA key and a self-signed certificate for it, as the README has it.
fn key_and_certificate(dir: &Path, name: &str) -> (String, std::path::PathBuf) {
    let (key, certificate) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.crt")),
    );
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", &format!("/CN={name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (Debian package openssl) runs");
    assert!(made.success());
    (std::fs::read_to_string(key).unwrap(), certificate)
}

fn sha256_fingerprint(certificate: &Path) -> String {
    let printed = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(certificate)
        .output()
        .unwrap();
    let printed = String::from_utf8(printed.stdout).unwrap();
    printed.trim().rsplit('=').next().unwrap().to_owned()
}

/// A tenant on the JWT bearer grant, its private key in the configuration file.
fn tenant(id: &str, base_url: &str, client_id: &str, private_key: &str) -> String {
    format!(
        r#"
[tenants.{id}]
login_url = "{base_url}"
grant = "jwt_bearer"
credentials_provider = "file"
credentials_path = "orgs/{id}"
allowed_instance_hosts = ["127.0.0.1"]
api_keys = [{{ caller = "rehearsal", sha256 = "{hash}" }}]

[credentials.file."orgs/{id}"]
client_id = "{client_id}"
username = "integration@sfgate-sandbox.example"
private_key = """
{private_key}"""
"#,
        hash = ApiKeyHash::of_key("rehearsal-key").to_hex(),
    )
}

#[tokio::test]
async fn a_jwt_bearer_tenant_serves_calls_against_the_sandbox_with_a_registered_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (private_key, certificate) = key_and_certificate(dir.path(), "sfgate-rehearsal");
    let (other_key, _) = key_and_certificate(dir.path(), "someone-else");

    let sandbox_port = free_port();
    let sandbox_log = dir.path().join("sandbox.log");
    let sandbox = Command::new(BINARY)
        .args(["sandbox", "--listen", &format!("127.0.0.1:{sandbox_port}")])
        .arg("--jwt-certificate")
        .arg(&certificate)
        .env("SFGATE_SANDBOX_CLIENT_ID", "rehearsal-client-id")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&sandbox_log).unwrap())
        .spawn()
        .unwrap();
    let _sandbox = Running(sandbox);
    let registered = logged(&sandbox_log, "registered the connected app's certificate").await;
    assert!(
        registered.contains("subject=CN=sfgate-rehearsal"),
        "{registered}"
    );
    assert!(
        registered.contains(&format!("sha256={}", sha256_fingerprint(&certificate))),
        "{registered}"
    );

    let base_url = format!("http://127.0.0.1:{sandbox_port}");
    let gateway_port = free_port();
    let config = dir.path().join("sfgate.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{gateway_port}\"\n{}{}",
            tenant("acme", &base_url, "rehearsal-client-id", &private_key),
            tenant("impostor", &base_url, "rehearsal-client-id", &other_key),
        ),
    )
    .unwrap();
    let gateway = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _gateway = Running(gateway);
    let channel = connect_when_up(gateway_port).await;
    let find_reed = |tenant: &'static str| {
        let channel = channel.clone();
        async move {
            LeadServiceClient::new(channel)
                .find_leads(with_metadata(
                    sfgate::pb::FindLeadsRequest {
                        last_name: "Reed".into(),
                        ..Default::default()
                    },
                    tenant,
                    "rehearsal-key",
                ))
                .await
        }
    };
    let found = find_reed("acme")
        .await
        .expect("the JWT tenant serves calls");
    assert!(!found.into_inner().leads.is_empty());
    let connection = ConnectionServiceClient::new(channel.clone())
        .get_connection(with_metadata(
            sfgate::pb::GetConnectionRequest {},
            "acme",
            "rehearsal-key",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.grant, "jwt_bearer");
    assert_eq!(
        connection.jwt_audience, base_url,
        "a login URL outside salesforce.com is its own audience"
    );

    let refused = find_reed("impostor").await.unwrap_err();
    assert_eq!(sfgate_testkit::reason(&refused), "UPSTREAM_AUTH_FAILED");
    assert!(
        refused.message().contains("invalid assertion"),
        "{refused:?}"
    );
    let why = logged(&sandbox_log, "refused a JWT bearer assertion").await;
    assert!(why.contains("bad signature"), "{why}");
}

#[tokio::test]
async fn the_default_run_registers_the_certificate_named_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (_, certificate) = key_and_certificate(dir.path(), "sfgate-demo");
    let log = dir.path().join("sfgate.log");
    let child = Command::new(BINARY)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--admin-listen", &format!("127.0.0.1:{}", free_port())])
        .env("SFGATE_SANDBOX_JWT_CERTIFICATE", &certificate)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _child = Running(child);
    let registered = logged(&log, "registered the connected app's certificate").await;
    assert!(
        registered.contains("subject=CN=sfgate-demo"),
        "{registered}"
    );
    assert!(
        registered.contains(&format!("sha256={}", sha256_fingerprint(&certificate))),
        "{registered}"
    );
}
