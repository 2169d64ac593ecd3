//! Tenants are isolated: a key works only for the tenants granted it (on every RPC, with nothing
//! sent upstream otherwise), each tenant has its own rate and concurrency limits, and a tenant's
//! ceiling on its org's daily API budget is enforced before requests are burned.

use std::time::Duration;

use sfgate::config::RateLimitConfig;
use sfgate::pb::GetLeadRequest;
use sfgate::tenant::ApiKeyHash;
use sfgate_sandbox::{Fault, FaultKind, SandboxConfig};
use sfgate_testkit::{API_KEY, TestApp, reason, spawn_app_on, spawn_app_with, with_metadata};
use tonic::Code;
use tonic_types::StatusExt;

async fn get_lead(app: &TestApp, tenant: &str, id: &str) -> Result<(), tonic::Status> {
    let request = with_metadata(
        GetLeadRequest {
            id: id.into(),
            fields: None,
        },
        tenant,
        API_KEY,
    );
    app.leads().get_lead(request).await.map(drop)
}

/// A second tenant, `other`, on the same org and key, with its own limits.
fn add_other_tenant(config: &mut sfgate::config::Config) {
    let other = config.tenants["sandbox"].clone();
    config.tenants.insert("other".into(), other);
}

#[tokio::test]
async fn every_rpc_refuses_a_key_not_granted_the_tenant_before_any_call() {
    let app = spawn_app_with(|config| {
        let mut other = config.tenants["sandbox"].clone();
        other.api_keys = vec![sfgate::config::ApiKeyConfig {
            caller: "other".into(),
            sha256: ApiKeyHash::of_key("other-key"),
        }];
        config.tenants.insert("other".into(), other);
    })
    .await;
    let pool = prost_reflect::DescriptorPool::decode(sfgate::pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = 0;
    for service in pool
        .services()
        .filter(|service| service.package_name() == "sfgate.v1")
    {
        for method in service.methods() {
            let path: http::uri::PathAndQuery =
                format!("/{}/{}", service.full_name(), method.name())
                    .parse()
                    .unwrap();
            let mut grpc = tonic::client::Grpc::new(app.channel.clone());
            grpc.ready().await.unwrap();
            // An empty message is a valid encoding of every request type.
            let request = with_metadata((), "sandbox", "other-key");
            let codec = tonic_prost::ProstCodec::<(), ()>::default();
            let status = grpc.unary(request, path.clone(), codec).await.unwrap_err();
            assert_eq!(
                (status.code(), reason(&status).as_str()),
                (Code::PermissionDenied, "TENANT_NOT_GRANTED"),
                "{path}"
            );
            methods += 1;
        }
    }
    assert!(methods >= 6 * 6 + 2, "every RPC was tried ({methods})");
    assert!(
        app.sandbox.requests().is_empty(),
        "nothing reached Salesforce, not even a token request"
    );
}

#[tokio::test]
async fn a_tenant_over_its_rate_is_refused_with_retry_and_quota_details() {
    let app = spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().rate_limit = Some(RateLimitConfig {
            requests_per_second: 2.0,
            burst: Some(2),
        });
    })
    .await;
    let id = app.seeded_lead();
    get_lead(&app, "sandbox", &id).await.unwrap();
    get_lead(&app, "sandbox", &id).await.unwrap();
    let sent_before = app.data_requests().len();
    let status = get_lead(&app, "sandbox", &id).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "TENANT_RATE_LIMITED")
    );
    let details = status.get_error_details();
    let retry = details
        .retry_info()
        .and_then(|retry| retry.retry_delay)
        .expect("RetryInfo");
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_millis(500),
        "{retry:?}"
    );
    let quota = details.quota_failure().expect("QuotaFailure");
    assert_eq!(quota.violations[0].subject, "tenant:sandbox");
    assert_eq!(
        app.data_requests().len(),
        sent_before,
        "the refused call was not sent"
    );
    tokio::time::sleep(retry).await;
    get_lead(&app, "sandbox", &id)
        .await
        .expect("admitted after the advertised delay");
}

#[tokio::test]
async fn a_tenant_at_its_concurrency_cap_is_refused_while_others_serve() {
    let app = spawn_app_with(|config| {
        config
            .tenants
            .get_mut("sandbox")
            .unwrap()
            .max_concurrent_calls = Some(2);
        add_other_tenant(config);
    })
    .await;
    let id = app.seeded_lead();
    get_lead(&app, "sandbox", &id).await.unwrap();
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 2,
        kind: FaultKind::Latency(Duration::from_millis(600)),
    });
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let mut leads = app.leads();
            let request = app.request(GetLeadRequest {
                id: id.clone(),
                fields: None,
            });
            tokio::spawn(async move { leads.get_lead(request).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let status = get_lead(&app, "sandbox", &id).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "TENANT_CONCURRENCY_LIMITED")
    );
    assert!(status.get_error_details().quota_failure().is_some());
    get_lead(&app, "other", &id)
        .await
        .expect("another tenant is not held up");
    for call in slow {
        call.await.unwrap().expect("the calls in flight complete");
    }
    get_lead(&app, "sandbox", &id)
        .await
        .expect("slots are free again");
}

#[tokio::test]
async fn a_noisy_tenant_at_ten_times_its_limit_does_not_touch_a_quiet_one() {
    let app = spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().rate_limit = Some(RateLimitConfig {
            requests_per_second: 20.0,
            burst: Some(5),
        });
        add_other_tenant(config);
        config.tenants.get_mut("other").unwrap().rate_limit = Some(RateLimitConfig {
            requests_per_second: 20.0,
            burst: Some(5),
        });
    })
    .await;
    let id = app.seeded_lead();
    let noisy = {
        let (channel, id) = (app.channel.clone(), id.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            let mut ticker = tokio::time::interval(Duration::from_millis(5)); // 200/s: 10x its limit
            for _ in 0..300 {
                ticker.tick().await;
                let mut leads =
                    sfgate::pb::lead_service_client::LeadServiceClient::new(channel.clone());
                let request = with_metadata(
                    GetLeadRequest {
                        id: id.clone(),
                        fields: None,
                    },
                    "sandbox",
                    API_KEY,
                );
                if leads.get_lead(request).await.is_err() {
                    refused += 1;
                }
            }
            refused
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(100)); // 10/s: half its limit
    for _ in 0..15 {
        ticker.tick().await;
        get_lead(&app, "other", &id)
            .await
            .expect("the quiet tenant is never refused");
    }
    assert!(
        noisy.await.unwrap() > 150,
        "the noisy tenant was held to its own limit"
    );
}

#[tokio::test]
async fn a_tenant_past_its_org_api_budget_ceiling_is_refused_before_burning_requests() {
    let sandbox = SandboxConfig {
        daily_api_limit: 40,
        ..SandboxConfig::default()
    };
    let app = spawn_app_on(sandbox, |config| {
        let tenant = config.tenants.get_mut("sandbox").unwrap();
        tenant.api_budget_percent = Some(50.0);
        tenant.api_budget_recheck = Duration::from_secs(1);
    })
    .await;
    let id = app.seeded_lead();
    let mut refusal = None;
    for _ in 0..40 {
        if let Err(status) = get_lead(&app, "sandbox", &id).await {
            refusal = Some(status);
            break;
        }
    }
    let status = refusal.expect("the ceiling was reached");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "ORG_API_BUDGET")
    );
    assert!(status.get_error_details().quota_failure().is_some());
    let used = app.sandbox.api_usage();
    assert_eq!(used, 20, "refused at 50% of 40");
    for _ in 0..10 {
        get_lead(&app, "sandbox", &id).await.unwrap_err();
    }
    assert_eq!(
        app.sandbox.api_usage(),
        used,
        "refused calls burn none of the org's requests"
    );
    let retry = status
        .get_error_details()
        .retry_info()
        .and_then(|retry| retry.retry_delay)
        .expect("RetryInfo");
    assert!(
        retry <= Duration::from_secs(1),
        "retry when the usage is re-read: {retry:?}"
    );

    // After the recheck interval one call goes out to re-read the usage (the daily limit is a
    // rolling window and may have reopened); here it has not, so refusals resume.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    get_lead(&app, "sandbox", &id)
        .await
        .expect("one call re-reads the usage");
    assert_eq!(app.sandbox.api_usage(), used + 1);
    get_lead(&app, "sandbox", &id).await.unwrap_err();
    assert_eq!(
        app.sandbox.api_usage(),
        used + 1,
        "then refused again until the next recheck"
    );
}

#[tokio::test]
async fn the_orgs_own_request_limit_is_resource_exhausted() {
    let sandbox = SandboxConfig {
        daily_api_limit: 3,
        ..SandboxConfig::default()
    };
    let app = spawn_app_on(sandbox, |_| {}).await;
    let id = app.seeded_lead();
    let mut last = Ok(());
    for _ in 0..6 {
        last = get_lead(&app, "sandbox", &id).await;
    }
    let status = last.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "REQUEST_LIMIT_EXCEEDED")
    );
}
