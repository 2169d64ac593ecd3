//! Who is calling and for which tenant: `x-tenant-id` names the tenant, `authorization: Bearer
//! <api key>` authenticates the caller. Keys are stored as SHA-256 hashes and compared in
//! constant time. The [`AuthenticateLayer`] finds the tenant's snapshot once, in the registry of
//! the configuration generation in force, and puts it in the request extensions for the limiter
//! and the handlers.

mod layer;

pub use layer::{Authenticate, AuthenticateLayer, ClientCertificates, refusal};

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::error::{GatewayError, Reason};
use crate::tenant::{ApiKeyHash, Caller, CredentialKind, Tenant, TenantId};

/// The metadata key naming the tenant.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The registry in force; a configuration reload stores a new one in a single swap, and calls in
/// flight keep the snapshots they were admitted with.
pub type SharedRegistry<Org, Limiter> = Arc<arc_swap::ArcSwap<TenantRegistry<Org, Limiter>>>;

/// One configuration generation's tenants, each a snapshot of its grants, limiter and org.
pub struct TenantRegistry<Org, Limiter> {
    tenants: HashMap<TenantId, Arc<Tenant<Org, Limiter>>>,
    /// Every granted credential, to tell "granted elsewhere" from "unknown" in one lookup.
    known: HashSet<(CredentialKind, ApiKeyHash)>,
}

impl<Org, Limiter> Default for TenantRegistry<Org, Limiter> {
    fn default() -> Self {
        Self {
            tenants: HashMap::new(),
            known: HashSet::new(),
        }
    }
}

impl<Org, Limiter> fmt::Debug for TenantRegistry<Org, Limiter> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.tenants.keys().map(TenantId::as_str).collect();
        names.sort_unstable();
        formatter
            .debug_struct("TenantRegistry")
            .field("tenants", &names)
            .finish_non_exhaustive()
    }
}

impl<Org, Limiter> TenantRegistry<Org, Limiter> {
    /// Creates a registry from each tenant's snapshot.
    pub fn new(tenants: impl IntoIterator<Item = Tenant<Org, Limiter>>) -> Self {
        let tenants: HashMap<TenantId, Arc<Tenant<Org, Limiter>>> = tenants
            .into_iter()
            .map(|tenant| (tenant.id.clone(), Arc::new(tenant)))
            .collect();
        let known = tenants
            .values()
            .flat_map(|tenant| &tenant.grants)
            .map(|grant| (grant.kind, grant.hash))
            .collect();
        Self { tenants, known }
    }

    /// The snapshot of a tenant.
    pub fn get(&self, tenant: &TenantId) -> Option<&Arc<Tenant<Org, Limiter>>> {
        self.tenants.get(tenant)
    }

    /// Authenticates a call from its metadata and, over mutual TLS, the fingerprint of the
    /// client's certificate: the caller, and the snapshot of its tenant. A certificate granted
    /// the tenant is enough; otherwise the API key decides.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        client_certificate: Option<&ApiKeyHash>,
    ) -> Result<(Caller, Arc<Tenant<Org, Limiter>>), GatewayError> {
        let key = match (bearer_key(headers), client_certificate) {
            (Err(missing), None) => return Err(missing),
            (key, _) => key,
        };
        let tenant_id = TenantId::new(tenant_name(headers)?);
        let tenant = self.tenants.get(&tenant_id);
        let granted = |presented: &ApiKeyHash, kind: CredentialKind| {
            let tenant = tenant?;
            Some((tenant.caller_for(presented, kind)?, Arc::clone(tenant)))
        };
        if let Some(fingerprint) = client_certificate {
            if let Some(admitted) = granted(fingerprint, CredentialKind::ClientCertificate) {
                return Ok(admitted);
            }
            if key.is_err() {
                return Err(self.refusal(
                    &tenant_id,
                    fingerprint,
                    CredentialKind::ClientCertificate,
                ));
            }
        }
        let presented = ApiKeyHash::of_key(key?);
        granted(&presented, CredentialKind::ApiKey)
            .ok_or_else(|| self.refusal(&tenant_id, &presented, CredentialKind::ApiKey))
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
            return GatewayError::refused(
                Reason::TenantNotGranted,
                format!("this {what} is not granted tenant {:?}", tenant.as_str()),
            );
        }
        match kind {
            CredentialKind::ApiKey => {
                GatewayError::refused(Reason::ApiKeyInvalid, "the API key is not valid")
            }
            CredentialKind::ClientCertificate => GatewayError::refused(
                Reason::ClientCertificateNotGranted,
                "the client certificate is not granted any tenant; present a granted one or an API key",
            ),
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
    let missing = || {
        GatewayError::refused(
            Reason::ApiKeyMissing,
            "metadata `authorization: Bearer <api key>` is required",
        )
    };
    let malformed = || {
        GatewayError::refused(
            Reason::ApiKeyMissing,
            "metadata `authorization` must be `Bearer <api key>`",
        )
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
    use crate::tenant::KeyGrant;
    use tonic::Code;

    type Registry = TenantRegistry<(), ()>;

    fn grant(caller: &str, key: &str) -> KeyGrant {
        KeyGrant {
            caller: Arc::from(caller),
            hash: ApiKeyHash::of_key(key),
            kind: CredentialKind::ApiKey,
        }
    }

    fn tenant(name: &str, grants: Vec<KeyGrant>) -> Tenant<(), ()> {
        Tenant {
            id: TenantId::new(name),
            grants,
            limiter: (),
            org: (),
        }
    }

    fn tenants() -> Vec<Tenant<(), ()>> {
        vec![
            tenant(
                "acme",
                vec![grant("ivr", "acme-key"), grant("shared", "shared-key")],
            ),
            tenant("globex", vec![grant("shared", "shared-key")]),
        ]
    }

    fn registry() -> Registry {
        TenantRegistry::new(tenants())
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

    fn code<T>(result: Result<T, GatewayError>) -> Code {
        match result {
            Ok(_) => panic!("the call was admitted"),
            Err(error) => tonic::Status::from(error).code(),
        }
    }

    #[test]
    fn grants_decide_access() {
        let registry = registry();
        let (caller, tenant) = registry
            .authenticate(&headers(Some("acme"), Some("Bearer acme-key")), None)
            .unwrap();
        assert_eq!((caller.tenant.as_str(), &*caller.name), ("acme", "ivr"));
        assert_eq!(tenant.id.as_str(), "acme");
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
        let mut tenants = tenants();
        tenants[0].grants.push(KeyGrant {
            caller: Arc::from("ivr-mtls"),
            hash: certificate,
            kind: CredentialKind::ClientCertificate,
        });
        let registry = Registry::new(tenants);
        let (caller, _) = registry
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
        let (with_key, _) = registry
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
}
