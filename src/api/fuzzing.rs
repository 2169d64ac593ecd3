//! Entry points of the API's parsers for the fuzz targets in `fuzz/` (feature `fuzzing` only).

use crate::error::GatewayError;
use crate::salesforce::Record;

use super::typed::ObjectType;
use super::typed::{account, campaign, case, contact, lead, opportunity};

/// Normalises a phone number as `LookupByPhone` does: the E.164 form, or the refusal's message.
pub fn normalize_phone(input: &str, default_country: &str) -> Result<String, String> {
    super::phone::normalize(input, default_country)
        .map(|number| number.e164)
        .map_err(|error| error.to_string())
}

/// Decodes a record as the typed object `which` (modulo the six) would answer it. Only a bug of
/// ours is an error: any record Salesforce could send becomes a message.
pub fn decode_record(which: u8, record: &Record) -> Result<(), String> {
    let instance_url = url::Url::parse("https://fuzz.my.salesforce.com").expect("a valid URL");
    let decoded = match which % 6 {
        0 => decode::<crate::pb::Lead>(&lead::LEAD, record, &instance_url),
        1 => decode::<crate::pb::Contact>(&contact::CONTACT, record, &instance_url),
        2 => decode::<crate::pb::Account>(&account::ACCOUNT, record, &instance_url),
        3 => decode::<crate::pb::Opportunity>(&opportunity::OPPORTUNITY, record, &instance_url),
        4 => decode::<crate::pb::Case>(&case::CASE, record, &instance_url),
        _ => decode::<crate::pb::Campaign>(&campaign::CAMPAIGN, record, &instance_url),
    };
    decoded.map_err(|error| error.to_string())
}

fn decode<M: prost::Message + Default>(
    object: &ObjectType,
    record: &Record,
    instance_url: &url::Url,
) -> Result<(), GatewayError> {
    super::typed::codec::resource_from_record::<M>(object, record, Some(instance_url), None)
        .map(drop)
}
