//! An HTTP/JSON request as the RPC's request message: the JSON body where the rule puts it, the
//! path variables, and the query parameters, merged into one proto3-JSON object and decoded with
//! the proto3 JSON mapping (camelCase or original field names, well-known types, 64-bit integers
//! as strings, unknown fields refused with their name).

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use super::route::Binding;
use super::routes::{BodyField, Route, field_at, field_named};

/// The query parameter that is not a field: the call's deadline (`timeout=2.5s`).
pub(crate) const TIMEOUT_PARAMETER: &str = "timeout";

/// The proto name of the top-level field a path starts with (given by either spelling).
fn top_level(message: &MessageDescriptor, name: &str) -> String {
    field_named(message, name).map_or_else(|| name.to_owned(), |field| field.name().to_owned())
}

/// Why a request does not make a request message; the text names the field or parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest {
    /// The field or parameter at fault, e.g. `lead.email` or `updateMask`.
    pub(crate) field: String,
    /// What is wrong with it.
    pub(crate) description: String,
}

impl BadRequest {
    fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// The request message of `route`, from its path `bindings`, the raw `query` and the `body`.
pub(crate) fn request_message(
    route: &Route,
    bindings: Vec<Binding>,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, BadRequest> {
    let input = route.rpc.input();
    let body = parse_body(body)?;
    let mut object = match (&route.body, body) {
        (BodyField::None, None) => Map::new(),
        (BodyField::None, Some(_)) => {
            return Err(BadRequest::new("body", "this route takes no request body"));
        }
        (BodyField::Whole, None) => Map::new(),
        (BodyField::Whole, Some(Value::Object(object))) => object,
        (BodyField::Whole, Some(_)) => {
            return Err(BadRequest::new(
                "body",
                "the request body must be a JSON object",
            ));
        }
        (BodyField::Field(_), None) => Map::new(),
        (BodyField::Field(field), Some(value)) => {
            Map::from_iter([(field.json_name().to_owned(), value)])
        }
    };
    // The fields the path sets: the query may not set them again (a proxy's rule on the path
    // must hold for the call), nor, on a `body: "*"` route, any field at all.
    let mut from_path = std::collections::HashSet::new();
    for (path, value) in bindings {
        let field = field_at(&input, &path).map_err(|why| BadRequest::new(path.join("."), why))?;
        from_path.insert(top_level(&input, &path[0]));
        let value =
            scalar_json(&field, &value).map_err(|why| BadRequest::new(path.join("."), why))?;
        set_at(&mut object, &input, &path, value, false)
            .map_err(|why| BadRequest::new(path.join("."), why))?;
    }
    let mut given = std::collections::HashSet::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name == TIMEOUT_PARAMETER {
            continue;
        }
        let path: Vec<String> = name.split('.').map(str::to_owned).collect();
        let field = field_at(&input, &path).map_err(|_| {
            BadRequest::new(
                name.as_ref(),
                format!("{} has no such field", input.full_name()),
            )
        })?;
        let top = top_level(&input, &path[0]);
        let refused = if matches!(route.body, BodyField::Whole) {
            Some("this route takes its fields in the request body")
        } else if matches!(&route.body, BodyField::Field(body) if body.name() == top) {
            Some("this field comes in the request body")
        } else if from_path.contains(&top) {
            Some("this field comes from the path")
        } else if !field.is_list() && !given.insert(path.join(".")) {
            Some("given twice")
        } else {
            None
        };
        if let Some(why) = refused {
            return Err(BadRequest::new(name.as_ref(), why));
        }
        let value =
            scalar_json(&field, &value).map_err(|why| BadRequest::new(name.as_ref(), why))?;
        set_at(&mut object, &input, &path, value, field.is_list())
            .map_err(|why| BadRequest::new(name.as_ref(), why))?;
    }
    DynamicMessage::deserialize_with_options(
        input,
        Value::Object(object),
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|error| BadRequest::new("body", error.to_string()))
}

fn parse_body(body: &[u8]) -> Result<Option<Value>, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|error| BadRequest::new("body", format!("not JSON: {error}")))
}

/// The proto3 JSON form of a path or query value for `field`.
fn scalar_json(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    let boolean = matches!(field.kind(), Kind::Bool)
        || matches!(field.kind(), Kind::Message(message) if message.full_name() == "google.protobuf.BoolValue");
    if boolean {
        return match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        };
    }
    Ok(match field.kind() {
        Kind::Double
        | Kind::Float
        | Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Uint32
        | Kind::Fixed32 => match serde_json::from_str::<serde_json::Number>(text) {
            Ok(number) => Value::Number(number),
            // NaN, Infinity, and what the decoder will refuse with the field's name.
            Err(_) => Value::String(text.to_owned()),
        },
        Kind::Message(message) if !has_scalar_json(&message) => {
            return Err(format!(
                "{} is a message: give its fields one by one ({}.field=…)",
                field.name(),
                field.name()
            ));
        }
        _ => Value::String(text.to_owned()),
    })
}

/// Well-known types whose JSON form is a scalar, so that a path or query value can give them:
/// a FieldMask is `"a,b.c"`, a Timestamp an RFC 3339 string, a BoolValue `true`.
pub(crate) fn has_scalar_json(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.FieldMask"
            | "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.BoolValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
    )
}

/// Puts `value` at the field `path` of `object` (JSON names), appending for a repeated field;
/// a path variable overrides what the body said there.
fn set_at(
    object: &mut Map<String, Value>,
    message: &MessageDescriptor,
    path: &[String],
    value: Value,
    append: bool,
) -> Result<(), String> {
    let mut object = object;
    let mut message = message.clone();
    for (at, name) in path.iter().enumerate() {
        let field = field_named(&message, name).ok_or_else(|| format!("no field {name:?}"))?;
        // One spelling per field: the body may have used the original name.
        let key = field.json_name().to_owned();
        if let Some(original) = object.remove(field.name()) {
            object.entry(key.clone()).or_insert(original);
        }
        if at + 1 == path.len() {
            if append {
                match object
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(items) => items.push(value),
                    _ => return Err("set twice".into()),
                }
            } else {
                object.insert(key, value);
            }
            return Ok(());
        }
        let Kind::Message(inner) = field.kind() else {
            return Err(format!("{name:?} is not a message field"));
        };
        message = inner;
        let slot = object
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        object = slot
            .as_object_mut()
            .ok_or_else(|| format!("{name:?} must be an object"))?;
    }
    Ok(())
}
