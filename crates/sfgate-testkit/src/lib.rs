//! The end-to-end harness of sfgate, compiled once for every test binary: a real sandbox org
//! over HTTP, a real sfgate over loopback gRPC, real tonic clients. [`spawn_app`] starts both on
//! ephemeral ports; dropping the app stops them. Beside it, real outside parts started on
//! 127.0.0.1 with a random port and stopped by PID: [`openbao`], [`redis`], [`otlp`]; and
//! [`process`] for the `sfgate` binary as a child process.

pub mod dynamic;
pub mod grpcio;
pub mod h2raw;
pub mod openbao;
pub mod otlp;
pub mod pki;
pub mod process;
pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use sfgate::config::{Config, SingleTenant};
use sfgate::credentials::OrgCredentials;
use sfgate::pb::account_service_client::AccountServiceClient;
use sfgate::pb::campaign_service_client::CampaignServiceClient;
use sfgate::pb::case_service_client::CaseServiceClient;
use sfgate::pb::contact_service_client::ContactServiceClient;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::pb::opportunity_service_client::OpportunityServiceClient;
use sfgate::tenant::ApiKeyHash;
use sfgate_sandbox::{RecordedRequest, SandboxConfig, SandboxHandle};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// The demo key the harness grants tenant `sandbox`.
pub const API_KEY: &str = "test-key-0123456789";

/// A running gateway in front of a running sandbox org.
#[derive(Debug)]
pub struct TestApp {
    /// The org.
    pub sandbox: SandboxHandle,
    /// The gateway's gRPC address.
    pub address: SocketAddr,
    /// The admin HTTP port (`/metrics`, `/healthz`, `/readyz`).
    pub admin_address: SocketAddr,
    /// A channel to the gateway (connected on first use).
    pub channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts a sandbox org and a gateway with the default sandbox configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a sandbox org and a gateway whose configuration `adjust` may change.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(SandboxConfig::default(), adjust).await
}

/// Starts a sandbox org with the given configuration and a gateway in front of it.
pub async fn spawn_app_on(
    sandbox_config: SandboxConfig,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    init_test_logs();
    let sandbox = sfgate_sandbox::start(sandbox_config)
        .await
        .expect("sandbox starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().unwrap();
    let mut config = Config::single_tenant(single_tenant(&sandbox, address, API_KEY));
    config.shutdown_grace = Duration::from_secs(5);
    adjust(&mut config);
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let admin_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let admin_address = admin_listener.local_addr().unwrap();
    let listeners = sfgate::server::Listeners {
        grpc: listener,
        admin: Some(admin_listener),
    };
    let server = tokio::spawn(sfgate::server::run_reloading(
        config,
        None,
        listeners,
        async {
            let _ = shutdown_signal.await;
        },
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    TestApp {
        sandbox,
        address,
        admin_address,
        channel,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

/// Tenant `sandbox` on a sandbox org: its integration user with the password grant, and one
/// caller `demo` with `api_key`.
pub fn single_tenant(sandbox: &SandboxHandle, listen: SocketAddr, api_key: &str) -> SingleTenant {
    let app = sandbox.credentials();
    SingleTenant {
        tenant: "sandbox".to_owned(),
        listen,
        login_url: sandbox.base_url().parse().expect("the sandbox URL"),
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
    }
}

impl TestApp {
    /// The Id of the seeded lead Reed.
    pub fn seeded_lead(&self) -> String {
        self.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
            .as_str()
            .expect("seeded lead Reed")
            .to_owned()
    }

    /// Wraps a message with the sandbox tenant's metadata.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        with_metadata(message, "sandbox", API_KEY)
    }

    /// A `LeadService` client.
    pub fn leads(&self) -> LeadServiceClient<Channel> {
        LeadServiceClient::new(self.channel.clone())
    }
    /// A `ContactService` client.
    pub fn contacts(&self) -> ContactServiceClient<Channel> {
        ContactServiceClient::new(self.channel.clone())
    }
    /// A `AccountService` client.
    pub fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }
    /// A `OpportunityService` client.
    pub fn opportunities(&self) -> OpportunityServiceClient<Channel> {
        OpportunityServiceClient::new(self.channel.clone())
    }
    /// A `CaseService` client.
    pub fn cases(&self) -> CaseServiceClient<Channel> {
        CaseServiceClient::new(self.channel.clone())
    }
    /// A `CampaignService` client.
    pub fn campaigns(&self) -> CampaignServiceClient<Channel> {
        CampaignServiceClient::new(self.channel.clone())
    }

    /// Requests the sandbox received on its data API (not token requests).
    pub fn data_requests(&self) -> Vec<RecordedRequest> {
        self.sandbox
            .requests()
            .into_iter()
            .filter(|request| {
                request.path.starts_with("/services/data")
                    || request.path.starts_with("/services/Soap")
            })
            .collect()
    }

    /// Token requests the sandbox received.
    pub fn token_requests(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|request| request.path.starts_with("/services/oauth2/token"))
            .count()
    }

    /// Stops the gateway the way SIGTERM does and waits for it to finish.
    pub async fn shut_down(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => tokio::time::timeout(Duration::from_secs(10), server).await??,
            None => Ok(()),
        }
    }

    /// The sender that starts the gateway's shutdown, for tests that time it themselves.
    pub fn shutdown_sender(&mut self) -> oneshot::Sender<()> {
        self.shutdown.take().expect("not shut down yet")
    }

    /// The gateway's task, for tests that wait on it themselves.
    pub fn take_server(&mut self) -> JoinHandle<anyhow::Result<()>> {
        self.server.take().expect("server running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Wraps a message with tenant and key metadata.
pub fn with_metadata<T>(message: T, tenant: &str, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", tenant.parse().unwrap());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// The `ErrorInfo.reason` of a status (panics if it has none: every status must carry one).
pub fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .unwrap_or_else(|| panic!("status without ErrorInfo: {status:?}"))
        .reason
        .clone()
}

/// The `BadRequest` field paths of a status.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A field mask of the given paths.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
    })
}

/// Shows the gateway's logs when `TEST_LOG` is set.
pub fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = sfgate::telemetry::init(
            sfgate::telemetry::LogFormat::Text,
            &sfgate::config::TelemetrySettings::default(),
        );
    }
}

/// A configuration file with tenants `(name, [keys])` on the sandbox org.
pub fn config_text(org: &SandboxHandle, tenants: &[(&str, &[&str])], extra: &str) -> String {
    let credentials = org.credentials();
    let mut text = String::from("reload_poll_seconds = 1\n");
    text.push_str(extra);
    for (name, keys) in tenants {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| {
                format!(
                    "{{ caller = \"{key}\", sha256 = \"{}\" }}",
                    ApiKeyHash::of_key(key).to_hex()
                )
            })
            .collect();
        text.push_str(&format!(
            "\n[tenants.{name}]\nlogin_url = \"{}\"\ngrant = \"password\"\ncredentials_provider = \"file\"\ncredentials_path = \"org\"\nallowed_instance_hosts = [\"127.0.0.1\"]\napi_keys = [{}]\n",
            org.base_url(),
            keys.join(", ")
        ));
    }
    text.push_str(&format!(
        "\n[credentials.file.org]\nclient_id = \"{}\"\nclient_secret = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
        credentials.client_id, credentials.client_secret, credentials.username, credentials.password
    ));
    text
}
