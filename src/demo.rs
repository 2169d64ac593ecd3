//! The no-configuration run: an embedded sandbox org, one tenant `sandbox` in front of it with a
//! demo API key (random, or `SFGATE_DEMO_API_KEY`), the admin port on 127.0.0.1:9464, and a
//! banner with ready-to-paste grpcurl commands. Also `sfgate sandbox`, the org alone.
//!
//! This is the only code that names the sandbox: the gateway itself is handed an ordinary
//! single-tenant [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;
use sfgate::config::{AdminSettings, Config, SchemaSettings, SingleTenant};
use sfgate::credentials::OrgCredentials;
use sfgate_sandbox::{SandboxConfig, SandboxHandle};
use tokio::net::TcpListener;
use url::Url;

use crate::cli::{SandboxArgs, shutdown_signal};

/// The demo tenant's id.
pub(crate) const TENANT: &str = "sandbox";
/// Where the demo serves gRPC and the admin endpoints unless flags say otherwise.
const GRPC_LISTEN: &str = "127.0.0.1:50051";
const ADMIN_LISTEN: &str = "127.0.0.1:9464";

/// A running sandbox org and the demo key that reaches it through the gateway.
pub(crate) struct Demo {
    sandbox: SandboxHandle,
    api_key: String,
}

impl Demo {
    /// Starts the sandbox org on a free port, with the connected app's certificate when given.
    pub(crate) async fn start(jwt_certificate: Option<&Path>) -> anyhow::Result<Self> {
        let sandbox = start_sandbox(
            SandboxConfig {
                listen: "127.0.0.1:0".parse()?,
                ..SandboxConfig::default()
            },
            jwt_certificate,
        )
        .await?;
        let api_key = std::env::var("SFGATE_DEMO_API_KEY")
            .ok()
            .filter(|key| !key.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "sfgate-demo-{}",
                    Alphanumeric.sample_string(&mut rand::rng(), 24)
                )
            });
        Ok(Self { sandbox, api_key })
    }

    /// The gateway's configuration: the demo tenant, the admin port, and the schema files to
    /// serve for the tenant.
    pub(crate) fn config(&self, schemas: &[PathBuf]) -> anyhow::Result<Config> {
        let mut config = Config::single_tenant(single_tenant(
            &self.sandbox,
            GRPC_LISTEN.parse()?,
            &self.api_key,
        )?);
        config.admin = Some(AdminSettings {
            listen: ADMIN_LISTEN.parse()?,
        });
        config.schemas = schemas
            .iter()
            .map(|file| SchemaSettings {
                file: file.clone(),
                tenants: vec![TENANT.to_owned()],
            })
            .collect();
        Ok(config)
    }

    /// Prints where the gateway serves, the demo key and commands to try.
    pub(crate) fn print_banner(&self, grpc: &TcpListener, admin: Option<&TcpListener>) {
        let Ok(address) = grpc.local_addr() else {
            return;
        };
        let key = &self.api_key;
        let headers = format!("-H 'x-tenant-id: {TENANT}' -H 'authorization: Bearer {key}'");
        println!();
        println!(
            "sfgate is serving gRPC on {address}, in front of the embedded sandbox org at {}",
            self.sandbox.base_url()
        );
        println!("tenant: {TENANT}    demo API key: {key}");
        println!();
        println!("try it:");
        println!("  grpcurl -plaintext {address} list");
        println!(
            "  grpcurl -plaintext {headers} -d '{{\"last_name\": \"Reed\"}}' {address} sfgate.v1.LeadService/FindLeads"
        );
        println!(
            "  grpcurl -plaintext {headers} -d '{{\"lead\": {{\"first_name\": \"Jordan\", \"last_name\": \"Ellis\", \"company\": \"Harbor Freight Co\", \"email\": \"jordan.ellis@example.com\"}}}}' {address} sfgate.v1.LeadService/CreateLead"
        );
        println!(
            "  grpcurl -plaintext {headers} -d '{{\"open_only\": true}}' {address} sfgate.v1.CaseService/FindCases"
        );
        if let Some(admin_address) = admin.and_then(|admin| admin.local_addr().ok()) {
            println!();
            println!("metrics and health: http://{admin_address}/metrics  /healthz  /readyz");
        }
        println!();
    }

    /// Stops the sandbox org.
    pub(crate) async fn stop(self) {
        self.sandbox.shutdown().await;
    }
}

/// The single tenant in front of a sandbox org: its integration user with the password grant.
fn single_tenant(
    sandbox: &SandboxHandle,
    listen: SocketAddr,
    api_key: &str,
) -> anyhow::Result<SingleTenant> {
    let app = sandbox.credentials();
    Ok(SingleTenant {
        tenant: TENANT.to_owned(),
        listen,
        login_url: Url::parse(sandbox.base_url()).context("the sandbox URL")?,
        credentials: OrgCredentials {
            client_id: Some(SecretString::from(app.client_id.clone())),
            client_secret: Some(SecretString::from(app.client_secret.clone())),
            username: Some(app.username.clone()),
            password: Some(SecretString::from(app.password.clone())),
            refresh_token: Some(SecretString::from(app.refresh_token.clone())),
            ..OrgCredentials::default()
        },
        caller: "demo".to_owned(),
        api_key: SecretString::from(api_key.to_owned()),
    })
}

/// Starts a sandbox org, with the connected app's id and secret from `SFGATE_SANDBOX_CLIENT_ID`
/// and `SFGATE_SANDBOX_CLIENT_SECRET` when set, and the certificate of `jwt_certificate` (a PEM
/// file) registered for the JWT bearer flow.
async fn start_sandbox(
    config: SandboxConfig,
    jwt_certificate: Option<&Path>,
) -> anyhow::Result<SandboxHandle> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let jwt_certificate_pem = jwt_certificate
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the JWT certificate {}", path.display()))
        })
        .transpose()?;
    let config = SandboxConfig {
        client_id: from_env("SFGATE_SANDBOX_CLIENT_ID"),
        client_secret: from_env("SFGATE_SANDBOX_CLIENT_SECRET"),
        jwt_certificate_pem,
        ..config
    };
    sfgate_sandbox::start(config)
        .await
        .context("starting the sandbox org")
}

/// `sfgate sandbox`: the org alone, with its credentials and token commands printed, until
/// SIGTERM/SIGINT.
pub(crate) async fn run_sandbox_alone(args: SandboxArgs) -> anyhow::Result<()> {
    let sandbox = start_sandbox(
        SandboxConfig {
            listen: args.listen,
            daily_api_limit: args.daily_api_limit,
            ..SandboxConfig::default()
        },
        args.jwt_certificate.as_deref(),
    )
    .await?;
    let credentials = sandbox.credentials();
    let base_url = sandbox.base_url();
    println!("sandbox org listening on {base_url}");
    println!("org id: {}", sandbox.org_id());
    println!("client_id:     {}", credentials.client_id);
    println!("client_secret: {}", credentials.client_secret);
    println!("username:      {}", credentials.username);
    println!(
        "password:      {}  (password + security token)",
        credentials.password
    );
    println!();
    println!("get a token:");
    println!(
        "  curl -s {base_url}/services/oauth2/token -d grant_type=password -d client_id={} -d client_secret={} -d username={} -d password={}",
        credentials.client_id,
        credentials.client_secret,
        credentials.username,
        credentials.password
    );
    println!(
        "  curl -s {base_url}/services/oauth2/token -d grant_type=refresh_token -d client_id={} -d client_secret={} -d refresh_token={}",
        credentials.client_id, credentials.client_secret, credentials.refresh_token
    );
    if let Some(path) = &args.jwt_certificate {
        println!(
            "  JWT bearer: sign an RS256 assertion with the private key of {} (iss = client_id, sub = username, aud = {base_url}, exp within 5 minutes) and post it as grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…",
            path.display()
        );
    }
    println!(
        "  curl -s {base_url}/services/oauth2/token -u {}:{} -d grant_type=client_credentials",
        credentials.client_id, credentials.client_secret
    );
    shutdown_signal().await;
    sandbox.shutdown().await;
    tracing::info!("sandbox org stopped");
    Ok(())
}
