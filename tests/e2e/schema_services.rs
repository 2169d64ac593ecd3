//! Typed services from the org's schema: `sfgate schema` writes the social-care example from the
//! sandbox's describe byte for byte, and `[[schemas]]` serves it live — gRPC through the same
//! record engine, reflection, HTTP/JSON and OpenAPI — for the tenants it names; a schema file
//! that does not compile or map is refused at start and on reload.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sfgate::config::{Config, SchemaSettings};
use sfgate_sandbox::SandboxConfig;
use sfgate_testkit::dynamic::DynamicClient;
use sfgate_testkit::{API_KEY, config_text, reason, spawn_app_with};
use tonic::Code;

use super::BINARY;

/// The example `sfgate schema` wrote for the persona and Case of the sandbox.
fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schemas/acme/v1/social_care.proto")
}

const PERSONAS: &str = "acme.v1.HootsuiteContactPersonaService";
const CASES: &str = "acme.v1.CaseService";

/// Runs `sfgate schema` against the embedded sandbox org; its standard output and error.
fn generate(arguments: &[&str]) -> (String, String) {
    let output = Command::new(BINARY)
        .arg("schema")
        .args(arguments)
        .env_remove("SFGATE_CONFIG")
        .output()
        .expect("sfgate runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "sfgate schema failed: {stderr}");
    (String::from_utf8(output.stdout).expect("UTF-8"), stderr)
}

#[test]
fn the_generated_proto_of_the_sandbox_is_the_example_byte_for_byte() {
    let arguments = [
        "--object",
        "Hootsuite_Contact_Persona__c",
        "--object",
        "Case",
        "--package",
        "acme.v1",
    ];
    let (first, _) = generate(&arguments);
    let (second, _) = generate(&arguments);
    assert_eq!(first, second, "the same describe gives the same file");
    let committed = std::fs::read_to_string(example()).unwrap();
    assert_eq!(
        first, committed,
        "examples/schemas/acme/v1/social_care.proto is stale: regenerate it with `cargo run -- schema --object Hootsuite_Contact_Persona__c --object Case --package acme.v1 --out examples/schemas/acme/v1/social_care.proto`"
    );
    for expected in [
        "[(sfgate.v1.field) = {api_name: \"Contact_Profile_Id__c\", type: \"string\"}];",
        "optional bool vip = ",
        "google.protobuf.Timestamp created_date = ",
        "rpc FindHootsuiteContactPersonas(FindHootsuiteContactPersonasRequest)",
        "post: \"/acme/v1/hootsuite_contact_personas/{external_id_field}/{external_id}:upsert\"",
    ] {
        assert!(
            committed.contains(expected),
            "the example lacks {expected:?}"
        );
    }
}

#[test]
fn custom_generates_every_custom_object_and_nothing_else() {
    let (text, _) = generate(&["--custom", "--package", "custom.v1"]);
    for expected in [
        "service HootsuiteContactPersonaService {",
        "service FieldSampleService {",
    ] {
        assert!(text.contains(expected), "--custom lacks {expected:?}");
    }
    assert_eq!(
        text.matches("\nservice ").count(),
        2,
        "only the custom objects: {text}"
    );
}

#[test]
fn every_object_of_the_sandbox_generates_a_file_that_compiles_and_maps() {
    let objects = [
        "Account",
        "Campaign",
        "Case",
        "CaseComment",
        "Contact",
        "Hootsuite_Contact_Persona__c",
        "Lead",
        "LeadStatus",
        "Opportunity",
        "Organization",
        "RecordType",
        "User",
    ];
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("everything.proto");
    let mut arguments = vec!["--package", "everything.v1", "--out"];
    let out_text = out.to_str().unwrap().to_owned();
    arguments.push(&out_text);
    for object in objects {
        arguments.extend(["--object", object]);
    }
    generate(&arguments);
    let schema = sfgate::schema::compile::load(&out).unwrap_or_else(|error| panic!("{error}"));
    let mut served: Vec<&str> = schema
        .services
        .iter()
        .map(|service| service.object.api_name.as_str())
        .collect();
    served.sort_unstable();
    let mut expected = objects.to_vec();
    expected.sort_unstable();
    assert_eq!(served, expected);

    // Regenerating keeps every number (nothing reserved, nothing renumbered).
    let before = std::fs::read_to_string(&out).unwrap();
    generate(&arguments);
    assert_eq!(before, std::fs::read_to_string(&out).unwrap());
}

fn schema_for(tenants: &[&str]) -> SchemaSettings {
    SchemaSettings {
        file: example(),
        tenants: tenants.iter().map(|tenant| (*tenant).to_owned()).collect(),
    }
}

fn client(app: &sfgate_testkit::TestApp) -> DynamicClient {
    let schema = sfgate::schema::compile::load(&example()).unwrap();
    DynamicClient::new(app.channel.clone(), schema.pool)
}

#[tokio::test]
async fn the_social_care_flow_runs_typed_through_a_generated_service() {
    let app =
        spawn_app_with(|config: &mut Config| config.schemas = vec![schema_for(&["sandbox"])]).await;
    let client = client(&app);
    let call = |method: String, request: Value| {
        let client = client.clone();
        async move { client.call(&method, request, "sandbox", API_KEY).await }
    };

    // The persona, with the seed's fields.
    let persona = call(
        format!("{PERSONAS}/CreateHootsuiteContactPersona"),
        json!({"hootsuite_contact_persona": {
            "name": "Twitter - @alice_ships",
            "contact_profile_id": "HS-CP-1001",
            "primary_identifier": "@alice_ships",
            "secondary_identifier": "Alice Ships",
            "email": "alice@example.com",
            "social_network": "Twitter",
            "language": "en",
            "phone": "+1 415 555 0101",
            "profile_url": "https://twitter.example/alice_ships",
            "vip": true,
            "follower_count": 1520.0,
        }}),
    )
    .await
    .unwrap();
    let persona_id = persona["id"].as_str().unwrap().to_owned();
    assert!(persona_id.starts_with("a0H"), "{persona}");
    assert_eq!(persona["vip"], json!(true));
    assert_eq!(persona["followerCount"], json!(1520.0));
    assert!(
        persona["createdDate"].as_str().unwrap().ends_with('Z'),
        "{persona}"
    );
    assert!(
        persona["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{persona_id}/view"))
    );
    let stored = &app.sandbox.find_records(
        "Hootsuite_Contact_Persona__c",
        "Contact_Profile_Id__c",
        "HS-CP-1001",
    )[0];
    assert_eq!(stored["VIP__c"], json!(true));
    assert_eq!(stored["Social_Network__c"], json!("Twitter"));

    // A Case linked to it, with the seed's Case fields.
    let case = call(
        format!("{CASES}/CreateCase"),
        json!({"case": {
            "subject": "Order never arrived",
            "origin": "Social",
            "priority": "High",
            "status": "New",
            "conversation_id": "conv-77",
            "social_network": "Twitter",
            "created_from_hootsuite_by_email": "agent@example.com",
            "created_from_hootsuite_by_id": "hs-agent-9",
            "hootsuite_contact_persona": persona_id,
        }}),
    )
    .await
    .unwrap();
    assert_eq!(case["hootsuiteContactPersona"], json!(persona_id));
    assert!(!case["caseNumber"].as_str().unwrap().is_empty(), "{case}");

    // Found again by its contact profile id.
    let found = call(
        format!("{PERSONAS}/FindHootsuiteContactPersonas"),
        json!({"contact_profile_id": "HS-CP-1001"}),
    )
    .await
    .unwrap();
    let found = found["hootsuiteContactPersonas"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], json!(persona_id));

    // Update by mask, read back with a field mask, upsert by the external id, delete.
    let updated = call(
        format!("{PERSONAS}/UpdateHootsuiteContactPersona"),
        json!({"hootsuite_contact_persona": {"id": persona_id, "follower_count": 1600.0, "vip": false},
               "update_mask": "followerCount,vip"}),
    )
    .await
    .unwrap();
    assert_eq!(updated["followerCount"], json!(1600.0));
    assert_eq!(updated["vip"], json!(false));
    let read = call(
        format!("{PERSONAS}/GetHootsuiteContactPersona"),
        json!({"id": persona_id, "fields": "name,followerCount"}),
    )
    .await
    .unwrap();
    assert_eq!(read["name"], json!("Twitter - @alice_ships"));
    assert!(
        read.get("email")
            .is_none_or(|email| email.is_null() || email == ""),
        "not read: {read}"
    );
    let upserted = call(
        format!("{PERSONAS}/UpsertHootsuiteContactPersona"),
        json!({"external_id_field": "Contact_Profile_Id__c", "external_id": "HS-CP-1001",
               "hootsuite_contact_persona": {"language": "de"}}),
    )
    .await
    .unwrap();
    assert_eq!(upserted["created"], json!(false));
    assert_eq!(upserted["hootsuiteContactPersona"]["language"], json!("de"));
    call(format!("{CASES}/DeleteCase"), json!({"id": case["id"]}))
        .await
        .unwrap();
    call(
        format!("{PERSONAS}/DeleteHootsuiteContactPersona"),
        json!({"id": persona_id}),
    )
    .await
    .unwrap();
    assert!(
        app.sandbox
            .find_records(
                "Hootsuite_Contact_Persona__c",
                "Contact_Profile_Id__c",
                "HS-CP-1001"
            )
            .is_empty()
    );

    // Metrics name the generated service and method.
    let metrics = reqwest::get(format!("http://{}/metrics", app.admin_address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "sfgate_rpc_requests_total{{service=\"{PERSONAS}\",method=\"CreateHootsuiteContactPersona\""
        )),
        "no labels of the generated method in /metrics"
    );

    // Bad input is the caller's error, named, before any call.
    let before = app.data_requests().len();
    let refused = call(
        format!("{PERSONAS}/GetHootsuiteContactPersona"),
        json!({"id": "500000000000001AAA"}),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("Hootsuite_Contact_Persona__c"),
        "{refused:?}"
    );
    let refused = call(
        format!("{CASES}/CreateCase"),
        json!({"case": {"subject": "x", "hootsuite_contact_persona": "not-an-id"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        sfgate_testkit::violated_fields(&refused),
        ["case.hootsuite_contact_persona"]
    );
    assert_eq!(
        app.data_requests().len(),
        before,
        "nothing sent for bad input"
    );
}

#[tokio::test]
async fn reflection_http_json_and_openapi_serve_the_generated_services() {
    let app =
        spawn_app_with(|config: &mut Config| config.schemas = vec![schema_for(&["sandbox"])]).await;
    // Reflection (v1) lists them beside the built-in services and describes their messages.
    use tonic_reflection::pb::v1;
    let requests = [
        v1::server_reflection_request::MessageRequest::ListServices(String::new()),
        v1::server_reflection_request::MessageRequest::FileContainingSymbol(PERSONAS.to_owned()),
    ]
    .map(|message_request| v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message_request),
    });
    let mut responses =
        v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone())
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
    let listed = responses.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(listed)) =
        listed.message_response
    else {
        panic!("not a service list");
    };
    let names: Vec<String> = listed
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for expected in [PERSONAS, CASES, "sfgate.v1.CaseService"] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} not in {names:?}"
        );
    }
    let file = responses.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(file)) =
        file.message_response
    else {
        panic!("no file for {PERSONAS}: {file:?}");
    };
    assert!(!file.file_descriptor_proto.is_empty());

    // HTTP/JSON on the same port, and the OpenAPI document.
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.address);
    let created: Value = http
        .post(format!("{base}/acme/v1/hootsuite_contact_personas"))
        .header("x-tenant-id", "sandbox")
        .bearer_auth(API_KEY)
        .json(&json!({"name": "Instagram - @bob", "contactProfileId": "HS-CP-2002", "vip": true}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        created["id"].as_str().unwrap().starts_with("a0H"),
        "{created}"
    );
    assert_eq!(created["vip"], json!(true));
    let openapi: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        openapi["paths"]["/acme/v1/hootsuite_contact_personas/{id}"]["get"].is_object(),
        "the OpenAPI document lacks the persona's GET"
    );
}

#[tokio::test]
async fn a_tenant_the_schema_is_not_for_is_refused() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let extra = format!(
        "[[schemas]]\nfile = \"{}\"\ntenants = [\"acme\"]\n",
        example().display()
    );
    let text = config_text(
        &org,
        &[("acme", &["key-a"]), ("globex", &["key-g"])],
        &extra,
    );
    let config = Config::from_toml(&text).unwrap();
    let served = serve(config, None).await;
    let client = DynamicClient::new(
        served.channel.clone(),
        sfgate::schema::compile::load(&example()).unwrap().pool,
    );
    let request = json!({"contact_profile_id": "HS-1"});
    let method = format!("{PERSONAS}/FindHootsuiteContactPersonas");
    client
        .call(&method, request.clone(), "acme", "key-a")
        .await
        .unwrap();
    let refused = client
        .call(&method, request, "globex", "key-g")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason(&refused), "SCHEMA_NOT_FOR_TENANT");
}

/// A gateway on free ports: a channel to it, its admin port, and the sender that stops it.
struct Served {
    channel: tonic::transport::Channel,
    admin_address: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Serves `config`, reloading it from `path` when given.
async fn serve(config: Config, path: Option<PathBuf>) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (address, admin_address) = (listener.local_addr().unwrap(), admin.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sfgate::server::run_reloading(
        config,
        path,
        sfgate::server::Listeners {
            grpc: listener,
            admin: Some(admin),
        },
        async {
            let _ = stopped.await;
        },
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    Served {
        channel,
        admin_address,
        _stop: stop,
    }
}

/// A schema file that does not map: a field whose Salesforce type has no proto mapping.
fn broken_schema(directory: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example()).unwrap().replace(
        "api_name: \"Social_Network__c\", type: \"picklist\"",
        "api_name: \"Social_Network__c\", type: \"complexvalue\"",
    );
    let path = directory.join("broken.proto");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_schema_that_does_not_map_is_refused_at_start_naming_file_line_and_field() {
    let org_runtime = tokio::runtime::Runtime::new().unwrap();
    let org = org_runtime
        .block_on(sfgate_sandbox::start(SandboxConfig::default()))
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let broken = broken_schema(directory.path());
    let config = directory.path().join("sfgate.toml");
    let extra = format!(
        "[[schemas]]\nfile = \"{}\"\ntenants = [\"acme\"]\n",
        broken.display()
    );
    std::fs::write(&config, config_text(&org, &[("acme", &["key-a"])], &extra)).unwrap();
    let output = Command::new(BINARY)
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = std::fs::read_to_string(&broken)
        .unwrap()
        .lines()
        .position(|line| line.contains("complexvalue"))
        .unwrap()
        + 1;
    let expected = format!(
        "{}:{line}: field acme.v1.HootsuiteContactPersona.social_network",
        broken.display()
    );
    assert!(
        stderr.contains(&expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(stderr.contains("complexvalue"), "{stderr}");
}

#[tokio::test]
async fn a_reload_with_a_broken_schema_keeps_the_previous_one_serving() {
    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let schema = directory.path().join("social_care.proto");
    std::fs::copy(example(), &schema).unwrap();
    let config_file = directory.path().join("sfgate.toml");
    let extra = format!(
        "[[schemas]]\nfile = \"{}\"\ntenants = [\"acme\"]\n",
        schema.display()
    );
    std::fs::write(
        &config_file,
        config_text(&org, &[("acme", &["key-a"])], &extra),
    )
    .unwrap();
    let served = serve(
        Config::load(&config_file).unwrap(),
        Some(config_file.clone()),
    )
    .await;
    let client = DynamicClient::new(
        served.channel.clone(),
        sfgate::schema::compile::load(&example()).unwrap().pool,
    );
    let find_method = format!("{PERSONAS}/FindHootsuiteContactPersonas");
    let find_as = |tenant: &'static str, key: &'static str| {
        client.call(
            &find_method,
            json!({"contact_profile_id": "HS-1"}),
            tenant,
            key,
        )
    };
    find_as("acme", "key-a").await.unwrap();

    // The schema breaks and the configuration changes: the reload is refused as a whole.
    std::fs::write(
        &schema,
        std::fs::read_to_string(broken_schema(directory.path())).unwrap(),
    )
    .unwrap();
    let extra = format!(
        "[[schemas]]\nfile = \"{}\"\ntenants = [\"acme\", \"globex\"]\n",
        schema.display()
    );
    std::fs::write(
        &config_file,
        config_text(
            &org,
            &[("acme", &["key-a"]), ("globex", &["key-g"])],
            &extra,
        ),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    find_as("acme", "key-a")
        .await
        .expect("the previous schema still serves");
    let globex = find_as("globex", "key-g").await.unwrap_err();
    // The new tenant was not added either: its key is granted no tenant.
    assert_eq!(globex.code(), Code::Unauthenticated, "{globex:?}");

    // The schema file alone is fixed: that change is seen too, and the whole reload goes through.
    std::fs::copy(example(), &schema).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = find_as("globex", "key-g").await;
        if served.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fixed schema was never loaded: {served:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_field_the_org_lacks_is_reported_and_calls_that_use_it_fail_naming_it() {
    use sfgate::pb::GetConnectionRequest;
    use sfgate::pb::connection_service_client::ConnectionServiceClient;

    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    // An admin deleted the VIP checkbox after the schema file was generated.
    org.delete_field("Hootsuite_Contact_Persona__c", "VIP__c")
        .unwrap();
    let extra = format!(
        "[[schemas]]\nfile = \"{}\"\ntenants = [\"drifty\"]\n",
        example().display()
    );
    let config = Config::from_toml(&config_text(&org, &[("drifty", &["key-d"])], &extra)).unwrap();
    let served = serve(config, None).await;
    let (channel, admin_address) = (served.channel.clone(), served.admin_address);

    // GetConnection reports it (checking now if the start-up check has not finished).
    let connection = ConnectionServiceClient::new(channel.clone())
        .get_connection(sfgate_testkit::with_metadata(
            GetConnectionRequest {},
            "drifty",
            "key-d",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.schema_services, [CASES, PERSONAS]);
    assert_eq!(connection.schema_check_error, "");
    let drift: Vec<(&str, &str, &str)> = connection
        .schema_drift
        .iter()
        .map(|drift| {
            (
                drift.field.as_str(),
                drift.api_name.as_str(),
                drift.problem.as_str(),
            )
        })
        .collect();
    assert_eq!(
        drift,
        [(
            "hootsuite_contact_persona.vip",
            "VIP__c",
            "the org has no such field"
        )]
    );
    assert!(
        connection
            .actions
            .iter()
            .any(|action| action == "HootsuiteContactPersonaService.CreateHootsuiteContactPersona"),
        "{:?}",
        connection.actions
    );
    let metrics = reqwest::get(format!("http://{admin_address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sfgate_schema_drift_fields{tenant=\"drifty\"} 1"),
        "{metrics}"
    );

    // A call that uses the field fails, naming it; nothing reaches the org.
    let client = DynamicClient::new(
        channel,
        sfgate::schema::compile::load(&example()).unwrap().pool,
    );
    let create = format!("{PERSONAS}/CreateHootsuiteContactPersona");
    let before = org.requests().len();
    let refused = client
        .call(
            &create,
            json!({"hootsuite_contact_persona": {"name": "X - @y", "contact_profile_id": "HS-D-1", "vip": true}}),
            "drifty",
            "key-d",
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(reason(&refused), "SCHEMA_FIELD_DRIFT");
    assert!(
        refused
            .message()
            .contains("hootsuite_contact_persona.vip (VIP__c)"),
        "{refused:?}"
    );
    assert_eq!(org.requests().len(), before, "nothing sent");
    let refused = client
        .call(
            &format!("{PERSONAS}/GetHootsuiteContactPersona"),
            json!({"id": "a0H000000000001AAA", "fields": "vip"}),
            "drifty",
            "key-d",
        )
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "SCHEMA_FIELD_DRIFT");

    // Calls that do not use it work: the field is left out of what is read.
    let created = client
        .call(
            &create,
            json!({"hootsuite_contact_persona": {"name": "X - @y", "contact_profile_id": "HS-D-1"}}),
            "drifty",
            "key-d",
        )
        .await
        .unwrap();
    let found = client
        .call(
            &format!("{PERSONAS}/FindHootsuiteContactPersonas"),
            json!({"contact_profile_id": "HS-D-1"}),
            "drifty",
            "key-d",
        )
        .await
        .unwrap();
    assert_eq!(found["hootsuiteContactPersonas"][0]["id"], created["id"]);
}

#[tokio::test]
async fn every_mapped_field_type_round_trips_through_the_gateway_and_the_org() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("sample/v1/field_sample.proto");
    let file_text = file.to_str().unwrap().to_owned();
    generate(&[
        "--object",
        "Field_Sample__c",
        "--package",
        "sample.v1",
        "--out",
        &file_text,
    ]);
    let schema = SchemaSettings {
        file: file.clone(),
        tenants: vec!["sandbox".into()],
    };
    let app = spawn_app_with(|config: &mut Config| config.schemas = vec![schema]).await;
    let client = DynamicClient::new(
        app.channel.clone(),
        sfgate::schema::compile::load(&file).unwrap().pool,
    );
    let service = "sample.v1.FieldSampleService";
    let account = app
        .sandbox
        .insert_record("Account", json!({"Name": "Sample Co"}))
        .unwrap();
    // One value of every row of the type table (id and reference: the record and its account;
    // address and location: read from their parts).
    let written = json!({
        "name": "Every type",
        "notes": "line one\nline two",
        "email": "sample@example.com",
        "phone": "+1 415 555 0100",
        "website": "https://example.com/sample",
        "secret": "s3cr3t",
        "channel": "Chat",
        "channels": ["Email", "Social"],
        "channelOrOther": "Carrier pigeon",
        "active": true,
        "seats": 12,
        "bigCount": "9007199254740993",
        "score": 4.25,
        "price": 1250.5,
        "discount": 12.5,
        "startDate": "2026-12-01",
        "opensAt": "09:30:00.000Z",
        "lastContact": "2026-11-30T08:15:30.250Z",
        "attachment": "AAEC/w==",
        "account": account,
        "extra": "anything at all",
        "street": "1 Market St",
        "city": "San Francisco",
        "state": "CA",
        "postalCode": "94105",
        "country": "USA",
        "siteLatitude": 37.7936,
        "siteLongitude": -122.395,
    });
    let created = client
        .call(
            &format!("{service}/CreateFieldSample"),
            json!({"field_sample": written}),
            "sandbox",
            API_KEY,
        )
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("a0S"), "{created}");
    let read = client
        .call(
            &format!("{service}/GetFieldSample"),
            json!({"id": id}),
            "sandbox",
            API_KEY,
        )
        .await
        .unwrap();
    for answer in [&created, &read] {
        for (field, value) in written.as_object().unwrap() {
            assert_eq!(&answer[field], value, "{field} of {answer}");
        }
        assert_eq!(
            answer["siteAddress"],
            json!({"street": "1 Market St", "city": "San Francisco", "state": "CA", "stateCode": "",
                   "postalCode": "94105", "country": "USA", "countryCode": "", "geocodeAccuracy": ""}),
        );
        assert_eq!(
            answer["site"],
            json!({"latitude": 37.7936, "longitude": -122.395})
        );
    }
    // The org holds each value in Salesforce's own wire format.
    let stored = &app
        .sandbox
        .find_records("Field_Sample__c", "Name", "Every type")[0];
    assert_eq!(stored["Channels__c"], json!("Email;Social"));
    assert_eq!(stored["Opens_At__c"], json!("09:30:00.000Z"));
    assert_eq!(stored["Big_Count__c"], json!(9_007_199_254_740_993_i64));
    assert_eq!(stored["Attachment__c"], json!("AAEC/w=="));
    assert_eq!(
        stored["Last_Contact__c"],
        json!("2026-11-30T08:15:30.250+0000")
    );
    assert_eq!(stored["Extra__c"], json!("anything at all"));

    // Changed and cleared through a mask, then found by a criterion.
    let updated = client
        .call(
            &format!("{service}/UpdateFieldSample"),
            json!({"field_sample": {"id": id, "channels": ["Phone"], "extra": 42, "opens_at": ""},
                   "update_mask": "channels,extra,opensAt"}),
            "sandbox",
            API_KEY,
        )
        .await
        .unwrap();
    assert_eq!(updated["channels"], json!(["Phone"]));
    assert_eq!(updated["extra"], json!(42.0));
    assert!(
        updated
            .get("opensAt")
            .is_none_or(|value| value == "" || value.is_null()),
        "{updated}"
    );
    let found = client
        .call(
            &format!("{service}/FindFieldSamples"),
            json!({"email": "sample@example.com"}),
            "sandbox",
            API_KEY,
        )
        .await
        .unwrap();
    assert_eq!(found["fieldSamples"][0]["id"], json!(id));
    assert_eq!(found["fieldSamples"][0]["channels"], json!(["Phone"]));

    // Values that do not fit their Salesforce type are refused, named, before any call.
    for (field, value, named) in [
        ("opens_at", json!("9.30"), "field_sample.opens_at"),
        ("start_date", json!("01/12/2026"), "field_sample.start_date"),
        ("channels", json!(["Email;Chat"]), "field_sample.channels"),
        ("account", json!("001-not-an-id"), "field_sample.account"),
    ] {
        let refused = client
            .call(
                &format!("{service}/CreateFieldSample"),
                json!({"field_sample": {"name": "Bad", field: value}}),
                "sandbox",
                API_KEY,
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{field}: {refused:?}"
        );
        assert_eq!(sfgate_testkit::violated_fields(&refused), [named]);
    }
}

#[tokio::test]
async fn two_tenants_use_different_schemas_of_the_same_object() {
    // globex's file: generated into its own package, then hand-edited to leave VIP out.
    let directory = tempfile::tempdir().unwrap();
    let globex_file = directory.path().join("globex/v1/personas.proto");
    let globex_text = globex_file.to_str().unwrap().to_owned();
    generate(&[
        "--object",
        "Hootsuite_Contact_Persona__c",
        "--package",
        "globex.v1",
        "--out",
        &globex_text,
    ]);
    let edited: String = std::fs::read_to_string(&globex_file)
        .unwrap()
        .lines()
        .filter(|line| !line.contains("VIP__c") && !line.trim_start().starts_with("// VIP"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&globex_file, edited).unwrap();

    let org = sfgate_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let extra = format!(
        "[[schemas]]\nfile = \"{}\"\ntenants = [\"acme\"]\n\n[[schemas]]\nfile = \"{}\"\ntenants = [\"globex\"]\n",
        example().display(),
        globex_file.display()
    );
    let text = config_text(
        &org,
        &[("acme", &["key-a"]), ("globex", &["key-g"])],
        &extra,
    );
    let served = serve(Config::from_toml(&text).unwrap(), None).await;
    let channel = served.channel.clone();
    let mut pool = sfgate::schema::compile::load(&example()).unwrap().pool;
    let globex_schema = sfgate::schema::compile::load(&globex_file).unwrap();
    pool.decode_file_descriptor_set(globex_schema.file_descriptor_set.as_slice())
        .unwrap();
    let client = DynamicClient::new(channel, pool);

    let persona = json!({"name": "Twitter - @same", "contact_profile_id": "HS-SAME", "vip": true});
    let acme = client
        .call(
            &format!("{PERSONAS}/CreateHootsuiteContactPersona"),
            json!({"hootsuite_contact_persona": persona}),
            "acme",
            "key-a",
        )
        .await
        .unwrap();
    assert_eq!(acme["vip"], json!(true));
    let globex_method = "globex.v1.HootsuiteContactPersonaService/GetHootsuiteContactPersona";
    let globex = client
        .call(globex_method, json!({"id": acme["id"]}), "globex", "key-g")
        .await
        .unwrap();
    assert_eq!(globex["contactProfileId"], json!("HS-SAME"));
    assert!(
        globex.get("vip").is_none(),
        "globex's persona has no VIP field: {globex}"
    );
    // Each tenant's service is its own.
    let refused = client
        .call(globex_method, json!({"id": acme["id"]}), "acme", "key-a")
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "SCHEMA_NOT_FOR_TENANT");
}
