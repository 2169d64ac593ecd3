//! What a handler knows of one call: the tenant, its org connection, the caller's deadline and
//! idempotency key. `ApiState::call_context` reads them from the request extensions that the
//! layers above filled in (the tenant's snapshot, the deadline).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::{Request, Response};

use super::idempotency::{self, IdempotencyStore};
use crate::error::GatewayError;
use crate::salesforce::SalesforceClient;
use crate::tenant::{CallDeadline, Tenant, TenantId};

/// The tenant snapshot as the handlers see it: its org connection, and whatever limiter the
/// layers above keep (`Limiter`, never touched here).
pub(crate) type OrgTenant<Limiter> = Tenant<SalesforceClient, Limiter>;

/// The state every service shares. `Limiter` is the snapshot's limiter type, which only names
/// the request extension the snapshot is found under.
pub struct ApiState<Limiter> {
    idempotency: Arc<IdempotencyStore>,
    limiter: PhantomData<fn() -> Limiter>,
}

impl<Limiter> Clone for ApiState<Limiter> {
    fn clone(&self) -> Self {
        Self {
            idempotency: Arc::clone(&self.idempotency),
            limiter: PhantomData,
        }
    }
}

impl<Limiter> fmt::Debug for ApiState<Limiter> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ApiState")
            .field("idempotency", &self.idempotency)
            .finish()
    }
}

impl<Limiter: Send + Sync + 'static> ApiState<Limiter> {
    /// State with idempotency keys kept in this process's memory.
    pub fn new() -> Self {
        Self {
            idempotency: Arc::default(),
            limiter: PhantomData,
        }
    }

    /// State with idempotency keys kept in Redis (shared mode), so that a retry landing on
    /// another replica finds the first result.
    pub fn with_shared_idempotency(
        redis_url: &str,
        key_prefix: &str,
    ) -> Result<Self, redis::RedisError> {
        Ok(Self {
            idempotency: Arc::new(IdempotencyStore::shared(redis_url, key_prefix)?),
            limiter: PhantomData,
        })
    }

    /// The context of an authenticated call: who, which org, until when.
    pub(crate) fn call_context<T>(
        &self,
        request: &Request<T>,
    ) -> Result<CallContext, GatewayError> {
        let tenant = request
            .extensions()
            .get::<Arc<OrgTenant<Limiter>>>()
            .ok_or_else(|| {
                GatewayError::Internal("call reached a handler unauthenticated".into())
            })?;
        let deadline = request
            .extensions()
            .get::<CallDeadline>()
            .map(|CallDeadline(at)| *at);
        let idempotency_key = match request.metadata().get(idempotency::IDEMPOTENCY_HEADER) {
            Some(value) => {
                let key = value.to_str().map_err(|_| {
                    GatewayError::invalid_field(
                        idempotency::IDEMPOTENCY_HEADER,
                        "must be printable ASCII",
                    )
                })?;
                idempotency::check_key(key)?;
                Some(key.to_owned())
            }
            None => None,
        };
        Ok(CallContext {
            tenant: tenant.id.clone(),
            client: tenant.org.clone(),
            deadline,
            idempotency_key,
            idempotency: Arc::clone(&self.idempotency),
        })
    }
}

impl<Limiter: Send + Sync + 'static> Default for ApiState<Limiter> {
    fn default() -> Self {
        Self::new()
    }
}

/// What a handler needs to serve one call: the tenant's org and the caller's deadline.
pub(crate) struct CallContext {
    pub(crate) tenant: TenantId,
    pub(crate) client: SalesforceClient,
    pub(crate) deadline: Option<Instant>,
    /// The caller's `idempotency-key`, checked.
    pub(crate) idempotency_key: Option<String>,
    pub(crate) idempotency: Arc<IdempotencyStore>,
}

/// What a read-back leaves of the caller's deadline for the answer to reach the caller.
const READ_BACK_MARGIN: Duration = Duration::from_millis(50);

/// Reads back a record Salesforce acknowledged writing (`written` names it for the log). The
/// write is done, so nothing that happens to the read — an error, an answer that cannot be
/// read, the caller's deadline drawing near — becomes the call's error, which would invite
/// writing it again: the caller gets `as_written(instance_url)` instead, the record as written
/// (its ID and the fields sent), before the deadline.
pub(crate) async fn read_back<T>(
    client: &SalesforceClient,
    deadline: Option<Instant>,
    written: &str,
    read: impl Future<Output = Result<T, GatewayError>>,
    as_written: impl FnOnce(Option<&url::Url>) -> Result<T, GatewayError>,
) -> Result<T, GatewayError> {
    let answer_by = deadline.map(|at| at.checked_sub(READ_BACK_MARGIN).unwrap_or(at));
    let read = match answer_by {
        Some(at) => tokio::time::timeout_at(at.into(), read)
            .await
            .unwrap_or(Err(GatewayError::DeadlineExceeded)),
        None => read.await,
    };
    let error = match read {
        Ok(read) => return Ok(read),
        Err(error) => error,
    };
    tracing::warn!(record = written, %error, "written, but reading it back failed: answering the record as written");
    let instance_url = match answer_by {
        Some(at) => tokio::time::timeout_at(at.into(), client.instance_url())
            .await
            .ok(),
        None => Some(client.instance_url().await),
    };
    as_written(instance_url.and_then(Result::ok).as_ref())
}

/// Turns a handler's outcome into the gRPC response.
pub(crate) fn respond<T>(outcome: Result<T, GatewayError>) -> Result<Response<T>, tonic::Status> {
    outcome.map(Response::new).map_err(tonic::Status::from)
}

impl CallContext {
    /// Runs a create within the deadline; with an `idempotency-key`, at most once per key (see
    /// [`IdempotencyStore::create_once`]).
    pub(crate) async fn create_once<M: prost::Message + Default>(
        &self,
        fingerprint: [u8; 32],
        create: impl Future<Output = Result<M, GatewayError>> + Send + 'static,
    ) -> Result<M, GatewayError> {
        let once = self.idempotency.create_once(
            &self.tenant,
            self.idempotency_key.as_deref(),
            fingerprint,
            create,
        );
        self.within_deadline(once).await
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
