//! An embedded, in-memory Salesforce org that speaks Salesforce's wire formats.
//!
//! [`start`] binds an HTTP server that serves, on one base URL (login host and
//! instance URL at once):
//!
//! - OAuth 2.0: `POST /services/oauth2/token` (password, client-credentials,
//!   JWT bearer and refresh-token grants), `/services/oauth2/revoke` (access and
//!   refresh tokens), `/services/oauth2/userinfo`, `/id/{org}/{user}`; sessions
//!   may expire after [`SandboxConfig::session_ttl`];
//! - the REST data API under `/services/data/vXX.X/`: sObject CRUD, upsert by
//!   external id, describe, SOQL query with paging, SOSL search, limits;
//! - the SOAP partner API `POST /services/Soap/u/XX.X`: `login` and `convertLead`;
//! - test controls for out-of-process use: `POST /_sandbox/faults` with
//!   `{"path_contains":..,"method":..,"times":n,"error":{"http_status":503,"error_code":"..","message":".."}}`,
//!   `{.., "latency_ms": n}` or `{.., "close_connection": true}`; `DELETE /_sandbox/faults`;
//!   `DELETE /_sandbox/sessions` (expire every token).
//!
//! It is a separate Salesforce reachable only over HTTP and imports nothing of the
//! gateway. Records live in memory; [`SandboxConfig::seed`] loads sample data.
//! Injected [`Fault`]s reach data, SOAP and OAuth requests. Recorded requests
//! ([`SandboxHandle::requests`]) hide secrets: `Authorization` headers, and the
//! `client_secret`, `password`, `assertion`, `refresh_token` and `token` form
//! fields of OAuth requests (and SOAP `password` elements) read `<redacted>`.

mod describe;
mod error;
mod faults;
mod ids;
mod jwt;
mod oauth;
mod rest;
mod schema;
mod seed;
mod soap;
mod soql;
mod sosl;
mod store;
mod values;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind};

use faults::{Faults, KillSwitch, KillableListener};
use oauth::{Session, Sessions};
use rest::Cursors;
use store::Store;

/// The newest API version the org advertises.
pub(crate) const LATEST_VERSION: &str = "66.0";
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Requests kept for [`SandboxHandle::requests`]; older ones are dropped.
const MAX_RECORDED: usize = 10_000;
/// How long [`SandboxHandle::shutdown`] waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How to run the sandbox org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Address to listen on, e.g. `127.0.0.1:0` for any free port.
    pub listen: SocketAddr,
    /// The connected app's consumer key; random when `None`.
    pub client_id: Option<String>,
    /// The connected app's consumer secret; random when `None`.
    pub client_secret: Option<String>,
    /// The org's daily API request allowance (`Sforce-Limit-Info`).
    pub daily_api_limit: u64,
    /// Whether to load the sample accounts, contacts, leads, cases, ….
    pub seed: bool,
    /// The X.509 certificate (PEM, RSA key) registered with the connected app,
    /// whose key verifies JWT bearer assertions; without one every assertion is
    /// rejected (`invalid_grant` / `invalid assertion`).
    pub jwt_certificate_pem: Option<String>,
    /// Maximum age of an access token; older ones answer 401
    /// `INVALID_SESSION_ID`. `None` (the default): tokens never expire.
    pub session_ttl: Option<Duration>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            client_id: None,
            client_secret: None,
            daily_api_limit: 15_000,
            seed: true,
            jwt_certificate_pem: None,
            session_ttl: None,
        }
    }
}

/// Credentials that authenticate against the sandbox as its integration user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCredentials {
    /// Connected app consumer key.
    pub client_id: String,
    /// Connected app consumer secret.
    pub client_secret: String,
    /// The integration user's username.
    pub username: String,
    /// Password and security token concatenated, as the password grant expects.
    pub password: String,
    /// A refresh token of the integration user, issued at start as if it had
    /// completed the web-server flow (for `grant_type=refresh_token`).
    pub refresh_token: String,
}

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// URL path, e.g. `/services/data/v66.0/query`.
    pub path: String,
    /// Raw URL query, without `?`.
    pub query: Option<String>,
    /// Headers in arrival order; `authorization` values read `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// Request body (lossy UTF-8); secrets in OAuth form fields and SOAP
    /// `password` elements read `<redacted>`.
    pub body: String,
    /// The id the org answered with in `X-Request-Id`.
    pub request_id: String,
}

/// The shared state of a running org.
pub(crate) struct Org {
    pub(crate) base_url: String,
    pub(crate) org_id: String,
    pub(crate) integration_user: String,
    pub(crate) credentials: SandboxCredentials,
    pub(crate) daily_limit: u64,
    usage: AtomicU64,
    /// Requests being answered now, and the most there have been at once.
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    pub(crate) store: Mutex<Store>,
    pub(crate) sessions: Mutex<Sessions>,
    pub(crate) cursors: Mutex<Cursors>,
    /// The connected app's certificate, for the JWT bearer flow.
    pub(crate) jwt_certificate: Mutex<Option<Arc<jwt::Certificate>>>,
    faults: Mutex<Faults>,
    /// Custom fields an admin deleted (object and field API names, as defined): gone from
    /// describe and from records, and INVALID_FIELD where a request names them.
    pub(crate) deleted_fields: Mutex<Vec<(&'static str, &'static str)>>,
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Org {
    fn new(
        config: &SandboxConfig,
        base_url: String,
        jwt_certificate: Option<jwt::Certificate>,
    ) -> Self {
        let mut store = Store::new();
        let seeded = seed::load(&mut store, config.seed);
        let mut sessions = Sessions::default();
        sessions.ttl = config.session_ttl;
        let refresh_token = sessions.issue_refresh_token(&seeded.integration_user);
        let credentials = SandboxCredentials {
            client_id: config
                .client_id
                .clone()
                .unwrap_or_else(|| format!("3MVG9{}", oauth::random_token(80))),
            client_secret: config
                .client_secret
                .clone()
                .unwrap_or_else(|| oauth::random_token(64).to_ascii_uppercase()),
            username: seed::INTEGRATION_USERNAME.to_string(),
            password: format!(
                "Sandbox-{}{}",
                oauth::random_token(12),
                oauth::random_token(24)
            ),
            refresh_token,
        };
        Self {
            base_url,
            org_id: seeded.org_id,
            integration_user: seeded.integration_user,
            credentials,
            daily_limit: config.daily_api_limit,
            usage: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            store: Mutex::new(store),
            sessions: Mutex::new(sessions),
            cursors: Mutex::new(Cursors::default()),
            jwt_certificate: Mutex::new(jwt_certificate.map(Arc::new)),
            faults: Mutex::new(Faults::default()),
            deleted_fields: Mutex::new(Vec::new()),
            requests: Mutex::new(VecDeque::new()),
        }
    }

    /// The user a username / password+token pair logs in as.
    pub(crate) fn login(&self, username: &str, password: &str) -> Option<String> {
        let ok_user = username.eq_ignore_ascii_case(&self.credentials.username);
        let ok_password =
            oauth::constant_time_eq(password.as_bytes(), self.credentials.password.as_bytes());
        (ok_user && ok_password).then(|| self.integration_user.clone())
    }

    /// The session of a request's `Authorization: Bearer|OAuth <token>` header.
    pub(crate) fn session_of(&self, headers: &HeaderMap) -> Option<Session> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")) {
            return None;
        }
        self.session_of_token(token.trim())
    }

    /// The session of a bare access token.
    pub(crate) fn session_of_token(&self, token: &str) -> Option<Session> {
        self.sessions.lock().validate(token).cloned()
    }

    /// Counts one API call; false (and not counted) once the daily limit is spent.
    pub(crate) fn count_call(&self) -> bool {
        self.usage
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used < self.daily_limit).then_some(used + 1)
            })
            .is_ok()
    }

    /// API calls counted so far.
    pub(crate) fn usage(&self) -> u64 {
        self.usage.load(Ordering::SeqCst)
    }

    fn record(&self, parts: &Parts, area: Area, body: &str, request_id: &str) {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if name == http::header::AUTHORIZATION {
                    "<redacted>".to_string()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_string(), value)
            })
            .collect();
        let (query, body) = match area {
            Area::OAuth(_) => (
                parts.uri.query().map(oauth::redact_form),
                oauth::redact_form(body),
            ),
            Area::Soap => (
                parts.uri.query().map(str::to_string),
                soap::redact_password(body),
            ),
            _ => (parts.uri.query().map(str::to_string), body.to_string()),
        };
        let mut requests = self.requests.lock();
        if requests.len() >= MAX_RECORDED {
            requests.pop_front();
        }
        requests.push_back(RecordedRequest {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query,
            headers,
            body,
            request_id: request_id.to_string(),
        });
    }
}

/// A running sandbox org. Dropping the handle stops the server as well;
/// [`SandboxHandle::shutdown`] also waits for it.
pub struct SandboxHandle {
    org: Arc<Org>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("base_url", &self.org.base_url)
            .field("org_id", &self.org.org_id)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// `http://HOST:PORT`: the login host and the instance URL.
    pub fn base_url(&self) -> &str {
        &self.org.base_url
    }

    /// Credentials of the connected app and the integration user.
    pub fn credentials(&self) -> &SandboxCredentials {
        &self.org.credentials
    }

    /// The 18-char organization id.
    pub fn org_id(&self) -> &str {
        &self.org.org_id
    }

    /// Injects a fault into matching data-API, SOAP and OAuth requests.
    pub fn inject_fault(&self, fault: Fault) {
        self.org.faults.lock().add(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.org.faults.lock().clear();
    }

    /// Every HTTP request received so far, in order (the most recent 10 000,
    /// so a long-running org does not grow without bound).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.org.requests.lock().iter().cloned().collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.org.requests.lock().clear();
    }

    /// The most requests (of any kind) the org was answering at once since it started or since
    /// [`Self::reset_peak_concurrent_requests`].
    pub fn peak_concurrent_requests(&self) -> u64 {
        self.org.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Starts counting [`Self::peak_concurrent_requests`] afresh.
    pub fn reset_peak_concurrent_requests(&self) {
        self.org
            .peak_in_flight
            .store(self.org.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Data-API and SOAP calls counted against the daily limit so far.
    pub fn api_usage(&self) -> u64 {
        self.org.usage()
    }

    /// Invalidates every issued access token (the next use answers 401);
    /// refresh tokens stay valid.
    pub fn expire_sessions(&self) {
        self.org.sessions.lock().expire_all();
    }

    /// Changes the maximum age of access tokens while running, for tokens
    /// already issued as well; `None`: tokens never expire.
    pub fn set_session_ttl(&self, ttl: Option<Duration>) {
        self.org.sessions.lock().ttl = ttl;
    }

    /// Issues a new refresh token of the integration user, as if it had
    /// completed the OAuth web-server flow.
    pub fn issue_refresh_token(&self) -> String {
        self.org
            .sessions
            .lock()
            .issue_refresh_token(&self.org.integration_user)
    }

    /// Revokes every refresh token, including [`SandboxCredentials::refresh_token`],
    /// and, as in Salesforce, the access tokens obtained with them.
    pub fn revoke_refresh_tokens(&self) {
        self.org.sessions.lock().revoke_refresh_tokens();
    }

    /// Registers the connected app's X.509 certificate (PEM) for the JWT bearer
    /// flow, replacing any earlier one. Errors unless it parses as an X.509
    /// certificate with an RSA key of 2048 to 8192 bits.
    pub fn register_certificate(&self, pem: &str) -> Result<(), String> {
        let certificate = jwt::Certificate::from_pem(pem)?;
        log_registered(&certificate);
        *self.org.jwt_certificate.lock() = Some(Arc::new(certificate));
        Ok(())
    }

    /// Number of live (not deleted) records of an sObject; 0 for unknown objects.
    pub fn record_count(&self, object: &str) -> usize {
        schema::object(object).map_or(0, |o| self.org.store.lock().live(o).count())
    }

    /// Deletes a custom field, as an org's admin does: describe no longer lists it, records no
    /// longer carry it, and a request that names it (in a body, `fields`, or SOQL) fails with
    /// `INVALID_FIELD`. Errors when the object or field is unknown or the field is standard.
    pub fn delete_field(&self, object: &str, field: &str) -> Result<(), String> {
        let obj = schema::object(object).ok_or_else(|| format!("no such sObject: {object}"))?;
        let f = obj
            .field(field)
            .ok_or_else(|| format!("{} has no field {field}", obj.name))?;
        if !f.custom {
            return Err(format!(
                "{}.{} is a standard field: it cannot be deleted",
                obj.name, f.name
            ));
        }
        self.org.deleted_fields.lock().push((obj.name, f.name));
        Ok(())
    }

    /// Live records of `object` whose `field` equals `value` exactly, as JSON
    /// maps of every field.
    pub fn find_records(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let Some(obj) = schema::object(object) else {
            return Vec::new();
        };
        let Some(f) = obj.field(field) else {
            return Vec::new();
        };
        let store = self.org.store.lock();
        store
            .live(obj)
            .filter(|r| values::as_text(r.get(f.name)).as_deref() == Some(value))
            .map(|r| r.fields.clone().into_iter().collect())
            .collect()
    }

    /// Creates a record of `object` as the org itself writes its seed data and
    /// converted leads, and returns its 18-char id.
    ///
    /// `fields` is a JSON object of field names (case-insensitive) and values,
    /// coerced as the REST API coerces them. Unlike a REST create there are no
    /// access checks: fields the API may not write can be set, and objects the
    /// API cannot create (e.g. `RecordType`) can be. The org's own rules still
    /// apply (defaults and derived fields, lengths, restricted picklists,
    /// references, required fields, duplicate rules), and the call is not
    /// counted against the daily API limit.
    ///
    /// Errors with a description when the object or a field is unknown, when a
    /// value does not fit its field's type, or, as the REST API's JSON error
    /// array, when the org rejects the record.
    pub fn insert_record(&self, object: &str, fields: serde_json::Value) -> Result<String, String> {
        let obj = schema::object(object).ok_or_else(|| format!("no such sObject: {object}"))?;
        let serde_json::Value::Object(fields) = fields else {
            return Err(format!(
                "the fields of a new {} must be a JSON object",
                obj.name
            ));
        };
        let mut input = store::Input::with_capacity(fields.len());
        for (name, value) in &fields {
            let field = obj.field(name).ok_or_else(|| {
                format!("No such column '{name}' on sobject of type {}", obj.name)
            })?;
            let value = values::coerce(field, value).map_err(|m| {
                format!(
                    "{}: cannot deserialize instance of {} from {} value {}",
                    field.name, m.target, m.token, m.shown
                )
            })?;
            input.push((field, value));
        }
        self.org
            .store
            .lock()
            .create(obj, input, store::Actor::system(&self.org.integration_user))
            .map_err(|e| e.body().to_text())
    }

    /// Stops accepting connections, lets open requests finish, and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// Binds the listener, spawns the server task, and returns its handle. Fails
/// with [`std::io::ErrorKind::InvalidInput`] when
/// [`SandboxConfig::jwt_certificate_pem`] is not a usable certificate.
pub async fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let jwt_certificate = config
        .jwt_certificate_pem
        .as_deref()
        .map(jwt::Certificate::from_pem)
        .transpose()
        .map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("jwt_certificate_pem: {e}"),
            )
        })?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let base_url = format!("http://{}", SocketAddr::new(host, addr.port()));
    let org = Arc::new(Org::new(&config, base_url, jwt_certificate));
    let app = Router::new()
        .fallback(dispatch)
        .with_state(Arc::clone(&org));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<KillSwitch>();
        let _ = axum::serve(KillableListener(listener), service)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    tracing::info!(base_url = %org.base_url, org_id = %org.org_id, "sandbox org started");
    if let Some(certificate) = org.jwt_certificate.lock().as_deref() {
        log_registered(certificate);
    }
    Ok(SandboxHandle {
        org,
        shutdown: Some(tx),
        task,
    })
}

fn log_registered(certificate: &jwt::Certificate) {
    tracing::info!(
        subject = %certificate.subject,
        sha256 = %certificate.sha256,
        "registered the connected app's certificate: JWT bearer assertions signed with its key are accepted"
    );
}

/// Which part of the org a path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Data,
    Soap,
    OAuth(OAuthPath),
    Identity,
    Control,
    Unknown,
}

/// An endpoint under `/services/oauth2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OAuthPath {
    Token,
    Revoke,
    UserInfo,
    Other,
}

impl Area {
    fn of(path: &str) -> Self {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        let trimmed = path.trim_end_matches('/');
        match () {
            _ if under("/services/data") => Self::Data,
            _ if under("/services/Soap") => Self::Soap,
            _ if trimmed == "/services/oauth2/token" => Self::OAuth(OAuthPath::Token),
            _ if trimmed == "/services/oauth2/revoke" => Self::OAuth(OAuthPath::Revoke),
            _ if trimmed == "/services/oauth2/userinfo" => Self::OAuth(OAuthPath::UserInfo),
            _ if under("/services/oauth2") => Self::OAuth(OAuthPath::Other),
            _ if under("/id") => Self::Identity,
            _ if under("/_sandbox") => Self::Control,
            _ => Self::Unknown,
        }
    }
}

/// The one handler: records the request, applies faults, routes by path.
/// Answers a request, tagging the response with a request id as Salesforce's edge does.
async fn dispatch(state: State<Arc<Org>>, req: Request) -> Response {
    let request_id =
        rand::distr::SampleString::sample_string(&rand::distr::Alphanumeric, &mut rand::rng(), 22);
    let org = Arc::clone(&state.0);
    let now = org.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    org.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    let mut response = answer(state, req, &request_id).await;
    org.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn answer(State(org): State<Arc<Org>>, req: Request, request_id: &str) -> Response {
    let kill = req
        .extensions()
        .get::<ConnectInfo<KillSwitch>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return http_json(StatusCode::PAYLOAD_TOO_LARGE, "", &[]);
    };
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let path = parts.uri.path().to_string();
    let area = Area::of(&path);
    org.record(&parts, area, &body, request_id);
    let mut after_serving = None;
    if matches!(area, Area::Data | Area::Soap | Area::OAuth(_)) {
        let fault = org.faults.lock().take(parts.method.as_str(), &path);
        match fault {
            Some(kind) if kind.serves_first() => after_serving = Some(kind),
            Some(FaultKind::Latency(delay)) => tokio::time::sleep(delay).await,
            Some(FaultKind::Error {
                http_status,
                error_code,
                message,
            }) => {
                let status =
                    StatusCode::from_u16(http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return match area {
                    Area::Soap => soap::fault_response(
                        status,
                        &format!("sf:{error_code}"),
                        &format!("{error_code}: {message}"),
                    ),
                    Area::OAuth(_) => http_json(
                        status,
                        &serde_json::json!({"error": error_code, "error_description": message})
                            .to_string(),
                        &[],
                    ),
                    _ => rest::error_response(
                        &org,
                        &error::ApiError::new(status.as_u16(), &error_code, message),
                    ),
                };
            }
            Some(FaultKind::CloseConnection) => {
                if let Some(kill) = kill {
                    kill.kill();
                }
                return http_json(StatusCode::INTERNAL_SERVER_ERROR, "", &[]);
            }
            Some(
                FaultKind::CloseAfterServing | FaultKind::ReplaceBody(_) | FaultKind::TruncateBody,
            )
            | None => {}
        }
    }
    let response = serve(&org, &parts, &body, area);
    match after_serving {
        Some(FaultKind::CloseAfterServing) => {
            if let Some(kill) = kill {
                kill.kill();
            }
            http_json(StatusCode::INTERNAL_SERVER_ERROR, "", &[])
        }
        Some(FaultKind::TruncateBody) => {
            let (parts, body) = response.into_parts();
            let whole = axum::body::to_bytes(body, MAX_BODY)
                .await
                .unwrap_or_default();
            let half = whole.slice(..whole.len() / 2);
            // The status and the first half go out; a moment later the connection breaks.
            use futures::StreamExt as _;
            let broken = futures::stream::once(async move { Ok::<_, std::io::Error>(half) }).chain(
                futures::stream::once(async {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    Err(std::io::Error::other("the sandbox broke the answer off"))
                }),
            );
            let mut response = Response::from_parts(parts, axum::body::Body::from_stream(broken));
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
            response
        }
        Some(FaultKind::ReplaceBody(replacement)) => {
            let (parts, _) = response.into_parts();
            let mut response = Response::from_parts(parts, axum::body::Body::from(replacement));
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
            response
        }
        _ => response,
    }
}

/// The org's own answer to a request.
fn serve(org: &Org, parts: &Parts, body: &str, area: Area) -> Response {
    match area {
        Area::Data => rest::handle(org, parts, body),
        Area::Soap => soap::handle(org, parts, body),
        Area::OAuth(OAuthPath::Token) => oauth::token(org, parts, body),
        Area::OAuth(OAuthPath::Revoke) => oauth::revoke(org, parts, body),
        Area::OAuth(OAuthPath::UserInfo) => oauth::identity(org, parts, true),
        Area::Identity => oauth::identity(org, parts, false),
        Area::Control => control(org, parts, body),
        Area::OAuth(OAuthPath::Other) | Area::Unknown => http_json(
            StatusCode::NOT_FOUND,
            &error::ApiError::not_found().body().to_text(),
            &[],
        ),
    }
}

/// `POST|DELETE /_sandbox/faults`, `DELETE /_sandbox/sessions`, `GET|DELETE /_sandbox/requests`
/// (the recorded requests as a JSON array, secrets redacted).
fn control(org: &Org, parts: &Parts, body: &str) -> Response {
    let path = parts.uri.path().trim_end_matches('/');
    let method = parts.method.as_str();
    match (method, path) {
        ("POST", "/_sandbox/faults") => match faults::parse_spec(body) {
            Ok(fault) => {
                org.faults.lock().add(fault);
                http_json(StatusCode::CREATED, r#"{"success":true}"#, &[])
            }
            Err(e) => {
                let body = serde_json::json!({"success": false, "error": e});
                http_json(StatusCode::BAD_REQUEST, &body.to_string(), &[])
            }
        },
        ("DELETE", "/_sandbox/faults") => {
            org.faults.lock().clear();
            http_json(StatusCode::NO_CONTENT, "", &[])
        }
        ("GET", "/_sandbox/requests") => {
            let requests: Vec<RecordedRequest> = org.requests.lock().iter().cloned().collect();
            let body = serde_json::to_string(&requests).unwrap_or_else(|_| "[]".into());
            http_json(StatusCode::OK, &body, &[])
        }
        ("DELETE", "/_sandbox/requests") => {
            org.requests.lock().clear();
            http_json(StatusCode::NO_CONTENT, "", &[])
        }
        ("DELETE", "/_sandbox/sessions") => {
            org.sessions.lock().expire_all();
            http_json(StatusCode::NO_CONTENT, "", &[])
        }
        _ => http_json(
            StatusCode::NOT_FOUND,
            &error::ApiError::not_found().body().to_text(),
            &[],
        ),
    }
}

/// A response with a JSON (or empty) body and extra headers.
pub(crate) fn http_json(status: StatusCode, body: &str, headers: &[(&str, String)]) -> Response {
    respond(status, "application/json;charset=UTF-8", body, headers)
}

/// A response with a body of the given content type and extra headers.
pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: &str,
    headers: &[(&str, String)],
) -> Response {
    let mut resp = Response::new(if body.is_empty() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    });
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if !body.is_empty()
        && let Ok(v) = HeaderValue::from_str(content_type)
    {
        h.insert(http::header::CONTENT_TYPE, v);
    }
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    resp
}
