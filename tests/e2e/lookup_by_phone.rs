//! The contact-center data dip: a caller's number in any written form finds the accounts and
//! contacts with it in a phone field (one SOSL search) and the contacts' open cases.

use sfgate::pb::lookup_service_client::LookupServiceClient;
use sfgate::pb::{LookupByPhoneRequest, LookupByPhoneResponse};
use sfgate_testkit::{spawn_app, violated_fields};
use tonic::Code;

async fn lookup(
    app: &sfgate_testkit::TestApp,
    phone: &str,
) -> Result<LookupByPhoneResponse, tonic::Status> {
    let request = app.request(LookupByPhoneRequest {
        phone: phone.into(),
        default_country_code: String::new(),
    });
    LookupServiceClient::new(app.channel.clone())
        .lookup_by_phone(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_callers_number_finds_the_contact_and_their_open_cases() {
    let app = spawn_app().await;
    // A closed case of the caller's, which the data dip must leave out.
    let alice = app.sandbox.find_records("Contact", "LastName", "Nguyen")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let closed = app
        .cases()
        .create_case(app.request(sfgate::pb::CreateCaseRequest {
            case: Some(sfgate::pb::Case {
                subject: Some("Solved last week".into()),
                status: Some("Closed".into()),
                contact_id: Some(alice),
                ..sfgate::pb::Case::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(closed.is_closed, "the org marks a Closed case closed");
    for written in [
        "+1 (415) 555-0143",
        "4155550143",
        "001 415 555 0143",
        "(415) 555-0143",
    ] {
        app.sandbox.clear_requests();
        let found = lookup(&app, written).await.unwrap();
        assert_eq!(found.e164, "+14155550143", "{written}");
        let names: Vec<_> = found
            .contacts
            .iter()
            .map(|contact| contact.last_name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, vec!["Nguyen".to_string()], "{written}");
        assert!(found.contacts[0].url.ends_with(&format!(
            "/lightning/r/Contact/{}/view",
            found.contacts[0].id
        )));
        assert!(!found.open_cases.is_empty(), "Alice has an open case");
        assert!(
            found.open_cases.iter().all(|case| case.id != closed.id),
            "{written}: the closed case is not an open case"
        );
        assert!(found.open_cases.iter().all(|case| !case.is_closed
            && case.contact_id.as_deref() == Some(found.contacts[0].id.as_str())));
        assert!(
            found
                .open_cases
                .iter()
                .any(|case| case.subject.as_deref() == Some("Shipment tracking page times out"))
        );
        assert!(
            found
                .open_cases
                .iter()
                .all(|case| case.url.contains("/lightning/r/Case/"))
        );
        let calls: Vec<String> = app
            .data_requests()
            .into_iter()
            .map(|request| request.path)
            .collect();
        assert_eq!(
            calls
                .iter()
                .filter(|path| path.ends_with("/search"))
                .count(),
            1,
            "one SOSL search: {calls:?}"
        );
        let search = app
            .data_requests()
            .into_iter()
            .find(|request| request.path.ends_with("/search"))
            .unwrap();
        assert!(
            search.query.unwrap().contains("IN+PHONE+FIELDS"),
            "a phone-field SOSL search"
        );
    }
}

#[tokio::test]
async fn an_account_number_and_a_mobile_number_are_found_too() {
    let app = spawn_app().await;
    let account = lookup(&app, "(415) 555-0142").await.unwrap();
    assert_eq!(account.accounts.len(), 1);
    assert_eq!(
        account.accounts[0].name.as_deref(),
        Some("Northwind Logistics")
    );
    let mobile = lookup(&app, "+1 415 555 0150").await.unwrap();
    assert_eq!(
        mobile
            .contacts
            .iter()
            .map(|contact| contact.last_name.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["Nguyen"]
    );
}

#[tokio::test]
async fn an_unknown_number_finds_nothing_and_a_bad_one_is_refused() {
    let app = spawn_app().await;
    let nobody = lookup(&app, "+44 20 7946 0999").await.unwrap();
    assert_eq!(nobody.e164, "+442079460999");
    assert!(
        nobody.accounts.is_empty() && nobody.contacts.is_empty() && nobody.open_cases.is_empty()
    );
    app.sandbox.clear_requests();
    let status = lookup(&app, "415-CALL-NOW").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), vec!["phone".to_string()]);
    assert!(app.data_requests().is_empty());
}
