//! Who is calling and for which tenant: `x-tenant-id` names the tenant, `authorization: Bearer
//! <api key>` authenticates the caller. Keys are stored as SHA-256 hashes and compared in
//! constant time. The [`AuthenticateLayer`] puts the resulting [`Caller`] in the request extensions.

mod layer;

pub use layer::{Authenticate, AuthenticateLayer};

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::context::{Caller, TenantId};
use crate::error::GatewayError;

/// The metadata key naming the tenant.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The SHA-256 of an API key, as stored in the configuration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyHash([u8; 32]);

impl ApiKeyHash {
    /// Hashes a presented key.
    pub fn of_key(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Reads a hash written as 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Option<Self> {
        let bytes = hex::decode(hex_digits).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The hash as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ApiKeyHash([REDACTED])")
    }
}

/// A key granted to a caller for a tenant.
#[derive(Clone, Debug)]
pub struct KeyGrant {
    /// Who holds the key.
    pub caller: Arc<str>,
    /// The key's hash.
    pub hash: ApiKeyHash,
}

/// The registry in force; a configuration reload swaps in a new one, calls in flight keep theirs.
pub type SharedRegistry = Arc<arc_swap::ArcSwap<TenantRegistry>>;

/// The tenants and the keys granted each.
#[derive(Debug, Default)]
pub struct TenantRegistry {
    grants: HashMap<TenantId, Vec<KeyGrant>>,
}

impl TenantRegistry {
    /// Creates a registry from each tenant's key grants.
    pub fn new(grants: HashMap<TenantId, Vec<KeyGrant>>) -> Self {
        Self { grants }
    }

    /// Authenticates a call from its metadata.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, GatewayError> {
        let key = bearer_key(headers)?;
        let tenant_name = headers
            .get(TENANT_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                GatewayError::invalid_field(
                    TENANT_HEADER,
                    "is required: it names the tenant (org) to call",
                )
            })?;
        let presented = ApiKeyHash::of_key(key);
        let tenant = TenantId::new(tenant_name);
        if let Some(grant) = self
            .grants
            .get(&tenant)
            .and_then(|grants| grants.iter().find(|grant| grant.hash.matches(&presented)))
        {
            return Ok(Caller {
                tenant,
                name: Arc::clone(&grant.caller),
            });
        }
        let known_elsewhere = self
            .grants
            .values()
            .flatten()
            .any(|grant| grant.hash.matches(&presented));
        if known_elsewhere {
            return Err(GatewayError::PermissionDenied {
                reason: "TENANT_NOT_GRANTED",
                message: format!("this API key is not granted tenant {tenant_name:?}"),
            });
        }
        Err(GatewayError::Unauthenticated {
            reason: "API_KEY_INVALID",
            message: "the API key is not valid".into(),
        })
    }
}

fn bearer_key(headers: &HeaderMap) -> Result<&str, GatewayError> {
    let missing = || GatewayError::Unauthenticated {
        reason: "API_KEY_MISSING",
        message: "metadata `authorization: Bearer <api key>` is required".into(),
    };
    let malformed = || GatewayError::Unauthenticated {
        reason: "API_KEY_MISSING",
        message: "metadata `authorization` must be `Bearer <api key>`".into(),
    };
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, key) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
        return Err(malformed());
    }
    Ok(key.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn registry() -> TenantRegistry {
        let grant = |caller: &str, key: &str| KeyGrant {
            caller: Arc::from(caller),
            hash: ApiKeyHash::of_key(key),
        };
        TenantRegistry::new(HashMap::from([
            (
                TenantId::new("acme"),
                vec![grant("ivr", "acme-key"), grant("shared", "shared-key")],
            ),
            (TenantId::new("globex"), vec![grant("shared", "shared-key")]),
        ]))
    }

    fn headers(tenant: Option<&str>, authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(tenant) = tenant {
            headers.insert(TENANT_HEADER, tenant.parse().unwrap());
        }
        if let Some(authorization) = authorization {
            headers.insert(http::header::AUTHORIZATION, authorization.parse().unwrap());
        }
        headers
    }

    fn code(result: Result<Caller, GatewayError>) -> Code {
        tonic::Status::from(result.unwrap_err()).code()
    }

    #[test]
    fn grants_decide_access() {
        let registry = registry();
        let caller = registry
            .authenticate(&headers(Some("acme"), Some("Bearer acme-key")))
            .unwrap();
        assert_eq!((caller.tenant.as_str(), &*caller.name), ("acme", "ivr"));
        assert!(
            registry
                .authenticate(&headers(Some("globex"), Some("bearer shared-key")))
                .is_ok()
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("globex"), Some("Bearer acme-key")))),
            Code::PermissionDenied
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("nobody"), Some("Bearer acme-key")))),
            Code::PermissionDenied
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), Some("Bearer wrong")))),
            Code::Unauthenticated
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), None))),
            Code::Unauthenticated
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), Some("Basic abc")))),
            Code::Unauthenticated
        );
        let malformed = tonic::Status::from(
            registry
                .authenticate(&headers(Some("acme"), Some("acme-key")))
                .unwrap_err(),
        );
        assert!(
            malformed.message().contains("must be `Bearer <api key>`"),
            "{}",
            malformed.message()
        );
        assert_eq!(
            code(registry.authenticate(&headers(None, Some("Bearer acme-key")))),
            Code::InvalidArgument
        );
    }

    #[test]
    fn hashes_round_trip_through_hex_and_hide_in_debug() {
        let hash = ApiKeyHash::of_key("secret");
        assert_eq!(ApiKeyHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(ApiKeyHash::from_hex("abc"), None);
        assert!(!format!("{hash:?}").contains(&hash.to_hex()[..8]));
    }
}
