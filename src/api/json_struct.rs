//! Salesforce JSON ↔ `google.protobuf.Struct`, the one pair of conversions the services share:
//! records out as `Struct` values (nested parents included, Salesforce's `attributes` left out),
//! field values in as JSON scalars.

use prost_types::value::Kind;
use serde_json::{Map, Number, Value as JsonValue};

use crate::error::GatewayError;

/// A JSON value as a `Struct` value; objects lose Salesforce's `attributes`.
pub(crate) fn value_of_json(json: &JsonValue) -> prost_types::Value {
    let kind = match json {
        JsonValue::Null => Kind::NullValue(0),
        JsonValue::Bool(flag) => Kind::BoolValue(*flag),
        JsonValue::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(f64::NAN)),
        JsonValue::String(text) => Kind::StringValue(text.clone()),
        JsonValue::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(value_of_json).collect(),
        }),
        JsonValue::Object(map) => Kind::StructValue(struct_of_json(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A record's fields (parents nested) as a `Struct`, without Salesforce's `attributes`.
pub(crate) fn struct_of_json(map: &Map<String, JsonValue>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .filter(|(name, _)| *name != "attributes")
            .map(|(name, value)| (name.clone(), value_of_json(value)))
            .collect(),
    }
}

/// A field value from a request as Salesforce JSON: a string, number, boolean or null; `path`
/// names the field when the value is anything else.
pub(crate) fn json_of_value(
    path: &str,
    value: prost_types::Value,
) -> Result<JsonValue, GatewayError> {
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => JsonValue::Null,
        Some(Kind::BoolValue(flag)) => JsonValue::Bool(flag),
        Some(Kind::StringValue(text)) => JsonValue::String(text),
        Some(Kind::NumberValue(number)) => JsonValue::Number(
            Number::from_f64(number)
                .ok_or_else(|| GatewayError::invalid_field(path, "must be a finite number"))?,
        ),
        Some(Kind::StructValue(_) | Kind::ListValue(_)) => {
            return Err(GatewayError::invalid_field(
                path,
                "a field value must be a string, number, boolean or null",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_become_structs_without_attributes() {
        let record = json!({
            "attributes": {"type": "Contact"},
            "Name": "Ada",
            "Age__c": 36,
            "Account": {"attributes": {"type": "Account"}, "Name": "Acme"},
            "Tags__c": ["a", null],
        });
        let converted = struct_of_json(record.as_object().unwrap());
        assert!(!converted.fields.contains_key("attributes"));
        assert_eq!(
            converted.fields["Age__c"].kind,
            Some(Kind::NumberValue(36.0))
        );
        let Some(Kind::StructValue(account)) = &converted.fields["Account"].kind else {
            panic!("the parent is a struct");
        };
        assert!(!account.fields.contains_key("attributes"));
        let Some(Kind::ListValue(tags)) = &converted.fields["Tags__c"].kind else {
            panic!("a list stays a list");
        };
        assert_eq!(tags.values[1].kind, Some(Kind::NullValue(0)));
    }

    #[test]
    fn field_values_must_be_scalars() {
        let string = prost_types::Value {
            kind: Some(Kind::StringValue("x".into())),
        };
        assert_eq!(json_of_value("fields.A", string).unwrap(), json!("x"));
        let nested = prost_types::Value {
            kind: Some(Kind::StructValue(prost_types::Struct::default())),
        };
        let error = json_of_value("fields.B", nested).unwrap_err();
        assert!(error.to_string().contains("fields.B"), "{error}");
        let infinite = prost_types::Value {
            kind: Some(Kind::NumberValue(f64::INFINITY)),
        };
        assert!(json_of_value("fields.C", infinite).is_err());
    }
}
