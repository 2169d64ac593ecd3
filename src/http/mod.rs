//! The HTTP/JSON front of the API, generic over the descriptor pool: a request that is not gRPC
//! is matched against the `google.api.http` rules of every service (`routes`), turned into the
//! RPC's request message (`request`), and sent as a gRPC call through the very same service
//! stack gRPC callers go through — authentication, limits, telemetry, idempotency — and its answer
//! is turned back into JSON (`status` for errors). A server-streaming RPC answers
//! newline-delimited JSON, one message a line, each line sent as its message arrives.
//!
//! Headers: `Authorization`, `X-Tenant-Id`, `Idempotency-Key`, `traceparent`/`tracestate` go
//! through as the call's metadata; the deadline is the `timeout` query parameter or the
//! `X-Request-Timeout` header (`2.5s`, `500ms`, or seconds), sent as `grpc-timeout`.

mod cors;
mod openapi;
mod request;
mod route;
mod routes;
mod status;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::Code;
use tower::Service;

use cors::Cors;
pub use routes::Routes;
use routes::{Found, Route};
use status::HttpError;

/// The largest HTTP request body taken, as for gRPC messages.
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Headers that go through to the call as metadata.
const FORWARDED_HEADERS: [&str; 6] = [
    "authorization",
    "x-tenant-id",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "user-agent",
];

/// The header that gives an HTTP call its deadline (or the `timeout` query parameter).
pub(crate) const TIMEOUT_HEADER: &str = "x-request-timeout";

/// The routes and the descriptors the JSON mapping needs (the API's, and `google.rpc`'s for
/// error details).
pub struct HttpJson {
    routes: Routes,
    pool: DescriptorPool,
    cors: Cors,
    /// The refusal a caller meets, checked before its request body is read.
    refusal: Option<CallerCheck>,
    /// The OpenAPI document of the routes, served at [`OPENAPI_PATH`].
    openapi: Bytes,
}

impl std::fmt::Debug for HttpJson {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HttpJson")
            .field("routes", &self.routes.len())
            .field("cors", &self.cors)
            .field("checks_callers_first", &self.refusal.is_some())
            .finish_non_exhaustive()
    }
}

/// Tells from a request's headers and connection facts whether its caller is refused, and how.
pub type CallerCheck =
    Arc<dyn Fn(&HeaderMap, &http::Extensions) -> Option<tonic::Status> + Send + Sync>;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

impl HttpJson {
    /// The front of the API: the routes of `sfgate.v1` and of the schema files' services,
    /// `google.rpc`'s descriptors for the error details, and browser pages of
    /// `cors_allowed_origins` allowed to call.
    pub fn api(
        cors_allowed_origins: Vec<String>,
        schemas: &crate::api::SchemaServices,
    ) -> Result<Self, String> {
        let mut pool = crate::pb::descriptor_pool().clone();
        pool.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .map_err(|error| format!("google.rpc descriptors: {error}"))?;
        let routes = Routes::of_pool(&pool, crate::pb::API_PATH_PREFIX.trim_start_matches('/'))?
            .merged(Routes::of_services(schemas.service_descriptors())?);
        let openapi = Bytes::from(openapi::document(&routes).to_string());
        Ok(Self {
            routes,
            pool,
            cors: Cors::new(cors_allowed_origins),
            refusal: None,
            openapi,
        })
    }

    /// Refuses callers `check` refuses before their request body is read (the stack behind
    /// checks them again, as for gRPC).
    pub fn refusing_before_the_body(mut self, check: CallerCheck) -> Self {
        self.refusal = Some(check);
        self
    }

    /// The routes it serves.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }
}

/// Whether a request is gRPC (or gRPC-Web) by its content type, rather than HTTP/JSON.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// The HTTP/JSON front in force, replaced whole when a reload changes the schema files.
pub type SharedHttpJson = Arc<arc_swap::ArcSwap<HttpJson>>;

/// The service: gRPC requests go to `inner` as they are, HTTP/JSON requests are transcoded.
#[derive(Debug, Clone)]
pub struct Transcode<S> {
    inner: S,
    front: SharedHttpJson,
}

impl<S> Transcode<S> {
    /// Puts the HTTP/JSON front before `inner`.
    pub fn new(inner: S, front: SharedHttpJson) -> Self {
        Self { inner, front }
    }
}

type ResponseBody = tonic::body::Body;

impl<S, B, RB> Service<http::Request<B>> for Transcode<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tower::BoxError>,
    RB: Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<tower::BoxError>,
{
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone serves this call; the one that was polled ready stays for the next.
        let inner = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, inner);
        let front = self.front.load_full();
        let origin = front.cors.allowed_origin(request.headers());
        if Cors::is_preflight(request.method(), request.headers()) {
            let answer = match origin {
                Some(origin) => Cors::preflight(origin),
                None => error_response(HttpError::own(
                    StatusCode::FORBIDDEN,
                    Code::PermissionDenied,
                    "CORS_ORIGIN_NOT_ALLOWED",
                    "this origin may not call from a browser: see [http] cors_allowed_origins",
                    None,
                )),
            };
            return Box::pin(std::future::ready(Ok(answer)));
        }
        let cors_on = front.cors.is_on();
        let with_cors = move |mut response: http::Response<ResponseBody>| {
            if cors_on {
                Cors::mark(response.headers_mut(), origin);
            }
            response
        };
        if is_grpc(request.headers()) {
            let call = inner.call(request.map(tonic::body::Body::new));
            return Box::pin(async move {
                let Ok(response) = call.await;
                Ok(with_cors(response.map(tonic::body::Body::new)))
            });
        }
        Box::pin(async move {
            Ok(with_cors(match transcode(&front, inner, request).await {
                Ok(response) => response,
                Err(error) => error_response(error),
            }))
        })
    }
}

async fn transcode<S, B, RB>(
    front: &HttpJson,
    mut inner: S,
    request: http::Request<B>,
) -> Result<http::Response<ResponseBody>, HttpError>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<RB>, Error = Infallible>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tower::BoxError>,
    RB: Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<tower::BoxError>,
{
    let (parts, body) = request.into_parts();
    if matches!(parts.method, Method::GET | Method::HEAD) && parts.uri.path() == OPENAPI_PATH {
        let mut response =
            http::Response::new(tonic::body::Body::new(Full::new(front.openapi.clone())));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    let (route, bindings) = match front.routes.find(&parts.method, parts.uri.path()) {
        Found::Route(route, bindings) => (route, bindings),
        Found::MethodNotAllowed(allowed) => {
            let names = allowed
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            let mut refused = HttpError::own(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                "METHOD_NOT_ALLOWED",
                &format!(
                    "{} is not served here; this path takes {names}",
                    parts.method
                ),
                None,
            );
            refused.allow = HeaderValue::from_str(&names).ok();
            return Err(refused);
        }
        Found::Nothing => {
            return Err(HttpError::own(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                "ROUTE_NOT_FOUND",
                &format!(
                    "no route {} {}: see /openapi.json",
                    parts.method,
                    parts.uri.path()
                ),
                None,
            ));
        }
    };
    // An anonymous caller's body is not even read.
    if let Some(status) = front
        .refusal
        .as_ref()
        .and_then(|check| check(&parts.headers, &parts.extensions))
    {
        return Err(HttpError::of_status(&front.pool, &status));
    }
    let body = read_body(front, &parts.headers, body).await?;
    let message =
        request::request_message(route, bindings, parts.uri.query(), &body).map_err(|bad| {
            HttpError::invalid(
                &format!("{}: {}", bad.field, bad.description),
                Some((&bad.field, &bad.description)),
            )
        })?;
    let timeout = deadline(&parts.headers, parts.uri.query())?;
    let call = grpc_request(route, &parts, &message, timeout)?;
    let Ok(response) = inner.call(call).await;
    answer(front, route, response.map(tonic::body::Body::new)).await
}

/// The request body, at most [`MAX_BODY_BYTES`], of a JSON content type if there is one; a body
/// the front door gave up waiting for is 408 Request Timeout.
async fn read_body<B>(front: &HttpJson, headers: &HeaderMap, body: B) -> Result<Bytes, HttpError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<tower::BoxError>,
{
    let bytes = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|error| {
            let error: tower::BoxError = error;
            if let Some(status) = error.downcast_ref::<tonic::Status>() {
                HttpError::of_status(&front.pool, status).with_status(StatusCode::REQUEST_TIMEOUT)
            } else if error.is::<http_body_util::LengthLimitError>() {
                HttpError::own(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Code::InvalidArgument,
                    "REQUEST_TOO_LARGE",
                    &format!("the request body is over {MAX_BODY_BYTES} bytes"),
                    None,
                )
            } else {
                HttpError::invalid(
                    &format!("the request body could not be read: {error}"),
                    None,
                )
            }
        })?
        .to_bytes();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let json = content_type
        .as_deref()
        .is_none_or(|kind| kind == "application/json" || kind.ends_with("+json"));
    if !bytes.is_empty() && !json {
        return Err(HttpError::own(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            "UNSUPPORTED_MEDIA_TYPE",
            &format!(
                "request bodies are JSON (Content-Type: application/json), not {}",
                content_type.unwrap_or_default()
            ),
            None,
        ));
    }
    Ok(bytes)
}

/// The call's deadline: the `timeout` query parameter, else the `X-Request-Timeout` header.
fn deadline(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Duration>, HttpError> {
    let from_query = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == request::TIMEOUT_PARAMETER)
        .map(|(_, value)| value.into_owned());
    let from_header = headers
        .get(TIMEOUT_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(text) = from_query.or(from_header) else {
        return Ok(None);
    };
    parse_timeout(&text).map(Some).ok_or_else(|| {
        let why = format!("{text:?} is not a duration such as 2.5s, 500ms or 3");
        HttpError::invalid(&format!("timeout: {why}"), Some(("timeout", &why)))
    })
}

/// `2.5s`, `500ms` or `3` (seconds), at most a day.
fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let seconds: f64 = if let Some(millis) = text.strip_suffix("ms") {
        millis.parse::<f64>().ok()? / 1000.0
    } else {
        text.strip_suffix('s').unwrap_or(text).parse().ok()?
    };
    (seconds > 0.0 && seconds <= 86_400.0).then(|| Duration::from_secs_f64(seconds))
}

/// The gRPC request of a transcoded call: the gRPC path, one framed message, and the metadata.
fn grpc_request(
    route: &Route,
    parts: &http::request::Parts,
    message: &DynamicMessage,
    timeout: Option<Duration>,
) -> Result<http::Request<tonic::body::Body>, HttpError> {
    let encoded = message.encode_to_vec();
    let mut framed = BytesMut::with_capacity(encoded.len() + 5);
    framed.put_u8(0);
    framed.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
    framed.put_slice(&encoded);
    let mut request = http::Request::builder()
        .method(Method::POST)
        .uri(route.grpc_path())
        .version(http::Version::HTTP_2)
        .header(CONTENT_TYPE, "application/grpc")
        .header("te", "trailers");
    for name in FORWARDED_HEADERS {
        for value in parts.headers.get_all(name) {
            request = request.header(name, value);
        }
    }
    if let Some(timeout) = timeout {
        request = request.header("grpc-timeout", format!("{}m", timeout.as_millis().max(1)));
    }
    let mut request = request
        .body(tonic::body::Body::new(Full::new(framed.freeze())))
        .map_err(|error| {
            HttpError::invalid(&format!("a header cannot be passed on: {error}"), None)
        })?;
    // The connection's facts (peer address, client certificates) go with the call.
    *request.extensions_mut() = parts.extensions.clone();
    Ok(request)
}

/// The HTTP answer of a call's gRPC response.
async fn answer(
    front: &HttpJson,
    route: &Route,
    response: http::Response<ResponseBody>,
) -> Result<http::Response<ResponseBody>, HttpError> {
    let (parts, mut body) = response.into_parts();
    // A trailers-only response: the status is in the headers.
    if let Some(status) = tonic::Status::from_header_map(&parts.headers)
        && status.code() != Code::Ok
    {
        return Err(HttpError::of_status(&front.pool, &status));
    }
    let output = route.rpc.output();
    let mut buffer = BytesMut::new();
    // The HTTP status waits for the first message: a call that fails before it (a malformed
    // query, a refusal on its first page) is an HTTP error, not a 200 with an error line.
    let first = match next_event(&mut body, &mut buffer).await {
        Event::Failed(status) => return Err(HttpError::of_status(&front.pool, &status)),
        first => first,
    };
    if route.rpc.is_server_streaming() {
        return Ok(stream_lines(front, output, body, buffer, first));
    }
    let Event::Message(message) = first else {
        return Err(HttpError::of_status(
            &front.pool,
            &tonic::Status::internal("the call answered no message"),
        ));
    };
    if let Event::Failed(status) = next_event(&mut body, &mut buffer).await {
        return Err(HttpError::of_status(&front.pool, &status));
    }
    Ok(json_response(StatusCode::OK, &to_json(&output, &message)?))
}

/// What a gRPC response body says next.
enum Event {
    /// A message (its bytes, without the frame's prefix).
    Message(Bytes),
    /// The call ended well.
    Finished,
    /// The call failed, or its answer ended without a status.
    Failed(tonic::Status),
}

async fn next_event(body: &mut ResponseBody, buffer: &mut BytesMut) -> Event {
    let without_status = || tonic::Status::internal("the call's answer ended without a status");
    loop {
        if let Some(message) = split_messages(buffer).next() {
            return Event::Message(message);
        }
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => buffer.extend_from_slice(&data),
                Err(frame) => {
                    let trailers = frame.into_trailers().ok();
                    return match trailers.as_ref().and_then(tonic::Status::from_header_map) {
                        Some(status) if status.code() == Code::Ok => Event::Finished,
                        Some(status) => Event::Failed(status),
                        None => Event::Failed(without_status()),
                    };
                }
            },
            Some(Err(status)) => return Event::Failed(status),
            None => return Event::Failed(without_status()),
        }
    }
}

/// The complete gRPC messages at the front of `buffer` (taken out of it).
fn split_messages(buffer: &mut BytesMut) -> impl Iterator<Item = Bytes> + '_ {
    std::iter::from_fn(move || {
        if buffer.len() < 5 {
            return None;
        }
        let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
        if buffer.len() < 5 + length {
            return None;
        }
        buffer.advance(5);
        Some(buffer.split_to(length).freeze())
    })
}

fn to_json(output: &MessageDescriptor, message: &[u8]) -> Result<serde_json::Value, HttpError> {
    let message = DynamicMessage::decode(output.clone(), message).map_err(|error| {
        HttpError::own(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "INTERNAL",
            &format!("the answer does not decode: {error}"),
            None,
        )
    })?;
    serde_json::to_value(&message).map_err(|error| {
        HttpError::own(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "INTERNAL",
            &format!("the answer does not encode as JSON: {error}"),
            None,
        )
    })
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(tonic::body::Body::new(Full::new(Bytes::from(
        body.to_string(),
    ))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_response(error: HttpError) -> http::Response<ResponseBody> {
    let mut response = json_response(error.status, &error.body);
    if let Some(retry_after) = error.retry_after {
        response.headers_mut().insert(RETRY_AFTER, retry_after);
    }
    if let Some(allow) = error.allow {
        response.headers_mut().insert(http::header::ALLOW, allow);
    }
    response
}

/// A server-streaming answer as newline-delimited JSON, from its `first` event on: a line per
/// message as it arrives, and, if the call fails after the first, a last line `{"error": …}`.
fn stream_lines(
    front: &HttpJson,
    output: MessageDescriptor,
    body: ResponseBody,
    buffer: BytesMut,
    first: Event,
) -> http::Response<ResponseBody> {
    let pool = front.pool.clone();
    let lines = futures::stream::unfold(Some((body, buffer, Some(first))), move |state| {
        let (output, pool) = (output.clone(), pool.clone());
        async move {
            let (mut body, mut buffer, pending) = state?;
            let event = match pending {
                Some(event) => event,
                None => next_event(&mut body, &mut buffer).await,
            };
            match event {
                Event::Message(message) => match to_json(&output, &message) {
                    Ok(json) => Some((line_of(&json), Some((body, buffer, None)))),
                    Err(error) => Some((line_of(&error.body), None)),
                },
                Event::Finished => None,
                Event::Failed(status) => {
                    Some((line_of(&HttpError::of_status(&pool, &status).body), None))
                }
            }
        }
    });
    let body = http_body_util::StreamBody::new(futures::StreamExt::map(lines, |line| {
        Ok::<_, tonic::Status>(http_body::Frame::data(line))
    }));
    let mut response = http::Response::new(tonic::body::Body::new(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

fn line_of(json: &serde_json::Value) -> Bytes {
    let mut line = json.to_string().into_bytes();
    line.push(b'\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_callers_write_them() {
        assert_eq!(parse_timeout("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("3"), Some(Duration::from_secs(3)));
        for bad in ["", "0", "-1s", "soon", "2days", "100000"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_rpc_of_the_api_has_a_valid_route() {
        let front = HttpJson::api(Vec::new(), &Default::default()).unwrap();
        let routed: std::collections::HashSet<String> =
            front.routes().iter().map(Route::grpc_path).collect();
        for service in crate::pb::descriptor_pool().services() {
            for rpc in service.methods() {
                let path = format!("/{}/{}", service.full_name(), rpc.name());
                assert!(routed.contains(&path), "{path} has no google.api.http rule");
            }
        }
        let find = |method: Method, path: &str| match front.routes().find(&method, path) {
            Found::Route(route, bindings) => Some((route.grpc_path(), bindings.len())),
            _ => None,
        };
        assert_eq!(
            find(Method::GET, "/v1/leads/00Q5g00000AbCdE"),
            Some(("/sfgate.v1.LeadService/GetLead".into(), 1))
        );
        assert_eq!(
            find(Method::GET, "/v1/leads:find"),
            Some(("/sfgate.v1.LeadService/FindLeads".into(), 0))
        );
        assert_eq!(
            find(Method::GET, "/v1/records/Account:describe"),
            Some(("/sfgate.v1.RecordService/DescribeObject".into(), 1))
        );
        assert_eq!(
            find(Method::GET, "/v1/records/Account/001xx"),
            Some(("/sfgate.v1.RecordService/GetRecord".into(), 2))
        );
        assert!(matches!(
            front.routes().find(&Method::PUT, "/v1/leads/x"),
            Found::MethodNotAllowed(_)
        ));
        assert!(matches!(
            front.routes().find(&Method::GET, "/v2/leads"),
            Found::Nothing
        ));
    }
}
