//! The tower layer that authenticates every `sfgate.v1` call before any handler runs.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use rustls_pki_types::CertificateDer;
use tower::{Layer, Service};

use super::SharedRegistry;
use crate::telemetry::rpc::AuthenticatedTenant;
use crate::tenant::CallDeadline;

/// Authenticates calls, putting the `Arc` of the caller's [`crate::tenant::Tenant`] snapshot and
/// the [`CallDeadline`] in the request extensions (the caller's name goes into the call's span).
pub struct AuthenticateLayer<Org, Limiter> {
    registry: SharedRegistry<Org, Limiter>,
}

impl<Org, Limiter> AuthenticateLayer<Org, Limiter> {
    /// Creates the layer over a tenant registry (swapped whole when the configuration reloads).
    pub fn new(registry: SharedRegistry<Org, Limiter>) -> Self {
        Self { registry }
    }
}

impl<Org, Limiter> Clone for AuthenticateLayer<Org, Limiter> {
    fn clone(&self) -> Self {
        Self {
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<Org, Limiter> std::fmt::Debug for AuthenticateLayer<Org, Limiter> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuthenticateLayer")
            .finish_non_exhaustive()
    }
}

impl<S, Org, Limiter> Layer<S> for AuthenticateLayer<Org, Limiter> {
    type Service = Authenticate<S, Org, Limiter>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            registry: Arc::clone(&self.registry),
        }
    }
}

/// The service [`AuthenticateLayer`] produces.
pub struct Authenticate<S, Org, Limiter> {
    inner: S,
    registry: SharedRegistry<Org, Limiter>,
}

impl<S: Clone, Org, Limiter> Clone for Authenticate<S, Org, Limiter> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<S, Org, Limiter> std::fmt::Debug for Authenticate<S, Org, Limiter> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticate")
            .finish_non_exhaustive()
    }
}

impl<S, Org, Limiter, RequestBody, ResponseBody> Service<http::Request<RequestBody>>
    for Authenticate<S, Org, Limiter>
where
    Org: Send + Sync + 'static,
    Limiter: Send + Sync + 'static,
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        // Health and reflection need no key.
        if !crate::pb::is_api_path(request.uri().path()) {
            return self.inner.call(request).boxed();
        }
        let client_certificate = client_certificate_fingerprint(request.extensions());
        let (caller, tenant) = match self
            .registry
            .load()
            .authenticate(request.headers(), client_certificate.as_ref())
        {
            Ok(caller) => caller,
            Err(error) => {
                tracing::info!(path = request.uri().path(), error = %error, "call refused");
                let status = tonic::Status::from(error);
                return futures::future::ready(Ok(status.into_http())).boxed();
            }
        };
        if let Some(deadline) = caller_deadline(request.headers()) {
            request.extensions_mut().insert(deadline);
        }
        // The call's span (opened by the telemetry layer) names who is calling, never with what key.
        let span = tracing::Span::current();
        span.record("tenant", caller.tenant.as_str());
        span.record("caller", &*caller.name);
        if let Some(slot) = request.extensions().get::<AuthenticatedTenant>() {
            slot.set(caller.tenant.clone());
        }
        request.extensions_mut().insert(tenant);
        self.inner.call(request).boxed()
    }
}

/// The certificates a client presented on a mutual-TLS connection, leaf first, as the server
/// puts them in each call's extensions.
#[derive(Clone, Debug)]
pub struct ClientCertificates(Arc<[CertificateDer<'static>]>);

impl ClientCertificates {
    /// The chain the client presented, leaf first.
    pub fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        Self(chain.into())
    }
}

/// The SHA-256 fingerprint of the client's certificate, when the connection is mutual TLS.
fn client_certificate_fingerprint(extensions: &http::Extensions) -> Option<super::ApiKeyHash> {
    let leaf = extensions.get::<ClientCertificates>()?.0.first()?;
    Some(super::ApiKeyHash::of_bytes(leaf.as_ref()))
}

/// The refusal a call with these headers (and connection facts) would meet, if any: for a front
/// that must refuse before it reads a request body (HTTP/JSON), with the very same answer.
pub fn refusal<Org, Limiter>(
    registry: &SharedRegistry<Org, Limiter>,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> Option<tonic::Status> {
    let certificate = client_certificate_fingerprint(extensions);
    registry
        .load()
        .authenticate(headers, certificate.as_ref())
        .err()
        .map(tonic::Status::from)
}

/// Reads `grpc-timeout` (e.g. `100m`, `5S`) into the instant the handler must beat.
fn caller_deadline(headers: &http::HeaderMap) -> Option<CallDeadline> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    let margin = (timeout / 20).min(Duration::from_millis(20));
    Instant::now()
        .checked_add(timeout - margin)
        .map(CallDeadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grpc_timeout_units() {
        let deadline = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", value.parse().unwrap());
            caller_deadline(&headers)
                .map(|CallDeadline(at)| at.saturating_duration_since(Instant::now()))
        };
        let two_seconds = deadline("2S").unwrap();
        assert!(
            two_seconds <= Duration::from_secs(2) && two_seconds >= Duration::from_millis(1900)
        );
        assert!(deadline("100m").unwrap() <= Duration::from_millis(100));
        assert!(deadline("x").is_none());
        assert!(deadline("10Q").is_none());
    }
}
