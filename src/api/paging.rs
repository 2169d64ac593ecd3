//! Opaque page tokens for the find RPCs: keyset paging on record ID.
//!
//! A token holds the last ID of the previous page and a fingerprint of the criteria, so a token
//! cannot be replayed with other criteria (AIP-158). Keyset paging keeps no server-side cursor:
//! tokens never expire and do not count against Salesforce's open query cursors.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::GatewayError;
use crate::salesforce::SalesforceId;

const VERSION: &str = "v1";

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageToken {
    /// Records with a greater ID come next.
    pub(crate) after: SalesforceId,
    /// The fingerprint of the query this token continues.
    pub(crate) fingerprint: String,
}

impl PageToken {
    /// The token as the caller sees it.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}:{}:{}", self.after, self.fingerprint))
    }

    /// Reads a token the caller sent back.
    pub(crate) fn decode(token: &str) -> Result<Self, GatewayError> {
        let invalid =
            || GatewayError::invalid_field("page_token", "is not a token this service issued");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, ':');
        let (Some(VERSION), Some(after), Some(fingerprint)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let after = SalesforceId::parse(after).map_err(|_| invalid())?;
        Ok(Self {
            after,
            fingerprint: fingerprint.to_owned(),
        })
    }
}

/// A short, stable digest of what a query asks for.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let token = PageToken {
            after: SalesforceId::parse("00Q5g00000AbCdE").unwrap(),
            fingerprint: fingerprint(&["Lead", "Email", "a@example.com"]),
        };
        assert_eq!(PageToken::decode(&token.encode()).unwrap(), token);
        for garbage in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("v2:x:y"),
            &URL_SAFE_NO_PAD.encode("v1:notanid:y"),
        ] {
            assert!(PageToken::decode(garbage).is_err(), "{garbage:?} accepted");
        }
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["a"]), fingerprint(&["a"]));
    }
}
