//! Configuration reload: a changed file is picked up while calls are in flight, unchanged tenants
//! keep their org connection (no new token), and a bad file changes nothing.

use std::time::{Duration, Instant};

use sfgate::config::Config;
use sfgate::pb::GetLeadRequest;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate_sandbox::{Fault, FaultKind, SandboxConfig};
use sfgate_testkit::{config_text, with_metadata};
use tonic::Code;

async fn get_lead(
    channel: &tonic::transport::Channel,
    tenant: &str,
    key: &str,
    id: &str,
) -> Result<(), tonic::Status> {
    let request = with_metadata(
        GetLeadRequest {
            id: id.into(),
            fields: None,
        },
        tenant,
        key,
    );
    LeadServiceClient::new(channel.clone())
        .get_lead(request)
        .await
        .map(drop)
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(8);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_changed_file_is_picked_up_without_dropping_calls_in_flight() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config_text(&org, &[("acme", &["key-a"])], "")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = Config::load(file.path()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sfgate::server::run_reloading(
        config,
        Some(file.path().into()),
        sfgate::server::Listeners {
            grpc: listener,
            admin: None,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let id = org.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    get_lead(&channel, "acme", "key-a", &id).await.unwrap();

    org.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 1,
        kind: FaultKind::Latency(Duration::from_millis(2500)),
    });
    let in_flight = {
        let (channel, id) = (channel.clone(), id.clone());
        tokio::spawn(async move { get_lead(&channel, "acme", "key-a", &id).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::fs::write(
        file.path(),
        config_text(
            &org,
            &[("acme", &["key-a", "key-b"]), ("globex", &["key-g"])],
            "",
        ),
    )
    .unwrap();
    eventually("the new key works", async || {
        get_lead(&channel, "acme", "key-b", &id).await.is_ok()
    })
    .await;
    get_lead(&channel, "globex", "key-g", &id)
        .await
        .expect("a tenant added by the reload serves");
    in_flight
        .await
        .unwrap()
        .expect("the call in flight during the reload completed");
    let token_requests = org
        .requests()
        .iter()
        .filter(|request| request.path == "/services/oauth2/token")
        .count();
    assert_eq!(
        token_requests, 2,
        "acme kept its org connection and token; only the new tenant minted one"
    );

    std::fs::write(file.path(), config_text(&org, &[("acme", &["key-b"])], "")).unwrap();
    eventually("the removed key is refused", async || {
        get_lead(&channel, "acme", "key-a", &id)
            .await
            .is_err_and(|status| status.code() == Code::Unauthenticated)
    })
    .await;

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_bad_file_changes_nothing() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    let good = config_text(&org, &[("acme", &["key-a"])], "");
    std::fs::write(file.path(), &good).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(sfgate::server::run_reloading(
        Config::load(file.path()).unwrap(),
        Some(file.path().into()),
        sfgate::server::Listeners {
            grpc: listener,
            admin: None,
        },
        std::future::pending(),
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let id = org.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in [
        good.replace("grant = \"password\"", "grant = \"magic\""),
        good.replace("key-a", "key-b").replace(
            "credentials_provider = \"file\"",
            "credentials_provider = \"vault\"",
        ),
        "not toml at all [".to_owned(),
    ] {
        std::fs::write(file.path(), &bad).unwrap();
        tokio::time::sleep(Duration::from_millis(2200)).await;
        get_lead(&channel, "acme", "key-a", &id)
            .await
            .expect("the previous configuration keeps serving");
    }
    server.abort();
}
