//! The protobuf wire side of the typed resources: how each field of a resource message is written
//! from a Salesforce JSON value ([`RecordEncoding`], [`put_json`]), and Salesforce's date-time
//! text. The codec ([`super::codec`]) walks an object's table with it.

use std::sync::LazyLock;

use chrono::DateTime;
use chrono::format::{Item, Parsed, StrftimeItems};
use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value as JsonValue};

use crate::api::json_struct;

/// The field of a built-in resource that carries fields its table does not map.
pub(crate) const EXTRA_FIELDS: &str = "extra_fields";

/// How a resource message is written from a Salesforce record: the wire field of each row of the
/// object's table, read from the message's descriptor once per object type.
#[derive(Debug)]
pub(crate) struct RecordEncoding {
    pub(crate) id: Option<u32>,
    pub(crate) url: Option<u32>,
    pub(crate) extra_fields: Option<u32>,
    /// One entry a row of the object's field table, in its order (`None`: not in the message).
    pub(crate) fields: Vec<Option<WireField>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WireField {
    number: u32,
    kind: WireKind,
}

/// The proto types a Salesforce field value can become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireKind {
    String,
    /// A multi-select picklist: `a;b` becomes `["a", "b"]`.
    RepeatedString,
    Bool,
    Double,
    Int32,
    Int64,
    Timestamp,
    /// Base64 text becomes its bytes.
    Bytes,
    /// `sfgate.v1.Address`.
    Address,
    /// `sfgate.v1.GeoLocation`.
    GeoLocation,
    /// `google.protobuf.Value`: any JSON.
    AnyValue,
    /// Anything else: the value is left unset (and logged).
    Unsupported,
}

impl WireKind {
    fn of(field: &prost_reflect::FieldDescriptor) -> Self {
        if field.is_map() {
            return Self::Unsupported;
        }
        if field.is_list() {
            return match field.kind() {
                Kind::String => Self::RepeatedString,
                _ => Self::Unsupported,
            };
        }
        match field.kind() {
            Kind::String => Self::String,
            Kind::Bool => Self::Bool,
            Kind::Double => Self::Double,
            Kind::Int32 => Self::Int32,
            Kind::Int64 => Self::Int64,
            Kind::Bytes => Self::Bytes,
            Kind::Message(message) => match message.full_name() {
                "google.protobuf.Timestamp" => Self::Timestamp,
                "google.protobuf.Value" => Self::AnyValue,
                "sfgate.v1.Address" => Self::Address,
                "sfgate.v1.GeoLocation" => Self::GeoLocation,
                _ => Self::Unsupported,
            },
            _ => Self::Unsupported,
        }
    }
}

impl RecordEncoding {
    /// The encoding of a message: `descriptor`, with the fields of the object's table named
    /// `table_fields`, in its order (an object keeps its encoding: see `ObjectType::encoding`).
    pub(crate) fn of<'a>(
        descriptor: &MessageDescriptor,
        table_fields: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let number = |name: &str| {
            descriptor
                .get_field_by_name(name)
                .map(|field| field.number())
        };
        RecordEncoding {
            id: number("id"),
            url: number("url"),
            extra_fields: number(EXTRA_FIELDS),
            fields: table_fields
                .into_iter()
                .map(|proto| {
                    let field = descriptor.get_field_by_name(proto)?;
                    Some(WireField {
                        number: field.number(),
                        kind: WireKind::of(&field),
                    })
                })
                .collect(),
        }
    }
}

/// Writes a string field.
pub(crate) fn put_str(wire: &mut Vec<u8>, number: u32, text: &str) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(number, WireType::LengthDelimited, wire);
    encode_varint(text.len() as u64, wire);
    wire.extend_from_slice(text.as_bytes());
}

/// Writes a Salesforce JSON value as the field; false when the value does not fit its type.
pub(crate) fn put_json(wire: &mut Vec<u8>, field: WireField, json: &JsonValue) -> bool {
    use prost::encoding::{bool as boolean, double, int32, int64, message};
    let number = field.number;
    match (field.kind, json) {
        (WireKind::String, JsonValue::String(text)) => put_str(wire, number, text),
        (WireKind::String, JsonValue::Number(value)) => put_str(wire, number, &value.to_string()),
        (WireKind::String, JsonValue::Bool(flag)) => put_str(wire, number, &flag.to_string()),
        (WireKind::Bool, JsonValue::Bool(flag)) => boolean::encode(number, flag, wire),
        (WireKind::Double, JsonValue::Number(value)) => match value.as_f64() {
            Some(value) => double::encode(number, &value, wire),
            None => return false,
        },
        (WireKind::Int32, JsonValue::Number(value)) => {
            let whole = value
                .as_i64()
                .or_else(|| value.as_f64().map(|value| value as i64));
            match whole.and_then(|whole| i32::try_from(whole).ok()) {
                Some(value) => int32::encode(number, &value, wire),
                None => return false,
            }
        }
        (WireKind::Int64, JsonValue::Number(value)) => match value.as_i64() {
            Some(value) => int64::encode(number, &value, wire),
            None => return false,
        },
        (WireKind::Timestamp, JsonValue::String(text)) => match parse_salesforce_datetime(text) {
            Some(timestamp) => message::encode(number, &timestamp, wire),
            None => return false,
        },
        (WireKind::RepeatedString, JsonValue::String(text)) => {
            for value in text.split(';').filter(|value| !value.is_empty()) {
                put_str(wire, number, value);
            }
        }
        // A record read gives a link to the blob, not its bytes: left unset.
        (WireKind::Bytes, JsonValue::String(text)) if text.starts_with("/services/data/") => {}
        (WireKind::Bytes, JsonValue::String(text)) => {
            use base64::Engine as _;
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => prost::encoding::bytes::encode(number, &bytes, wire),
                Err(_) => return false,
            }
        }
        (WireKind::Address, JsonValue::Object(parts)) => {
            message::encode(number, &address_of(parts), wire);
        }
        (WireKind::GeoLocation, JsonValue::Object(parts)) => {
            let coordinate = |name: &str| parts.get(name).and_then(JsonValue::as_f64);
            match (coordinate("latitude"), coordinate("longitude")) {
                (Some(latitude), Some(longitude)) => message::encode(
                    number,
                    &crate::pb::GeoLocation {
                        latitude,
                        longitude,
                    },
                    wire,
                ),
                _ => return false,
            }
        }
        (WireKind::AnyValue, json) => {
            message::encode(number, &json_struct::value_of_json(json), wire);
        }
        _ => return false,
    }
    true
}

/// A compound address as Salesforce's JSON gives it (`{"street": …, "postalCode": …}`).
fn address_of(parts: &Map<String, JsonValue>) -> crate::pb::Address {
    let text = |name: &str| {
        parts
            .get(name)
            .and_then(JsonValue::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    crate::pb::Address {
        street: text("street"),
        city: text("city"),
        state: text("state"),
        state_code: text("stateCode"),
        postal_code: text("postalCode"),
        country: text("country"),
        country_code: text("countryCode"),
        latitude: parts.get("latitude").and_then(JsonValue::as_f64),
        longitude: parts.get("longitude").and_then(JsonValue::as_f64),
        geocode_accuracy: text("geocodeAccuracy"),
    }
}

/// Reads Salesforce's datetime format (`2024-09-27T15:18:19.000+0000`) or RFC 3339.
pub(crate) fn parse_salesforce_datetime(text: &str) -> Option<prost_types::Timestamp> {
    let parsed = salesforce_datetime(text).or_else(|| DateTime::parse_from_rfc3339(text).ok())?;
    Some(prost_types::Timestamp {
        seconds: parsed.timestamp(),
        nanos: i32::try_from(parsed.timestamp_subsec_nanos()).ok()?,
    })
}

/// Salesforce's own datetime format, read with its format items parsed once.
fn salesforce_datetime(text: &str) -> Option<DateTime<chrono::FixedOffset>> {
    static ITEMS: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| {
        StrftimeItems::new("%Y-%m-%dT%H:%M:%S%.f%z")
            .parse_to_owned()
            .expect("a valid format")
    });
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, ITEMS.iter()).ok()?;
    parsed.to_datetime().ok()
}
