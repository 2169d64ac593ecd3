//! `ConnectionService.GetConnection`: the connection indicator and instance details, and a broken
//! connection described (not thrown) with its reason.

use sfgate::pb::GetConnectionRequest;
use sfgate::pb::connection_service_client::ConnectionServiceClient;
use sfgate_testkit::{spawn_app, spawn_app_with};

#[tokio::test]
async fn describes_the_orgs_connection_and_who_actions_run_as() {
    let app = spawn_app().await;
    let connection = ConnectionServiceClient::new(app.channel.clone())
        .get_connection(app.request(GetConnectionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(connection.connected, "{connection:?}");
    assert!(connection.error_reason.is_empty());
    assert_eq!(connection.instance_url, app.sandbox.base_url());
    assert_eq!(connection.org_id, app.sandbox.org_id());
    let user = connection.user.expect("the integration user");
    assert_eq!(user.username, app.sandbox.credentials().username);
    assert!(user.id.starts_with("005"));
    assert_eq!(connection.api_version, "v66.0");
    assert_eq!(connection.grant, "password");
    assert_eq!(
        connection.jwt_audience, "",
        "only the JWT bearer grant has an audience"
    );
    assert_eq!(connection.credentials_provider, "file");
    assert!(
        connection.scopes.contains(&"api".to_string()),
        "{:?}",
        connection.scopes
    );
    let usage = connection.api_usage.expect("API usage");
    assert_eq!(usage.limit, 15_000);
    assert!(usage.used >= 1 && usage.used as u64 <= app.sandbox.api_usage());
    for action in [
        "LeadService.ConvertLead",
        "CaseService.AddCaseComment",
        "LookupService.LookupByPhone",
        "ConnectionService.GetConnection",
    ] {
        assert!(
            connection.actions.contains(&action.to_string()),
            "{action} missing: {:?}",
            connection.actions
        );
    }
}

#[tokio::test]
async fn a_broken_connection_says_why_without_secrets() {
    let app = spawn_app_with(|config| {
        config.credentials.file.get_mut("sandbox").unwrap().password =
            Some("wrong-canary-password".to_string().into());
    })
    .await;
    let connection = ConnectionServiceClient::new(app.channel.clone())
        .get_connection(app.request(GetConnectionRequest {}))
        .await
        .expect("a broken connection is described, not an error")
        .into_inner();
    assert!(!connection.connected);
    assert_eq!(connection.error_reason, "UPSTREAM_AUTH_FAILED");
    assert!(
        connection.error_message.contains("invalid_grant"),
        "{}",
        connection.error_message
    );
    assert!(!format!("{connection:?}").contains("canary"));
    assert!(
        !connection.actions.is_empty(),
        "the actions are listed even while disconnected"
    );
}
