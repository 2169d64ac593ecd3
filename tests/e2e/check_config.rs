//! `sfgate check-config --connect` as an operator runs it before a deployment: a real OpenBao
//! with AppRole, a real Redis, the sandbox org; one line per tenant, ok or what is wrong and what
//! to do, and a failing exit code when anything is wrong.

use std::process::Output;

use serde_json::json;
use sfgate_sandbox::SandboxConfig;
use sfgate_testkit::openbao::OpenBao;
use sfgate_testkit::redis::Redis;

use crate::BINARY;

/// Runs it without blocking the test's runtime, where the sandbox org answers.
async fn check_config(config: &std::path::Path, flags: &[&str]) -> (Output, String) {
    let output = tokio::process::Command::new(BINARY)
        .arg("check-config")
        .arg("--config")
        .arg(config)
        .args(flags)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    (output, stdout)
}

fn tenant(name: &str, grant: &str, base_url: &str) -> String {
    format!(
        "\n[tenants.{name}]\nlogin_url = \"{base_url}\"\ngrant = \"{grant}\"\ncredentials_path = \"sfgate/{name}\"\nallowed_instance_hosts = [\"127.0.0.1\"]\n"
    )
}

#[tokio::test]
async fn connect_checks_vault_redis_and_every_tenant_and_says_what_to_do() {
    let Some(bao) = OpenBao::start("root-token-check-config").await else {
        return;
    };
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let app = org.credentials();
    bao.put_secret(
        "sfgate/good",
        json!({
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "username": app.username,
            "password": app.password,
        }),
    )
    .await;
    bao.put_secret(
        "sfgate/incomplete",
        json!({ "client_id": app.client_id, "username": app.username }),
    )
    .await;
    bao.put_secret(
        "sfgate/refused",
        json!({ "client_id": app.client_id, "client_secret": "not-the-secret-7f1e" }),
    )
    .await;
    let (role_id, secret_id) = bao.approle().await;
    let dir = tempfile::tempdir().unwrap();
    let secret_id_file = dir.path().join("secret-id");
    std::fs::write(&secret_id_file, &secret_id).unwrap();
    let base = org.base_url();
    let header = format!(
        "[credentials.vault]\naddress = \"{}\"\nauth = {{ method = \"approle\", role_id = \"{role_id}\", secret_id_file = \"{}\" }}\n\n[shared_limits]\nredis_url = \"{}\"\nexpected_replicas = 2\n",
        bao.address,
        secret_id_file.display(),
        redis.url()
    );
    let all = dir.path().join("all.toml");
    std::fs::write(
        &all,
        header.clone()
            + &tenant("good", "password", base)
            + &tenant("incomplete", "jwt_bearer", base)
            + &tenant("missing", "client_credentials", base)
            + &tenant("refused", "client_credentials", base),
    )
    .unwrap();

    let (output, printed) = check_config(&all, &["--connect"]).await;
    assert!(!output.status.success(), "{printed}");
    let lines: Vec<&str> = printed
        .lines()
        .filter(|line| line.contains(": ok") || line.contains(": FAILED"))
        .collect();
    assert_eq!(lines.len(), 6, "{printed}");
    assert_eq!(
        lines[0],
        "vault: ok: logged in with approle at auth/approle"
    );
    assert_eq!(lines[1], "redis: ok: PING answered");
    assert!(
        lines[2].starts_with("tenant good: ok: password grant minted a token at ")
            && lines[2].ends_with(&format!("(instance {base})")),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        "tenant incomplete: FAILED: the secret at vault:sfgate/incomplete has no private_key, which the jwt_bearer grant needs: add it"
    );
    assert!(
        lines[4].starts_with(
            "tenant missing: FAILED: vault has no secret at vault:sfgate/missing: write it"
        ),
        "{}",
        lines[4]
    );
    assert!(
        lines[5]
            .starts_with("tenant refused: FAILED: the org refused the credentials (invalid_client")
            && lines[5].contains("client_secret is not the connected app's consumer secret"),
        "{}",
        lines[5]
    );
    let everything = format!("{printed}{}", String::from_utf8_lossy(&output.stderr));
    for secret in [
        app.password.as_str(),
        app.client_secret.as_str(),
        "not-the-secret-7f1e",
        secret_id.as_str(),
    ] {
        assert!(!everything.contains(secret), "a secret was printed");
    }

    // Without minting, a wrong client secret cannot be told: its secret is complete.
    let (_, printed) = check_config(&all, &["--connect", "--no-mint"]).await;
    assert!(
        printed.contains(
            "tenant refused: ok: client_credentials credentials at vault:sfgate/refused complete"
        ),
        "{printed}"
    );

    // Only the good tenant: exit code 0, until Redis is gone.
    let good = dir.path().join("good.toml");
    std::fs::write(&good, header + &tenant("good", "password", base)).unwrap();
    let (output, printed) = check_config(&good, &["--connect"]).await;
    assert!(output.status.success(), "{printed}");
    redis.stop();
    let (output, printed) = check_config(&good, &["--connect"]).await;
    assert!(!output.status.success());
    assert!(printed.contains("redis: FAILED: "), "{printed}");
}
