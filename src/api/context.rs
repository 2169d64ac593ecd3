//! What a call carries from the layers above into the handlers: the tenant, the caller, the
//! deadline, and the tenant's org connection. `tenancy` fills these in; handlers read them.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::error::GatewayError;
use crate::salesforce::SalesforceClient;

/// A tenant: one Salesforce org.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// Wraps a tenant name from the configuration.
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    /// The tenant name, shared.
    pub fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.0)
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

/// What a handler needs to serve one call: the tenant's org and the caller's deadline.
pub(crate) struct CallContext {
    pub(crate) tenant: TenantId,
    pub(crate) client: SalesforceClient,
    pub(crate) deadline: Option<Instant>,
    /// The caller's `idempotency-key`, checked.
    pub(crate) idempotency_key: Option<String>,
    pub(crate) idempotency: Arc<super::idempotency::IdempotencyStore>,
}

impl CallContext {
    /// Runs a create within the deadline; with an `idempotency-key`, at most once per key (a
    /// repeat gets the first result, see [`super::idempotency`]).
    pub(crate) async fn create_once<M: prost::Message + Default>(
        &self,
        fingerprint: [u8; 32],
        create: impl Future<Output = Result<M, GatewayError>> + Send + 'static,
    ) -> Result<M, GatewayError> {
        let Some(key) = &self.idempotency_key else {
            return self.within_deadline(create).await;
        };
        let work = async move {
            create
                .await
                .map(|created| bytes::Bytes::from(created.encode_to_vec()))
        };
        let stored = self
            .within_deadline(self.idempotency.run(&self.tenant, key, fingerprint, work))
            .await?;
        M::decode(stored).map_err(|error| {
            GatewayError::Internal(format!("decoding a stored create result: {error}"))
        })
    }

    /// Runs `work`, giving up with DEADLINE_EXCEEDED when the caller's deadline passes.
    pub(crate) async fn within_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        match self.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), work)
                .await
                .unwrap_or(Err(GatewayError::DeadlineExceeded)),
            None => work.await,
        }
    }
}
