//! The `sfgate` binary as a user runs it: the sandbox alone, a configuration file with `SFGATE__`
//! environment overrides, key hashing, and a refused configuration.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sfgate_testkit::process::{Running, connect_when_up, free_port, terminate};

use crate::BINARY;
use sfgate::pb::GetLeadRequest;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::tenant::ApiKeyHash;
use sfgate_sandbox::SandboxConfig;
use sfgate_testkit::with_metadata;

#[tokio::test]
async fn the_sandbox_runs_alone_with_credentials_from_the_environment() {
    let port = free_port();
    let child = Command::new(BINARY)
        .args(["sandbox", "--listen", &format!("127.0.0.1:{port}")])
        .env("SFGATE_SANDBOX_CLIENT_ID", "cli-client-id")
        .env("SFGATE_SANDBOX_CLIENT_SECRET", "cli-client-secret")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut printed = String::new();
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    while !printed.contains("grant_type=client_credentials") {
        let line = lines.next().expect("sandbox output").unwrap();
        printed.push_str(&line);
        printed.push('\n');
    }
    assert!(
        printed.contains("client_id:     cli-client-id"),
        "{printed}"
    );
    assert!(printed.contains("grant_type=password"), "{printed}");

    let base = format!("http://127.0.0.1:{port}");
    let http = sfgate::salesforce::http_client();
    let token: serde_json::Value = http
        .post(format!("{base}/services/oauth2/token"))
        .basic_auth("cli-client-id", Some("cli-client-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().expect("a token");
    assert_eq!(token["instance_url"], base);
    let describe = http
        .get(format!("{base}/services/data/v66.0/sobjects/Lead/describe"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(describe.status(), 200);
    assert!(
        describe.headers()["sforce-limit-info"]
            .to_str()
            .unwrap()
            .starts_with("api-usage=")
    );
    assert!(terminate(&mut child).await.success());
}

#[tokio::test]
async fn serve_reads_a_config_file_with_environment_overrides() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let credentials = org.credentials();
    let port = free_port();
    let config = format!(
        r#"
listen = "127.0.0.1:1"

[tenants.acme]
login_url = "{base}"
grant = "password"
credentials_provider = "file"
credentials_path = "orgs/acme"
allowed_instance_hosts = ["127.0.0.1"]
api_keys = [{{ caller = "cli-test", sha256 = "{hash}" }}]

[credentials.file."orgs/acme"]
client_id = "{client_id}"
client_secret = "{client_secret}"
username = "{username}"
password = "{password}"
"#,
        base = org.base_url(),
        hash = ApiKeyHash::of_key("acme-key").to_hex(),
        client_id = credentials.client_id,
        client_secret = credentials.client_secret,
        username = credentials.username,
        password = credentials.password,
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    // The configuration named before the `serve` subcommand still counts.
    let child = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .arg("serve")
        .env("SFGATE__LISTEN", format!("127.0.0.1:{port}"))
        .env("SFGATE__TENANTS__ACME__API_VERSION", "v65.0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);

    let lead_id = get_reed_as_acme(&org, port, "GetLead through the configured tenant").await;
    let paths: Vec<String> = org
        .requests()
        .into_iter()
        .map(|request| request.path)
        .collect();
    assert!(
        paths.contains(&format!("/services/data/v65.0/sobjects/Lead/{lead_id}")),
        "{paths:?}"
    );
    assert!(terminate(&mut child).await.success());
}

#[tokio::test]
async fn a_secret_of_digits_from_the_environment_is_taken_as_written() {
    // Figment would read 0012345678 as the number 12345678; the org knows the secret with its zeros.
    let secret = "0012345678";
    let org = sfgate_sandbox::start(SandboxConfig {
        client_secret: Some(secret.to_owned()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let credentials = org.credentials();
    let port = free_port();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[tenants.acme]\nlogin_url = \"{base}\"\ngrant = \"password\"\ncredentials_provider = \"file\"\ncredentials_path = \"acme\"\nallowed_instance_hosts = [\"127.0.0.1\"]\napi_keys = [{{ caller = \"cli-test\", sha256 = \"{hash}\" }}]\n[credentials.file.acme]\nclient_id = \"{client_id}\"\nclient_secret = \"replaced by the environment\"\nusername = \"{username}\"\npassword = \"{password}\"\n",
        base = org.base_url(),
        hash = ApiKeyHash::of_key("acme-key").to_hex(),
        client_id = credentials.client_id,
        username = credentials.username,
        password = credentials.password,
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let check = Command::new(BINARY)
        .arg("check-config")
        .arg("--config")
        .arg(file.path())
        .env("SFGATE__CREDENTIALS__FILE__ACME__CLIENT_SECRET", secret)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let printed = format!("{check:?}");
    assert!(!printed.contains(secret), "{printed}");
    let child = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .env("SFGATE__CREDENTIALS__FILE__ACME__CLIENT_SECRET", secret)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    get_reed_as_acme(
        &org,
        port,
        "the token request carried the secret with its leading zeros",
    )
    .await;
    assert!(terminate(&mut child).await.success());
}

/// Gets the seeded lead Reed as tenant `acme` (key `acme-key`) through a gateway process on
/// `port`, once it is up; returns the lead's id.
async fn get_reed_as_acme(org: &sfgate_sandbox::SandboxHandle, port: u16, expect: &str) -> String {
    let lead_id = org.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = LeadServiceClient::new(connect_when_up(port).await)
        .get_lead(with_metadata(
            GetLeadRequest {
                id: lead_id.clone(),
                fields: None,
            },
            "acme",
            "acme-key",
        ))
        .await
        .expect(expect)
        .into_inner();
    assert_eq!(lead.id, lead_id);
    lead_id
}

#[test]
fn hash_key_prints_the_sha256_of_the_key_from_the_argument_or_standard_input() {
    use std::io::Write as _;
    let hash_key = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(BINARY)
            .arg("hash-key")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let hash = ApiKeyHash::of_key("s3cret").to_hex();
    for (args, stdin) in [
        (&["s3cret"][..], None),
        (&["-"][..], Some("s3cret\n")),
        (&[][..], Some("s3cret\r\n")),
        (&[][..], Some("s3cret")),
    ] {
        let output = hash_key(args, stdin);
        assert!(output.status.success(), "{args:?} {stdin:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap().trim(),
            hash,
            "{args:?} {stdin:?}"
        );
    }
    for (args, stdin) in [(&["-"][..], Some("\n")), (&[][..], None), (&[""][..], None)] {
        let output = hash_key(args, stdin);
        assert!(!output.status.success(), "{args:?} {stdin:?}");
        assert!(
            String::from_utf8(output.stderr)
                .unwrap()
                .contains("the key is empty"),
            "{args:?} {stdin:?}"
        );
    }
}

#[test]
fn an_invalid_configuration_is_refused_with_the_reason() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[tenants.acme]\nlogin_url = \"https://x.my.salesforce.com\"\ngrant = \"magic\"\ncredentials_path = \"x\"\n").unwrap();
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("magic"), "{stderr}");
}

#[test]
fn check_config_accepts_a_good_file_and_names_what_is_wrong_in_a_bad_one() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let tenant = "[tenants.acme]\nlogin_url = \"https://acme.my.salesforce.com\"\ngrant = \"client_credentials\"\ncredentials_path = \"sfgate/acme\"\n";
    let vault = "[credentials.vault]\naddress = \"http://vault:8200\"\n[credentials.vault.auth]\nmethod = \"kubernetes\"\nrole = \"sfgate\"\n";
    let check = |text: &str| {
        std::fs::write(file.path(), text).unwrap();
        Command::new(BINARY)
            .arg("check-config")
            .arg("--config")
            .arg(file.path())
            .output()
            .unwrap()
    };
    let good = check(&format!(
        "[admin]\nlisten = \"0.0.0.0:9464\"\n{tenant}{vault}"
    ));
    assert!(good.status.success(), "{good:?}");
    assert!(
        String::from_utf8(good.stdout)
            .unwrap()
            .contains("configuration OK, 1 tenant(s)")
    );
    // A Vault tenant without [credentials.vault].
    let bad = check(tenant);
    assert!(!bad.status.success());
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(
        stderr.contains("no [credentials.vault] section"),
        "{stderr}"
    );
    let bad = check(&format!("[telemetry]\nsample_ratio = 2.0\n{tenant}{vault}"));
    assert!(!bad.status.success());
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("telemetry.sample_ratio"), "{stderr}");
}

#[tokio::test]
async fn sighup_reloads_and_a_bad_configuration_is_refused_with_a_log_line() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let port = free_port();
    let file = tempfile::NamedTempFile::new().unwrap();
    let poll_off =
        |text: String| text.replace("reload_poll_seconds = 1", "reload_poll_seconds = 0");
    std::fs::write(
        file.path(),
        poll_off(sfgate_testkit::config_text(
            &org,
            &[("acme", &["key-a"])],
            "",
        )),
    )
    .unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let channel = connect_when_up(port).await;
    let id = org.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = |key: &'static str| {
        let (channel, id) = (channel.clone(), id.clone());
        async move {
            LeadServiceClient::new(channel)
                .get_lead(with_metadata(
                    GetLeadRequest { id, fields: None },
                    "acme",
                    key,
                ))
                .await
                .map(drop)
        }
    };
    let hangup = |child: &Running| {
        Command::new("kill")
            .args(["-HUP", &child.0.id().to_string()])
            .status()
            .unwrap();
    };
    assert!(call("key-b").await.is_err());

    std::fs::write(
        file.path(),
        poll_off(sfgate_testkit::config_text(
            &org,
            &[("acme", &["key-b"])],
            "",
        )),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        call("key-b").await.is_err(),
        "without polling, nothing changes before SIGHUP"
    );
    hangup(&child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while call("key-b").await.is_err() {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the configuration"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    std::fs::write(file.path(), "[tenants.acme]\nlogin_url = 42\n").unwrap();
    hangup(&child);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logged = std::fs::read_to_string(log.path()).unwrap();
        if logged.contains("configuration reload rejected") {
            assert!(
                logged.contains("still serving the previous configuration"),
                "{logged}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line for the rejected reload: {logged}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    call("key-b")
        .await
        .expect("the previous configuration keeps serving");
    assert!(terminate(&mut child).await.success());
}

/// The README's tenant for a gateway in front of `sfgate sandbox`, as written there.
#[tokio::test]
async fn the_readmes_sandbox_tenant_serves_calls() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split_once("<!-- sandbox tenant -->\n```toml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the README's sandbox tenant block")
        .0;
    // The README starts the sandbox with these connected-app credentials.
    assert!(readme.contains(
        "SFGATE_SANDBOX_CLIENT_ID=sandbox-app SFGATE_SANDBOX_CLIENT_SECRET=sandbox-secret"
    ));
    let org = sfgate_sandbox::start(SandboxConfig {
        client_id: Some("sandbox-app".into()),
        client_secret: Some("sandbox-secret".into()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let config = block
        .replace("http://127.0.0.1:8443", org.base_url())
        .replace("127.0.0.1:50051", &format!("127.0.0.1:{port}"))
        .replace(
            "sha256 = \"…\"",
            &format!("sha256 = \"{}\"", ApiKeyHash::of_key("readme-key").to_hex()),
        );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let child = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Running(child);
    let channel = connect_when_up(port).await;
    let found = LeadServiceClient::new(channel)
        .find_leads(with_metadata(
            sfgate::pb::FindLeadsRequest {
                last_name: "Reed".into(),
                ..Default::default()
            },
            "sandbox",
            "readme-key",
        ))
        .await
        .expect("the README's tenant serves calls")
        .into_inner();
    assert!(!found.leads.is_empty());
}
