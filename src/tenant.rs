//! The leaf every layer may name: who a tenant is ([`TenantId`]), who is calling ([`Caller`]),
//! until when ([`CallDeadline`]), which credentials a tenant grants ([`KeyGrant`]), and the
//! snapshot of one tenant's state ([`Tenant`]).
//!
//! It imports nothing of the crate. The snapshot is generic over the org connection and the
//! limiter so that the layers that own those types (`salesforce`, `ratelimit`) stay below the
//! layers that read them; `server` names the concrete snapshot.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A tenant: one Salesforce org, named in the configuration.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// Wraps a tenant name from the configuration.
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    /// The tenant name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "TenantId({})", self.0)
    }
}

/// An authenticated caller acting for a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The tenant the call is for.
    pub tenant: TenantId,
    /// The caller's name from the key grant (never the key).
    pub name: Arc<str>,
}

/// The instant by which the handler must answer, derived from the caller's `grpc-timeout`, a
/// little before tonic's own timer fires so that the caller gets DEADLINE_EXCEEDED.
#[derive(Clone, Copy, Debug)]
pub struct CallDeadline(pub Instant);

/// The SHA-256 of an API key (or of a client certificate), as stored in the configuration.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKeyHash([u8; 32]);

impl ApiKeyHash {
    /// Hashes a presented key.
    pub fn of_key(key: &str) -> Self {
        Self::of_bytes(key.as_bytes())
    }

    /// Hashes bytes, e.g. a certificate's DER encoding (its SHA-256 fingerprint).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Reads a hash written as 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Option<Self> {
        let bytes = hex::decode(hex_digits).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// Reads a certificate fingerprint: 64 hex digits, with or without colons between the bytes
    /// (`openssl x509 -fingerprint -sha256` writes them).
    pub fn from_fingerprint(fingerprint: &str) -> Option<Self> {
        Self::from_hex(&fingerprint.replace(':', ""))
    }

    /// The hash as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compares in constant time.
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ApiKeyHash([REDACTED])")
    }
}

/// How a caller proves who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `authorization: Bearer <api key>`; the grant holds the key's SHA-256.
    ApiKey,
    /// A client certificate (mutual TLS); the grant holds the certificate's SHA-256 fingerprint.
    ClientCertificate,
}

/// A credential granted to a caller for a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    /// Who holds the credential.
    pub caller: Arc<str>,
    /// The SHA-256 of the key, or of the certificate.
    pub hash: ApiKeyHash,
    /// Which kind of credential it is.
    pub kind: CredentialKind,
}

/// One tenant as a configuration generation built it: its grants, its limiter and its org
/// connection. Authentication finds it once per call and puts the `Arc<Tenant>` in the request
/// extensions; the limiter and the handlers read it from there. A reload builds new snapshots;
/// calls in flight keep theirs.
#[derive(Debug)]
pub struct Tenant<Org, Limiter> {
    /// Who the tenant is.
    pub id: TenantId,
    /// The credentials granted callers of this tenant.
    pub grants: Vec<KeyGrant>,
    /// The tenant's rate and concurrency limiter.
    pub limiter: Limiter,
    /// The connection to the tenant's org.
    pub org: Org,
}

impl<Org, Limiter> Tenant<Org, Limiter> {
    /// The caller a presented credential of `kind` authenticates, if this tenant grants it.
    pub fn caller_for(&self, presented: &ApiKeyHash, kind: CredentialKind) -> Option<Caller> {
        let grant = self
            .grants
            .iter()
            .find(|grant| grant.kind == kind && grant.hash.matches(presented))?;
        Some(Caller {
            tenant: self.id.clone(),
            name: Arc::clone(&grant.caller),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_through_hex_and_hide_in_debug() {
        let hash = ApiKeyHash::of_key("secret");
        assert_eq!(ApiKeyHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(ApiKeyHash::from_hex("abc"), None);
        assert!(!format!("{hash:?}").contains(&hash.to_hex()[..8]));
    }

    #[test]
    fn fingerprints_with_colons_parse() {
        let hash = ApiKeyHash::of_bytes(b"certificate");
        let hex = hash.to_hex();
        let with_colons: Vec<&str> = (0..32).map(|i| &hex[i * 2..i * 2 + 2]).collect();
        assert_eq!(
            ApiKeyHash::from_fingerprint(&with_colons.join(":")),
            Some(hash)
        );
        assert_eq!(ApiKeyHash::from_hex(&with_colons.join(":")), None);
    }

    #[test]
    fn a_grant_matches_its_kind_only() {
        let key = ApiKeyHash::of_key("acme-key");
        let tenant = Tenant {
            id: TenantId::new("acme"),
            grants: vec![KeyGrant {
                caller: Arc::from("ivr"),
                hash: key,
                kind: CredentialKind::ApiKey,
            }],
            limiter: (),
            org: (),
        };
        let caller = tenant.caller_for(&key, CredentialKind::ApiKey).unwrap();
        assert_eq!((caller.tenant.as_str(), &*caller.name), ("acme", "ivr"));
        assert!(
            tenant
                .caller_for(&key, CredentialKind::ClientCertificate)
                .is_none()
        );
        assert!(
            tenant
                .caller_for(&ApiKeyHash::of_key("other"), CredentialKind::ApiKey)
                .is_none()
        );
    }
}
