//! Salesforce itself: the REST client, the SOQL and SOSL builders and escapers, record IDs, the SOAP
//! `convertLead` call and the decoding of Salesforce's errors.

mod client;
mod error;
pub mod id;
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
        .build()
        .expect("the HTTP client configuration is static and valid")
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
