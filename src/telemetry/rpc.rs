//! The outermost tower layer: every `sfgate.v1` call gets a span, continuing the caller's W3C
//! trace (`traceparent` in the metadata), and is counted in the metrics once its status is known:
//! from the headers of an error answered at once, else from the trailers at the end of the body
//! (so a streaming call is measured until its last message).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::Code;
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::metrics::{RpcLabels, metrics};
use crate::tenant::TenantId;

/// Where the authentication layer leaves the tenant a call was authenticated for, for the
/// metrics' `tenant` label; this layer puts it in the request's extensions.
#[derive(Clone, Debug, Default)]
pub struct AuthenticatedTenant(Arc<OnceLock<TenantId>>);

impl AuthenticatedTenant {
    /// Records the tenant (once).
    pub fn set(&self, tenant: TenantId) {
        let _ = self.0.set(tenant);
    }
}

/// Adds the span and the metrics to every call of the gateway's own API.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcTelemetryLayer;

impl<S> Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry { inner }
    }
}

/// The service [`RpcTelemetryLayer`] produces.
#[derive(Clone, Debug)]
pub struct RpcTelemetry<S> {
    inner: S,
}

/// The API's methods by request path, so that labels come from a fixed set.
static METHODS: LazyLock<HashMap<String, (&'static str, &'static str)>> = LazyLock::new(|| {
    crate::pb::descriptor_pool()
        .services()
        .flat_map(|service| {
            let service_name: &'static str = service.full_name().to_owned().leak();
            service
                .methods()
                .map(move |method| {
                    let method_name: &'static str = method.name().to_owned().leak();
                    (
                        format!("/{service_name}/{method_name}"),
                        (service_name, method_name),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
});

/// The methods of schema files (`[[schemas]]`), by request path, as they come to be served. Their
/// names are kept for the life of the process (a reload that serves the same methods adds
/// nothing), so that labels stay a set bounded by the schema files ever loaded.
static SCHEMA_METHODS: LazyLock<
    parking_lot::RwLock<HashMap<String, (&'static str, &'static str)>>,
> = LazyLock::new(parking_lot::RwLock::default);

/// Gives the methods of schema services (service full name, method name) their own labels.
pub fn register_schema_methods<'a>(methods: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut known = SCHEMA_METHODS.write();
    for (service, method) in methods {
        let path = format!("/{service}/{method}");
        if known.contains_key(&path) {
            continue;
        }
        let service: &'static str = service.to_owned().leak();
        let method: &'static str = method.to_owned().leak();
        known.insert(path, (service, method));
    }
}

/// The labels of a request path: the API's method, a schema file's, or `unknown`.
fn labels_of(path: &str) -> (&'static str, &'static str) {
    METHODS
        .get(path)
        .copied()
        .or_else(|| SCHEMA_METHODS.read().get(path).copied())
        .unwrap_or((path_service(path), "unknown"))
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for RpcTelemetry<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
{
    type Response = http::Response<ObservedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        let path = request.uri().path();
        if !crate::pb::is_api_path(path) {
            // Health checks and reflection: neither traced nor counted.
            return self
                .inner
                .call(request)
                .map(|result| result.map(|response| response.map(ObservedBody::unobserved)))
                .boxed();
        }
        let (service, method) = labels_of(path);
        let span = tracing::info_span!(
            "grpc.request",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
            tenant = tracing::field::Empty,
            caller = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        if super::exporting() {
            let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
            // Fails only when no OpenTelemetry layer is installed, and then there is no trace.
            let _ = span.set_parent(parent);
            // The trace id in the logs too, so that a log line leads to its trace.
            let trace_id = span.context().span().span_context().trace_id();
            if trace_id != opentelemetry::trace::TraceId::INVALID {
                span.record("trace_id", tracing::field::display(trace_id));
            }
        }
        let tenant = AuthenticatedTenant::default();
        request.extensions_mut().insert(tenant.clone());
        // Finished when the status is known; dropped unfinished (the caller went away, or its
        // deadline passed and tonic dropped the call), it counts as CANCELLED.
        let mut call = CallRecord {
            span: span.clone(),
            started: Instant::now(),
            service,
            method,
            tenant,
            finished: false,
        };
        let future = span.in_scope(|| self.inner.call(request));
        async move {
            let response = future.await?;
            let immediate = response.headers().get("grpc-status").map(code_of);
            Ok(response.map(|body| match immediate {
                Some(code) => {
                    call.finish(code);
                    ObservedBody::unobserved(body)
                }
                None => ObservedBody {
                    inner: body,
                    call: Some(call),
                },
            }))
        }
        .instrument(span)
        .boxed()
    }
}

/// For a path outside the API's methods, a service label from a fixed set all the same.
fn path_service(path: &str) -> &'static str {
    let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
    METHODS
        .values()
        .find(|(known, _)| *known == service)
        .map_or("unknown", |(known, _)| known)
}

/// A call whose status is not known yet.
struct CallRecord {
    span: tracing::Span,
    started: Instant,
    service: &'static str,
    method: &'static str,
    tenant: AuthenticatedTenant,
    finished: bool,
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(Code::Cancelled);
        }
    }
}

impl CallRecord {
    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let elapsed = self.started.elapsed();
        self.span.record("rpc.grpc.status_code", code as i32);
        if is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
        metrics().rpc_finished(
            &RpcLabels {
                service: self.service,
                method: self.method,
                code: code_name(code),
                tenant: self.tenant.0.get().cloned(),
            },
            elapsed,
        );
        tracing::debug!(
            parent: &self.span,
            code = code_name(code),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "call finished"
        );
    }
}

/// The codes OpenTelemetry's gRPC conventions count as a server span's error.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

fn code_of(value: &http::HeaderValue) -> Code {
    value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<i32>().ok())
        .map_or(Code::Unknown, Code::from)
}

/// The canonical name of a status code, as in `grpc-status` documentation and Prometheus labels.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

pin_project_lite::pin_project! {
    /// A response body that finishes its call's record when the trailers (the status) pass, or
    /// as CANCELLED when the body is dropped before them (the caller went away).
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<CallRecord>,
    }
}

impl<B> ObservedBody<B> {
    fn unobserved(inner: B) -> Self {
        Self { inner, call: None }
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(context));
        if let Some(mut call) = this.call.take() {
            match &frame {
                Some(Ok(frame)) => match frame.trailers_ref() {
                    Some(trailers) => {
                        call.finish(trailers.get("grpc-status").map_or(Code::Unknown, code_of))
                    }
                    None => *this.call = Some(call),
                },
                Some(Err(_)) => call.finish(Code::Internal),
                None => call.finish(Code::Unknown),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
