//! The fault matrix, measured: `cargo bench --bench fault_matrix` prints RELIABILITY.md's table.
//!
//! Every RPC against every fault the sandbox org (and a stopped OpenBao or Redis) can play: the
//! status each call gets, how many records each attempted create left (at most 1, and exactly 1
//! when Salesforce acknowledged it), and how far past its deadline any call answered. Each cell
//! runs on a fresh org and gateway (in this process), so that no cell's circuit breaker, cached
//! token or cool-down reaches another. Under `cargo test` (no `--bench` argument) a few cells run
//! as a smoke test of the invariants.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sfgate::config::{ProviderKind, SharedLimitsSettings, VaultAuthSettings, VaultSettings};
use sfgate::pb::*;
use sfgate_sandbox::{Fault, FaultKind};
use sfgate_testkit::openbao::OpenBao;
use sfgate_testkit::redis::Redis;
use sfgate_testkit::{TestApp, mask, spawn_app_with};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// The deadline of every call.
const DEADLINE: Duration = Duration::from_secs(1);

/// Records inserted before a cell's fault, for the RPCs that read, change or delete one.
struct Fixture {
    lead: String,
    contact: String,
    account: String,
    opportunity: String,
    case: String,
    campaign: String,
}

impl Fixture {
    fn insert(app: &TestApp) -> Self {
        let insert = |object: &str, fields: serde_json::Value| {
            app.sandbox.insert_record(object, fields).expect("fixture")
        };
        let account = insert("Account", serde_json::json!({"Name": "Matrix Account"}));
        Self {
            lead: insert(
                "Lead",
                serde_json::json!({"LastName": "Matrix", "Company": "Faults Inc", "Phone": "(415) 555-0199"}),
            ),
            contact: insert(
                "Contact",
                serde_json::json!({"LastName": "Matrix", "AccountId": account}),
            ),
            opportunity: insert(
                "Opportunity",
                serde_json::json!({"Name": "Matrix Deal", "StageName": "Prospecting", "CloseDate": "2027-01-31", "AccountId": account}),
            ),
            case: insert("Case", serde_json::json!({"Subject": "Matrix"})),
            campaign: insert("Campaign", serde_json::json!({"Name": "Matrix Campaign"})),
            account,
        }
    }
}

type Call = for<'a> fn(&'a TestApp, &'a Fixture) -> BoxFuture<'a, Result<(), Status>>;

/// One RPC: its name, the object an attempt may create (for the records column), the call.
struct Rpc {
    name: &'static str,
    creates: Option<&'static str>,
    call: Call,
}

fn request<T>(app: &TestApp, message: T) -> tonic::Request<T> {
    let mut request = app.request(message);
    request.set_timeout(DEADLINE);
    request
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn fields(name: &str, value: &str) -> Option<prost_types::Struct> {
    Some(prost_types::Struct {
        fields: [(
            name.to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(value.to_owned())),
            },
        )]
        .into(),
    })
}

macro_rules! rpc {
    ($name:literal, $creates:expr, |$app:ident, $fixture:ident| $call:expr) => {
        Rpc {
            name: $name,
            creates: $creates,
            call: |$app, $fixture| {
                Box::pin(async move {
                    let _ = &$fixture;
                    $call.await.map(drop)
                })
            },
        }
    };
}

fn rpcs() -> Vec<Rpc> {
    vec![
        rpc!("CreateLead", Some("Lead"), |app, f| app
            .leads()
            .create_lead(request(
                app,
                CreateLeadRequest {
                    lead: Some(Lead {
                        last_name: text("New"),
                        company: text("New Co"),
                        ..Lead::default()
                    })
                }
            ))),
        rpc!("GetLead", None, |app, f| app.leads().get_lead(request(
            app,
            GetLeadRequest {
                id: f.lead.clone(),
                fields: None
            }
        ))),
        rpc!("UpdateLead", None, |app, f| app.leads().update_lead(
            request(
                app,
                UpdateLeadRequest {
                    lead: Some(Lead {
                        id: f.lead.clone(),
                        title: text("Updated"),
                        ..Lead::default()
                    }),
                    update_mask: mask(&["title"])
                }
            )
        )),
        rpc!("DeleteLead", None, |app, f| app.leads().delete_lead(
            request(app, DeleteLeadRequest { id: f.lead.clone() })
        )),
        rpc!("FindLeads", None, |app, f| app.leads().find_leads(request(
            app,
            FindLeadsRequest {
                last_name: "Matrix".into(),
                ..FindLeadsRequest::default()
            }
        ))),
        rpc!("UpsertLead", Some("Lead"), |app, f| app
            .leads()
            .upsert_lead(request(
                app,
                UpsertLeadRequest {
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    lead: Some(Lead {
                        last_name: text("Upserted"),
                        company: text("New Co"),
                        ..Lead::default()
                    })
                }
            ))),
        rpc!("ConvertLead", Some("Contact"), |app, f| app
            .leads()
            .convert_lead(request(
                app,
                ConvertLeadRequest {
                    lead_id: f.lead.clone(),
                    ..ConvertLeadRequest::default()
                }
            ))),
        rpc!("CreateContact", Some("Contact"), |app, f| app
            .contacts()
            .create_contact(request(
                app,
                CreateContactRequest {
                    contact: Some(Contact {
                        last_name: text("New"),
                        ..Contact::default()
                    })
                }
            ))),
        rpc!("GetContact", None, |app, f| app.contacts().get_contact(
            request(
                app,
                GetContactRequest {
                    id: f.contact.clone(),
                    fields: None
                }
            )
        )),
        rpc!("UpdateContact", None, |app, f| app
            .contacts()
            .update_contact(request(
                app,
                UpdateContactRequest {
                    contact: Some(Contact {
                        id: f.contact.clone(),
                        title: text("Updated"),
                        ..Contact::default()
                    }),
                    update_mask: mask(&["title"])
                }
            ))),
        rpc!("DeleteContact", None, |app, f| app
            .contacts()
            .delete_contact(request(
                app,
                DeleteContactRequest {
                    id: f.contact.clone()
                }
            ))),
        rpc!("FindContacts", None, |app, f| app.contacts().find_contacts(
            request(
                app,
                FindContactsRequest {
                    last_name: "Matrix".into(),
                    ..FindContactsRequest::default()
                }
            )
        )),
        rpc!("UpsertContact", Some("Contact"), |app, f| app
            .contacts()
            .upsert_contact(request(
                app,
                UpsertContactRequest {
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    contact: Some(Contact {
                        last_name: text("Upserted"),
                        ..Contact::default()
                    })
                }
            ))),
        rpc!("CreateAccount", Some("Account"), |app, f| app
            .accounts()
            .create_account(request(
                app,
                CreateAccountRequest {
                    account: Some(Account {
                        name: text("New Account"),
                        ..Account::default()
                    })
                }
            ))),
        rpc!("GetAccount", None, |app, f| app.accounts().get_account(
            request(
                app,
                GetAccountRequest {
                    id: f.account.clone(),
                    fields: None
                }
            )
        )),
        rpc!("UpdateAccount", None, |app, f| app
            .accounts()
            .update_account(request(
                app,
                UpdateAccountRequest {
                    account: Some(Account {
                        id: f.account.clone(),
                        website: text("https://example.com"),
                        ..Account::default()
                    }),
                    update_mask: mask(&["website"])
                }
            ))),
        rpc!("DeleteAccount", None, |app, f| app
            .accounts()
            .delete_account(request(
                app,
                DeleteAccountRequest {
                    id: f.account.clone()
                }
            ))),
        rpc!("FindAccounts", None, |app, f| app.accounts().find_accounts(
            request(
                app,
                FindAccountsRequest {
                    name: "Matrix Account".into(),
                    ..FindAccountsRequest::default()
                }
            )
        )),
        rpc!("UpsertAccount", Some("Account"), |app, f| app
            .accounts()
            .upsert_account(request(
                app,
                UpsertAccountRequest {
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    account: Some(Account {
                        name: text("Upserted"),
                        ..Account::default()
                    })
                }
            ))),
        rpc!("CreateOpportunity", Some("Opportunity"), |app, f| app
            .opportunities()
            .create_opportunity(request(
                app,
                CreateOpportunityRequest {
                    opportunity: Some(Opportunity {
                        name: text("New Deal"),
                        stage_name: text("Prospecting"),
                        close_date: text("2027-02-28"),
                        ..Opportunity::default()
                    })
                }
            ))),
        rpc!("GetOpportunity", None, |app, f| app
            .opportunities()
            .get_opportunity(request(
                app,
                GetOpportunityRequest {
                    id: f.opportunity.clone(),
                    fields: None
                }
            ))),
        rpc!("UpdateOpportunity", None, |app, f| app
            .opportunities()
            .update_opportunity(request(
                app,
                UpdateOpportunityRequest {
                    opportunity: Some(Opportunity {
                        id: f.opportunity.clone(),
                        next_step: text("Call"),
                        ..Opportunity::default()
                    }),
                    update_mask: mask(&["next_step"])
                }
            ))),
        rpc!("DeleteOpportunity", None, |app, f| app
            .opportunities()
            .delete_opportunity(request(
                app,
                DeleteOpportunityRequest {
                    id: f.opportunity.clone()
                }
            ))),
        rpc!("FindOpportunities", None, |app, f| app
            .opportunities()
            .find_opportunities(request(
                app,
                FindOpportunitiesRequest {
                    account_id: f.account.clone(),
                    ..FindOpportunitiesRequest::default()
                }
            ))),
        rpc!("UpsertOpportunity", Some("Opportunity"), |app, f| app
            .opportunities()
            .upsert_opportunity(request(
                app,
                UpsertOpportunityRequest {
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    opportunity: Some(Opportunity {
                        name: text("Upserted"),
                        stage_name: text("Prospecting"),
                        close_date: text("2027-02-28"),
                        ..Opportunity::default()
                    })
                }
            ))),
        rpc!("CreateCase", Some("Case"), |app, f| app
            .cases()
            .create_case(request(
                app,
                CreateCaseRequest {
                    case: Some(Case {
                        subject: text("New"),
                        ..Case::default()
                    })
                }
            ))),
        rpc!("GetCase", None, |app, f| app.cases().get_case(request(
            app,
            GetCaseRequest {
                id: f.case.clone(),
                fields: None
            }
        ))),
        rpc!("UpdateCase", None, |app, f| app.cases().update_case(
            request(
                app,
                UpdateCaseRequest {
                    case: Some(Case {
                        id: f.case.clone(),
                        subject: text("Updated"),
                        ..Case::default()
                    }),
                    update_mask: mask(&["subject"])
                }
            )
        )),
        rpc!("DeleteCase", None, |app, f| app.cases().delete_case(
            request(app, DeleteCaseRequest { id: f.case.clone() })
        )),
        rpc!("FindCases", None, |app, f| app.cases().find_cases(request(
            app,
            FindCasesRequest {
                contact_id: f.contact.clone(),
                ..FindCasesRequest::default()
            }
        ))),
        rpc!("UpsertCase", Some("Case"), |app, f| app
            .cases()
            .upsert_case(request(
                app,
                UpsertCaseRequest {
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    case: Some(Case {
                        subject: text("Upserted"),
                        ..Case::default()
                    })
                }
            ))),
        rpc!("AddCaseComment", Some("CaseComment"), |app, f| app
            .cases()
            .add_case_comment(request(
                app,
                AddCaseCommentRequest {
                    case_id: f.case.clone(),
                    body: "After the call.".into(),
                    is_published: false
                }
            ))),
        rpc!("CreateCampaign", Some("Campaign"), |app, f| app
            .campaigns()
            .create_campaign(request(
                app,
                CreateCampaignRequest {
                    campaign: Some(Campaign {
                        name: text("New Campaign"),
                        ..Campaign::default()
                    })
                }
            ))),
        rpc!("GetCampaign", None, |app, f| app.campaigns().get_campaign(
            request(
                app,
                GetCampaignRequest {
                    id: f.campaign.clone(),
                    fields: None
                }
            )
        )),
        rpc!("UpdateCampaign", None, |app, f| app
            .campaigns()
            .update_campaign(request(
                app,
                UpdateCampaignRequest {
                    campaign: Some(Campaign {
                        id: f.campaign.clone(),
                        status: text("Planned"),
                        ..Campaign::default()
                    }),
                    update_mask: mask(&["status"])
                }
            ))),
        rpc!("DeleteCampaign", None, |app, f| app
            .campaigns()
            .delete_campaign(request(
                app,
                DeleteCampaignRequest {
                    id: f.campaign.clone()
                }
            ))),
        rpc!("FindCampaigns", None, |app, f| app
            .campaigns()
            .find_campaigns(request(
                app,
                FindCampaignsRequest {
                    name: "Matrix Campaign".into(),
                    ..FindCampaignsRequest::default()
                }
            ))),
        rpc!("UpsertCampaign", Some("Campaign"), |app, f| app
            .campaigns()
            .upsert_campaign(request(
                app,
                UpsertCampaignRequest {
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    campaign: Some(Campaign {
                        name: text("Upserted"),
                        ..Campaign::default()
                    })
                }
            ))),
        rpc!("CreateRecord", Some("Account"), |app, f| records(app)
            .create_record(request(
                app,
                CreateRecordRequest {
                    object: "Account".into(),
                    fields: fields("Name", "Record Account")
                }
            ))),
        rpc!("GetRecord", None, |app, f| records(app).get_record(
            request(
                app,
                GetRecordRequest {
                    object: "Account".into(),
                    id: f.account.clone(),
                    field_names: vec![]
                }
            )
        )),
        rpc!("UpdateRecord", None, |app, f| records(app).update_record(
            request(
                app,
                UpdateRecordRequest {
                    object: "Account".into(),
                    id: f.account.clone(),
                    fields: fields("Website", "https://example.org")
                }
            )
        )),
        rpc!("DeleteRecord", None, |app, f| records(app).delete_record(
            request(
                app,
                DeleteRecordRequest {
                    object: "Account".into(),
                    id: f.account.clone()
                }
            )
        )),
        rpc!("UpsertRecord", Some("Account"), |app, f| records(app)
            .upsert_record(request(
                app,
                UpsertRecordRequest {
                    object: "Account".into(),
                    external_id_field: "External_Id__c".into(),
                    external_id: "MATRIX-NEW".into(),
                    fields: fields("Name", "Upserted Record")
                }
            ))),
        rpc!("Query", None, |app, f| query(app)),
        rpc!("DescribeObject", None, |app, f| records(app)
            .describe_object(request(
                app,
                DescribeObjectRequest {
                    object: "Account".into()
                }
            ))),
        rpc!("LookupByPhone", None, |app, f| lookup(app)),
        rpc!("GetConnection", None, |app, f| connection(app)),
    ]
}

fn records(app: &TestApp) -> record_service_client::RecordServiceClient<tonic::transport::Channel> {
    record_service_client::RecordServiceClient::new(app.channel.clone())
}

async fn query(app: &TestApp) -> Result<(), Status> {
    let mut stream = records(app)
        .query(request(
            app,
            QueryRequest {
                soql: "SELECT Id, Name FROM Account".into(),
                ..QueryRequest::default()
            },
        ))
        .await?
        .into_inner();
    while stream.message().await?.is_some() {}
    Ok(())
}

async fn lookup(app: &TestApp) -> Result<(), Status> {
    let request = request(
        app,
        LookupByPhoneRequest {
            phone: "+1 415 555 0199".into(),
            ..LookupByPhoneRequest::default()
        },
    );
    lookup_service_client::LookupServiceClient::new(app.channel.clone())
        .lookup_by_phone(request)
        .await
        .map(drop)
}

/// GetConnection answers OK with `connected: false` and the reason when the org cannot be
/// reached; the matrix shows that reason as the call's.
async fn connection(app: &TestApp) -> Result<(), Status> {
    let connection = connection_service_client::ConnectionServiceClient::new(app.channel.clone())
        .get_connection(request(app, GetConnectionRequest {}))
        .await?
        .into_inner();
    if connection.connected {
        Ok(())
    } else {
        Err(Status::unavailable(format!(
            "disconnected: {}",
            connection.error_reason
        )))
    }
}

/// A fault, as a cell sets it up.
#[derive(Clone, Copy)]
enum Setup {
    /// Every data request (REST and SOAP) gets this.
    Data(fn() -> FaultKind),
    /// Every token request gets this.
    Token(fn() -> FaultKind),
    /// The tenant's secret is in a Vault that is down.
    VaultDown,
    /// Limits are shared through a Redis that is down.
    RedisDown,
}

struct Column {
    name: &'static str,
    setup: Setup,
}

fn error(http_status: u16, error_code: &'static str) -> FaultKind {
    FaultKind::Error {
        http_status,
        error_code: error_code.into(),
        message: format!("injected {error_code}"),
    }
}

fn columns() -> Vec<Column> {
    vec![
        Column {
            name: "latency past the deadline",
            setup: Setup::Data(|| FaultKind::Latency(Duration::from_secs(3))),
        },
        Column {
            name: "500",
            setup: Setup::Data(|| error(500, "UNKNOWN_EXCEPTION")),
        },
        Column {
            name: "503",
            setup: Setup::Data(|| error(503, "SERVER_UNAVAILABLE")),
        },
        Column {
            name: "reset before served",
            setup: Setup::Data(|| FaultKind::CloseConnection),
        },
        Column {
            name: "reset after served",
            setup: Setup::Data(|| FaultKind::CloseAfterServing),
        },
        Column {
            name: "401 storm",
            setup: Setup::Data(|| error(401, "INVALID_SESSION_ID")),
        },
        Column {
            name: "REQUEST_LIMIT_EXCEEDED",
            setup: Setup::Data(|| error(403, "REQUEST_LIMIT_EXCEEDED")),
        },
        Column {
            name: "UNABLE_TO_LOCK_ROW",
            setup: Setup::Data(|| error(400, "UNABLE_TO_LOCK_ROW")),
        },
        Column {
            name: "token endpoint down",
            setup: Setup::Token(|| error(503, "SERVER_UNAVAILABLE")),
        },
        Column {
            name: "Vault down",
            setup: Setup::VaultDown,
        },
        Column {
            name: "Redis down",
            setup: Setup::RedisDown,
        },
    ]
}

/// The stopped servers of the Vault and Redis columns (their ports closed), if available.
struct Stopped {
    vault: Option<String>,
    redis: Option<String>,
    _keep: (Option<OpenBao>, Option<Redis>),
}

async fn stopped_servers() -> Stopped {
    let mut bao = OpenBao::start("matrix-root").await;
    let vault = bao.as_mut().map(|bao| {
        bao.stop();
        bao.address.clone()
    });
    let mut redis = Redis::start();
    let redis_url = redis.as_mut().map(|redis| {
        let url = redis.url();
        redis.stop();
        url
    });
    Stopped {
        vault,
        redis: redis_url,
        _keep: (bao, redis),
    }
}

/// What one cell came to.
struct Cell {
    code: Code,
    reason: String,
    records: Option<usize>,
    overshoot: Duration,
    elapsed: Duration,
}

async fn run_cell(rpc: &Rpc, column: &Column, stopped: &Stopped) -> Option<Cell> {
    let vault = stopped.vault.clone();
    let redis = stopped.redis.clone();
    let setup = column.setup;
    match setup {
        Setup::VaultDown if vault.is_none() => return None,
        Setup::RedisDown if redis.is_none() => return None,
        _ => {}
    }
    let app = spawn_app_with(move |config| match setup {
        Setup::VaultDown => {
            config.credentials.vault = Some(VaultSettings {
                address: vault.expect("checked").parse().expect("a URL"),
                mount: "secret".into(),
                namespace: None,
                ca_file: None,
                client_cert_file: None,
                client_key_file: None,
                auth: VaultAuthSettings::Token {
                    token: Some("matrix-root".to_string().into()),
                },
                refresh_after: Duration::from_secs(300),
                max_stale: Duration::from_secs(3600),
                timeout: Duration::from_millis(500),
            });
            let tenant = config.tenants.get_mut("sandbox").expect("the tenant");
            tenant.credentials_provider = ProviderKind::Vault;
            tenant.credentials_path = "sfgate/sandbox".into();
        }
        Setup::RedisDown => {
            config.shared_limits = Some(SharedLimitsSettings {
                redis_url: redis.expect("checked"),
                expected_replicas: 2,
                timeout: Duration::from_millis(50),
                key_prefix: "matrix".into(),
            });
        }
        Setup::Data(_) | Setup::Token(_) => {}
    })
    .await;
    let fixture = Fixture::insert(&app);
    let before = rpc.creates.map(|object| app.sandbox.record_count(object));
    let inject = |path: &str, kind: FaultKind| {
        app.sandbox.inject_fault(Fault {
            path_contains: Some(path.into()),
            method: None,
            times: 0,
            kind,
        });
    };
    match setup {
        Setup::Data(kind) => {
            inject("/services/data/", kind());
            inject("/services/Soap/", kind());
        }
        Setup::Token(kind) => inject("/services/oauth2/token", kind()),
        Setup::VaultDown | Setup::RedisDown => {}
    }
    let started = Instant::now();
    let outcome = (rpc.call)(&app, &fixture).await;
    let elapsed = started.elapsed();
    app.sandbox.clear_faults();
    // A write that is still being served (the latency column) lands before it is counted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    if matches!(setup, Setup::Data(kind) if matches!(kind(), FaultKind::Latency(_))) {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let records = rpc
        .creates
        .zip(before)
        .map(|(object, before)| app.sandbox.record_count(object).saturating_sub(before));
    let _ = app.shut_down().await;
    let (code, reason) = match &outcome {
        Ok(()) => (Code::Ok, String::new()),
        Err(status) => (status.code(), reason(status)),
    };
    Some(Cell {
        code,
        reason,
        records,
        overshoot: elapsed.saturating_sub(DEADLINE),
        elapsed,
    })
}

/// The status's ErrorInfo reason, or its message when it has none.
fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map_or_else(|| status.message().to_owned(), |info| info.reason.clone())
}

fn short(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::DeadlineExceeded => "DEADLINE",
        Code::Unavailable => "UNAVAIL",
        Code::ResourceExhausted => "EXHAUSTED",
        Code::Aborted => "ABORTED",
        Code::DataLoss => "DATA_LOSS",
        Code::InvalidArgument => "INVALID",
        Code::FailedPrecondition => "PRECOND",
        Code::NotFound => "NOT_FOUND",
        Code::PermissionDenied => "DENIED",
        Code::Unauthenticated => "UNAUTH",
        Code::Internal => "INTERNAL",
        Code::Unknown => "UNKNOWN",
        _ => "OTHER",
    }
}

fn main() {
    let full = std::env::args().any(|argument| argument == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let all_rpcs = rpcs();
        let all_columns = columns();
        let (rpcs, columns): (Vec<&Rpc>, Vec<&Column>) = if full {
            (all_rpcs.iter().collect(), all_columns.iter().collect())
        } else {
            let pick = ["CreateLead", "GetLead", "UpdateLead"];
            let faults = ["503", "reset after served", "UNABLE_TO_LOCK_ROW"];
            (
                all_rpcs.iter().filter(|rpc| pick.contains(&rpc.name)).collect(),
                all_columns.iter().filter(|column| faults.contains(&column.name)).collect(),
            )
        };
        let stopped = if full {
            stopped_servers().await
        } else {
            Stopped { vault: None, redis: None, _keep: (None, None) }
        };
        let mut reasons: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
        let mut violations = Vec::new();
        let mut worst_overshoot = Duration::ZERO;
        let mut slowest_answer = Duration::ZERO;
        let mut rows = Vec::new();
        for rpc in &rpcs {
            let mut cells = Vec::new();
            for column in &columns {
                let Some(cell) = run_cell(rpc, column, &stopped).await else {
                    cells.push("n/a".to_owned());
                    continue;
                };
                worst_overshoot = worst_overshoot.max(cell.overshoot);
                slowest_answer = slowest_answer.max(cell.elapsed);
                let label = if cell.reason.is_empty() { short(cell.code).to_owned() } else { format!("{} {}", short(cell.code), cell.reason) };
                *reasons.entry(column.name).or_default().entry(label).or_default() += 1;
                let mut text = short(cell.code).to_owned();
                if let Some(records) = cell.records {
                    text.push_str(&format!(" ·{records}"));
                    let acknowledged = matches!(cell.code, Code::Ok | Code::DataLoss);
                    if records > 1 || (acknowledged && records != 1) {
                        violations.push(format!("{} × {}: {records} records, {:?}", rpc.name, column.name, cell.code));
                    }
                }
                if matches!(cell.code, Code::Unknown | Code::Internal) {
                    violations.push(format!("{} × {}: {:?} {}", rpc.name, column.name, cell.code, cell.reason));
                }
                cells.push(text);
            }
            let row = format!("| {} | {} |", rpc.name, cells.join(" | "));
            eprintln!("{row}");
            rows.push(row);
        }
        let header: Vec<&str> = columns.iter().map(|column| column.name).collect();
        println!("| RPC | {} |", header.join(" | "));
        println!("|---|{}", "---|".repeat(header.len()));
        for row in rows {
            println!("{row}");
        }
        println!();
        println!("| fault | statuses (count of RPCs) |");
        println!("|---|---|");
        for column in &columns {
            let seen: Vec<String> = reasons
                .get(column.name)
                .map(|seen| seen.iter().map(|(label, count)| format!("{label} ({count})")).collect())
                .unwrap_or_default();
            println!("| {} | {} |", column.name, seen.join(", "));
        }
        println!();
        println!(
            "slowest answer: {:.1} ms; worst deadline overshoot: {:.1} ms (deadline {} ms)",
            slowest_answer.as_secs_f64() * 1000.0,
            worst_overshoot.as_secs_f64() * 1000.0,
            DEADLINE.as_millis()
        );
        println!("violations (more than one record per create, or none when acknowledged, or UNKNOWN/INTERNAL): {}", violations.len());
        for violation in &violations {
            println!("  {violation}");
        }
        assert!(violations.is_empty(), "the fault matrix has violations");
    });
}
