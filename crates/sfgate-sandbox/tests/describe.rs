//! Describe (global and per sObject), and the social-care record types and
//! contact personas.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Env, V, code, env, json_of};

impl Env {
    async fn find_first_contact(&self) -> String {
        let (_, body) = self
            .query("SELECT Id FROM Contact ORDER BY Id LIMIT 1")
            .await;
        body["records"][0]["Id"]
            .as_str()
            .expect("contact")
            .to_string()
    }
}

#[tokio::test]
async fn describe_endpoints() {
    let e = env().await;
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Lead/describe/")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["name"].clone(),
            body["keyPrefix"].clone(),
            body["queryable"].clone()
        ),
        (json!("Lead"), json!("00Q"), json!(true))
    );
    let fields = body["fields"].as_array().expect("fields");
    let email = fields.iter().find(|f| f["name"] == "Email").expect("email");
    assert_eq!(
        (email["type"].clone(), email["length"].clone()),
        (json!("email"), json!(80))
    );
    let (status, body) = json_of(e.get(&format!("{V}/sobjects")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["encoding"], "UTF-8");
    let names: Vec<&str> = body["sobjects"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for name in [
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Case",
        "Campaign",
        "CaseComment",
        "User",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Account")).await).await;
    assert_eq!(
        (status, body["objectDescribe"]["keyPrefix"].clone()),
        (StatusCode::OK, json!("001"))
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn social_care_record_types_and_contact_personas() {
    let e = env().await;
    let (status, body) = e
        .query("SELECT Id FROM RecordType WHERE SobjectType = 'Case' AND DeveloperName = 'Social_Care'")
        .await;
    assert_eq!(
        (status, body["totalSize"].clone()),
        (StatusCode::OK, json!(1))
    );
    let social = body["records"][0]["Id"]
        .as_str()
        .expect("rt id")
        .to_string();
    assert!(social.starts_with("012"));
    let (_, body) = e
        .query("SELECT Name, IsActive FROM RecordType WHERE SobjectType = 'Case' ORDER BY Name")
        .await;
    assert_eq!(body["records"][0]["Name"], "Social Care");
    assert_eq!(body["records"][1]["Name"], "Support");
    assert_eq!(body["records"][1]["IsActive"], true);
    let (status, body) = json_of(
        e.post(&format!("{V}/sobjects/RecordType"), json!({"Name": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    let case = e
        .create(
            "Case",
            json!({"RecordTypeId": social, "Subject": "@northwind: my parcel is lost",
                   "Origin": "Social", "Priority": "High", "Status": "New"}),
        )
        .await;
    let (status, body) = json_of(e.get(&format!("{V}/sobjects/Case/{case}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["RecordTypeId"].clone(),
            body["Origin"].clone(),
            body["Priority"].clone()
        ),
        (json!(social), json!("Social"), json!("High"))
    );
    let case_number = body["CaseNumber"].as_str().expect("number").to_string();
    let (_, body) = e
        .query(&format!(
            "SELECT Id, RecordType.Name FROM Case WHERE Id = '{case}'"
        ))
        .await;
    assert_eq!(body["records"][0]["RecordType"]["Name"], "Social Care");
    let (_, body) = e
        .query("SELECT COUNT() FROM Case WHERE RecordType.DeveloperName = 'Social_Care'")
        .await;
    assert_eq!(body["totalSize"], 1);

    let contact = e.find_first_contact().await;
    let persona = e
        .create(
            "Hootsuite_Contact_Persona__c",
            json!({"Name": "@alice_ships", "Case__c": case, "Contact__c": contact,
                   "Social_Network__c": "Twitter", "Social_Handle__c": "@alice_ships",
                   "Profile_Url__c": "https://twitter.example.com/alice_ships",
                   "Follower_Count__c": 1520, "External_Id__c": "HS-1"}),
        )
        .await;
    assert!(persona.starts_with("a0H"));
    let path = format!("{V}/sobjects/Hootsuite_Contact_Persona__c/{persona}");
    let (status, body) = json_of(e.get(&path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["attributes"]["type"].clone(),
            body["Case__c"].clone(),
            body["Follower_Count__c"].clone(),
            body["OwnerId"].is_string()
        ),
        (
            json!("Hootsuite_Contact_Persona__c"),
            json!(case),
            json!(1520.0),
            true
        )
    );
    let (status, body) = e
        .query(&format!(
            "SELECT Id, Name, Case__r.CaseNumber FROM Hootsuite_Contact_Persona__c WHERE Case__c = '{case}'"
        ))
        .await;
    assert_eq!(
        (status, body["totalSize"].clone()),
        (StatusCode::OK, json!(1))
    );
    let rec = &body["records"][0];
    assert_eq!(
        (
            rec["Id"].clone(),
            rec["Name"].clone(),
            rec["Case__r"]["attributes"]["type"].clone(),
            rec["Case__r"]["CaseNumber"].clone()
        ),
        (
            json!(persona),
            json!("@alice_ships"),
            json!("Case"),
            json!(case_number)
        )
    );

    // Upsert by the external id: update, then insert.
    let upsert = format!("{V}/sobjects/Hootsuite_Contact_Persona__c/External_Id__c/HS-1");
    let (status, body) = json_of(e.patch(&upsert, json!({"Follower_Count__c": 1600})).await).await;
    assert_eq!(
        (status, body["id"].clone()),
        (StatusCode::OK, json!(persona))
    );
    let upsert = format!("{V}/sobjects/Hootsuite_Contact_Persona__c/External_Id__c/HS-2");
    let (status, body) = json_of(
        e.patch(
            &upsert,
            json!({"Name": "alice.fb", "Social_Network__c": "Facebook"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["created"].clone()),
        (StatusCode::CREATED, json!(true))
    );
    let (status, _) = json_of(e.delete(&path).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = json_of(
        e.post(
            &format!("{V}/sobjects/Hootsuite_Contact_Persona__c"),
            json!({"Social_Handle__c": "@nobody"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "REQUIRED_FIELD_MISSING")
    );

    let (status, body) = json_of(
        e.get(&format!(
            "{V}/sobjects/Hootsuite_Contact_Persona__c/describe"
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["custom"].clone(),
            body["keyPrefix"].clone(),
            body["label"].clone()
        ),
        (json!(true), json!("a0H"), json!("Contact Persona"))
    );
    let fields = body["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("field {name}"))
    };
    for (name, ty, reference_to, relationship) in [
        ("Case__c", "reference", json!(["Case"]), json!("Case__r")),
        (
            "Contact__c",
            "reference",
            json!(["Contact"]),
            json!("Contact__r"),
        ),
        ("Social_Network__c", "picklist", json!([]), Value::Null),
        ("Social_Handle__c", "string", json!([]), Value::Null),
        ("Profile_Url__c", "url", json!([]), Value::Null),
        ("Follower_Count__c", "double", json!([]), Value::Null),
        ("External_Id__c", "string", json!([]), Value::Null),
        ("Name", "string", json!([]), Value::Null),
        ("OwnerId", "reference", json!(["User"]), json!("Owner")),
    ] {
        let f = field(name);
        assert_eq!(
            (
                f["type"].clone(),
                f["referenceTo"].clone(),
                f["relationshipName"].clone()
            ),
            (json!(ty), reference_to, relationship),
            "{name}"
        );
        assert_eq!(f["custom"], json!(name.ends_with("__c")), "{name}");
    }
    assert_eq!(
        field("Social_Network__c")["picklistValues"][4]["value"],
        "WhatsApp"
    );
    assert_eq!(
        (
            field("External_Id__c")["externalId"].clone(),
            field("External_Id__c")["unique"].clone()
        ),
        (json!(true), json!(true))
    );
    assert_eq!(
        (
            field("Name")["length"].clone(),
            field("Name")["nillable"].clone()
        ),
        (json!(80), json!(false))
    );
    let (_, body) = json_of(e.get(&format!("{V}/sobjects")).await).await;
    let summary = body["sobjects"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|o| o["name"] == "Hootsuite_Contact_Persona__c")
        })
        .cloned()
        .expect("in describeGlobal");
    assert_eq!(summary["custom"], true);
    let (_, body) = json_of(e.get(&format!("{V}/sobjects/Case/describe")).await).await;
    let rt = body["fields"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == "RecordTypeId"))
        .cloned()
        .expect("RecordTypeId");
    assert_eq!(
        (
            rt["referenceTo"].clone(),
            rt["relationshipName"].clone(),
            rt["updateable"].clone()
        ),
        (json!(["RecordType"]), json!("RecordType"), json!(true))
    );

    // Bad record type ids: unknown, of another object, and of another SobjectType.
    let other_type =
        e.sb.insert_record(
            "RecordType",
            json!({"Name": "Partner", "DeveloperName": "Partner",
                   "SobjectType": "Account", "IsActive": true}),
        )
        .expect("record type");
    for bad in ["012D000000IqhSLIAZ", contact.as_str(), other_type.as_str()] {
        let (status, body) = json_of(
            e.post(
                &format!("{V}/sobjects/Case"),
                json!({"Subject": "x", "RecordTypeId": bad}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_CROSS_REFERENCE_KEY"),
            "{bad}"
        );
        assert_eq!(body[0]["fields"], json!(["RecordTypeId"]));
    }
    let (status, body) = json_of(
        e.patch(
            &format!("{V}/sobjects/Case/{case}"),
            json!({"RecordTypeId": other_type}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_CROSS_REFERENCE_KEY")
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn a_deleted_custom_field_is_gone_from_describe_records_and_requests() {
    let e = env().await;
    let persona = "Hootsuite_Contact_Persona__c";
    let (status, body) = json_of(
        e.post(
            &format!("{V}/sobjects/{persona}"),
            json!({"Name": "Twitter - @gone", "VIP__c": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    assert!(
        e.sb.delete_field(persona, "Name").is_err(),
        "standard fields stay"
    );
    e.sb.delete_field(persona, "VIP__c")
        .expect("a custom field");

    let (_, describe) = json_of(e.get(&format!("{V}/sobjects/{persona}/describe")).await).await;
    let names: Vec<&str> = describe["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|field| field["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"VIP__c") && names.contains(&"Social_Network__c"),
        "{names:?}"
    );
    let (status, record) = json_of(e.get(&format!("{V}/sobjects/{persona}/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        record.get("VIP__c").is_none() && record["Name"] == "Twitter - @gone",
        "{record}"
    );

    let (status, body) = e.query(&format!("SELECT Id, VIP__c FROM {persona}")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD"),
        "{body}"
    );
    let (status, body) = json_of(
        e.patch(
            &format!("{V}/sobjects/{persona}/{id}"),
            json!({"vip__c": false}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD"),
        "{body}"
    );
    let (status, _) = e.query(&format!("SELECT Id, Name FROM {persona}")).await;
    assert_eq!(status, StatusCode::OK, "other fields still query");
}
