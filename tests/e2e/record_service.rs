//! `RecordService` for any object: the social-care inbox flow (a Case of the Social Care record
//! type and a custom `Hootsuite_Contact_Persona__c` linked to it), parameterised SOQL streamed
//! page by page, and object descriptions.

use futures::StreamExt;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use sfgate::pb::record_service_client::RecordServiceClient;
use sfgate::pb::*;
use sfgate_testkit::{reason, spawn_app, violated_fields};
use tonic::Code;

fn text(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.into())),
    }
}

fn fields(pairs: &[(&str, Value)]) -> Option<Struct> {
    Some(Struct {
        fields: pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    })
}

fn field<'a>(record: &'a Record, name: &str) -> Option<&'a Kind> {
    record.fields.as_ref()?.fields.get(name)?.kind.as_ref()
}

async fn query(
    app: &sfgate_testkit::TestApp,
    soql: &str,
    params: Option<Struct>,
) -> Result<Vec<Record>, tonic::Status> {
    Ok(query_pages(app, soql, params, 0).await?.concat())
}

/// The records of each streamed page.
async fn query_pages(
    app: &sfgate_testkit::TestApp,
    soql: &str,
    params: Option<Struct>,
    batch_size: i32,
) -> Result<Vec<Vec<Record>>, tonic::Status> {
    let mut stream = RecordServiceClient::new(app.channel.clone())
        .query(app.request(QueryRequest {
            soql: soql.into(),
            params,
            batch_size,
        }))
        .await?
        .into_inner();
    let mut pages = Vec::new();
    while let Some(page) = stream.next().await {
        pages.push(page?.records);
    }
    Ok(pages)
}

#[tokio::test]
async fn a_social_care_inbox_opens_a_case_linked_to_a_contact_persona() {
    let app = spawn_app().await;
    let mut records = RecordServiceClient::new(app.channel.clone());

    let record_types = query(
        &app,
        "SELECT Id FROM RecordType WHERE SobjectType = 'Case' AND DeveloperName = :name",
        fields(&[("name", text("Social_Care"))]),
    )
    .await
    .unwrap();
    assert_eq!(record_types.len(), 1);
    let social_care = record_types[0].id.clone();

    let case = records
        .create_record(app.request(CreateRecordRequest {
            object: "Case".into(),
            fields: fields(&[
                ("RecordTypeId", text(&social_care)),
                ("Subject", text("@sfgate_user: my parcel is late")),
                ("Origin", text("Social")),
                ("Priority", text("High")),
                ("Status", text("New")),
            ]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.object, "Case");
    assert!(
        case.url
            .ends_with(&format!("/lightning/r/Case/{}/view", case.id))
    );
    assert!(
        matches!(field(&case, "CaseNumber"), Some(Kind::StringValue(number)) if number.starts_with("0000"))
    );

    let persona = records
        .create_record(app.request(CreateRecordRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
            fields: fields(&[
                ("Name", text("sfgate_user")),
                ("Case__c", text(&case.id)),
                ("Social_Network__c", text("Twitter")),
                ("Social_Handle__c", text("@sfgate_user")),
            ]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(persona.id.starts_with("a0H"));

    let linked = query(
        &app,
        "SELECT Id, Name, Case__r.CaseNumber FROM Hootsuite_Contact_Persona__c WHERE Case__c = :case",
        fields(&[("case", text(&case.id))]),
    )
    .await
    .unwrap();
    assert_eq!(linked.len(), 1);
    let Some(Kind::StructValue(parent)) = field(&linked[0], "Case__r") else {
        panic!("the parent case is nested")
    };
    assert_eq!(
        parent.fields["CaseNumber"],
        field(&case, "CaseNumber")
            .cloned()
            .map(|kind| Value { kind: Some(kind) })
            .unwrap()
    );

    let renamed = records
        .update_record(app.request(UpdateRecordRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
            id: persona.id.clone(),
            fields: fields(&[(
                "Follower_Count__c",
                Value {
                    kind: Some(Kind::NumberValue(1234.0)),
                },
            )]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        field(&renamed, "Follower_Count__c"),
        Some(&Kind::NumberValue(1234.0))
    );
    let read = records
        .get_record(app.request(GetRecordRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
            id: persona.id.clone(),
            field_names: vec!["Social_Handle__c".into()],
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        read.fields.unwrap().fields.len(),
        2,
        "Id and the field asked for"
    );
    let upserted = records
        .upsert_record(app.request(UpsertRecordRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
            external_id_field: "External_Id__c".into(),
            external_id: "HS-42".into(),
            fields: fields(&[("Name", text("another persona"))]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(upserted.created);
    records
        .delete_record(app.request(DeleteRecordRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
            id: persona.id.clone(),
        }))
        .await
        .unwrap();
    assert!(
        app.sandbox
            .find_records("Hootsuite_Contact_Persona__c", "Id", &persona.id)
            .is_empty()
    );
}

#[tokio::test]
async fn upsert_refuses_an_external_id_a_url_would_change() {
    let app = spawn_app().await;
    let mut records = RecordServiceClient::new(app.channel.clone());
    for refused in [".\t", ".\n.", "HS\t42"] {
        let status = records
            .upsert_record(app.request(UpsertRecordRequest {
                object: "Hootsuite_Contact_Persona__c".into(),
                external_id_field: "External_Id__c".into(),
                external_id: refused.into(),
                fields: fields(&[("Name", text("persona"))]),
            }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert_eq!(violated_fields(&status), ["external_id"], "{refused:?}");
    }
    assert!(app.data_requests().is_empty(), "nothing reached salesforce");
}

/// A `Struct` value nested `depth` levels deep: `{"a": {"a": … "leaf" …}}`.
fn nested(depth: usize) -> Value {
    (0..depth).fold(text("leaf"), |inner, _| Value {
        kind: Some(Kind::StructValue(Struct {
            fields: [("a".to_owned(), inner)].into(),
        })),
    })
}

#[tokio::test]
async fn deeply_nested_fields_are_invalid_argument_not_internal() {
    let app = spawn_app().await;
    let mut records = RecordServiceClient::new(app.channel.clone());
    for depth in [3, 60, 200] {
        let status = records
            .create_record(app.request(CreateRecordRequest {
                object: "Account".into(),
                fields: fields(&[("Name", nested(depth))]),
            }))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "depth {depth}: {status:?}"
        );
        let fields = violated_fields(&status);
        assert!(fields[0].starts_with("fields"), "depth {depth}: {fields:?}");
        assert!(
            status.message().len() < 512,
            "a bounded message: {}",
            status.message()
        );
    }
    assert!(app.data_requests().is_empty(), "nothing reached salesforce");
}

#[tokio::test]
async fn over_long_names_lists_and_queries_are_refused_before_salesforce() {
    let app = spawn_app().await;
    let mut records = RecordServiceClient::new(app.channel.clone());
    let lead_id = app.seeded_lead();
    let huge_object = records
        .get_record(app.request(GetRecordRequest {
            object: "A".repeat(100_000),
            id: lead_id.clone(),
            field_names: Vec::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(huge_object.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&huge_object), ["object"]);
    let many_fields = records
        .get_record(
            app.request(GetRecordRequest {
                object: "Lead".into(),
                id: lead_id,
                field_names: (0..10_000)
                    .map(|index| format!("Field_{index}__c"))
                    .collect(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (many_fields.code(), reason(&many_fields).as_str()),
        (Code::InvalidArgument, "REQUEST_TOO_LARGE")
    );
    let long_soql = query(
        &app,
        &format!(
            "SELECT Id FROM Lead WHERE LastName = '{}'",
            "x".repeat(200_000)
        ),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(violated_fields(&long_soql), ["soql"]);
    let long_value = query(
        &app,
        "SELECT Id FROM Lead WHERE LastName = :name",
        fields(&[("name", text(&"x".repeat(5_000)))]),
    )
    .await
    .unwrap_err();
    assert_eq!(violated_fields(&long_value), ["params.name"]);
    let values = Value {
        kind: Some(Kind::ListValue(ListValue {
            values: (0..10_000)
                .map(|index| text(&format!("Name {index}")))
                .collect(),
        })),
    };
    let long_list = query(
        &app,
        "SELECT Id FROM Lead WHERE LastName IN :names",
        fields(&[("names", values)]),
    )
    .await
    .unwrap_err();
    assert_eq!(long_list.code(), Code::InvalidArgument, "{long_list:?}");
    let long_criterion = app
        .leads()
        .find_leads(app.request(FindLeadsRequest {
            last_name: "x".repeat(1_000_000),
            ..FindLeadsRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&long_criterion), ["last_name"]);
    assert!(
        app.data_requests().is_empty(),
        "nothing reached salesforce: {} requests",
        app.data_requests().len()
    );
}

#[tokio::test]
async fn queries_bind_parameters_and_refuse_bad_ones() {
    let app = spawn_app().await;
    let tricky = "O'Brien' OR Name != '";
    let none = query(
        &app,
        "SELECT Id FROM Contact WHERE LastName = :name",
        fields(&[("name", text(tricky))]),
    )
    .await
    .unwrap();
    assert!(
        none.is_empty(),
        "a quote in a value stays inside its literal"
    );
    let statuses = Value {
        kind: Some(Kind::ListValue(ListValue {
            values: vec![text("New"), text("Working")],
        })),
    };
    let open = query(
        &app,
        "SELECT Id, Status FROM Case WHERE Status IN :statuses",
        fields(&[("statuses", statuses)]),
    )
    .await
    .unwrap();
    assert!(!open.is_empty());
    assert!(open.iter().all(|case| matches!(field(case, "Status"), Some(Kind::StringValue(status)) if status == "New" || status == "Working")));

    let missing = query(&app, "SELECT Id FROM Case WHERE Id = :id", None)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&missing), vec!["soql".to_string()]);
    let unused = query(&app, "SELECT Id FROM Case", fields(&[("typo", text("x"))]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&unused), vec!["params.typo".to_string()]);
    let malformed = query(&app, "SELECT FROM WHERE", None).await.unwrap_err();
    assert_eq!(
        (malformed.code(), reason(&malformed).as_str()),
        (Code::InvalidArgument, "MALFORMED_QUERY")
    );
}

#[tokio::test]
async fn describes_a_custom_object() {
    let app = spawn_app().await;
    let description = RecordServiceClient::new(app.channel.clone())
        .describe_object(app.request(DescribeObjectRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(description.custom);
    assert_eq!(description.key_prefix, "a0H");
    let case_link = description
        .fields
        .iter()
        .find(|field| field.name == "Case__c")
        .unwrap();
    assert_eq!(
        (
            case_link.r#type.as_str(),
            case_link.reference_to.clone(),
            case_link.relationship_name.as_str()
        ),
        ("reference", vec!["Case".to_string()], "Case__r")
    );
    let network = description
        .fields
        .iter()
        .find(|field| field.name == "Social_Network__c")
        .unwrap();
    assert!(network.picklist_values.contains(&"Twitter".to_string()));
    assert!(
        description
            .fields
            .iter()
            .find(|field| field.name == "Name")
            .unwrap()
            .required
    );

    let bad = RecordServiceClient::new(app.channel.clone())
        .describe_object(app.request(DescribeObjectRequest {
            object: "Case; DROP".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), vec!["object".to_string()]);
}

#[tokio::test]
async fn query_streams_every_page_through_next_records_url() {
    let app = spawn_app().await;
    let mut records = RecordServiceClient::new(app.channel.clone());
    for index in 0..450 {
        records
            .create_record(app.request(CreateRecordRequest {
                object: "Campaign".into(),
                fields: fields(&[
                    ("Name", text(&format!("Paged {index:03}"))),
                    ("Type", text("Email")),
                ]),
            }))
            .await
            .unwrap();
    }
    let pages = query_pages(
        &app,
        "SELECT Id, Name FROM Campaign WHERE Type = :kind",
        fields(&[("kind", text("Email"))]),
        200,
    )
    .await
    .unwrap();
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert!(
        sizes.len() >= 3 && sizes.iter().all(|size| *size <= 200),
        "pages of at most 200: {sizes:?}"
    );
    let ids: std::collections::HashSet<String> = pages
        .iter()
        .flatten()
        .map(|record| record.id.clone())
        .collect();
    assert!(
        ids.len() >= 450,
        "every record once across the pages ({})",
        ids.len()
    );
    assert_eq!(ids.len(), sizes.iter().sum::<usize>(), "no record twice");
    let locators = app
        .data_requests()
        .iter()
        .filter(|request| request.path.contains("/query/"))
        .count();
    assert_eq!(
        locators,
        sizes.len() - 1,
        "the pages after the first came from nextRecordsUrl"
    );

    let bad = query_pages(&app, "SELECT Id FROM Campaign", None, 50)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), vec!["batch_size".to_string()]);
}

#[tokio::test]
async fn create_record_honours_the_idempotency_key() {
    let app = spawn_app().await;
    let create = || {
        let mut request = app.request(CreateRecordRequest {
            object: "Hootsuite_Contact_Persona__c".into(),
            fields: fields(&[("Name", text("only once"))]),
        });
        request
            .metadata_mut()
            .insert("idempotency-key", "persona-1".parse().unwrap());
        request
    };
    let mut records = RecordServiceClient::new(app.channel.clone());
    let first = records.create_record(create()).await.unwrap().into_inner();
    let again = records.create_record(create()).await.unwrap().into_inner();
    assert_eq!(first.id, again.id);
    assert_eq!(
        app.sandbox
            .find_records("Hootsuite_Contact_Persona__c", "Name", "only once")
            .len(),
        1
    );
}
