//! SOQL queries: paging with query locators, parent relationships, filters and
//! query errors.

use reqwest::StatusCode;
use serde_json::json;

use crate::{V, code, env, json_of};

#[tokio::test]
async fn query_with_paging_and_parents() {
    let e = env().await;
    let parent = e.sb.find_records("Case", "Status", "New")[0]["Id"].clone();
    for i in 0..445 {
        e.sb.insert_record(
            "CaseComment",
            json!({"ParentId": parent, "CommentBody": format!("bulk {i}")}),
        )
        .expect("bulk");
    }
    let total = e.sb.record_count("CaseComment");
    let mut seen = 0;
    let resp = e
        .http
        .get(e.url(&format!("{V}/query/")))
        .query(&[("q", "SELECT Id, CommentBody FROM CaseComment ORDER BY Id")])
        .bearer_auth(&e.token)
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .expect("query");
    let (status, mut page) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK);
    let mut last_id = String::new();
    loop {
        assert_eq!(page["totalSize"], total);
        for r in page["records"].as_array().expect("records") {
            let id = r["Id"].as_str().expect("id").to_string();
            assert!(id > last_id);
            last_id = id;
            seen += 1;
        }
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"].as_str().expect("next").to_string();
        assert!(next.starts_with("/services/data/v66.0/query/01g"), "{next}");
        assert_eq!(page["records"].as_array().map(Vec::len), Some(200));
        page = json_of(e.get(&next).await).await.1;
    }
    assert_eq!(seen, total);

    let (status, body) = e.query("SELECT Name, Email, Account.Name, Account.Phone FROM Contact WHERE Account.Name LIKE 'north%' ORDER BY LastName").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalSize"], 2);
    assert_eq!(body["done"], true);
    let rec = &body["records"][0];
    assert_eq!(rec["attributes"]["type"], "Contact");
    assert_eq!(rec["Account"]["attributes"]["type"], "Account");
    assert_eq!(rec["Account"]["Name"], "Northwind Logistics");
    assert!(rec.get("Id").is_none());

    let (_, body) = e
        .query("SELECT COUNT() FROM Lead WHERE Status = 'open - not contacted'")
        .await;
    assert_eq!(body["records"], json!([]));
    assert!(body["totalSize"].as_u64().is_some_and(|n| n >= 4));
    let (_, body) = e.query("SELECT MasterLabel FROM LeadStatus WHERE IsConverted = true ORDER BY SortOrder LIMIT 1").await;
    assert_eq!(body["records"][0]["MasterLabel"], "Closed - Converted");
    let (_, body) = e
        .query("SELECT Id, Account.Name FROM Contact WHERE AccountId = null")
        .await;
    assert_eq!(body["totalSize"], 0);
    let (_, body) = e.query("SELECT Subject, Contact.Account.Name FROM Case WHERE IsClosed = true AND (Priority = 'Low' OR Priority = 'Medium') ORDER BY CaseNumber DESC").await;
    assert_eq!(body["totalSize"], 3);
    assert!(body["records"][0]["Contact"]["Account"]["Name"].is_string());

    let (status, body) = e.query("SELECT Foo FROM Lead").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD")
    );
    assert!(
        body[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("No such column 'Foo' on entity 'Lead'"))
    );
    let (status, body) = e.query("SELECT Id FROM Foo").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_TYPE")
    );
    let (status, body) = e.query("SELECT Id FROM Lead WHERE Name = 'x' AND").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "MALFORMED_QUERY")
    );
    let (status, body) = json_of(e.get(&format!("{V}/query/01g5g0000000000AAA-200")).await).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR")
    );
    e.sb.shutdown().await;
}
