//! The one place where errors become `tonic::Status`: every status carries a
//! `google.rpc.ErrorInfo`, field errors a `BadRequest`, retryable ones a `RetryInfo`.
//!
//! Two tables decide every status: Salesforce's `errorCode` (REST) / `statusCode` (SOAP) is mapped
//! by [`SALESFORCE_ERROR_CODES`] (codes it does not list fall back to the HTTP status by
//! [`code_for_http_status`]), and the gateway's own reasons by [`GATEWAY_REASONS`].

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{AuthError, FailureCause};
use crate::credentials::CredentialError;
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

/// When a caller may retry a refusal of the gateway's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryHint {
    /// Retrying the same call cannot succeed: no `RetryInfo`.
    Never,
    /// `RetryInfo` with this delay.
    After(Duration),
    /// `RetryInfo` with the delay the refusal itself computed (a limiter's, the org budget's).
    Computed,
}

/// Declares [`Reason`] and [`GATEWAY_REASONS`] from one table, so that each reason is written
/// once: its variant, its `ErrorInfo.reason`, its gRPC code and its retry hint.
macro_rules! gateway_reasons {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $code:ident, $retry:expr;)*) => {
        /// The reasons the gateway itself refuses or fails a call for (`ErrorInfo.domain` =
        /// `sfgate`); [`GATEWAY_REASONS`] gives each its code and retry hint.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[doc = $doc])* $variant,)*
        }

        /// The gateway's own reasons: `ErrorInfo.reason` → gRPC code → retry hint.
        pub const GATEWAY_REASONS: &[(Reason, &str, Code, RetryHint)] = &[
            $((Reason::$variant, $name, Code::$code, $retry),)*
        ];

        impl Reason {
            /// The `ErrorInfo.reason` string.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The gRPC code a refusal for this reason carries.
            pub const fn code(self) -> Code {
                match self {
                    $(Self::$variant => Code::$code,)*
                }
            }

            /// When the caller may retry.
            pub const fn retry_hint(self) -> RetryHint {
                match self {
                    $(Self::$variant => $retry,)*
                }
            }
        }
    };
}

const ONE_SECOND: Duration = Duration::from_secs(1);

gateway_reasons! {
    /// A field of the request is wrong (with `BadRequest`).
    InvalidArgument = "INVALID_ARGUMENT", InvalidArgument, RetryHint::Never;
    /// No `authorization: Bearer <api key>`, or a malformed one.
    ApiKeyMissing = "API_KEY_MISSING", Unauthenticated, RetryHint::Never;
    /// The API key is not granted any tenant.
    ApiKeyInvalid = "API_KEY_INVALID", Unauthenticated, RetryHint::Never;
    /// The client certificate is not granted any tenant (and no API key came).
    ClientCertificateNotGranted = "CLIENT_CERTIFICATE_NOT_GRANTED", Unauthenticated, RetryHint::Never;
    /// The credential is granted other tenants, or the tenant does not exist.
    TenantNotGranted = "TENANT_NOT_GRANTED", PermissionDenied, RetryHint::Never;
    /// The tenant is over its rate limit.
    TenantRateLimited = "TENANT_RATE_LIMITED", ResourceExhausted, RetryHint::Computed;
    /// The tenant has as many calls in flight as it may.
    TenantConcurrencyLimited = "TENANT_CONCURRENCY_LIMITED", ResourceExhausted, RetryHint::Computed;
    /// The tenant's ceiling on its org's daily API requests is reached.
    OrgApiBudget = "ORG_API_BUDGET", ResourceExhausted, RetryHint::Computed;
    /// The request would be larger than Salesforce takes (its URI limit); nothing was sent.
    RequestTooLarge = "REQUEST_TOO_LARGE", InvalidArgument, RetryHint::Never;
    /// The idempotency key came before with a different request.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED", InvalidArgument, RetryHint::Never;
    /// The first request with this idempotency key is still running.
    IdempotencyKeyInUse = "IDEMPOTENCY_KEY_IN_USE", Aborted, RetryHint::After(ONE_SECOND);
    /// The first request with the idempotency key may have created the record; not run again.
    IdempotencyOutcomeUnknown = "IDEMPOTENCY_KEY_OUTCOME_UNKNOWN", FailedPrecondition, RetryHint::Never;
    /// The called service is of a schema file (`[[schemas]]`) the tenant does not use.
    SchemaNotForTenant = "SCHEMA_NOT_FOR_TENANT", PermissionDenied, RetryHint::Never;
    /// The call uses a field the tenant's org lacks, or whose type there differs from the
    /// schema file's (regenerate the file with `sfgate schema`).
    SchemaFieldDrift = "SCHEMA_FIELD_DRIFT", FailedPrecondition, RetryHint::Never;
    /// The org has no converted lead status to default to.
    NoConvertedLeadStatus = "NO_CONVERTED_LEAD_STATUS", FailedPrecondition, RetryHint::Never;
    /// The caller's deadline passed before Salesforce answered.
    DeadlineExceeded = "DEADLINE_EXCEEDED", DeadlineExceeded, RetryHint::Never;
    /// The call's request message did not arrive within the front door's body time-out.
    RequestBodyTimeout = "REQUEST_BODY_TIMEOUT", DeadlineExceeded, RetryHint::Never;
    /// Salesforce did not answer within the tenant's upstream time-out.
    UpstreamTimeout = "UPSTREAM_TIMEOUT", DeadlineExceeded, RetryHint::Never;
    /// Salesforce could not be reached (no hint once the request may have arrived).
    UpstreamUnreachable = "UPSTREAM_UNREACHABLE", Unavailable, RetryHint::After(ONE_SECOND);
    /// The org failed again and again; calls fail at once until a probe gets through.
    UpstreamCircuitOpen = "UPSTREAM_CIRCUIT_OPEN", Unavailable, RetryHint::Computed;
    /// Salesforce answered something that is not its API.
    UpstreamBadResponse = "UPSTREAM_BAD_RESPONSE", Unavailable, RetryHint::Never;
    /// Salesforce refused the tenant's credentials or a fresh token; the token endpoint is asked
    /// again (with the credentials re-read) after a cool-down, the first one a second long.
    UpstreamAuthFailed = "UPSTREAM_AUTH_FAILED", Unavailable, RetryHint::After(ONE_SECOND);
    /// The tenant's credentials could not be read (a hint only while the store is unreachable).
    CredentialsUnavailable = "CREDENTIALS_UNAVAILABLE", Unavailable, RetryHint::After(Duration::from_secs(5));
    /// Salesforce acknowledged a write but its answer was unreadable: done, details unknown.
    WriteAnswerLost = "WRITE_DONE_ANSWER_LOST", DataLoss, RetryHint::Never;
    /// A bug: something the gateway should have guaranteed did not hold.
    Internal = "INTERNAL", Internal, RetryHint::Never;
}

/// When a particular refusal may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// As the reason's [`RetryHint`] says (a [`RetryHint::Computed`] one then gives none).
    AsHinted,
    /// After this delay (a limiter's or a cooling-down token endpoint's own figure).
    After(Duration),
    /// Not: retrying could repeat what may already have been done.
    Not,
}

/// A quota a refusal names (`google.rpc.QuotaFailure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaViolation {
    /// What the quota applies to, e.g. `tenant:acme`.
    pub subject: String,
    /// The quota, e.g. `10 requests per second, burst 20`.
    pub description: String,
}

/// A refusal of the gateway's own: the reason decides the code and the retry hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// What happened and what to do, for the status message.
    pub message: String,
    /// `ErrorInfo.metadata`.
    pub metadata: Vec<(String, String)>,
    /// Whether and when to retry: the reason's hint unless the refusal knows better.
    pub retry: Retry,
    /// The quota that was hit, if any.
    pub quota: Option<QuotaViolation>,
}

/// The gRPC code for an HTTP status that came without a known error code. Every status has one
/// (never UNKNOWN); the status itself is in the `ErrorInfo` metadata (`http_status`).
pub fn code_for_http_status(http_status: u16) -> Code {
    match http_status {
        // Salesforce stopped waiting for the request.
        408 => Code::DeadlineExceeded,
        // The request was too large for Salesforce: the caller's input.
        400 | 413 | 414 | 431 => Code::InvalidArgument,
        401 | 500..=599 => Code::Unavailable,
        403 => Code::PermissionDenied,
        404 | 410 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        // The org does not take this operation (the method or the content type).
        405 | 406 | 415 => Code::Unimplemented,
        // Several records matched (upsert), a precondition failed, or another refusal.
        300 | 412 | 402 | 411 | 416..=428 | 432..=499 => Code::FailedPrecondition,
        // Not an answer of the API at all (an informational, redirect or success status here).
        _ => Code::Internal,
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
    /// The gateway refused the call for a reason of its own.
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// The caller's deadline passed before Salesforce answered.
    #[error("the call's deadline passed before salesforce answered")]
    DeadlineExceeded,
    /// Salesforce failed or refused the call.
    #[error(transparent)]
    Salesforce(#[from] SalesforceError),
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
    /// The first request with this idempotency key may have created the record: its answer was
    /// lost, so a retry is not run again.
    #[error(
        "the first request with this idempotency-key may have created the record, but its answer was lost; look the record up before creating it again (with a new key)"
    )]
    IdempotencyOutcomeUnknown,
    /// A bug: something the gateway should have guaranteed did not hold.
    #[error("internal error: {0}")]
    Internal(String),
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

impl Refusal {
    /// A refusal for `reason` with the reason's own retry hint, no metadata and no quota.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            metadata: Vec::new(),
            retry: Retry::AsHinted,
            quota: None,
        }
    }
}

impl GatewayError {
    /// A refusal for `reason` with the reason's own retry hint (a reason whose delay is
    /// [`RetryHint::Computed`] is raised as a [`Refusal`] that carries it).
    pub fn refused(reason: Reason, message: impl Into<String>) -> Self {
        debug_assert!(
            reason.retry_hint() != RetryHint::Computed,
            "{reason:?} needs its computed retry delay"
        );
        Self::Refused(Refusal::new(reason, message))
    }

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

/// Longest status message, in bytes; longer ones are cut with a marker. Caller input and
/// Salesforce's messages are echoed, and a gRPC client refuses metadata past 16 KiB (grpc-core),
/// so the message and the details together stay under 8 KiB.
const MAX_MESSAGE: usize = 1024;
/// Longest text of a detail (a field path, a violation's description, a metadata value).
const MAX_DETAIL_TEXT: usize = 256;
/// Most field violations listed; the rest are counted in one more.
const MAX_VIOLATIONS: usize = 8;

/// `text` cut to at most `max` bytes (at a character boundary), saying how much was left out.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let marker_room = 40;
    let mut end = max.saturating_sub(marker_room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

/// The status, its message bounded.
fn status(code: Code, message: &str, details: ErrorDetails) -> Status {
    Status::with_error_details(code, bounded(message, MAX_MESSAGE), details)
}

/// Adds `BadRequest` field violations, bounded in number and length.
fn add_violations<'a>(
    details: &mut ErrorDetails,
    violations: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) {
    let count = violations.len();
    for (field, description) in violations.take(MAX_VIOLATIONS) {
        details.add_bad_request_violation(
            bounded(field, MAX_DETAIL_TEXT),
            bounded(description, MAX_DETAIL_TEXT),
        );
    }
    if count > MAX_VIOLATIONS {
        details.add_bad_request_violation(
            "",
            format!("… and {} more violations", count - MAX_VIOLATIONS),
        );
    }
}

/// `ErrorInfo` with its metadata values bounded.
fn error_info(
    reason: &str,
    domain: &str,
    metadata: impl IntoIterator<Item = (String, String)>,
) -> ErrorDetails {
    let metadata: std::collections::HashMap<String, String> = metadata
        .into_iter()
        .map(|(key, value)| (key, bounded(&value, MAX_DETAIL_TEXT)))
        .collect();
    ErrorDetails::with_error_info(bounded(reason, MAX_DETAIL_TEXT), domain, metadata)
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Self {
        let message = error.to_string();
        match error {
            GatewayError::InvalidArgument { violations } => {
                let mut details =
                    reason_details(Reason::InvalidArgument, Vec::new(), Retry::AsHinted);
                add_violations(
                    &mut details,
                    violations.iter().map(|violation| {
                        (violation.field.as_str(), violation.description.as_str())
                    }),
                );
                status(Code::InvalidArgument, &message, details)
            }
            GatewayError::Refused(refusal) => refusal_status(refusal),
            GatewayError::DeadlineExceeded => reason_status(Reason::DeadlineExceeded, message),
            GatewayError::IdempotencyKeyReused => {
                let mut details =
                    reason_details(Reason::IdempotencyKeyReused, Vec::new(), Retry::AsHinted);
                add_violations(
                    &mut details,
                    [("idempotency-key", "was used with a different request")].into_iter(),
                );
                status(Reason::IdempotencyKeyReused.code(), &message, details)
            }
            GatewayError::IdempotencyKeyInUse => {
                reason_status(Reason::IdempotencyKeyInUse, message)
            }
            GatewayError::IdempotencyOutcomeUnknown => {
                reason_status(Reason::IdempotencyOutcomeUnknown, message)
            }
            GatewayError::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                reason_status(Reason::Internal, message)
            }
            GatewayError::Salesforce(error) => salesforce_status(error),
        }
    }
}

/// The `ErrorInfo` (domain `sfgate`) and `RetryInfo` of a reason.
fn reason_details(reason: Reason, metadata: Vec<(String, String)>, retry: Retry) -> ErrorDetails {
    let mut details = error_info(reason.name(), GATEWAY_DOMAIN, metadata);
    let retry_after = match (retry, reason.retry_hint()) {
        (Retry::Not, _) | (Retry::AsHinted, RetryHint::Never | RetryHint::Computed) => None,
        (Retry::After(delay), _) | (Retry::AsHinted, RetryHint::After(delay)) => Some(delay),
    };
    if retry_after.is_some() {
        details.set_retry_info(retry_after);
    }
    details
}

fn reason_status(reason: Reason, message: String) -> Status {
    refusal_status(Refusal::new(reason, message))
}

fn refusal_status(refusal: Refusal) -> Status {
    let Refusal {
        reason,
        message,
        metadata,
        retry,
        quota,
    } = refusal;
    let mut details = reason_details(reason, metadata, retry);
    if let Some(quota) = quota {
        details.add_quota_failure_violation(
            bounded(&quota.subject, MAX_DETAIL_TEXT),
            bounded(&quota.description, MAX_DETAIL_TEXT),
        );
    }
    status(reason.code(), &message, details)
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
        SalesforceError::MultipleMatches { urls } => status(
            Code::FailedPrecondition,
            &message,
            error_info(
                "MULTIPLE_CHOICES",
                SALESFORCE_DOMAIN,
                [
                    ("http_status".to_string(), "300".to_string()),
                    ("records".to_string(), urls.join(",")),
                ],
            ),
        ),
        SalesforceError::SessionRejected => reason_status(Reason::UpstreamAuthFailed, message),
        SalesforceError::RequestTooLarge { .. } => reason_status(Reason::RequestTooLarge, message),
        SalesforceError::Auth(error) => auth_status(&error),
        SalesforceError::ApiBudgetExhausted {
            used,
            limit,
            ceiling_percent,
            retry_after,
        } => refusal_status(Refusal {
            reason: Reason::OrgApiBudget,
            message,
            metadata: vec![
                ("used".to_owned(), used.to_string()),
                ("limit".to_owned(), limit.to_string()),
            ],
            retry: Retry::After(retry_after),
            quota: Some(QuotaViolation {
                subject: "salesforce-org".to_owned(),
                description: format!(
                    "the tenant's ceiling of {ceiling_percent}% of the org's daily API requests"
                ),
            }),
        }),
        SalesforceError::Timeout => reason_status(Reason::UpstreamTimeout, message),
        SalesforceError::CircuitOpen { retry_after } => refusal_status(Refusal {
            retry: Retry::After(retry_after),
            ..Refusal::new(Reason::UpstreamCircuitOpen, message)
        }),
        // A request that never left is safe to retry; one lost mid-way may have been carried out.
        SalesforceError::Unreachable { request_sent, .. } => refusal_status(Refusal {
            retry: if request_sent {
                Retry::Not
            } else {
                Retry::AsHinted
            },
            ..Refusal::new(Reason::UpstreamUnreachable, message)
        }),
        SalesforceError::UnexpectedResponse { .. } => {
            reason_status(Reason::UpstreamBadResponse, message)
        }
        SalesforceError::WriteAnswerLost { .. } => reason_status(Reason::WriteAnswerLost, message),
    }
}

/// A status for a token that could not be minted: the caller learns which part failed (the
/// credential store, the login host, the org's refusal), never a secret.
fn auth_status(error: &AuthError) -> Status {
    let (reason, message) = match error.cause() {
        FailureCause::Credentials => (
            Reason::CredentialsUnavailable,
            format!("the tenant's Salesforce credentials: {error}"),
        ),
        FailureCause::Unreachable => (Reason::UpstreamUnreachable, format!("salesforce: {error}")),
        FailureCause::Refused => (Reason::UpstreamAuthFailed, format!("salesforce: {error}")),
    };
    let store_unreachable = matches!(
        error,
        AuthError::Credentials(CredentialError::Unavailable { .. })
    );
    let retry = match error {
        AuthError::CoolingDown { retry_after, .. } => Retry::After(*retry_after),
        // A secret that is missing or malformed stays so until someone fixes it.
        _ if reason == Reason::CredentialsUnavailable && !store_unreachable => Retry::Not,
        _ => Retry::AsHinted,
    };
    refusal_status(Refusal {
        retry,
        ..Refusal::new(reason, message)
    })
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
    let mut details = error_info(
        &error_code,
        SALESFORCE_DOMAIN,
        [
            ("http_status".to_string(), http_status.to_string()),
            ("fields".to_string(), fields.join(",")),
        ],
    );
    if code == Code::InvalidArgument {
        let violations: Vec<(&str, &str)> = errors
            .iter()
            .flat_map(|item| {
                let fields: Vec<&str> = match item.fields.as_slice() {
                    [] => vec![""],
                    fields => fields.iter().map(String::as_str).collect(),
                };
                fields
                    .into_iter()
                    .map(|field| (field, item.message.as_str()))
            })
            .collect();
        add_violations(&mut details, violations.into_iter());
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
    status(code, &message, details)
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

    /// `ResourceExhausted` -> `RESOURCE_EXHAUSTED`, as the README writes gRPC codes.
    fn code_name(code: Code) -> String {
        let mut name = String::new();
        for (index, letter) in format!("{code:?}").chars().enumerate() {
            if letter.is_uppercase() && index > 0 {
                name.push('_');
            }
            name.push(letter.to_ascii_uppercase());
        }
        name
    }

    fn hint_text(hint: RetryHint) -> String {
        match hint {
            RetryHint::Never => "no".to_owned(),
            RetryHint::After(delay) => format!("after {} s", delay.as_secs()),
            RetryHint::Computed => "computed".to_owned(),
        }
    }

    #[test]
    fn the_readme_lists_the_gateway_reasons_as_the_table_does() {
        let readme = include_str!("../README.md");
        let section = readme
            .split("<!-- gateway reasons: checked against GATEWAY_REASONS in src/error.rs -->")
            .nth(1)
            .and_then(|rest| rest.split("<!-- end of gateway reasons -->").next())
            .expect("the README has the gateway reasons section");
        let documented: Vec<&str> = section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .collect();
        let expected: Vec<String> = GATEWAY_REASONS
            .iter()
            .map(|(_, name, code, hint)| {
                format!(
                    "| `{name}` | `{}` | {} |",
                    code_name(*code),
                    hint_text(*hint)
                )
            })
            .collect();
        assert_eq!(
            documented, expected,
            "README.md's table differs from GATEWAY_REASONS"
        );
    }

    #[test]
    fn each_reason_is_written_once_and_answers_its_own_row() {
        let mut names = std::collections::HashSet::new();
        for (reason, name, code, hint) in GATEWAY_REASONS {
            assert!(names.insert(*name), "{name} twice");
            assert_eq!(
                (reason.name(), reason.code(), reason.retry_hint()),
                (*name, *code, *hint)
            );
            let status = Status::from(GatewayError::Refused(Refusal::new(*reason, "x")));
            assert_eq!(status.code(), *code);
            let details = status.get_error_details();
            let info = details.error_info().expect("ErrorInfo");
            assert_eq!(
                (info.reason.as_str(), info.domain.as_str()),
                (*name, GATEWAY_DOMAIN)
            );
            match hint {
                RetryHint::After(delay) => {
                    assert_eq!(
                        details.retry_info().and_then(|retry| retry.retry_delay),
                        Some(*delay)
                    )
                }
                RetryHint::Never | RetryHint::Computed => assert!(details.retry_info().is_none()),
            }
        }
    }

    #[test]
    fn statuses_stay_small_whatever_they_echo() {
        let huge = "é".repeat(600_000);
        let many: Vec<FieldViolation> = (0..10_000)
            .map(|index| FieldViolation {
                field: format!("fields.{index}.{huge}"),
                description: huge.clone(),
            })
            .take(50)
            .collect();
        let errors = [
            GatewayError::invalid_field(huge.clone(), huge.clone()),
            GatewayError::InvalidArgument { violations: many },
            GatewayError::Salesforce(SalesforceError::Api {
                http_status: 400,
                errors: vec![ApiErrorItem {
                    error_code: "STRING_TOO_LONG".into(),
                    message: huge.clone(),
                    fields: vec![huge.clone(); 30],
                }],
            }),
            GatewayError::Salesforce(SalesforceError::MultipleMatches {
                urls: vec![huge.clone(); 3],
            }),
        ];
        for error in errors {
            let echoes_input = !matches!(
                error,
                GatewayError::Salesforce(SalesforceError::MultipleMatches { .. })
            );
            let status = Status::from(error);
            if echoes_input {
                assert!(
                    status.message().contains("more bytes]"),
                    "{}",
                    status.message()
                );
            }
            assert!(
                status.message().len() + status.details().len() < 8 * 1024,
                "{} + {} bytes",
                status.message().len(),
                status.details().len()
            );
            assert!(status.get_error_details().error_info().is_some());
        }
    }

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
        assert_eq!(code_for_http_status(408), Code::DeadlineExceeded);
        assert_eq!(code_for_http_status(405), Code::Unimplemented);
        for http_status in 0..1000 {
            assert_ne!(
                code_for_http_status(http_status),
                Code::Unknown,
                "{http_status}"
            );
        }
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
