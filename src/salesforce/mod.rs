//! Salesforce itself: the REST client, the SOQL and SOSL builders and escapers, record IDs, the SOAP
//! `convertLead` call and the decoding of Salesforce's errors.

mod client;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod id;
pub mod resilience;
mod soap;
pub mod soql;
pub mod sosl;

pub use client::{
    ApiBudget, ApiUsage, QueryPage, Record, SalesforceClient, UpsertOutcome, UserInfo,
};
pub use error::{ApiErrorItem, SalesforceError};
pub use id::{IdError, SalesforceId};
pub use soap::{LeadConversion, LeadConvert};

use std::sync::Once;
use std::time::Duration;

/// Builds the HTTP client shared by every org connection and token request.
pub fn http_client() -> reqwest::Client {
    http_client_builder()
        .build()
        .expect("the HTTP client configuration is static and valid")
}

/// The settings of [`http_client`], for a client that adds its own TLS roots or identity.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    static CRYPTO: Once = Once::new();
    CRYPTO.call_once(|| {
        // Another part of the process may have installed a provider already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .user_agent(concat!("sfgate/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
}

/// Salesforce's limits on what one request may carry, checked before anything is sent.
pub mod limits {
    /// The longest API name (object, field, or one step of a relationship path) accepted.
    pub const MAX_NAME_LENGTH: usize = 255;
    /// The longest value of an external ID (a text field of at most 255 characters).
    pub const MAX_EXTERNAL_ID_LENGTH: usize = 255;
    /// The longest SOQL statement Salesforce runs.
    pub const MAX_SOQL_LENGTH: usize = 100_000;
    /// The longest string in a SOQL `WHERE` clause.
    pub const MAX_WHERE_STRING_LENGTH: usize = 4_000;
    /// The longest URI of a REST call (longer ones answer 414).
    pub const MAX_URI_LENGTH: usize = 16_384;
}

/// Why a value cannot be one segment of a Salesforce URL path (an external ID), if it cannot:
/// empty; `.` or `..`, which a URL reads as the current or the parent folder; or holding a control
/// character, since URL parsers drop tab, CR and LF (`"ERP\t42"` would reach Salesforce as
/// `ERP42`, `".\n."` as `..`). Any other value is percent-encoded and reaches Salesforce byte for
/// byte.
pub fn path_segment_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("is required");
    }
    if value == "." || value == ".." {
        return Some("cannot be \".\" or \"..\"");
    }
    if value.len() > limits::MAX_EXTERNAL_ID_LENGTH {
        return Some("is longer than Salesforce's 255 characters");
    }
    if value.chars().any(char::is_control) {
        return Some("must not contain control characters (tab, line breaks, …)");
    }
    None
}

/// The Lightning Experience page of a record (`{instance}/lightning/r/{Object}/{id}/view`), for
/// agent-desktop screen pops.
pub fn record_page_url(instance_url: &url::Url, object: &str, id: &str) -> String {
    format!(
        "{}/lightning/r/{object}/{id}/view",
        instance_url.as_str().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_segment_keeps_every_byte_or_is_refused() {
        for refused in [
            "", ".", "..", ".\n.", "ERP\t42", "a\rb", "x\u{0}y", "\u{85}",
        ] {
            assert!(path_segment_problem(refused).is_some(), "{refused:?}");
        }
        for kept in ["ERP/42", "a b", "...", ".a", "100%", "é", "#?&="] {
            assert_eq!(path_segment_problem(kept), None, "{kept:?}");
        }
    }
}
