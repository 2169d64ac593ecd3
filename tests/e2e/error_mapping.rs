//! One end-to-end test per row of the error table in DESIGN.md: the sandbox org fails as a real
//! org does (or is told to), and the caller sees the right code with ErrorInfo and details.

use std::time::Duration;

use prost_types::{Struct, Value, value::Kind};
use sfgate::pb::*;
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::{mask, reason, spawn_app, spawn_app_with, violated_fields};
use tonic::Code;
use tonic_types::StatusExt;

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn fail_next(path_contains: &str, http_status: u16, error_code: &str, times: u32) -> Fault {
    Fault {
        path_contains: Some(path_contains.to_owned()),
        method: None,
        times,
        kind: FaultKind::Error {
            http_status,
            error_code: error_code.to_owned(),
            message: format!("injected {error_code}"),
        },
    }
}

async fn get_lead(app: &sfgate_testkit::TestApp, id: &str) -> tonic::Status {
    app.leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.into(),
            fields: None,
        }))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn http_statuses_without_a_known_error_code_get_a_defined_code_and_the_status() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    for (http_status, code) in [
        (408, Code::DeadlineExceeded),
        (405, Code::Unimplemented),
        (413, Code::InvalidArgument),
        (418, Code::FailedPrecondition),
    ] {
        app.sandbox.inject_fault(fail_next(
            "/sobjects/Lead/",
            http_status,
            "SOMETHING_NEW",
            1,
        ));
        let status = get_lead(&app, &id).await;
        assert_eq!(status.code(), code, "HTTP {http_status}: {status:?}");
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "SOMETHING_NEW");
        assert_eq!(info.metadata["http_status"], http_status.to_string());
    }
}

#[tokio::test]
async fn a_megabyte_of_bad_input_is_refused_with_a_bounded_status_a_grpcio_client_reads() {
    use prost::Message;
    let app = spawn_app().await;
    let request = UpsertAccountRequest {
        external_id_field: format!("{}!", "x".repeat(1_000_000)),
        external_id: "ERP-1".into(),
        account: Some(Account::default()),
    };
    let status = app
        .accounts()
        .upsert_account(app.request(request.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["external_id_field"]);
    assert!(
        status.message().len() + status.details().len() < 8 * 1024,
        "message {} and details {} bytes",
        status.message().len(),
        status.details().len()
    );
    // grpc-core refuses metadata past 16 KiB: it would have reported RESOURCE_EXHAUSTED.
    let Some(received) = sfgate_testkit::grpcio::call(
        app.address,
        "/sfgate.v1.AccountService/UpsertAccount",
        &request.encode_to_vec(),
        "sandbox",
        sfgate_testkit::API_KEY,
    )
    .await
    else {
        return;
    };
    assert_eq!(received["code"], "INVALID_ARGUMENT", "{received}");
    assert_eq!(received["violations"][0], "external_id_field", "{received}");
    assert!(
        received["message_length"].as_u64().unwrap() <= 1024,
        "{received}"
    );
}

#[tokio::test]
async fn not_found_and_entity_is_deleted_are_not_found() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    app.leads()
        .delete_lead(app.request(DeleteLeadRequest { id: id.clone() }))
        .await
        .unwrap();
    let missing = get_lead(&app, &id).await;
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "NOT_FOUND")
    );
    assert_eq!(
        missing.get_error_details().error_info().unwrap().domain,
        "salesforce.com"
    );
    let deleted_again = app
        .leads()
        .delete_lead(app.request(DeleteLeadRequest { id }))
        .await
        .unwrap_err();
    assert_eq!(
        (deleted_again.code(), reason(&deleted_again).as_str()),
        (Code::NotFound, "ENTITY_IS_DELETED")
    );
}

#[tokio::test]
async fn field_errors_are_invalid_argument_with_the_request_field_named() {
    let app = spawn_app().await;
    let mut leads = app.leads();
    let missing = leads
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                company: text("Acme"),
                ..Lead::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::InvalidArgument, "REQUIRED_FIELD_MISSING")
    );
    assert_eq!(
        violated_fields(&missing),
        vec!["lead.last_name".to_string()]
    );

    let too_long = leads
        .create_lead(app.request(CreateLeadRequest {
            lead: Some(Lead {
                last_name: text("Long"),
                company: text("Acme"),
                title: Some("t".repeat(300)),
                ..Lead::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (too_long.code(), reason(&too_long).as_str()),
        (Code::InvalidArgument, "STRING_TOO_LONG")
    );
    assert_eq!(violated_fields(&too_long), vec!["lead.title".to_string()]);

    let unknown_field = leads
        .create_lead(
            app.request(CreateLeadRequest {
                lead: Some(Lead {
                    last_name: text("X"),
                    company: text("Acme"),
                    extra_fields: Some(Struct {
                        fields: [(
                            "No_Such_Field__c".to_owned(),
                            Value {
                                kind: Some(Kind::BoolValue(true)),
                            },
                        )]
                        .into(),
                    }),
                    ..Lead::default()
                }),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (unknown_field.code(), reason(&unknown_field).as_str()),
        (Code::InvalidArgument, "INVALID_FIELD")
    );
    assert_eq!(
        violated_fields(&unknown_field),
        vec!["lead.extra_fields.No_Such_Field__c".to_string()]
    );
}

#[tokio::test]
async fn injected_request_errors_map_per_the_table() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    let rows = [
        (400, "MALFORMED_ID", Code::InvalidArgument),
        (400, "MALFORMED_QUERY", Code::InvalidArgument),
        (
            400,
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            Code::InvalidArgument,
        ),
        (400, "JSON_PARSER_ERROR", Code::InvalidArgument),
        (412, "PRECONDITION_FAILED", Code::FailedPrecondition),
        (
            403,
            "INSUFFICIENT_ACCESS_OR_READONLY",
            Code::PermissionDenied,
        ),
        (403, "API_DISABLED_FOR_ORG", Code::PermissionDenied),
        (400, "UNABLE_TO_LOCK_ROW", Code::Aborted),
        (503, "SERVER_UNAVAILABLE", Code::Unavailable),
        (500, "UNKNOWN_EXCEPTION", Code::Unavailable),
        (404, "SOMETHING_ELSE_MISSING", Code::NotFound),
    ];
    for (http_status, error_code, expected) in rows {
        // A read answered 503 is tried once more: both tries fail here.
        let times = if http_status == 503 { 2 } else { 1 };
        app.sandbox
            .inject_fault(fail_next("/sobjects/Lead/", http_status, error_code, times));
        let status = get_lead(&app, &id).await;
        assert_eq!(status.code(), expected, "{error_code}");
        assert_eq!(reason(&status), error_code);
        let info = status.get_error_details().error_info().unwrap().clone();
        assert_eq!(info.domain, "salesforce.com");
        assert_eq!(info.metadata["http_status"], http_status.to_string());
        if expected == Code::InvalidArgument {
            assert!(
                status.get_error_details().bad_request().is_some(),
                "{error_code} lacks BadRequest"
            );
        }
        if matches!(expected, Code::Aborted | Code::Unavailable) {
            assert!(
                status.get_error_details().retry_info().is_some(),
                "{error_code} lacks RetryInfo"
            );
        }
    }
}

#[tokio::test]
async fn validation_rules_and_several_upsert_matches_are_failed_precondition() {
    let app = spawn_app().await;
    let negative = app
        .opportunities()
        .create_opportunity(app.request(CreateOpportunityRequest {
            opportunity: Some(Opportunity {
                name: text("Refund"),
                stage_name: text("Prospecting"),
                close_date: text("2026-12-01"),
                amount: Some(-5.0),
                ..Opportunity::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (negative.code(), reason(&negative).as_str()),
        (
            Code::FailedPrecondition,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        )
    );

    let shared_legacy_id = app
        .sandbox
        .find_records("Contact", "Legacy_Id__c", "LEG-7")
        .len();
    assert!(
        shared_legacy_id >= 2,
        "the sandbox seeds two contacts sharing a legacy id"
    );
    let ambiguous = app
        .contacts()
        .upsert_contact(app.request(UpsertContactRequest {
            external_id_field: "Legacy_Id__c".into(),
            external_id: "LEG-7".into(),
            contact: Some(Contact {
                title: text("Agent"),
                ..Contact::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (ambiguous.code(), reason(&ambiguous).as_str()),
        (Code::FailedPrecondition, "MULTIPLE_CHOICES")
    );
    let records = ambiguous.get_error_details().error_info().unwrap().metadata["records"].clone();
    assert_eq!(
        records.matches("/sobjects/Contact/").count(),
        shared_legacy_id
    );
}

#[tokio::test]
async fn duplicates_are_already_exists() {
    let app = spawn_app().await;
    let account = |external_id: &str| {
        app.request(CreateAccountRequest {
            account: Some(Account {
                name: text("Dup Co"),
                extra_fields: Some(Struct {
                    fields: [(
                        "External_Id__c".to_owned(),
                        Value {
                            kind: Some(Kind::StringValue(external_id.into())),
                        },
                    )]
                    .into(),
                }),
                ..Account::default()
            }),
        })
    };
    app.accounts()
        .create_account(account("DUP-1"))
        .await
        .unwrap();
    let duplicate_value = app
        .accounts()
        .create_account(account("DUP-1"))
        .await
        .unwrap_err();
    assert_eq!(
        (duplicate_value.code(), reason(&duplicate_value).as_str()),
        (Code::AlreadyExists, "DUPLICATE_VALUE")
    );

    let lead = |company: &str| {
        app.request(CreateLeadRequest {
            lead: Some(Lead {
                last_name: text("Twin"),
                company: text(company),
                email: text("twin@example.org"),
                ..Lead::default()
            }),
        })
    };
    app.leads().create_lead(lead("First")).await.unwrap();
    let detected = app.leads().create_lead(lead("Second")).await.unwrap_err();
    assert_eq!(
        (detected.code(), reason(&detected).as_str()),
        (Code::AlreadyExists, "DUPLICATES_DETECTED")
    );
}

#[tokio::test]
async fn request_limit_exceeded_is_resource_exhausted_with_retry_and_quota_details() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    app.sandbox
        .inject_fault(fail_next("/sobjects/", 403, "REQUEST_LIMIT_EXCEEDED", 1));
    let status = get_lead(&app, &id).await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "REQUEST_LIMIT_EXCEEDED")
    );
    let details = status.get_error_details();
    assert!(
        details
            .retry_info()
            .and_then(|retry| retry.retry_delay)
            .is_some()
    );
    assert!(!details.quota_failure().unwrap().violations.is_empty());
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_and_the_call_retried() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    app.leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.clone(),
            fields: None,
        }))
        .await
        .unwrap();
    assert_eq!(app.token_requests(), 1);
    app.sandbox.expire_sessions();
    app.leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.clone(),
            fields: None,
        }))
        .await
        .expect("retried with a new token");
    assert_eq!(app.token_requests(), 2, "exactly one refresh");

    app.sandbox
        .inject_fault(fail_next("/sobjects/", 401, "INVALID_SESSION_ID", 2));
    let status = get_lead(&app, &id).await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_AUTH_FAILED")
    );
    assert_eq!(app.token_requests(), 3, "one refresh, then give up");
    let cooling = get_lead(&app, &id).await;
    assert_eq!(reason(&cooling), "UPSTREAM_AUTH_FAILED");
    for refused in [&status, &cooling] {
        let retry = refused
            .get_error_details()
            .retry_info()
            .and_then(|info| info.retry_delay);
        assert!(
            retry.is_some_and(|delay| delay <= Duration::from_secs(1)),
            "the first refusal and the next both say when the token is tried again: {refused:?}"
        );
    }
    assert_eq!(
        app.token_requests(),
        3,
        "a rejected fresh session cools the tenant down: no mint per call"
    );
    assert!(!status.message().contains("Bearer"), "{}", status.message());
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable() {
    let app = spawn_app().await;
    let id = app.seeded_lead();
    // A read whose connection drops is tried once more: both tries lose theirs here.
    app.sandbox.inject_fault(Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times: 2,
        kind: FaultKind::CloseConnection,
    });
    let status = get_lead(&app, &id).await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_UNREACHABLE")
    );
}

#[tokio::test]
async fn upstream_timeout_and_caller_deadline_are_deadline_exceeded() {
    let app = spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().upstream_timeout = Duration::from_millis(300);
    })
    .await;
    let id = app.seeded_lead();
    app.leads()
        .get_lead(app.request(GetLeadRequest {
            id: id.clone(),
            fields: None,
        }))
        .await
        .unwrap();
    let slow = |times| Fault {
        path_contains: Some("/sobjects/Lead/".into()),
        method: None,
        times,
        kind: FaultKind::Latency(Duration::from_secs(2)),
    };
    app.sandbox.inject_fault(slow(1));
    let upstream = get_lead(&app, &id).await;
    assert_eq!(
        (upstream.code(), reason(&upstream).as_str()),
        (Code::DeadlineExceeded, "UPSTREAM_TIMEOUT")
    );

    app.sandbox.clear_faults();
    let app = spawn_app().await;
    let id = app.seeded_lead();
    app.sandbox.inject_fault(slow(1));
    let mut request = app.request(GetLeadRequest { id, fields: None });
    request.set_timeout(Duration::from_millis(400));
    let caller = app.leads().get_lead(request).await.unwrap_err();
    assert_eq!(caller.code(), Code::DeadlineExceeded, "{caller:?}");
    assert_eq!(reason(&caller), "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn token_endpoint_refusal_is_unavailable_without_secrets() {
    let app = spawn_app_with(|config| {
        config.credentials.file.get_mut("sandbox").unwrap().password =
            Some("wrong-password-canary".to_string().into());
    })
    .await;
    let status = get_lead(&app, "00Q5g00000AbCdE").await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_AUTH_FAILED")
    );
    assert!(
        status.message().contains("invalid_grant"),
        "{}",
        status.message()
    );
    assert_eq!(
        status
            .get_error_details()
            .retry_info()
            .and_then(|info| info.retry_delay),
        Some(Duration::from_secs(1)),
        "the first refusal says when the org is asked again"
    );
    assert!(!format!("{status:?}").contains("canary"));
    let _ = mask(&[]);
}

#[tokio::test]
async fn an_org_that_refuses_connections_is_unavailable() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|config| {
        config.tenants.get_mut("sandbox").unwrap().login_url =
            format!("http://127.0.0.1:{closed_port}").parse().unwrap();
    })
    .await;
    let status = get_lead(&app, "00Q5g00000AbCdE").await;
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unavailable, "UPSTREAM_UNREACHABLE")
    );
    assert!(status.get_error_details().retry_info().is_some());
}
