//! Typed proto resources to Salesforce JSON and back, driven by an object's field table.
//!
//! One implementation serves every object: the table says which proto field is which API field,
//! the message's descriptor (`prost-reflect`) says its type. Requests are read through a
//! `DynamicMessage`; records become the typed message by writing its wire format directly, with
//! the field numbers and types worked out once per object type.

use chrono::{DateTime, NaiveDate};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, Value as ProtoValue};
use serde_json::{Map, Number, Value as JsonValue};
use url::Url;

use super::{FieldKind, FieldMapping, ObjectType};
use crate::api::json_struct;
use crate::error::GatewayError;
use crate::salesforce::soql::is_identifier;
use crate::salesforce::{Record, SalesforceId, record_page_url};

use super::encoding::EXTRA_FIELDS;

use super::encoding::{RecordEncoding, put_json, put_str};

/// The descriptor of a message of the public API.
pub(crate) fn descriptor(full_name: &str) -> Result<MessageDescriptor, GatewayError> {
    crate::pb::descriptor_pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| GatewayError::Internal(format!("no descriptor for {full_name}")))
}

/// A typed request's resource as a `DynamicMessage` of the object's message.
pub(crate) fn dynamic_of<M: Message>(
    object: &ObjectType,
    message: Option<M>,
) -> Result<Option<DynamicMessage>, GatewayError> {
    message
        .map(|message| {
            DynamicMessage::decode(object.descriptor()?, message.encode_to_vec().as_slice())
                .map_err(|error| {
                    GatewayError::Internal(format!("re-reading {}: {error}", object.message))
                })
        })
        .transpose()
}

/// A resource written by the operations (its wire format) as the typed message `M`.
pub(crate) fn decode<M: Message + Default>(
    object: &ObjectType,
    wire: &[u8],
) -> Result<M, GatewayError> {
    M::decode(wire)
        .map_err(|error| GatewayError::Internal(format!("decoding {}: {error}", object.message)))
}

/// Views a typed message through the descriptor named `full_name`.
pub(crate) fn to_dynamic<M: Message>(
    full_name: &str,
    message: &M,
) -> Result<DynamicMessage, GatewayError> {
    DynamicMessage::decode(descriptor(full_name)?, message.encode_to_vec().as_slice())
        .map_err(|error| GatewayError::Internal(format!("re-reading {full_name}: {error}")))
}

/// The record ID of a resource message (empty when unset).
pub(crate) fn resource_id(resource: &DynamicMessage) -> String {
    match resource.get_field_by_name("id").as_deref() {
        Some(ProtoValue::String(id)) => id.clone(),
        _ => String::new(),
    }
}

/// The fields to send on create: every writable field that is set, and the extra fields.
pub(crate) fn create_fields(
    object: &ObjectType,
    resource: &DynamicMessage,
) -> Result<Record, GatewayError> {
    let mut fields = Record::new();
    for mapping in object
        .fields
        .iter()
        .filter(|mapping| mapping.kind != FieldKind::OutputOnly)
    {
        if let Some(value) = set_value(resource, mapping.proto) {
            fields.insert(mapping.api.to_string(), json_of(object, mapping, &value)?);
        }
    }
    for (api_name, value) in extra_fields(object, resource)? {
        fields.insert(api_name, value);
    }
    Ok(fields)
}

/// The fields to send on update, as the mask names them (AIP-134: an empty mask means every
/// field that is set; `*` means every writable field, clearing the unset ones).
pub(crate) fn update_fields(
    object: &ObjectType,
    resource: &DynamicMessage,
    mask: &[String],
) -> Result<Record, GatewayError> {
    if mask.is_empty() {
        let fields = create_fields(object, resource)?;
        if fields.is_empty() {
            return Err(GatewayError::invalid_field(
                "update_mask",
                "is empty and no field is set: name the fields to change",
            ));
        }
        return Ok(fields);
    }
    let extras: Map<String, JsonValue> = extra_fields(object, resource)?.into_iter().collect();
    let mut fields = Record::new();
    for path in mask {
        if path == "*" {
            for mapping in object
                .fields
                .iter()
                .filter(|mapping| mapping.kind != FieldKind::OutputOnly)
            {
                fields.insert(
                    mapping.api.to_string(),
                    masked_value(object, resource, mapping)?,
                );
            }
            fields.extend(extras.clone());
        } else if path == EXTRA_FIELDS {
            fields.extend(extras.clone());
        } else if let Some(api_name) = path.strip_prefix("extra_fields.") {
            check_extra_name(object, api_name, "update_mask")?;
            fields.insert(
                api_name.to_owned(),
                extras.get(api_name).cloned().unwrap_or(JsonValue::Null),
            );
        } else {
            let mapping = object
                .field_by_proto(path)
                .ok_or_else(|| unknown_path(object, "update_mask", path))?;
            if mapping.kind == FieldKind::OutputOnly {
                return Err(GatewayError::invalid_field(
                    "update_mask",
                    format!("{path} is output only: Salesforce sets it"),
                ));
            }
            fields.insert(
                mapping.api.to_string(),
                masked_value(object, resource, mapping)?,
            );
        }
    }
    if fields.is_empty() {
        return Err(GatewayError::invalid_field(
            "update_mask",
            "names no field to update",
        ));
    }
    Ok(fields)
}

/// The API fields to read for a `fields` mask: `None` reads all. Also returns the extra fields the
/// mask asks for, which the response then carries even when they are not custom fields.
pub(crate) fn read_fields(
    object: &ObjectType,
    mask: &[String],
) -> Result<Option<Vec<String>>, GatewayError> {
    if mask.is_empty() {
        return Ok(None);
    }
    let mut api_names = vec!["Id".to_owned()];
    for path in mask {
        let api_name = match path.strip_prefix("extra_fields.") {
            Some(api_name) => {
                check_extra_name(object, api_name, "fields")?;
                api_name
            }
            None if path == "id" || path == "url" => continue,
            None => {
                object
                    .field_by_proto(path)
                    .ok_or_else(|| unknown_path(object, "fields", path))?
                    .api
            }
        };
        if !api_names.iter().any(|known| known == api_name) {
            api_names.push(api_name.to_owned());
        }
    }
    Ok(Some(api_names))
}

#[cfg(any(test, feature = "fuzzing"))]
/// Builds the resource message from a Salesforce record. The record is written straight to the
/// protobuf wire format, field by field as the object's table says, and read back as `M`; its
/// record page is on `instance_url` (no page without one).
pub(crate) fn resource_from_record<M: Message + Default>(
    object: &ObjectType,
    record: &Record,
    instance_url: Option<&Url>,
    requested: Option<&[String]>,
) -> Result<M, GatewayError> {
    decode(
        object,
        &record_wire(object, record, instance_url, requested)?,
    )
}

/// [`resource_from_record`] for many records of one object.
pub(crate) fn resources_from_records<'a, M: Message + Default>(
    object: &ObjectType,
    records: impl IntoIterator<Item = &'a Record>,
    instance_url: &Url,
) -> Result<Vec<M>, GatewayError> {
    records_wire(object, records, instance_url)?
        .iter()
        .map(|wire| decode(object, wire))
        .collect()
}

/// The resource message of a Salesforce record, in its wire format.
pub(crate) fn record_wire(
    object: &ObjectType,
    record: &Record,
    instance_url: Option<&Url>,
    requested: Option<&[String]>,
) -> Result<Vec<u8>, GatewayError> {
    Ok(encode_resource(
        object.encoding()?.as_ref(),
        object,
        record,
        instance_url,
        requested,
    ))
}

/// [`record_wire`] for many records of one object (the encoding is looked up once).
pub(crate) fn records_wire<'a>(
    object: &ObjectType,
    records: impl IntoIterator<Item = &'a Record>,
    instance_url: &Url,
) -> Result<Vec<Vec<u8>>, GatewayError> {
    let encoding = object.encoding()?;
    Ok(records
        .into_iter()
        .map(|record| encode_resource(&encoding, object, record, Some(instance_url), None))
        .collect())
}

fn encode_resource(
    encoding: &RecordEncoding,
    object: &ObjectType,
    record: &Record,
    instance_url: Option<&Url>,
    requested: Option<&[String]>,
) -> Vec<u8> {
    use prost::encoding::message;
    let mut wire = Vec::with_capacity(512);
    let id = record
        .get("Id")
        .and_then(JsonValue::as_str)
        .unwrap_or_default();
    if let Some(number) = encoding.id {
        put_str(&mut wire, number, id);
    }
    if let (Some(number), Some(instance_url)) =
        (encoding.url.filter(|_| !id.is_empty()), instance_url)
    {
        put_str(
            &mut wire,
            number,
            &record_page_url(instance_url, object.api_name, id),
        );
    }
    for (mapping, field) in object.fields.iter().zip(&encoding.fields) {
        let Some(json) = record.get(mapping.api).filter(|json| !json.is_null()) else {
            continue;
        };
        let Some(field) = field else {
            continue;
        };
        if !put_json(&mut wire, *field, json) {
            tracing::warn!(
                object = %object.api_name,
                field = %mapping.api,
                "unexpected value type from salesforce; field left unset"
            );
        }
    }
    if let Some(number) = encoding.extra_fields {
        let extras = record_extras(object, record, requested);
        if !extras.fields.is_empty() {
            message::encode(number, &extras, &mut wire);
        }
    }
    wire
}

/// Relationship objects and lists are not field values.
fn is_field_value(json: &JsonValue) -> bool {
    !matches!(json, JsonValue::Array(_) | JsonValue::Object(_))
}

fn record_extras(
    object: &ObjectType,
    record: &Record,
    requested: Option<&[String]>,
) -> prost_types::Struct {
    let wanted = |api_name: &str| match requested {
        Some(names) => {
            names.iter().any(|name| name == api_name)
                && object.field_by_api(api_name).is_none()
                && api_name != "Id"
        }
        None => api_name.ends_with("__c"),
    };
    let fields = record
        .iter()
        .filter(|(api_name, json)| wanted(api_name) && is_field_value(json))
        .map(|(api_name, json)| (api_name.clone(), json_struct::value_of_json(json)))
        .collect();
    prost_types::Struct { fields }
}

/// The value of a field if the caller set it (explicit presence for `optional`, non-default for
/// plain scalars).
fn set_value(resource: &DynamicMessage, proto: &str) -> Option<ProtoValue> {
    let field = resource.descriptor().get_field_by_name(proto)?;
    resource
        .has_field(&field)
        .then(|| resource.get_field(&field).into_owned())
}

fn masked_value(
    object: &ObjectType,
    resource: &DynamicMessage,
    mapping: &FieldMapping,
) -> Result<JsonValue, GatewayError> {
    match set_value(resource, mapping.proto) {
        Some(value) => json_of(object, mapping, &value),
        None => Ok(JsonValue::Null),
    }
}

fn json_of(
    object: &ObjectType,
    mapping: &FieldMapping,
    value: &ProtoValue,
) -> Result<JsonValue, GatewayError> {
    let path = || format!("{}.{}", object.request_field, mapping.proto);
    let path = || path().trim_start_matches('.').to_owned();
    Ok(match (mapping.kind, value) {
        (FieldKind::Reference | FieldKind::Date | FieldKind::Time, ProtoValue::String(text))
            if text.is_empty() =>
        {
            JsonValue::Null
        }
        (FieldKind::Reference, ProtoValue::String(text)) => {
            let id = SalesforceId::parse(text).map_err(|error| {
                GatewayError::invalid_field(path(), format!("{text:?} {error}"))
            })?;
            JsonValue::String(id.as_str().to_owned())
        }
        (FieldKind::Date, ProtoValue::String(text)) => {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                GatewayError::invalid_field(
                    path(),
                    format!("{text:?} is not a date of the form YYYY-MM-DD"),
                )
            })?;
            JsonValue::String(text.clone())
        }
        (FieldKind::Time, ProtoValue::String(text)) => {
            if !is_time_of_day(text) {
                return Err(GatewayError::invalid_field(
                    path(),
                    format!("{text:?} is not a time of day of the form HH:MM:SS.sssZ"),
                ));
            }
            JsonValue::String(text.clone())
        }
        (_, ProtoValue::String(text)) => JsonValue::String(text.clone()),
        (_, ProtoValue::Bool(flag)) => JsonValue::Bool(*flag),
        (_, ProtoValue::I32(number)) => JsonValue::from(*number),
        (_, ProtoValue::I64(number)) => JsonValue::from(*number),
        (_, ProtoValue::F64(number)) => JsonValue::Number(
            Number::from_f64(*number)
                .ok_or_else(|| GatewayError::invalid_field(path(), "must be a finite number"))?,
        ),
        (FieldKind::MultiPicklist, ProtoValue::List(values)) => {
            let mut joined = Vec::with_capacity(values.len());
            for value in values {
                let ProtoValue::String(text) = value else {
                    return Err(GatewayError::Internal(format!(
                        "{} holds a non-string",
                        path()
                    )));
                };
                if text.is_empty() || text.contains(';') {
                    return Err(GatewayError::invalid_field(
                        path(),
                        format!("{text:?} is not a picklist value (empty, or holds `;`)"),
                    ));
                }
                joined.push(text.as_str());
            }
            if joined.is_empty() {
                JsonValue::Null
            } else {
                JsonValue::String(joined.join(";"))
            }
        }
        (FieldKind::Base64, ProtoValue::Bytes(bytes)) => {
            use base64::Engine as _;
            JsonValue::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        (FieldKind::DateTime, ProtoValue::Message(timestamp)) => {
            let timestamp: prost_types::Timestamp = timestamp
                .transcode_to()
                .map_err(|error| GatewayError::Internal(format!("{}: {error}", path())))?;
            let nanos = u32::try_from(timestamp.nanos).ok();
            let datetime = nanos
                .and_then(|nanos| DateTime::from_timestamp(timestamp.seconds, nanos))
                .ok_or_else(|| GatewayError::invalid_field(path(), "is not a valid timestamp"))?;
            JsonValue::String(datetime.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        }
        (FieldKind::AnyValue, ProtoValue::Message(value)) => {
            let value: prost_types::Value = value
                .transcode_to()
                .map_err(|error| GatewayError::Internal(format!("{}: {error}", path())))?;
            json_struct::json_of_value(&path(), value)?
        }
        (_, other) => {
            return Err(GatewayError::Internal(format!(
                "{} has unsupported value {other:?}",
                path()
            )));
        }
    })
}

/// `HH:MM:SS`, optionally `.s` to `.sss`, optionally `Z`: Salesforce's time of day.
fn is_time_of_day(text: &str) -> bool {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let fraction_ok = fraction.is_none_or(|digits| {
        (1..=3).contains(&digits.len()) && digits.bytes().all(|digit| digit.is_ascii_digit())
    });
    fraction_ok && chrono::NaiveTime::parse_from_str(clock, "%H:%M:%S").is_ok() && clock.len() == 8
}

/// The caller's `extra_fields` as API name/JSON pairs, checked.
fn extra_fields(
    object: &ObjectType,
    resource: &DynamicMessage,
) -> Result<Vec<(String, JsonValue)>, GatewayError> {
    let Some(value) = set_value(resource, EXTRA_FIELDS) else {
        return Ok(Vec::new());
    };
    let ProtoValue::Message(message) = value else {
        return Ok(Vec::new());
    };
    let extras: prost_types::Struct = message
        .transcode_to()
        .map_err(|error| GatewayError::Internal(format!("reading extra_fields: {error}")))?;
    let mut pairs: Vec<(String, JsonValue)> = Vec::with_capacity(extras.fields.len());
    for (api_name, value) in extras.fields {
        let path = format!("{}.extra_fields.{api_name}", object.request_field);
        check_extra_name(object, &api_name, &path)?;
        pairs.push((api_name, json_struct::json_of_value(&path, value)?));
    }
    pairs.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(pairs)
}

fn check_extra_name(object: &ObjectType, api_name: &str, path: &str) -> Result<(), GatewayError> {
    if !is_identifier(api_name) || api_name.contains('.') {
        return Err(GatewayError::invalid_field(
            path,
            format!("{api_name:?} is not a Salesforce field API name"),
        ));
    }
    if api_name.eq_ignore_ascii_case("Id") {
        return Err(GatewayError::invalid_field(
            path,
            "the record ID is the `id` field, not an extra field",
        ));
    }
    if let Some(mapping) = object.field_by_api(api_name) {
        return Err(GatewayError::invalid_field(
            path,
            format!(
                "{api_name} has a typed field: use {}.{}",
                object.request_field, mapping.proto
            ),
        ));
    }
    Ok(())
}

fn unknown_path(object: &ObjectType, mask: &str, path: &str) -> GatewayError {
    GatewayError::invalid_field(
        mask,
        format!(
            "{path:?} is not a field of {} (use a field name of the message, or extra_fields.<ApiName>)",
            object.api_name
        ),
    )
}

/// Every RPC of the public API, as `Service.Method` (the actions a workflow builder can offer).
pub(crate) fn api_actions() -> Vec<String> {
    crate::pb::descriptor_pool()
        .services()
        .filter(|service| service.package_name() == "sfgate.v1")
        .flat_map(|service| {
            service
                .methods()
                .map(|method| format!("{}.{}", service.name(), method.name()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::typed::opportunity::OPPORTUNITY;
    use crate::pb::Opportunity;

    fn record(value: JsonValue) -> Record {
        match value {
            JsonValue::Object(fields) => fields.into_iter().collect(),
            _ => unreachable!("records are objects"),
        }
    }

    #[test]
    fn a_record_becomes_the_typed_message_field_by_field() {
        let instance = Url::parse("https://acme.my.salesforce.com/").unwrap();
        let record = record(json!({
            "attributes": { "type": "Opportunity" },
            "Id": "006000000000001AAA",
            "Name": "Big deal",
            "Amount": 1250.5,
            "Probability": 90,
            "IsClosed": true,
            "CloseDate": "2026-12-01",
            "Type": 7,
            "NextStep": null,
            "CreatedDate": "2026-11-22T10:20:30.250+0000",
            "LastModifiedDate": "2026-11-22T11:00:00Z",
            "Region__c": "EMEA",
            "Account": { "Name": "Acme" },
        }));
        let opportunity: Opportunity =
            resource_from_record(&OPPORTUNITY, &record, Some(&instance), None).unwrap();
        assert_eq!(opportunity.id, "006000000000001AAA");
        assert_eq!(
            opportunity.url,
            "https://acme.my.salesforce.com/lightning/r/Opportunity/006000000000001AAA/view"
        );
        assert_eq!(opportunity.name.as_deref(), Some("Big deal"));
        assert_eq!(opportunity.amount, Some(1250.5));
        assert_eq!(opportunity.probability, Some(90.0));
        assert!(opportunity.is_closed);
        assert_eq!(opportunity.close_date.as_deref(), Some("2026-12-01"));
        // A number where text is expected reads as its digits; null leaves the field unset.
        assert_eq!(opportunity.r#type.as_deref(), Some("7"));
        assert_eq!(opportunity.next_step, None);
        let created = opportunity.created_date.unwrap();
        assert_eq!(
            (created.seconds, created.nanos),
            (1_795_342_830, 250_000_000)
        );
        assert_eq!(
            opportunity.last_modified_date.unwrap().seconds,
            1_795_345_200
        );
        // Custom fields go to extra_fields; relationship objects do not.
        let extras = opportunity.extra_fields.unwrap().fields;
        assert_eq!(extras.keys().collect::<Vec<_>>(), ["Region__c"]);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_left_unset() {
        let instance = Url::parse("https://acme.my.salesforce.com").unwrap();
        let record = record(json!({
            "Id": "006000000000001AAA",
            "Amount": "lots",
            "IsClosed": "yes",
            "Name": ["not", "text"],
            "CreatedDate": "yesterday",
        }));
        let opportunity: Opportunity =
            resource_from_record(&OPPORTUNITY, &record, Some(&instance), None).unwrap();
        assert_eq!(opportunity.amount, None);
        assert!(!opportunity.is_closed);
        assert_eq!(opportunity.name, None);
        assert_eq!(opportunity.created_date, None);
        assert_eq!(opportunity.id, "006000000000001AAA");
    }
}
