//! The SOAP partner API: `convertLead` and `login`.

use reqwest::StatusCode;
use serde_json::json;

use crate::{V, code, convert_envelope, env, json_of};

fn lead_convert(lead_id: &str, status: &str, extra: &str) -> String {
    format!(
        "<urn:leadConverts>{extra}<urn:convertedStatus>{status}</urn:convertedStatus><urn:doNotCreateOpportunity>false</urn:doNotCreateOpportunity><urn:leadId>{lead_id}</urn:leadId></urn:leadConverts>"
    )
}

fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

#[tokio::test]
async fn soap_convert_lead() {
    let e = env().await;
    let lead = e.create("Lead", json!({"FirstName": "Grace", "LastName": "Hopper", "Company": "Compilers Inc", "Email": "grace@example.com", "Phone": "(415) 555-0170", "LeadSource": "Web"})).await;
    let body = convert_envelope(&e.token, &lead_convert(&lead, "Closed - Converted", ""));
    let usage = e.sb.api_usage();
    let (status, xml) = e.soap(body).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(xml.contains("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"urn:partner.soap.sforce.com\""));
    assert!(xml.contains("<type>API REQUESTS</type>"));
    assert_eq!(e.sb.api_usage(), usage + 1);
    assert_eq!(xml_value(&xml, "success").as_deref(), Some("true"));
    let account = xml_value(&xml, "accountId").expect("account");
    let contact = xml_value(&xml, "contactId").expect("contact");
    let opp = xml_value(&xml, "opportunityId").expect("opp");
    assert!(account.starts_with("001") && contact.starts_with("003") && opp.starts_with("006"));
    assert_eq!(xml_value(&xml, "leadId").as_deref(), Some(lead.as_str()));
    let l = &e.sb.find_records("Lead", "Id", &lead)[0];
    assert_eq!(
        (
            l["IsConverted"].clone(),
            l["Status"].clone(),
            l["ConvertedAccountId"].clone()
        ),
        (json!(true), json!("Closed - Converted"), json!(account))
    );
    assert_eq!(
        e.sb.find_records("Account", "Id", &account)[0]["Name"],
        "Compilers Inc"
    );
    let c = &e.sb.find_records("Contact", "Id", &contact)[0];
    assert_eq!(
        (c["Email"].clone(), c["AccountId"].clone()),
        (json!("grace@example.com"), json!(account))
    );
    let o = &e.sb.find_records("Opportunity", "Id", &opp)[0];
    assert_eq!(
        (o["Name"].clone(), o["StageName"].clone()),
        (json!("Compilers Inc-"), json!("Prospecting"))
    );
    let (_, body) = json_of(
        e.patch(&format!("{V}/sobjects/Lead/{lead}"), json!({"Title": "x"}))
            .await,
    )
    .await;
    assert_eq!(code(&body), "CANNOT_UPDATE_CONVERTED_LEAD");

    let again = e
        .soap(convert_envelope(
            &e.token,
            &lead_convert(&lead, "Closed - Converted", ""),
        ))
        .await
        .1;
    assert_eq!(
        xml_value(&again, "statusCode").as_deref(),
        Some("CANNOT_UPDATE_CONVERTED_LEAD")
    );
    assert_eq!(xml_value(&again, "success").as_deref(), Some("false"));
    assert!(again.contains("<accountId xsi:nil=\"true\"/>"));

    let other = e.sb.find_records("Lead", "External_Id__c", "LEAD-5002")[0]["Id"]
        .as_str()
        .expect("id")
        .to_string();
    let account_id = e.sb.find_records("Account", "External_Id__c", "ACC-1001")[0]["Id"]
        .as_str()
        .expect("acc")
        .to_string();
    let before = e.sb.record_count("Account");
    let multi = format!(
        "{}{}{}",
        lead_convert(&other, "Working - Contacted", ""),
        lead_convert("00Qbad", "Closed - Converted", ""),
        lead_convert(
            &other,
            "Closed - Converted",
            &format!(
                "<urn:accountId>{account_id}</urn:accountId><urn:opportunityName>Fjord Deal</urn:opportunityName>"
            )
        ),
    );
    let (status, xml) = e.soap(convert_envelope(&e.token, &multi)).await;
    assert_eq!(status, StatusCode::OK);
    let results: Vec<&str> = xml.split("<result>").skip(1).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(
        xml_value(results[0], "statusCode").as_deref(),
        Some("INVALID_STATUS")
    );
    assert_eq!(
        xml_value(results[0], "message").as_deref(),
        Some("invalid convertedStatus: Working - Contacted")
    );
    assert_eq!(
        xml_value(results[1], "statusCode").as_deref(),
        Some("MALFORMED_ID")
    );
    assert_eq!(xml_value(results[2], "success").as_deref(), Some("true"));
    assert_eq!(
        xml_value(results[2], "accountId").as_deref(),
        Some(account_id.as_str())
    );
    assert_eq!(e.sb.record_count("Account"), before);
    assert_eq!(
        e.sb.find_records("Opportunity", "Name", "Fjord Deal").len(),
        1
    );

    let no_opp = e
        .create("Lead", json!({"LastName": "Solo", "Company": "Solo Co"}))
        .await;
    let xml = e
        .soap(convert_envelope(
            &e.token,
            &lead_convert(&no_opp, "Closed - Converted", "").replace(
                "<urn:doNotCreateOpportunity>false",
                "<urn:doNotCreateOpportunity>true",
            ),
        ))
        .await
        .1;
    assert!(xml.contains("<opportunityId xsi:nil=\"true\"/>"), "{xml}");

    let (status, xml) = e
        .soap(convert_envelope(
            "bogus",
            &lead_convert(&no_opp, "Closed - Converted", ""),
        ))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(xml.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"));
    assert!(xml.contains("<faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring>"));
    let (status, xml) = e.soap("<not-xml".into()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(xml.contains("<faultcode>soapenv:Client</faultcode>"));
    e.sb.shutdown().await;
}

#[tokio::test]
async fn soap_login() {
    let e = env().await;
    let c = e.sb.credentials().clone();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{}</n1:username><n1:password>{}</n1:password></n1:login></env:Body></env:Envelope>"#,
        c.username, c.password
    );
    let (status, xml) = e.soap(body).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    let session = xml_value(&xml, "sessionId").expect("session");
    let resp = e
        .http
        .get(e.url(&format!("{V}/limits")))
        .bearer_auth(&session)
        .send()
        .await
        .expect("limits");
    assert_eq!(resp.status(), StatusCode::OK);
    e.sb.shutdown().await;
}
