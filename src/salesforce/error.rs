//! What a Salesforce call can fail with, decoded from Salesforce's own error bodies.

use serde::Deserialize;

use crate::auth::AuthError;

/// One entry of Salesforce's REST error array (`[{"errorCode", "message", "fields"}]`), or one
/// `errors` element of a SOAP result (`statusCode`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiErrorItem {
    /// `errorCode` / `statusCode`, e.g. `REQUIRED_FIELD_MISSING`.
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// Salesforce's message.
    #[serde(default)]
    pub message: String,
    /// The API names of the fields concerned.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A failed Salesforce call.
#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    /// The request would be longer than Salesforce takes (its URI limit); it was not sent.
    #[error(
        "the request's URI would be {uri_length} bytes, past Salesforce's {} (ask for fewer fields or values)",
        super::limits::MAX_URI_LENGTH
    )]
    RequestTooLarge {
        /// The URI's length in bytes.
        uri_length: usize,
    },
    /// Salesforce answered with an error status and its error array.
    #[error("HTTP {http_status}: {}", summary(errors))]
    Api {
        /// The HTTP status.
        http_status: u16,
        /// The decoded errors (at least one).
        errors: Vec<ApiErrorItem>,
    },
    /// An upsert matched several records (HTTP 300).
    #[error("the external ID matches {} records", urls.len())]
    MultipleMatches {
        /// The URLs of the matching records.
        urls: Vec<String>,
    },
    /// A SOAP call failed as a whole (`soapenv:Fault`).
    #[error("salesforce SOAP fault {fault_code}: {message}")]
    SoapFault {
        /// `faultcode` without its namespace prefix, e.g. `INVALID_SESSION_ID`.
        fault_code: String,
        /// `faultstring`.
        message: String,
    },
    /// The org rejected the session even after a fresh token was minted.
    #[error("salesforce rejected the session after a token refresh")]
    SessionRejected,
    /// No access token could be obtained.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The org's API usage is past the tenant's ceiling; the call was not sent.
    #[error(
        "the org has used {used} of its {limit} daily API requests, past this tenant's ceiling of {ceiling_percent}%"
    )]
    ApiBudgetExhausted {
        /// Requests used, as last reported by `Sforce-Limit-Info`.
        used: u64,
        /// The org's daily limit.
        limit: u64,
        /// The tenant's ceiling, in percent of the limit.
        ceiling_percent: f64,
        /// When the usage will be read again.
        retry_after: std::time::Duration,
    },
    /// The org's circuit is open after failures in a row: the call was not sent.
    #[error(
        "salesforce has been failing for this tenant's org: calls fail at once for the next {} ms, then one is let through to check",
        retry_after.as_millis()
    )]
    CircuitOpen {
        /// When a call may go through again.
        retry_after: std::time::Duration,
    },
    /// The org did not answer in time.
    #[error("salesforce did not answer in time")]
    Timeout,
    /// The org could not be reached, or the connection broke.
    #[error("salesforce unreachable: {detail}")]
    Unreachable {
        /// What happened.
        detail: &'static str,
        /// Whether the request may have reached Salesforce (so its outcome is unknown).
        request_sent: bool,
    },
    /// Salesforce acknowledged a write (a 2xx status) but its answer could not be read: the
    /// write is done, what it produced (the record's ID) is not known.
    #[error(
        "salesforce acknowledged the write (HTTP {http_status}) but its answer could not be read ({detail}); the write is done: do not repeat it, look the record up"
    )]
    WriteAnswerLost {
        /// The HTTP status.
        http_status: u16,
        /// What was wrong with the answer.
        detail: String,
    },
    /// Salesforce answered something that cannot be decoded.
    #[error("unexpected salesforce response (HTTP {http_status}): {detail}")]
    UnexpectedResponse {
        /// The HTTP status.
        http_status: u16,
        /// What was wrong with it.
        detail: String,
    },
}

fn summary(errors: &[ApiErrorItem]) -> String {
    errors
        .iter()
        .map(|error| format!("{}: {}", error.error_code, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl SalesforceError {
    /// This error, read as the answer to a write Salesforce acknowledged: an answer that could
    /// not be decoded becomes [`SalesforceError::WriteAnswerLost`].
    pub(crate) fn of_acknowledged_write(self) -> Self {
        match self {
            Self::UnexpectedResponse {
                http_status,
                detail,
            } if (200..300).contains(&http_status) => Self::WriteAnswerLost {
                http_status,
                detail,
            },
            other => other,
        }
    }

    /// Decodes an error response body (a JSON error array, as Salesforce sends it).
    pub(crate) fn from_response(http_status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Vec<ApiErrorItem>>(body) {
            Ok(errors) if !errors.is_empty() => Self::Api {
                http_status,
                errors,
            },
            _ => Self::Api {
                http_status,
                errors: vec![ApiErrorItem {
                    error_code: format!("HTTP_{http_status}"),
                    message: format!("HTTP {http_status} without a Salesforce error body"),
                    fields: Vec::new(),
                }],
            },
        }
    }

    /// Renames the field API names of the errors (e.g. to the caller's proto field paths).
    pub fn map_fields(mut self, rename: impl Fn(&str) -> String) -> Self {
        if let Self::Api { errors, .. } = &mut self {
            for error in errors {
                for field in &mut error.fields {
                    *field = rename(field);
                }
            }
        }
        self
    }

    /// The first Salesforce error code, when Salesforce sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api { errors, .. } => errors.first().map(|error| error.error_code.as_str()),
            Self::SoapFault { fault_code, .. } => Some(fault_code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_rest_error_array() {
        let body = br#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]"#;
        let error = SalesforceError::from_response(400, body);
        assert_eq!(error.error_code(), Some("REQUIRED_FIELD_MISSING"));
        let SalesforceError::Api { errors, .. } = error.map_fields(|field| format!("lead.{field}"))
        else {
            panic!("not an API error");
        };
        assert_eq!(errors[0].fields, vec!["lead.LastName".to_string()]);
    }

    #[test]
    fn keeps_an_undecodable_body_as_an_http_code() {
        let error = SalesforceError::from_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(error.error_code(), Some("HTTP_502"));
    }
}
