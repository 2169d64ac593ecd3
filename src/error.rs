//! The one place where errors become `tonic::Status`: every status carries a
//! `google.rpc.ErrorInfo`, field errors a `BadRequest`, retryable ones a `RetryInfo`.
//!
//! Salesforce's `errorCode` (REST) / `statusCode` (SOAP) is mapped by [`SALESFORCE_ERROR_CODES`];
//! codes it does not list fall back to the HTTP status by [`code_for_http_status`].

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{AuthError, FailureCause};
use crate::credentials::CredentialError;
use crate::ratelimit::LimitExceeded;
use crate::salesforce::{ApiErrorItem, SalesforceError};

/// `ErrorInfo.domain` of errors Salesforce reported.
pub const SALESFORCE_DOMAIN: &str = "salesforce.com";
/// `ErrorInfo.domain` of errors the gateway itself raised.
pub const GATEWAY_DOMAIN: &str = "sfgate";

/// Salesforce error codes and the gRPC code each becomes. An entry ending in `*` matches a prefix.
pub const SALESFORCE_ERROR_CODES: &[(&str, Code)] = &[
    ("NOT_FOUND", Code::NotFound),
    ("ENTITY_IS_DELETED", Code::NotFound),
    ("REQUIRED_FIELD_MISSING", Code::InvalidArgument),
    ("INVALID_FIELD", Code::InvalidArgument),
    ("INVALID_FIELD_FOR_INSERT_UPDATE", Code::InvalidArgument),
    ("MALFORMED_ID", Code::InvalidArgument),
    ("MALFORMED_QUERY", Code::InvalidArgument),
    ("STRING_TOO_LONG", Code::InvalidArgument),
    ("INVALID_TYPE_ON_FIELD_IN_RECORD", Code::InvalidArgument),
    ("JSON_PARSER_ERROR", Code::InvalidArgument),
    (
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        Code::InvalidArgument,
    ),
    ("INVALID_CROSS_REFERENCE_KEY", Code::InvalidArgument),
    ("INVALID_EMAIL_ADDRESS", Code::InvalidArgument),
    ("INVALID_TYPE", Code::InvalidArgument),
    ("INVALID_STATUS", Code::InvalidArgument),
    (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        Code::FailedPrecondition,
    ),
    ("CANNOT_UPDATE_CONVERTED_LEAD", Code::FailedPrecondition),
    ("DUPLICATE_VALUE", Code::AlreadyExists),
    ("DUPLICATES_DETECTED", Code::AlreadyExists),
    ("INSUFFICIENT_ACCESS*", Code::PermissionDenied),
    ("REQUEST_LIMIT_EXCEEDED", Code::ResourceExhausted),
    ("UNABLE_TO_LOCK_ROW", Code::Aborted),
    ("INVALID_SESSION_ID", Code::Unavailable),
    ("SERVER_UNAVAILABLE", Code::Unavailable),
];

/// The gRPC code for an HTTP status that came without a known error code.
pub fn code_for_http_status(http_status: u16) -> Code {
    match http_status {
        300 | 412 => Code::FailedPrecondition,
        400 => Code::InvalidArgument,
        401 | 500..=599 => Code::Unavailable,
        403 => Code::PermissionDenied,
        404 | 410 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        _ => Code::Unknown,
    }
}

/// The gRPC code for a Salesforce error code, if the table lists it.
pub fn code_for_salesforce_error(error_code: &str) -> Option<Code> {
    SALESFORCE_ERROR_CODES.iter().find_map(|(pattern, code)| {
        let matches = match pattern.strip_suffix('*') {
            Some(prefix) => error_code.starts_with(prefix),
            None => error_code == *pattern,
        };
        matches.then_some(*code)
    })
}

/// A field of the request that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request (`lead.last_name`), or the metadata key.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// Everything an RPC can fail with, before it becomes a `Status`.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed; nothing was sent to Salesforce.
    #[error("invalid request: {}", describe(violations))]
    InvalidArgument {
        /// The offending fields.
        violations: Vec<FieldViolation>,
    },
    /// No or an unknown API key.
    #[error("{message}")]
    Unauthenticated {
        /// `ErrorInfo.reason`.
        reason: &'static str,
        /// What to fix.
        message: String,
    },
    /// The key is valid but not granted the tenant (or the tenant does not exist).
    #[error("{message}")]
    PermissionDenied {
        /// `ErrorInfo.reason`.
        reason: &'static str,
        /// What happened.
        message: String,
    },
    /// The gateway cannot do this in the org's current state.
    #[error("{message}")]
    FailedPrecondition {
        /// `ErrorInfo.reason`.
        reason: &'static str,
        /// What happened.
        message: String,
    },
    /// The caller's deadline passed before Salesforce answered.
    #[error("the call's deadline passed before salesforce answered")]
    DeadlineExceeded,
    /// Salesforce failed or refused the call.
    #[error(transparent)]
    Salesforce(#[from] SalesforceError),
    /// The tenant is over its rate or concurrency limit; nothing was sent to Salesforce.
    #[error("{}", describe_limit(.0))]
    LimitExceeded(LimitExceeded),
    /// The idempotency key was used before with a different request.
    #[error(
        "this idempotency-key was used with a different request; use a new key for a new request"
    )]
    IdempotencyKeyReused,
    /// The first request with this idempotency key is still running.
    #[error(
        "a request with this idempotency-key is still in progress; retry shortly for its result"
    )]
    IdempotencyKeyInUse,
    /// A bug: something the gateway should have guaranteed did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe_limit(exceeded: &LimitExceeded) -> String {
    match exceeded {
        LimitExceeded::Rate {
            tenant,
            rate,
            retry_after,
        } => format!(
            "tenant {tenant} is over its rate limit of {} requests/s (burst {}); retry in {} ms",
            rate.per_second,
            rate.burst,
            retry_after.as_millis().max(1)
        ),
        LimitExceeded::Concurrency {
            tenant,
            max_concurrent_calls,
        } => {
            format!("tenant {tenant} already has {max_concurrent_calls} calls in flight, its limit")
        }
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    // Several fields with one complaint ("set at least one of these") read as one sentence.
    if let [first, rest @ ..] = violations
        && !rest.is_empty()
        && rest
            .iter()
            .all(|violation| violation.description == first.description)
    {
        let fields: Vec<&str> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        return format!("{}: {}", fields.join(", "), first.description);
    }
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl GatewayError {
    /// One invalid field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument {
            violations: vec![FieldViolation {
                field: field.into(),
                description: description.into(),
            }],
        }
    }
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Self {
        let message = error.to_string();
        match error {
            GatewayError::InvalidArgument { violations } => {
                let mut details = gateway_info("INVALID_ARGUMENT");
                for violation in &violations {
                    details.add_bad_request_violation(&violation.field, &violation.description);
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            GatewayError::Unauthenticated { reason, .. } => {
                Status::with_error_details(Code::Unauthenticated, message, gateway_info(reason))
            }
            GatewayError::PermissionDenied { reason, .. } => {
                Status::with_error_details(Code::PermissionDenied, message, gateway_info(reason))
            }
            GatewayError::FailedPrecondition { reason, .. } => {
                Status::with_error_details(Code::FailedPrecondition, message, gateway_info(reason))
            }
            GatewayError::DeadlineExceeded => Status::with_error_details(
                Code::DeadlineExceeded,
                message,
                gateway_info("DEADLINE_EXCEEDED"),
            ),
            GatewayError::LimitExceeded(exceeded) => limit_status(message, &exceeded),
            GatewayError::IdempotencyKeyReused => {
                let mut details = gateway_info("IDEMPOTENCY_KEY_REUSED");
                details.add_bad_request_violation(
                    "idempotency-key",
                    "was used with a different request",
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            GatewayError::IdempotencyKeyInUse => {
                let mut details = gateway_info("IDEMPOTENCY_KEY_IN_USE");
                details.set_retry_info(Some(Duration::from_secs(1)));
                Status::with_error_details(Code::Aborted, message, details)
            }
            GatewayError::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                Status::with_error_details(Code::Internal, message, gateway_info("INTERNAL"))
            }
            GatewayError::Salesforce(error) => salesforce_status(error),
        }
    }
}

/// How soon a call refused for concurrency may be retried: calls usually last well under a second.
const CONCURRENCY_RETRY_DELAY: Duration = Duration::from_millis(100);

fn limit_status(message: String, exceeded: &LimitExceeded) -> Status {
    let (reason, tenant, retry_after, quota) = match exceeded {
        LimitExceeded::Rate {
            tenant,
            rate,
            retry_after,
        } => (
            "TENANT_RATE_LIMITED",
            tenant,
            *retry_after,
            format!(
                "{} requests per second, burst {}",
                rate.per_second, rate.burst
            ),
        ),
        LimitExceeded::Concurrency {
            tenant,
            max_concurrent_calls,
        } => (
            "TENANT_CONCURRENCY_LIMITED",
            tenant,
            CONCURRENCY_RETRY_DELAY,
            format!("{max_concurrent_calls} concurrent calls"),
        ),
    };
    let mut details = ErrorDetails::with_error_info(
        reason,
        GATEWAY_DOMAIN,
        [("tenant".to_string(), tenant.to_string())],
    );
    details.set_retry_info(Some(retry_after));
    details.add_quota_failure_violation(format!("tenant:{tenant}"), quota);
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

fn gateway_info(reason: &str) -> ErrorDetails {
    ErrorDetails::with_error_info(reason, GATEWAY_DOMAIN, [])
}

fn salesforce_status(error: SalesforceError) -> Status {
    let message = format!("salesforce: {error}");
    match error {
        SalesforceError::Api {
            http_status,
            errors,
        } => api_error_status(message, http_status, &errors),
        SalesforceError::SoapFault {
            fault_code,
            message: fault_message,
        } => {
            let errors = [ApiErrorItem {
                error_code: fault_code,
                message: fault_message,
                fields: Vec::new(),
            }];
            api_error_status(message, 500, &errors)
        }
        SalesforceError::MultipleMatches { urls } => Status::with_error_details(
            Code::FailedPrecondition,
            message,
            ErrorDetails::with_error_info(
                "MULTIPLE_CHOICES",
                SALESFORCE_DOMAIN,
                [
                    ("http_status".to_string(), "300".to_string()),
                    ("records".to_string(), urls.join(",")),
                ],
            ),
        ),
        SalesforceError::SessionRejected => unavailable(message, "UPSTREAM_AUTH_FAILED", None),
        SalesforceError::Auth(error) => auth_status(&error),
        SalesforceError::ApiBudgetExhausted {
            used,
            limit,
            ceiling_percent,
            retry_after,
        } => {
            let mut details = ErrorDetails::with_error_info(
                "ORG_API_BUDGET",
                GATEWAY_DOMAIN,
                [
                    ("used".to_string(), used.to_string()),
                    ("limit".to_string(), limit.to_string()),
                ],
            );
            details.set_retry_info(Some(retry_after));
            details.add_quota_failure_violation(
                "salesforce-org",
                format!(
                    "the tenant's ceiling of {ceiling_percent}% of the org's daily API requests"
                ),
            );
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        SalesforceError::Timeout => Status::with_error_details(
            Code::DeadlineExceeded,
            message,
            ErrorDetails::with_error_info("UPSTREAM_TIMEOUT", GATEWAY_DOMAIN, []),
        ),
        // A request that never left is safe to retry; one lost mid-way may have been carried out.
        SalesforceError::Unreachable {
            request_sent: false,
            ..
        } => unavailable(message, "UPSTREAM_UNREACHABLE", Some(1)),
        SalesforceError::Unreachable {
            request_sent: true, ..
        } => unavailable(message, "UPSTREAM_UNREACHABLE", None),
        SalesforceError::UnexpectedResponse { .. } => {
            unavailable(message, "UPSTREAM_BAD_RESPONSE", None)
        }
    }
}

/// A status for a token that could not be minted: the caller learns which part failed (the
/// credential store, the login host, the org's refusal), never a secret.
fn auth_status(error: &AuthError) -> Status {
    let (reason, message, default_retry) = match error.cause() {
        FailureCause::Credentials => (
            "CREDENTIALS_UNAVAILABLE",
            format!("the tenant's Salesforce credentials: {error}"),
            matches!(
                error,
                AuthError::Credentials(CredentialError::Unavailable { .. })
            )
            .then_some(Duration::from_secs(5)),
        ),
        FailureCause::Unreachable => (
            "UPSTREAM_UNREACHABLE",
            format!("salesforce: {error}"),
            Some(Duration::from_secs(1)),
        ),
        FailureCause::Refused => ("UPSTREAM_AUTH_FAILED", format!("salesforce: {error}"), None),
    };
    let retry_after = match error {
        AuthError::CoolingDown { retry_after, .. } => Some(*retry_after),
        _ => default_retry,
    };
    let mut details = ErrorDetails::with_error_info(reason, GATEWAY_DOMAIN, []);
    if let Some(delay) = retry_after {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(Code::Unavailable, message, details)
}

/// A status for Salesforce's own error codes: the table decides the code, the details follow it.
fn api_error_status(message: String, http_status: u16, errors: &[ApiErrorItem]) -> Status {
    let error_code = errors
        .first()
        .map(|item| item.error_code.clone())
        .unwrap_or_default();
    let code =
        code_for_salesforce_error(&error_code).unwrap_or_else(|| code_for_http_status(http_status));
    let fields: Vec<String> = errors
        .iter()
        .flat_map(|item| item.fields.iter().cloned())
        .collect();
    let mut details = ErrorDetails::with_error_info(
        error_code,
        SALESFORCE_DOMAIN,
        [
            ("http_status".to_string(), http_status.to_string()),
            ("fields".to_string(), fields.join(",")),
        ],
    );
    if code == Code::InvalidArgument {
        for item in errors {
            if item.fields.is_empty() {
                details.add_bad_request_violation("", &item.message);
            }
            for field in &item.fields {
                details.add_bad_request_violation(field, &item.message);
            }
        }
    }
    if let Some(delay) = retry_delay(code) {
        details.set_retry_info(Some(delay));
    }
    if code == Code::ResourceExhausted {
        details.add_quota_failure_violation(
            "salesforce-org",
            "the org's daily API request limit is exhausted",
        );
    }
    Status::with_error_details(code, message, details)
}

fn unavailable(message: String, reason: &str, retry_after_seconds: Option<u64>) -> Status {
    let mut details = ErrorDetails::with_error_info(reason, GATEWAY_DOMAIN, []);
    if let Some(seconds) = retry_after_seconds {
        details.set_retry_info(Some(Duration::from_secs(seconds)));
    }
    Status::with_error_details(Code::Unavailable, message, details)
}

/// How long a caller should wait before retrying an error of this code, if retrying makes sense.
fn retry_delay(code: Code) -> Option<Duration> {
    match code {
        Code::Unavailable | Code::Aborted => Some(Duration::from_secs(1)),
        Code::ResourceExhausted => Some(Duration::from_secs(60)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_maps_exact_codes_and_prefixes() {
        assert_eq!(
            code_for_salesforce_error("ENTITY_IS_DELETED"),
            Some(Code::NotFound)
        );
        assert_eq!(
            code_for_salesforce_error("INSUFFICIENT_ACCESS_OR_READONLY"),
            Some(Code::PermissionDenied)
        );
        assert_eq!(
            code_for_salesforce_error("INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"),
            Some(Code::PermissionDenied)
        );
        assert_eq!(code_for_salesforce_error("SOMETHING_NEW"), None);
        assert_eq!(code_for_http_status(503), Code::Unavailable);
        assert_eq!(code_for_http_status(403), Code::PermissionDenied);
    }

    #[test]
    fn every_status_carries_error_info() {
        let errors = [
            GatewayError::invalid_field("lead.id", "must be empty"),
            GatewayError::DeadlineExceeded,
            GatewayError::Salesforce(SalesforceError::Timeout),
            GatewayError::Salesforce(SalesforceError::SoapFault {
                fault_code: "UNABLE_TO_LOCK_ROW".into(),
                message: "x".into(),
            }),
            GatewayError::Salesforce(SalesforceError::SessionRejected),
            GatewayError::Salesforce(SalesforceError::Api {
                http_status: 400,
                errors: vec![ApiErrorItem {
                    error_code: "STRING_TOO_LONG".into(),
                    message: "Title: data value too large".into(),
                    fields: vec!["lead.title".into()],
                }],
            }),
        ];
        for error in errors {
            let status = Status::from(error);
            let details = status.get_error_details();
            assert!(details.error_info().is_some(), "{status:?} lacks ErrorInfo");
        }
    }

    #[test]
    fn field_errors_become_bad_request_violations() {
        let status = Status::from(GatewayError::Salesforce(SalesforceError::Api {
            http_status: 400,
            errors: vec![ApiErrorItem {
                error_code: "REQUIRED_FIELD_MISSING".into(),
                message: "Required fields are missing: [LastName]".into(),
                fields: vec!["lead.last_name".into()],
            }],
        }));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "lead.last_name");
        assert_eq!(
            details.error_info().unwrap().reason,
            "REQUIRED_FIELD_MISSING"
        );
        assert_eq!(details.error_info().unwrap().domain, SALESFORCE_DOMAIN);
    }
}
