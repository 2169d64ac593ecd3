//! gRPC statuses as HTTP integrators expect them: the HTTP status of the code (the mapping of
//! `google/rpc/code.proto`), a JSON body in the shape of AIP-193 —
//! `{"error": {"code": 429, "message": …, "status": "RESOURCE_EXHAUSTED", "details": [...]}}`,
//! `details` being the status's `google.rpc` details with their `@type` — and `Retry-After`
//! from a `RetryInfo`.

use std::time::Duration;

use http::{HeaderValue, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use tonic::Code;

use crate::telemetry::rpc::code_name;

/// The HTTP status of a gRPC code.
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as the HTTP answer carries it: its status, body and `Retry-After`.
#[derive(Debug)]
pub(crate) struct HttpError {
    /// The HTTP status of the code.
    pub(crate) status: StatusCode,
    /// The AIP-193 JSON body.
    pub(crate) body: Value,
    /// Seconds until a retry may succeed, from a `RetryInfo` detail.
    pub(crate) retry_after: Option<HeaderValue>,
    /// For a 405: the methods the path takes.
    pub(crate) allow: Option<HeaderValue>,
}

impl HttpError {
    /// The error of a gRPC status, its details (the `google.rpc.Status` of
    /// `grpc-status-details-bin`) decoded with `pool`.
    pub(crate) fn of_status(pool: &DescriptorPool, status: &tonic::Status) -> Self {
        let details = decode_details(pool, status.details()).unwrap_or_default();
        let retry_after = details.iter().find_map(retry_delay).map(|delay| {
            let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
            HeaderValue::from(seconds.max(1))
        });
        Self::new(
            http_status(status.code()),
            status.code(),
            status.message(),
            details,
            retry_after,
        )
    }

    /// An error the transcoder raises itself (before any call), with an `ErrorInfo` reason and,
    /// for a bad field, a `BadRequest` field violation, as the gateway's own errors have.
    pub(crate) fn own(
        status: StatusCode,
        code: Code,
        reason: &str,
        message: &str,
        field: Option<(&str, &str)>,
    ) -> Self {
        let mut details = vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": crate::error::GATEWAY_DOMAIN,
        })];
        if let Some((field, description)) = field {
            details.push(json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{ "field": field, "description": description }],
            }));
        }
        Self::new(status, code, message, details, None)
    }

    /// A 400 INVALID_ARGUMENT the transcoder raises, naming the bad field when there is one.
    pub(crate) fn invalid(message: &str, field: Option<(&str, &str)>) -> Self {
        Self::own(
            StatusCode::BAD_REQUEST,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            message,
            field,
        )
    }

    /// The same error answered with another HTTP status (its body's `code` follows).
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self.body["error"]["code"] = status.as_u16().into();
        self
    }

    fn new(
        status: StatusCode,
        code: Code,
        message: &str,
        details: Vec<Value>,
        retry_after: Option<HeaderValue>,
    ) -> Self {
        Self {
            status,
            body: json!({
                "error": {
                    "code": status.as_u16(),
                    "message": message,
                    "status": code_name(code),
                    "details": details,
                }
            }),
            retry_after,
            allow: None,
        }
    }
}

/// The details of an encoded `google.rpc.Status`, each as proto3 JSON with its `@type`.
fn decode_details(pool: &DescriptorPool, encoded: &[u8]) -> Option<Vec<Value>> {
    if encoded.is_empty() {
        return None;
    }
    let status =
        DynamicMessage::decode(pool.get_message_by_name("google.rpc.Status")?, encoded).ok()?;
    let json = serde_json::to_value(&status).ok()?;
    Some(json.get("details")?.as_array()?.clone())
}

/// The delay of a `RetryInfo` detail in its JSON form (`"retryDelay": "1.5s"`).
fn retry_delay(detail: &Value) -> Option<Duration> {
    if detail.get("@type")?.as_str()? != "type.googleapis.com/google.rpc.RetryInfo" {
        return None;
    }
    let text = detail.get("retryDelay")?.as_str()?.strip_suffix('s')?;
    Duration::try_from_secs_f64(text.parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_standard_http_statuses() {
        let table = [
            (Code::InvalidArgument, 400),
            (Code::FailedPrecondition, 400),
            (Code::OutOfRange, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::ResourceExhausted, 429),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::Internal, 500),
            (Code::DataLoss, 500),
            (Code::Unimplemented, 501),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
        ];
        for (code, status) in table {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
    }
}
