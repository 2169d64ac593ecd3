//! Field values: date formats, input coercion, and order-preserving JSON output.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use super::schema::{FieldDef, FieldType};

/// Formats a datetime the way Salesforce writes it: `2024-09-27T15:18:19.000+0000`.
pub(crate) fn format_datetime(dt: DateTime<Utc>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Formats a date: `2024-09-27`.
pub(crate) fn format_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Parses ISO-8601 datetimes (`Z`, `+00:00`, `+0000`, with or without millis).
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc());
        }
    }
    None
}

/// Parses a `YYYY-MM-DD` date.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Normalizes a datetime string to Salesforce's output form.
pub(crate) fn normalize_datetime(s: &str) -> Option<String> {
    parse_datetime(s).map(format_datetime)
}

/// Millis since the epoch, as OAuth's `issued_at` carries it.
pub(crate) fn epoch_millis(dt: DateTime<Utc>) -> String {
    dt.timestamp_millis().to_string()
}

/// A JSON input value that does not fit its field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeMismatch {
    /// Target type name, e.g. `double`.
    pub(crate) target: &'static str,
    /// Parser token name, e.g. `VALUE_STRING`.
    pub(crate) token: &'static str,
    /// The offending value as the parser shows it.
    pub(crate) shown: String,
}

fn token_of(v: &Value) -> (&'static str, String) {
    match v {
        Value::String(s) => ("VALUE_STRING", s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => ("VALUE_NUMBER_INT", n.to_string()),
        Value::Number(n) => ("VALUE_NUMBER_FLOAT", n.to_string()),
        Value::Bool(true) => ("VALUE_TRUE", "true".into()),
        Value::Bool(false) => ("VALUE_FALSE", "false".into()),
        Value::Object(_) => ("START_OBJECT", "{".into()),
        Value::Array(_) => ("START_ARRAY", "[".into()),
        Value::Null => ("VALUE_NULL", "null".into()),
    }
}

fn mismatch(ty: FieldType, v: &Value) -> TypeMismatch {
    let (token, shown) = token_of(v);
    TypeMismatch {
        target: ty.parser_name(),
        token,
        shown,
    }
}

/// Converts a JSON input value to the stored form of `field`'s type.
///
/// Like Salesforce's parser, scalars are coerced where that is lossless
/// (`"12.5"` into a double, `12` into a string, `"true"` into a boolean), and an
/// empty string is null.
pub(crate) fn coerce(field: &FieldDef, v: &Value) -> Result<Value, TypeMismatch> {
    if v.is_null() || v.as_str() == Some("") {
        return Ok(Value::Null);
    }
    let ty = field.ty;
    let bad = || mismatch(ty, v);
    match ty {
        _ if ty.is_text() || ty.is_id() => match v {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(bad()),
        },
        FieldType::Boolean => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        FieldType::Int => {
            let n = number_of(v).ok_or_else(bad)?;
            if n.fract() != 0.0 || n.abs() > 2_147_483_647.0 {
                return Err(bad());
            }
            Ok(Value::from(n as i64))
        }
        FieldType::Double | FieldType::Currency | FieldType::Percent => {
            let n = number_of(v).ok_or_else(bad)?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(bad)
        }
        FieldType::Date => v
            .as_str()
            .and_then(|s| parse_date(s).or_else(|| parse_datetime(s).map(|dt| dt.date_naive())))
            .map(|d| Value::String(format_date(d)))
            .ok_or_else(bad),
        FieldType::DateTime => v
            .as_str()
            .and_then(normalize_datetime)
            .map(Value::String)
            .ok_or_else(bad),
        FieldType::Long => {
            let whole = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            whole.map(Value::from).ok_or_else(bad)
        }
        FieldType::Time => v
            .as_str()
            .and_then(normalize_time)
            .map(Value::String)
            .ok_or_else(bad),
        FieldType::Base64 => {
            use base64::Engine as _;
            let text = v.as_str().ok_or_else(bad)?;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(|_| Value::String(text.to_owned()))
                .map_err(|_| bad())
        }
        // Any scalar, kept as given.
        FieldType::AnyType => match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// `HH:MM:SS`, `HH:MM:SS.s…` with or without `Z`, as Salesforce stores a time:
/// `HH:MM:SS.sssZ`.
fn normalize_time(text: &str) -> Option<String> {
    let clock = text.strip_suffix('Z').unwrap_or(text);
    let parsed = chrono::NaiveTime::parse_from_str(clock, "%H:%M:%S%.f").ok()?;
    (clock.len() >= 8).then(|| format!("{}Z", parsed.format("%H:%M:%S%.3f")))
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// The text of a stored value, as search and LIKE see it.
pub(crate) fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The 1-based line and column just after the value of `key` in a raw JSON body,
/// as Jackson reports positions. Falls back to the end of the body.
pub(crate) fn position_of_value(raw: &str, key: &str) -> (usize, usize) {
    let needle = format!("\"{key}\"");
    let end = raw
        .match_indices(&needle)
        .find_map(|(i, _)| {
            let rest = &raw[i + needle.len()..];
            let after_ws = rest.trim_start();
            let colon = after_ws.strip_prefix(':')?;
            let value = colon.trim_start();
            let start = raw.len() - value.len();
            Some(start + value_len(value))
        })
        .unwrap_or(raw.len());
    let before = &raw[..end.min(raw.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// Length in bytes of the JSON scalar token at the start of `s`.
fn value_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b'"') {
        let mut escaped = false;
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => return i + 1,
                _ => {}
            }
        }
        return s.len();
    }
    if matches!(bytes.first(), Some(b'{' | b'[')) {
        return 1;
    }
    bytes
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
        .unwrap_or(s.len())
}

/// JSON with object keys kept in insertion order (records list `attributes` first,
/// then fields in the order asked for).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Value(Value),
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
}

impl Json {
    /// An empty ordered object.
    pub(crate) fn object() -> Self {
        Self::Object(Vec::new())
    }

    /// Appends (or replaces) a key of an object; no-op on other variants.
    pub(crate) fn set(&mut self, key: &str, value: impl Into<Json>) {
        if let Self::Object(entries) = self {
            let value = value.into();
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => entries.push((key.to_string(), value)),
            }
        }
    }

    /// Builder form of [`Json::set`].
    pub(crate) fn with(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.set(key, value);
        self
    }

    /// The value at `key` of an object.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Self::Object(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Serializes to a JSON string.
    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Self {
        Self::Value(v)
    }
}
impl From<&str> for Json {
    fn from(v: &str) -> Self {
        Self::Value(Value::String(v.into()))
    }
}
impl From<String> for Json {
    fn from(v: String) -> Self {
        Self::Value(Value::String(v))
    }
}
impl From<bool> for Json {
    fn from(v: bool) -> Self {
        Self::Value(Value::Bool(v))
    }
}
impl From<usize> for Json {
    fn from(v: usize) -> Self {
        Self::Value(Value::from(v))
    }
}
impl From<Vec<Json>> for Json {
    fn from(v: Vec<Json>) -> Self {
        Self::Array(v)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => v.serialize(s),
            Self::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Self::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::object;
    use super::*;
    use serde_json::json;

    #[test]
    fn datetime_formats() {
        let want = "2024-09-27T15:18:19.000+0000";
        for input in [
            "2024-09-27T15:18:19Z",
            "2024-09-27T15:18:19.000Z",
            "2024-09-27T15:18:19+00:00",
            "2024-09-27T15:18:19.000+0000",
            "2024-09-27T17:18:19+0200",
            "2024-09-27T15:18:19",
        ] {
            assert_eq!(normalize_datetime(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(normalize_datetime("yesterday"), None);
        assert_eq!(parse_date("2024-02-30"), None);
        assert!(parse_date("2024-02-29").is_some());
    }

    #[test]
    fn coercion() {
        let opp = object("Opportunity").expect("opp");
        let amount = opp.field("Amount").expect("amount");
        assert_eq!(coerce(amount, &json!("12.5")), Ok(json!(12.5)));
        assert_eq!(coerce(amount, &json!(3)), Ok(json!(3.0)));
        let err = coerce(amount, &json!("abc")).expect_err("abc");
        assert_eq!(
            (err.target, err.token, err.shown.as_str()),
            ("double", "VALUE_STRING", "abc")
        );
        let close = opp.field("CloseDate").expect("close");
        assert_eq!(coerce(close, &json!("2024-01-31")), Ok(json!("2024-01-31")));
        assert!(coerce(close, &json!("31/01/2024")).is_err());
        let name = opp.field("Name").expect("name");
        assert_eq!(coerce(name, &json!(42)), Ok(json!("42")));
        assert_eq!(coerce(name, &json!("")), Ok(Value::Null));
        assert!(coerce(name, &json!({"a": 1})).is_err());
    }

    #[test]
    fn positions() {
        assert_eq!(position_of_value(r#"{"Amount":"abc"}"#, "Amount"), (1, 16));
        assert_eq!(
            position_of_value("{\n  \"Amount\" : 12,\n  \"X\": true\n}", "X"),
            (3, 12)
        );
    }

    #[test]
    fn ordered_json() {
        let j = Json::object()
            .with("b", 1usize)
            .with("a", "x")
            .with("b", 2usize);
        assert_eq!(j.to_text(), r#"{"b":2,"a":"x"}"#);
    }
}
