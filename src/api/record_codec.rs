//! Typed proto resources to Salesforce JSON and back, driven by an object's field table.
//!
//! Messages are viewed through their descriptors (`prost-reflect`), so one implementation serves
//! every object: the table says which proto field is which API field, the descriptor says its type.

use chrono::{DateTime, NaiveDate};
use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, Value as ProtoValue};
use serde_json::{Map, Number, Value as JsonValue};
use url::Url;

use super::object_type::{FieldKind, FieldMapping, ObjectType};
use crate::error::GatewayError;
use crate::salesforce::soql::is_identifier;
use crate::salesforce::{Record, SalesforceId};

const EXTRA_FIELDS: &str = "extra_fields";

/// The descriptor of a message of the public API.
pub(crate) fn descriptor(full_name: &str) -> Result<MessageDescriptor, GatewayError> {
    crate::pb::descriptor_pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| GatewayError::Internal(format!("no descriptor for {full_name}")))
}

/// Views a typed message through the descriptor named `full_name`.
pub(crate) fn to_dynamic<M: Message>(
    full_name: &str,
    message: &M,
) -> Result<DynamicMessage, GatewayError> {
    DynamicMessage::decode(descriptor(full_name)?, message.encode_to_vec().as_slice())
        .map_err(|error| GatewayError::Internal(format!("re-reading {full_name}: {error}")))
}

/// Turns a dynamic message back into its typed form.
pub(crate) fn from_dynamic<M: Message + Default>(
    message: &DynamicMessage,
) -> Result<M, GatewayError> {
    M::decode(message.encode_to_vec().as_slice()).map_err(|error| {
        GatewayError::Internal(format!(
            "decoding {}: {error}",
            message.descriptor().full_name()
        ))
    })
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
            fields.insert(mapping.api.to_owned(), json_of(object, mapping, &value)?);
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
                    mapping.api.to_owned(),
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
                mapping.api.to_owned(),
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

/// Builds the resource message from a Salesforce record.
pub(crate) fn resource_from_record(
    object: &ObjectType,
    record: &Record,
    instance_url: &Url,
    requested: Option<&[String]>,
) -> Result<DynamicMessage, GatewayError> {
    let descriptor = descriptor(object.message)?;
    let mut resource = DynamicMessage::new(descriptor.clone());
    let id = record
        .get("Id")
        .and_then(JsonValue::as_str)
        .unwrap_or_default();
    set_if_present(&mut resource, "id", ProtoValue::String(id.to_owned()));
    if !id.is_empty() {
        let url = format!(
            "{}/lightning/r/{}/{}/view",
            instance_url.as_str().trim_end_matches('/'),
            object.api_name,
            id
        );
        set_if_present(&mut resource, "url", ProtoValue::String(url));
    }
    for mapping in object.fields {
        let Some(json) = record.get(mapping.api).filter(|json| !json.is_null()) else {
            continue;
        };
        let Some(field) = descriptor.get_field_by_name(mapping.proto) else {
            continue;
        };
        match proto_of(&field.kind(), json) {
            Some(value) => resource.set_field(&field, value),
            None => tracing::warn!(
                object = object.api_name,
                field = mapping.api,
                "unexpected value type from salesforce; field left unset"
            ),
        }
    }
    if let Some(extra_field) = descriptor.get_field_by_name(EXTRA_FIELDS) {
        let extras = record_extras(object, record, requested);
        if !extras.fields.is_empty() {
            resource.set_field(
                &extra_field,
                ProtoValue::Message(extras.transcode_to_dynamic()),
            );
        }
    }
    Ok(resource)
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
        .filter(|(api_name, _)| wanted(api_name))
        .filter_map(|(api_name, json)| Some((api_name.clone(), struct_value_of(json)?)))
        .collect();
    prost_types::Struct { fields }
}

fn struct_value_of(json: &JsonValue) -> Option<prost_types::Value> {
    use prost_types::value::Kind as StructKind;
    let kind = match json {
        JsonValue::Null => StructKind::NullValue(0),
        JsonValue::Bool(flag) => StructKind::BoolValue(*flag),
        JsonValue::Number(number) => StructKind::NumberValue(number.as_f64()?),
        JsonValue::String(text) => StructKind::StringValue(text.clone()),
        // Relationship objects and lists are not field values.
        JsonValue::Array(_) | JsonValue::Object(_) => return None,
    };
    Some(prost_types::Value { kind: Some(kind) })
}

fn set_if_present(resource: &mut DynamicMessage, name: &str, value: ProtoValue) {
    if let Some(field) = resource.descriptor().get_field_by_name(name) {
        resource.set_field(&field, value);
    }
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
    Ok(match value {
        ProtoValue::String(text) if text.is_empty() && mapping.kind != FieldKind::Value => {
            JsonValue::Null
        }
        ProtoValue::String(text) => match mapping.kind {
            FieldKind::Reference => {
                let id = SalesforceId::parse(text).map_err(|error| {
                    GatewayError::invalid_field(path(), format!("{text:?} {error}"))
                })?;
                JsonValue::String(id.as_str().to_owned())
            }
            FieldKind::Date => {
                NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                    GatewayError::invalid_field(
                        path(),
                        format!("{text:?} is not a date of the form YYYY-MM-DD"),
                    )
                })?;
                JsonValue::String(text.clone())
            }
            FieldKind::Value | FieldKind::OutputOnly => JsonValue::String(text.clone()),
        },
        ProtoValue::Bool(flag) => JsonValue::Bool(*flag),
        ProtoValue::I32(number) => JsonValue::from(*number),
        ProtoValue::I64(number) => JsonValue::from(*number),
        ProtoValue::F64(number) => JsonValue::Number(
            Number::from_f64(*number)
                .ok_or_else(|| GatewayError::invalid_field(path(), "must be a finite number"))?,
        ),
        other => {
            return Err(GatewayError::Internal(format!(
                "{} has unsupported value {other:?}",
                path()
            )));
        }
    })
}

fn proto_of(kind: &Kind, json: &JsonValue) -> Option<ProtoValue> {
    Some(match kind {
        Kind::String => ProtoValue::String(match json {
            JsonValue::String(text) => text.clone(),
            JsonValue::Number(number) => number.to_string(),
            JsonValue::Bool(flag) => flag.to_string(),
            _ => return None,
        }),
        Kind::Bool => ProtoValue::Bool(json.as_bool()?),
        Kind::Double => ProtoValue::F64(json.as_f64()?),
        Kind::Int32 => ProtoValue::I32(
            i32::try_from(
                json.as_i64()
                    .or_else(|| json.as_f64().map(|value| value as i64))?,
            )
            .ok()?,
        ),
        Kind::Int64 => ProtoValue::I64(json.as_i64()?),
        Kind::Message(message) if message.full_name() == "google.protobuf.Timestamp" => {
            let timestamp = parse_salesforce_datetime(json.as_str()?)?;
            ProtoValue::Message(timestamp.transcode_to_dynamic())
        }
        _ => return None,
    })
}

/// Reads Salesforce's datetime format (`2024-09-27T15:18:19.000+0000`) or RFC 3339.
pub(crate) fn parse_salesforce_datetime(text: &str) -> Option<prost_types::Timestamp> {
    let parsed = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()?;
    Some(prost_types::Timestamp {
        seconds: parsed.timestamp(),
        nanos: i32::try_from(parsed.timestamp_subsec_nanos()).ok()?,
    })
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
        pairs.push((api_name, json_of_struct_value(&path, value)?));
    }
    pairs.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(pairs)
}

pub(crate) fn json_of_struct_value(
    path: &str,
    value: prost_types::Value,
) -> Result<JsonValue, GatewayError> {
    use prost_types::value::Kind as StructKind;
    Ok(match value.kind {
        None | Some(StructKind::NullValue(_)) => JsonValue::Null,
        Some(StructKind::BoolValue(flag)) => JsonValue::Bool(flag),
        Some(StructKind::StringValue(text)) => JsonValue::String(text),
        Some(StructKind::NumberValue(number)) => JsonValue::Number(
            Number::from_f64(number)
                .ok_or_else(|| GatewayError::invalid_field(path, "must be a finite number"))?,
        ),
        Some(StructKind::StructValue(_) | StructKind::ListValue(_)) => {
            return Err(GatewayError::invalid_field(
                path,
                "a field value must be a string, number, boolean or null",
            ));
        }
    })
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
