//! Records as Salesforce could send them — any JSON under the objects' field names and others —
//! always become the typed message (a value of an unexpected type is left unset, never an
//! INTERNAL error).
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const NAMES: &[&str] = &[
    "Id",
    "Name",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "Company",
    "Status",
    "IsConverted",
    "CreatedDate",
    "LastModifiedDate",
    "AccountId",
    "ContactId",
    "Amount",
    "CloseDate",
    "StageName",
    "Probability",
    "CaseNumber",
    "Subject",
    "IsClosed",
    "Priority",
    "Origin",
    "Type",
    "IsActive",
    "StartDate",
    "EndDate",
    "NumberOfEmployees",
    "AnnualRevenue",
    "Website",
    "Title",
    "attributes",
    "Foo__c",
    "Account",
    "OwnerId",
    "Description",
    "LeadSource",
    "MobilePhone",
    "BudgetedCost",
];

fn json(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let kinds = if depth >= 3 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        4 | 5 => Value::String(u.arbitrary()?),
        6 => Value::Array(
            (0..u.int_in_range(0..=3)?)
                .map(|_| json(u, depth + 1))
                .collect::<Result<_>>()?,
        ),
        _ => Value::Object(record(u, depth + 1)?),
    })
}

fn record(u: &mut Unstructured<'_>, depth: u32) -> Result<Map<String, Value>> {
    let mut record = Map::new();
    for _ in 0..u.int_in_range(0..=24)? {
        let name = if u.ratio(7, 8)? {
            (*u.choose(NAMES)?).to_owned()
        } else {
            u.arbitrary()?
        };
        record.insert(name, json(u, depth)?);
    }
    Ok(record)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(which), Ok(record)) = (u.arbitrary::<u8>(), record(&mut u, 0)) else {
        return;
    };
    if let Err(error) = sfgate::api::fuzzing::decode_record(which, &record) {
        panic!("{error} for {record:?}");
    }
});
