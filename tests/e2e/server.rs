//! The server around the services: caller authentication, reflection (v1 and v1alpha), health,
//! graceful shutdown.

use std::time::Duration;

use sfgate::pb::*;
use sfgate::tenant::ApiKeyHash;
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::{API_KEY, reason, spawn_app, spawn_app_with, with_metadata};
use tonic::Code;

#[tokio::test]
async fn callers_need_a_key_granted_the_tenant_and_nothing_reaches_salesforce_otherwise() {
    let app = spawn_app_with(|config| {
        let mut other = config.tenants["sandbox"].clone();
        other.api_keys = vec![sfgate::config::ApiKeyConfig {
            caller: "other".into(),
            sha256: ApiKeyHash::of_key("other-key"),
        }];
        config.tenants.insert("other".into(), other);
    })
    .await;
    let request = || GetLeadRequest {
        id: "00Q5g00000AbCdE".into(),
        fields: None,
    };
    let cases = [
        (
            with_metadata(request(), "sandbox", "wrong-key"),
            Code::Unauthenticated,
            "API_KEY_INVALID",
        ),
        (
            with_metadata(request(), "sandbox", "other-key"),
            Code::PermissionDenied,
            "TENANT_NOT_GRANTED",
        ),
        (
            with_metadata(request(), "nobody", API_KEY),
            Code::PermissionDenied,
            "TENANT_NOT_GRANTED",
        ),
        (
            tonic::Request::new(request()),
            Code::Unauthenticated,
            "API_KEY_MISSING",
        ),
    ];
    for (request, code, expected_reason) in cases {
        let status = app.leads().get_lead(request).await.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (code, expected_reason)
        );
    }
    let mut no_tenant = tonic::Request::new(request());
    no_tenant.metadata_mut().insert(
        "authorization",
        format!("Bearer {API_KEY}").parse().unwrap(),
    );
    let status = app.leads().get_lead(no_tenant).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        app.sandbox.requests().is_empty(),
        "no token and no data request was made"
    );
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_every_service() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = spawn_app().await;
    let expected = [
        "sfgate.v1.LeadService",
        "sfgate.v1.ContactService",
        "sfgate.v1.AccountService",
        "sfgate.v1.OpportunityService",
        "sfgate.v1.CaseService",
        "sfgate.v1.CampaignService",
        "sfgate.v1.LookupService",
        "sfgate.v1.ConnectionService",
        "sfgate.v1.RecordService",
        "grpc.health.v1.Health",
    ];

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected v1 response");
    };
    let mut names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    names.sort();
    let mut served: Vec<String> = expected
        .iter()
        .chain(&["grpc.reflection.v1.ServerReflection"])
        .map(|name| (*name).to_owned())
        .collect();
    served.sort();
    assert_eq!(names, served, "v1 lists exactly what is served");

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "sfgate.v1.LeadService".into(),
            ),
        ),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        response.message_response
    else {
        panic!("unexpected v1alpha response");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test]
async fn health_reports_the_server_and_each_service_serving() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in ["", "sfgate.v1.LeadService", "sfgate.v1.CaseService"] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn an_open_health_watch_sees_not_serving_and_does_not_hold_the_shutdown() {
    use tonic_health::ServingStatus;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    // A grace period far longer than the test may take: the server must not wait it out.
    let mut app = spawn_app_with(|config| config.shutdown_grace = Duration::from_secs(60)).await;
    let mut watch = HealthClient::new(app.channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("Watch")
        .into_inner();
    let first = watch.message().await.unwrap().expect("the current status");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let server = app.take_server();
    let _ = app.shutdown_sender().send(());
    let next = watch.message().await.unwrap().expect("the change");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    let end = tokio::time::timeout(Duration::from_secs(20), watch.message())
        .await
        .expect("the Watch stream ends once the drain starts");
    assert!(end.unwrap_or_default().is_none(), "the stream ends");
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the server stopped without waiting out its grace period")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let mut app = spawn_app().await;
    let id = app.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 1,
        kind: FaultKind::Latency(Duration::from_millis(700)),
    });
    let mut leads = app.leads();
    let request = app.request(GetLeadRequest { id, fields: None });
    let in_flight = tokio::spawn(async move { leads.get_lead(request).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = app.shutdown_sender().send(());
    let finished = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert!(
        finished.is_ok(),
        "the in-flight call completed: {finished:?}"
    );
    let server = app.take_server();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let refused = tonic::transport::Endpoint::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect()
        .await;
    assert!(refused.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn a_client_credentials_tenant_mints_its_token_with_http_basic() {
    let app = spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().grant =
            sfgate::auth::OAuthGrant::ClientCredentials;
        let credentials = config.credentials.file.get_mut("sandbox").unwrap();
        credentials.username = None;
        credentials.password = None;
    })
    .await;
    let id = app.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = app
        .leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.clone(),
            fields: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead.id, id);
    let token_requests: Vec<_> = app
        .sandbox
        .requests()
        .into_iter()
        .filter(|request| request.path == "/services/oauth2/token")
        .collect();
    assert_eq!(token_requests.len(), 1);
    assert_eq!(token_requests[0].body, "grant_type=client_credentials");
    assert!(
        token_requests[0]
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization")),
        "client id and secret travel in the Authorization header, not the body"
    );
}

#[tokio::test]
async fn requests_to_one_org_are_capped_and_the_rest_wait_their_turn() {
    let app = spawn_app_with(|config| {
        config
            .tenants
            .get_mut("sandbox")
            .unwrap()
            .max_upstream_requests = 3;
    })
    .await;
    let lead_id = app.seeded_lead();
    let get = || {
        let mut leads = app.leads();
        let request = app.request(sfgate::pb::GetLeadRequest {
            id: lead_id.clone(),
            fields: None,
        });
        async move { leads.get_lead(request).await }
    };
    get().await.expect("a first call mints the token");
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 100,
        kind: FaultKind::Latency(Duration::from_millis(200)),
    });
    app.sandbox.reset_peak_concurrent_requests();
    let outcomes = futures::future::join_all((0..10).map(|_| get())).await;
    assert!(
        outcomes.iter().all(Result::is_ok),
        "every call is served in turn"
    );
    let peak = app.sandbox.peak_concurrent_requests();
    assert!(
        (2..=3).contains(&peak),
        "at most 3 requests at once reached the org: {peak}"
    );
}
