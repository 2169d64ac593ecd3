//! Salesforce's REST error shape: an HTTP status and a JSON array of errors.

use serde_json::Value;

use super::values::Json;

/// One entry of the error array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorItem {
    pub(crate) message: String,
    pub(crate) error_code: String,
    /// `None` omits the key (non-DML errors), `Some` lists the fields.
    pub(crate) fields: Option<Vec<String>>,
    /// Extra keys, e.g. `duplicateResult`.
    pub(crate) extra: Vec<(String, Json)>,
}

/// An error response of the data API.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) items: Vec<ErrorItem>,
}

impl ApiError {
    /// A single error without a `fields` key.
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            items: vec![ErrorItem {
                message: message.into(),
                error_code: code.into(),
                fields: None,
                extra: Vec::new(),
            }],
        }
    }

    /// A single DML error (HTTP 400) naming the fields it concerns.
    pub(crate) fn dml<S: AsRef<str>>(code: &str, message: impl Into<String>, fields: &[S]) -> Self {
        Self {
            status: 400,
            items: vec![ErrorItem {
                message: message.into(),
                error_code: code.into(),
                fields: Some(fields.iter().map(|f| f.as_ref().to_string()).collect()),
                extra: Vec::new(),
            }],
        }
    }

    /// Adds an extra key to the (first) error entry.
    pub(crate) fn with_extra(mut self, key: &str, value: Json) -> Self {
        if let Some(item) = self.items.first_mut() {
            item.extra.push((key.into(), value));
        }
        self
    }

    /// 404 NOT_FOUND "The requested resource does not exist".
    pub(crate) fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "The requested resource does not exist")
    }

    /// 401 INVALID_SESSION_ID.
    pub(crate) fn invalid_session() -> Self {
        Self::new(401, "INVALID_SESSION_ID", "Session expired or invalid")
    }

    /// 400 JSON_PARSER_ERROR.
    pub(crate) fn parser(message: impl Into<String>) -> Self {
        Self::new(400, "JSON_PARSER_ERROR", message)
    }

    /// The first error code.
    #[cfg(test)]
    pub(crate) fn code(&self) -> &str {
        self.items.first().map_or("", |i| i.error_code.as_str())
    }

    /// The error array as JSON.
    pub(crate) fn body(&self) -> Json {
        Json::Array(self.items.iter().map(ErrorItem::to_json).collect())
    }
}

impl ErrorItem {
    fn to_json(&self) -> Json {
        let mut j = Json::object();
        for (k, v) in &self.extra {
            j.set(k, v.clone());
        }
        j.set("message", self.message.as_str());
        j.set("errorCode", self.error_code.as_str());
        if let Some(fields) = &self.fields {
            let list = fields.iter().map(|f| Json::Value(Value::String(f.clone())));
            j.set("fields", Json::Array(list.collect()));
        }
        j
    }
}

/// Result alias of the data API.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
