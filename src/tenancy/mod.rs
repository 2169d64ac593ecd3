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

/// How a caller proves who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `authorization: Bearer <api key>`; the grant holds the key's SHA-256.
    ApiKey,
    /// A client certificate (mutual TLS); the grant holds the certificate's SHA-256 fingerprint.
    ClientCertificate,
}

/// A credential granted to a caller for a tenant.
#[derive(Clone, Debug)]
pub struct KeyGrant {
    /// Who holds the credential.
    pub caller: Arc<str>,
    /// The SHA-256 of the key, or of the certificate.
    pub hash: ApiKeyHash,
    /// Which kind of credential it is.
    pub kind: CredentialKind,
}

/// The registry in force; a configuration reload swaps in a new one, calls in flight keep theirs.
pub type SharedRegistry = Arc<arc_swap::ArcSwap<TenantRegistry>>;

/// The tenants and the credentials granted each.
#[derive(Debug, Default)]
pub struct TenantRegistry {
    grants: HashMap<TenantId, Vec<KeyGrant>>,
    /// Every granted credential, to tell "granted elsewhere" from "unknown" in one lookup.
    known: std::collections::HashSet<(CredentialKind, ApiKeyHash)>,
}

impl TenantRegistry {
    /// Creates a registry from each tenant's grants.
    pub fn new(grants: HashMap<TenantId, Vec<KeyGrant>>) -> Self {
        let known = grants
            .values()
            .flatten()
            .map(|grant| (grant.kind, grant.hash))
            .collect();
        Self { grants, known }
    }

    /// Authenticates a call from its metadata and, over mutual TLS, the fingerprint of the
    /// client's certificate. A certificate granted the tenant is enough; otherwise the API key
    /// decides.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        client_certificate: Option<&ApiKeyHash>,
    ) -> Result<Caller, GatewayError> {
        let key = match (bearer_key(headers), client_certificate) {
            (Err(missing), None) => return Err(missing),
            (key, _) => key,
        };
        let tenant = TenantId::new(tenant_name(headers)?);
        if let Some(fingerprint) = client_certificate {
            if let Some(caller) =
                self.granted(&tenant, fingerprint, CredentialKind::ClientCertificate)
            {
                return Ok(caller);
            }
            if key.is_err() {
                return Err(self.refusal(&tenant, fingerprint, CredentialKind::ClientCertificate));
            }
        }
        let presented = ApiKeyHash::of_key(key?);
        self.granted(&tenant, &presented, CredentialKind::ApiKey)
            .ok_or_else(|| self.refusal(&tenant, &presented, CredentialKind::ApiKey))
    }

    fn granted(
        &self,
        tenant: &TenantId,
        presented: &ApiKeyHash,
        kind: CredentialKind,
    ) -> Option<Caller> {
        let grant = self
            .grants
            .get(tenant)?
            .iter()
            .find(|grant| grant.kind == kind && grant.hash.matches(presented))?;
        Some(Caller {
            tenant: tenant.clone(),
            name: Arc::clone(&grant.caller),
        })
    }

    /// PERMISSION_DENIED for a credential granted other tenants (or an unknown tenant), else
    /// UNAUTHENTICATED.
    fn refusal(
        &self,
        tenant: &TenantId,
        presented: &ApiKeyHash,
        kind: CredentialKind,
    ) -> GatewayError {
        let known_elsewhere = self.known.contains(&(kind, *presented));
        let what = match kind {
            CredentialKind::ApiKey => "API key",
            CredentialKind::ClientCertificate => "client certificate",
        };
        if known_elsewhere {
            return GatewayError::PermissionDenied {
                reason: "TENANT_NOT_GRANTED",
                message: format!("this {what} is not granted tenant {:?}", tenant.as_str()),
            };
        }
        match kind {
            CredentialKind::ApiKey => {
                GatewayError::Unauthenticated { reason: "API_KEY_INVALID", message: "the API key is not valid".into() }
            }
            CredentialKind::ClientCertificate => GatewayError::Unauthenticated {
                reason: "CLIENT_CERTIFICATE_NOT_GRANTED",
                message: "the client certificate is not granted any tenant; present a granted one or an API key".into(),
            },
        }
    }
}

fn tenant_name(headers: &HeaderMap) -> Result<&str, GatewayError> {
    headers
        .get(TENANT_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            GatewayError::invalid_field(
                TENANT_HEADER,
                "is required: it names the tenant (org) to call",
            )
        })
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
            kind: CredentialKind::ApiKey,
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
            .authenticate(&headers(Some("acme"), Some("Bearer acme-key")), None)
            .unwrap();
        assert_eq!((caller.tenant.as_str(), &*caller.name), ("acme", "ivr"));
        assert!(
            registry
                .authenticate(&headers(Some("globex"), Some("bearer shared-key")), None)
                .is_ok()
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("globex"), Some("Bearer acme-key")), None)),
            Code::PermissionDenied
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("nobody"), Some("Bearer acme-key")), None)),
            Code::PermissionDenied
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), Some("Bearer wrong")), None)),
            Code::Unauthenticated
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), None), None)),
            Code::Unauthenticated
        );
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), Some("Basic abc")), None)),
            Code::Unauthenticated
        );
        let malformed = tonic::Status::from(
            registry
                .authenticate(&headers(Some("acme"), Some("acme-key")), None)
                .unwrap_err(),
        );
        assert!(
            malformed.message().contains("must be `Bearer <api key>`"),
            "{}",
            malformed.message()
        );
        assert_eq!(
            code(registry.authenticate(&headers(None, Some("Bearer acme-key")), None)),
            Code::InvalidArgument
        );
    }

    #[test]
    fn a_granted_client_certificate_stands_in_for_the_key() {
        let certificate = ApiKeyHash::of_key("certificate der bytes");
        let mut grants = registry().grants;
        grants
            .get_mut(&TenantId::new("acme"))
            .unwrap()
            .push(KeyGrant {
                caller: Arc::from("ivr-mtls"),
                hash: certificate,
                kind: CredentialKind::ClientCertificate,
            });
        let registry = TenantRegistry::new(grants);
        let caller = registry
            .authenticate(&headers(Some("acme"), None), Some(&certificate))
            .unwrap();
        assert_eq!(&*caller.name, "ivr-mtls");
        assert_eq!(
            code(registry.authenticate(&headers(Some("globex"), None), Some(&certificate))),
            Code::PermissionDenied
        );
        let stranger = ApiKeyHash::of_key("another certificate");
        assert_eq!(
            code(registry.authenticate(&headers(Some("acme"), None), Some(&stranger))),
            Code::Unauthenticated
        );
        let with_key = registry
            .authenticate(
                &headers(Some("acme"), Some("Bearer acme-key")),
                Some(&stranger),
            )
            .unwrap();
        assert_eq!(
            &*with_key.name, "ivr",
            "an ungranted certificate falls back to the API key"
        );
        let key_as_certificate = ApiKeyHash::of_key("acme-key");
        assert!(
            registry
                .authenticate(&headers(Some("acme"), None), Some(&key_as_certificate))
                .is_err(),
            "a certificate never matches an API key grant"
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
