//! CORS for browser callers of HTTP/JSON and gRPC-Web: off unless `[http] cors_allowed_origins`
//! lists the page's origin (or `*`). A preflight from an allowed origin is answered here; every
//! answer to an allowed origin names it and exposes the headers a client reads (`grpc-status`,
//! `grpc-message`, `grpc-status-details-bin`, `retry-after`).

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// The request headers a browser page may send.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-tenant-id, idempotency-key, traceparent, tracestate, x-request-timeout, grpc-timeout, x-grpc-web, x-user-agent";
/// The response headers a browser page may read.
const EXPOSED_HEADERS: &str = "grpc-status, grpc-message, grpc-status-details-bin, retry-after";
/// The methods the routes take.
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

/// The origins allowed to call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// CORS for these origins (`*`: any); none: off.
    pub(crate) fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }

    /// Whether any origin may call: then every answer varies by `Origin`, for shared caches.
    pub(crate) fn is_on(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The request's `Origin` if it may call.
    pub(crate) fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|allowed| allowed == "*" || allowed == text)
            .then(|| origin.clone())
    }

    /// Whether the request is a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight from an allowed origin.
    pub(crate) fn preflight(origin: HeaderValue) -> http::Response<tonic::body::Body> {
        let mut response = http::Response::new(tonic::body::Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        headers.insert(VARY, HeaderValue::from_static("origin"));
        response
    }

    /// Marks an answer as varying by `Origin` and, for an allowed origin, as readable by its page.
    pub(crate) fn mark(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
        headers.append(VARY, HeaderValue::from_static("origin"));
        let Some(origin) = origin else { return };
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}
