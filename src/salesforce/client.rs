//! The REST client of one org: sObject CRUD, upsert, SOQL queries and the SOAP call, each with the
//! tenant's token, one refresh-and-retry on an expired session, and the org's API usage recorded.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use tracing::Instrument as _;
use url::Url;

use super::error::SalesforceError;
use super::id::SalesforceId;
use super::resilience::{Attempted, Resilience};
use super::soap::{self, LeadConversion, LeadConvert};
use super::soql::{BoundSoql, SelectQuery};
use super::sosl::PhoneSearch;
use crate::auth::{OrgAuthenticator, Session};
use crate::telemetry::metrics::{UpstreamLabels, metrics};

/// A record as Salesforce sends it: API field names to JSON values (with `attributes`).
pub type Record = Map<String, Value>;

/// The outcome of an upsert by external ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// The record created or updated.
    pub id: SalesforceId,
    /// Whether it was created.
    pub created: bool,
}

/// The user a session acts as (`/services/oauth2/userinfo`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserInfo {
    /// User ID.
    #[serde(default)]
    pub user_id: String,
    /// Org ID.
    #[serde(default)]
    pub organization_id: String,
    /// Username.
    #[serde(default)]
    pub preferred_username: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// One page of SOQL results.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    /// The total number of matching records.
    pub total_size: u64,
    /// Whether this is the last page.
    pub done: bool,
    /// The locator of the next page.
    pub next_records_url: Option<String>,
    /// The records of this page.
    pub records: Vec<Record>,
}

/// The org's daily API usage as last reported by `Sforce-Limit-Info`.
#[derive(Debug, Default)]
pub struct ApiUsage {
    used: AtomicU64,
    limit: AtomicU64,
    /// When the usage was last reported (or last let a call through to be re-read).
    read_at: parking_lot::Mutex<Option<Instant>>,
}

impl ApiUsage {
    /// `(used, limit)`, or `None` before the first response.
    pub fn get(&self) -> Option<(u64, u64)> {
        let limit = self.limit.load(Ordering::Relaxed);
        (limit > 0).then(|| (self.used.load(Ordering::Relaxed), limit))
    }

    fn record(&self, header: &str) {
        // Format: `api-usage=25/15000` (possibly among other comma-separated entries).
        let usage = header
            .split(',')
            .filter_map(|entry| entry.trim().strip_prefix("api-usage="))
            .find_map(|pair| pair.split_once('/'));
        if let Some((used, limit)) = usage
            && let (Ok(used), Ok(limit)) = (used.trim().parse(), limit.trim().parse())
        {
            self.used.store(used, Ordering::Relaxed);
            self.limit.store(limit, Ordering::Relaxed);
            *self.read_at.lock() = Some(Instant::now());
        }
    }
}

/// The request body of a call.
#[derive(Clone)]
enum Payload<'a> {
    Empty,
    /// No body; the `Sforce-Query-Options` header.
    QueryOptions(String),
    Json(&'a Record),
    Soap(String),
}

/// A connection to one org's REST API.
#[derive(Clone)]
pub struct SalesforceClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    auth: Arc<OrgAuthenticator>,
    api_version: String,
    timeout: Duration,
    /// Requests to the org in flight at once (each holds a connection); more wait their turn.
    upstream_slots: Arc<tokio::sync::Semaphore>,
    api_usage: ApiUsage,
    api_budget: Option<ApiBudget>,
    /// Retries and the circuit breaker.
    resilience: Resilience,
}

/// What one try of a call with a session came to.
enum Attempt<T> {
    /// Salesforce answered (success or any error but a refused session).
    Done(T),
    /// Salesforce refused the session (401, or a SOAP `INVALID_SESSION_ID` fault).
    SessionRefused,
}

/// What a refusal of a freshly minted session means for the tenant.
#[derive(Debug, Clone, Copy)]
enum FreshSessionRefused {
    /// The integration user cannot use the API: the tenant cools down as after a failed mint.
    CoolDown,
    /// Only this endpoint refuses it: the session stays, for the calls that take it.
    TenantUnaffected,
}

/// A tenant's ceiling on its org's daily API usage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApiBudget {
    /// Refuse calls once usage reaches this percentage of the daily limit.
    pub ceiling_percent: f64,
    /// While refusing, let one call through this often to re-read the usage.
    pub recheck_after: Duration,
}

impl fmt::Debug for SalesforceClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SalesforceClient")
            .field("api_version", &self.inner.api_version)
            .field("auth", &self.inner.auth)
            .finish()
    }
}

#[derive(Deserialize)]
struct CreateResponse {
    id: String,
}

impl SalesforceClient {
    /// Creates a client for the org behind `auth`, speaking API version `api_version` (`v66.0`).
    /// With `api_budget`, calls are refused once the org's reported daily API usage reaches
    /// the ceiling.
    pub fn new(
        http: reqwest::Client,
        auth: OrgAuthenticator,
        api_version: String,
        timeout: Duration,
        max_concurrent_requests: usize,
        api_budget: Option<ApiBudget>,
    ) -> Self {
        let resilience = Resilience::new(auth.tenant().clone(), timeout);
        Self {
            inner: Arc::new(Inner {
                resilience,
                http,
                auth: Arc::new(auth),
                api_version,
                timeout,
                upstream_slots: Arc::new(tokio::sync::Semaphore::new(max_concurrent_requests)),
                api_usage: ApiUsage::default(),
                api_budget,
            }),
        }
    }

    /// How the client's org authenticator obtains tokens.
    pub fn auth(&self) -> &Arc<OrgAuthenticator> {
        &self.inner.auth
    }

    /// The API version, e.g. `v66.0`.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// The org's API usage as last reported.
    pub fn api_usage(&self) -> &ApiUsage {
        &self.inner.api_usage
    }

    /// The org's instance URL (minting a token if none is cached).
    pub async fn instance_url(&self) -> Result<Url, SalesforceError> {
        Ok(self.inner.auth.session().await?.instance_url().clone())
    }

    /// `POST /sobjects/{object}`: creates a record and returns its ID.
    pub async fn create_record(
        &self,
        object: &str,
        fields: &Record,
    ) -> Result<SalesforceId, SalesforceError> {
        let (status, body) = self
            .call(
                Method::POST,
                &["sobjects", object],
                None,
                Payload::Json(fields),
            )
            .await?;
        expect_status(status, &body, &[StatusCode::CREATED, StatusCode::OK])?;
        decode::<CreateResponse>(status, &body)
            .and_then(|created| parse_returned_id(status, &created.id))
            .map_err(SalesforceError::of_acknowledged_write)
    }

    /// `GET /sobjects/{object}/{id}`, optionally only the given fields.
    pub async fn get_record(
        &self,
        object: &str,
        id: &SalesforceId,
        fields: Option<&[String]>,
    ) -> Result<Record, SalesforceError> {
        let query = fields.map(|fields| vec![("fields", fields.join(","))]);
        self.get_json(&["sobjects", object, id.as_str()], query, Payload::Empty)
            .await
    }

    /// `PATCH /sobjects/{object}/{id}` with exactly the given fields.
    pub async fn update_record(
        &self,
        object: &str,
        id: &SalesforceId,
        fields: &Record,
    ) -> Result<(), SalesforceError> {
        let (status, body) = self
            .call(
                Method::PATCH,
                &["sobjects", object, id.as_str()],
                None,
                Payload::Json(fields),
            )
            .await?;
        expect_status(status, &body, &[StatusCode::NO_CONTENT, StatusCode::OK])
    }

    /// `DELETE /sobjects/{object}/{id}`.
    pub async fn delete_record(
        &self,
        object: &str,
        id: &SalesforceId,
    ) -> Result<(), SalesforceError> {
        let (status, body) = self
            .call(
                Method::DELETE,
                &["sobjects", object, id.as_str()],
                None,
                Payload::Empty,
            )
            .await?;
        expect_status(status, &body, &[StatusCode::NO_CONTENT, StatusCode::OK])
    }

    /// `PATCH /sobjects/{object}/{field}/{value}`: creates or updates by external ID.
    pub async fn upsert_record(
        &self,
        object: &str,
        external_id_field: &str,
        external_id: &str,
        fields: &Record,
    ) -> Result<UpsertOutcome, SalesforceError> {
        let (status, body) = self
            .call(
                Method::PATCH,
                &["sobjects", object, external_id_field, external_id],
                None,
                Payload::Json(fields),
            )
            .await?;
        if status == StatusCode::MULTIPLE_CHOICES {
            let urls = serde_json::from_slice::<Vec<String>>(&body).unwrap_or_default();
            return Err(SalesforceError::MultipleMatches { urls });
        }
        expect_status(
            status,
            &body,
            &[StatusCode::CREATED, StatusCode::OK, StatusCode::NO_CONTENT],
        )?;
        upsert_outcome(status, external_id_field, external_id, &body)
            .map_err(SalesforceError::of_acknowledged_write)
    }

    /// Runs a SOQL query built by the one builder and returns the first page.
    pub async fn query(&self, query: &SelectQuery) -> Result<QueryPage, SalesforceError> {
        let soql = query.to_soql();
        tracing::trace!(soql = %soql, "soql query");
        self.get_json(&["query"], Some(vec![("q", soql)]), Payload::Empty)
            .await
    }

    /// The OAuth scopes of the current session (minting a token if none is cached).
    pub async fn scopes(&self) -> Result<Vec<String>, SalesforceError> {
        Ok(self.inner.auth.session().await?.scopes().to_vec())
    }

    /// `GET /services/oauth2/userinfo` on the instance: the user sfgate acts as, and the org.
    pub async fn user_info(&self) -> Result<UserInfo, SalesforceError> {
        // A refused session is refreshed as for any call; but userinfo may refuse even a fresh
        // session the data API takes (it needs the openid/profile scopes), so that refusal does
        // not cool the tenant down.
        self.with_session(
            FreshSessionRefused::TenantUnaffected,
            |session| async move {
                let url = instance_path(&session, ["services", "oauth2", "userinfo"])?;
                let (status, body) = self
                    .send(Method::GET, url, &session, Payload::Empty)
                    .await?;
                if status == StatusCode::UNAUTHORIZED {
                    return Ok(Attempt::SessionRefused);
                }
                expect_status(status, &body, &[StatusCode::OK])?;
                decode(status, &body).map(Attempt::Done)
            },
        )
        .await
    }

    /// `GET /limits`: the org's daily API requests, `(used, limit)`.
    pub async fn daily_api_requests(&self) -> Result<(u64, u64), SalesforceError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Limit {
            max: u64,
            remaining: u64,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Limits {
            daily_api_requests: Limit,
        }
        let limits: Limits = self.get_json(&["limits"], None, Payload::Empty).await?;
        let daily = limits.daily_api_requests;
        Ok((daily.max.saturating_sub(daily.remaining), daily.max))
    }

    /// Runs a SOQL query whose values were bound by [`super::soql::bind`]; returns the first page.
    /// `batch_size` (200-2000) asks Salesforce for pages of that size.
    pub async fn query_bound(
        &self,
        soql: &BoundSoql,
        batch_size: Option<u32>,
    ) -> Result<QueryPage, SalesforceError> {
        let payload = match batch_size {
            Some(size) => Payload::QueryOptions(format!("batchSize={size}")),
            None => Payload::Empty,
        };
        self.get_json(
            &["query"],
            Some(vec![("q", soql.as_str().to_owned())]),
            payload,
        )
        .await
    }

    /// Follows a `nextRecordsUrl` (`/services/data/vXX.X/query/<locator>`) to the next page.
    pub async fn query_more(&self, next_records_url: &str) -> Result<QueryPage, SalesforceError> {
        let locator = next_records_url
            .strip_prefix(&format!("/services/data/{}/query/", self.inner.api_version))
            .filter(|locator| {
                !locator.is_empty()
                    && locator
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            .ok_or_else(|| SalesforceError::UnexpectedResponse {
                http_status: 200,
                detail: "nextRecordsUrl is not a query locator of this API version".into(),
            })?;
        self.get_json(&["query", locator], None, Payload::Empty)
            .await
    }

    /// `GET /sobjects/{object}/describe`.
    pub async fn describe(&self, object: &str) -> Result<serde_json::Value, SalesforceError> {
        self.get_json(&["sobjects", object, "describe"], None, Payload::Empty)
            .await
    }

    /// `GET /sobjects/{object}/{id}/{field}`: the bytes of a base64 field (a record read gives
    /// only this link to them).
    pub async fn get_blob(
        &self,
        object: &str,
        id: &SalesforceId,
        field: &str,
    ) -> Result<Bytes, SalesforceError> {
        let (status, body) = self
            .call(
                Method::GET,
                &["sobjects", object, id.as_str(), field],
                None,
                Payload::Empty,
            )
            .await?;
        expect_status(status, &body, &[StatusCode::OK])?;
        Ok(body)
    }

    /// `GET /sobjects`: every object of the org, with its summary (describeGlobal).
    pub async fn describe_global(&self) -> Result<serde_json::Value, SalesforceError> {
        self.get_json(&["sobjects"], None, Payload::Empty).await
    }

    /// Runs a SOSL phone search built by the one builder; returns the records of every object.
    pub async fn search(&self, search: &PhoneSearch) -> Result<Vec<Record>, SalesforceError> {
        let sosl = search.to_sosl();
        tracing::trace!(sosl = %sosl, "sosl search");
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct SearchResult {
            search_records: Vec<Record>,
        }
        let found: SearchResult = self
            .get_json(&["search"], Some(vec![("q", sosl)]), Payload::Empty)
            .await?;
        Ok(found.search_records)
    }

    /// Converts leads through the SOAP partner API (`convertLead`).
    pub async fn convert_lead(
        &self,
        convert: &LeadConvert,
    ) -> Result<LeadConversion, SalesforceError> {
        self.check_api_budget()?;
        let version = self.inner.api_version.trim_start_matches('v');
        self.with_session(FreshSessionRefused::CoolDown, |session| async move {
            let envelope = soap::convert_lead_envelope(session.access_token(), convert);
            let url = instance_path(&session, ["services", "Soap", "u", version])?;
            let (status, body) = self
                .send(Method::POST, url, &session, Payload::Soap(envelope))
                .await?;
            // HTTP 200 says the org processed the conversion: an answer that cannot be read is
            // an answer lost, not a failure.
            let parsed = soap::parse_convert_lead_response(status.as_u16(), &body)
                .map_err(SalesforceError::of_acknowledged_write);
            match parsed {
                Err(SalesforceError::SoapFault { fault_code, .. })
                    if fault_code == "INVALID_SESSION_ID" =>
                {
                    Ok(Attempt::SessionRefused)
                }
                outcome => outcome.map(Attempt::Done),
            }
        })
        .await
    }

    /// Refuses a call once the org's usage, as Salesforce last reported it, is past the ceiling,
    /// so that the org's last requests are kept for what needs them most.
    ///
    /// Usage is only learnt from responses, so once the ceiling is reached one call is let
    /// through every `recheck_after` to read it again: the daily limit is a rolling window, and
    /// the budget reopens as old requests age out.
    fn check_api_budget(&self) -> Result<(), SalesforceError> {
        let (Some(budget), Some((used, limit))) =
            (self.inner.api_budget, self.inner.api_usage.get())
        else {
            return Ok(());
        };
        if (used as f64) < limit as f64 * budget.ceiling_percent / 100.0 {
            return Ok(());
        }
        let mut read_at = self.inner.api_usage.read_at.lock();
        let since_read = read_at.map_or(Duration::MAX, |at| at.elapsed());
        if since_read >= budget.recheck_after {
            // This call goes out and its response refreshes the usage; others wait for it.
            *read_at = Some(Instant::now());
            return Ok(());
        }
        metrics().limit_rejected(self.inner.auth.tenant(), "org_api_budget");
        Err(SalesforceError::ApiBudgetExhausted {
            used,
            limit,
            ceiling_percent: budget.ceiling_percent,
            retry_after: budget.recheck_after - since_read,
        })
    }

    /// A data-API GET that must answer 200 with JSON of type `T`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        query: Option<Vec<(&str, String)>>,
        payload: Payload<'_>,
    ) -> Result<T, SalesforceError> {
        let (status, body) = self.call(Method::GET, segments, query, payload).await?;
        expect_status(status, &body, &[StatusCode::OK])?;
        decode(status, &body)
    }

    /// Sends a data-API call, refreshing the session once if Salesforce rejects it.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: Option<Vec<(&str, String)>>,
        payload: Payload<'_>,
    ) -> Result<(StatusCode, Bytes), SalesforceError> {
        self.check_api_budget()?;
        let (method, query, payload) = (&method, &query, &payload);
        self.with_session(FreshSessionRefused::CoolDown, |session| async move {
            let data = ["services", "data", &self.inner.api_version];
            let mut url =
                instance_path(&session, data.into_iter().chain(segments.iter().copied()))?;
            if let Some(query) = query {
                url.query_pairs_mut().extend_pairs(query);
            }
            let (status, body) = self
                .send(method.clone(), url, &session, payload.clone())
                .await?;
            if status == StatusCode::UNAUTHORIZED {
                return Ok(Attempt::SessionRefused);
            }
            Ok(Attempt::Done((status, body)))
        })
        .await
    }

    /// Runs `attempt` with the tenant's session. When Salesforce refuses the session (expired,
    /// revoked), it is forgotten, a new token is minted and `attempt` runs once more; a refusal
    /// of that fresh session is [`SalesforceError::SessionRejected`], and `fresh_refused` says
    /// what it means for the tenant.
    async fn with_session<T, Run, Attempted>(
        &self,
        fresh_refused: FreshSessionRefused,
        mut attempt: Run,
    ) -> Result<T, SalesforceError>
    where
        Run: FnMut(Arc<Session>) -> Attempted,
        Attempted: Future<Output = Result<Attempt<T>, SalesforceError>>,
    {
        let session = self.inner.auth.session().await?;
        match attempt(Arc::clone(&session)).await? {
            Attempt::Done(value) => return Ok(value),
            Attempt::SessionRefused => {
                tracing::info!("salesforce rejected the session; minting a new token");
                self.inner.auth.invalidate(&session);
            }
        }
        let fresh = self.inner.auth.session().await?;
        match attempt(Arc::clone(&fresh)).await? {
            Attempt::Done(value) => Ok(value),
            Attempt::SessionRefused => {
                if let FreshSessionRefused::CoolDown = fresh_refused {
                    self.inner.auth.reject(&fresh);
                }
                Err(SalesforceError::SessionRejected)
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        session: &Session,
        payload: Payload<'_>,
    ) -> Result<(StatusCode, Bytes), SalesforceError> {
        let uri_length = url.as_str().len();
        if uri_length > super::limits::MAX_URI_LENGTH {
            return Err(SalesforceError::RequestTooLarge { uri_length });
        }
        // Waiting here is bounded by the caller's deadline, which wraps the whole call.
        let _slot = self.inner.upstream_slots.acquire().await.map_err(|_| {
            SalesforceError::Unreachable {
                request_sent: false,
                detail: "the org connection is closed",
            }
        })?;
        let resilience = &self.inner.resilience;
        resilience
            .admit()
            .map_err(|retry_after| SalesforceError::CircuitOpen { retry_after })?;
        let first = self.send_once(&method, &url, session, &payload).await;
        let attempted = attempted(&first);
        resilience.record(attempted, true);
        if !resilience.retry(&method, attempted) {
            return first;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        let second = self.send_once(&method, &url, session, &payload).await;
        resilience.record(self::attempted(&second), false);
        second
    }

    /// One attempt at a request.
    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        session: &Session,
        payload: &Payload<'_>,
    ) -> Result<(StatusCode, Bytes), SalesforceError> {
        let request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .timeout(self.inner.timeout)
            .header(http::header::AUTHORIZATION, session.authorization_header());
        let request = match payload {
            Payload::Empty => request,
            Payload::QueryOptions(options) => request.header("Sforce-Query-Options", options),
            Payload::Json(fields) => request.json(fields),
            Payload::Soap(envelope) => request
                .header(http::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
                .header("SOAPAction", "\"\"")
                .body(envelope.clone()),
        };
        let resource = resource_of(url);
        let tenant = self.inner.auth.tenant();
        let span = tracing::info_span!(
            target: crate::telemetry::TRACE_ONLY_TARGET,
            "salesforce.request",
            otel.name = %format_args!("{method} {resource}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            tenant = %tenant,
            http.request.method = %method,
            server.address = url.host_str(),
            url.path = %span_path(url),
            salesforce.resource = resource,
            http.response.status_code = tracing::field::Empty,
            salesforce.request_id = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        // A failure carries the status when it had arrived (the body was then lost).
        let received = async {
            let response = request.send().await.map_err(|error| (None, error))?;
            let status = response.status();
            let header = |name: &str| response.headers().get(name).cloned();
            let (request_id, limit_info) = (header("x-request-id"), header("sforce-limit-info"));
            let body = response
                .bytes()
                .await
                .map_err(|error| (Some(status), error))?;
            Ok::<_, (Option<StatusCode>, reqwest::Error)>((status, request_id, limit_info, body))
        }
        .instrument(span.clone())
        .await;
        let elapsed = started.elapsed();
        let (status, request_id, limit_info, body) = match received {
            Ok(received) => received,
            Err((status, error)) => {
                span.record("otel.status_code", "ERROR");
                span.record(
                    "error.type",
                    if error.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    },
                );
                self.count_upstream(method, resource, "error".to_owned(), elapsed);
                // A write Salesforce acknowledged, whose answer broke off: done, details lost.
                if let Some(status) = status.filter(|status| status.is_success())
                    && *method != Method::GET
                {
                    return Err(SalesforceError::WriteAnswerLost {
                        http_status: status.as_u16(),
                        detail: "the connection broke while the answer arrived".into(),
                    });
                }
                return Err(transport_error(error));
            }
        };
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if let Some(request_id) = request_id.as_ref().and_then(|value| value.to_str().ok()) {
            span.record("salesforce.request_id", request_id);
        }
        // OpenTelemetry's HTTP conventions: a client span with a 4xx or 5xx answer is an error.
        if status.is_client_error() || status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        if let Some(limit_info) = limit_info.as_ref().and_then(|value| value.to_str().ok()) {
            self.inner.api_usage.record(limit_info);
            if let Some((used, limit)) = self.inner.api_usage.get() {
                metrics().api_usage_reported(tenant, used, limit);
            }
        }
        self.count_upstream(method, resource, status.as_u16().to_string(), elapsed);
        // In the call's RPC span (the request's own span is for traces only).
        tracing::debug!(
            http.request.method = %method,
            salesforce.resource = resource,
            http.response.status_code = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "salesforce call"
        );
        Ok((status, body))
    }

    fn count_upstream(
        &self,
        method: &Method,
        resource: &'static str,
        status: String,
        elapsed: Duration,
    ) {
        metrics().upstream_finished(
            &UpstreamLabels {
                tenant: self.inner.auth.tenant().clone(),
                method: method_name(method),
                resource,
                status,
            },
            elapsed,
        );
    }
}

/// The API resource a URL addresses (`/services/data/v66.0/sobjects/Lead/…` -> `sobjects`), from
/// a fixed set so that metric labels stay few.
fn resource_of(url: &Url) -> &'static str {
    let mut segments = url.path_segments().into_iter().flatten();
    match (segments.next(), segments.next()) {
        (Some("services"), Some("Soap")) => "soap",
        (Some("services"), Some("data")) => match segments.nth(1) {
            Some("sobjects") => "sobjects",
            Some("query") => "query",
            Some("queryAll") => "queryAll",
            Some("search") => "search",
            Some("limits") => "limits",
            Some("composite") => "composite",
            _ => "other",
        },
        (Some("services"), Some("oauth2")) => "oauth2",
        _ => "other",
    }
}

/// The URL path as spans show it, without caller data: the value of an upsert's external id
/// (`…/sobjects/Lead/Email__c/{value}`) reads `{external_id}`. Query strings (SOQL, SOSL) are never
/// shown.
fn span_path(url: &Url) -> String {
    let segments: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    match segments.as_slice() {
        [
            "services",
            "data",
            version,
            "sobjects",
            object,
            field,
            _value,
        ] => {
            format!("/services/data/{version}/sobjects/{object}/{field}/{{external_id}}")
        }
        _ => url.path().to_owned(),
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// The session's instance URL with `segments` as its path.
fn instance_path<'a>(
    session: &Session,
    segments: impl IntoIterator<Item = &'a str>,
) -> Result<Url, SalesforceError> {
    let mut url = session.instance_url().clone();
    url.path_segments_mut()
        .map_err(|()| bad_instance())?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

fn bad_instance() -> SalesforceError {
    SalesforceError::UnexpectedResponse {
        http_status: 0,
        detail: "instance_url cannot hold a path".into(),
    }
}

/// The pause before a retry, so that it does not hit the same blip.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How an attempt ended, as retries and the circuit breaker see it.
fn attempted(outcome: &Result<(StatusCode, Bytes), SalesforceError>) -> Attempted {
    match outcome {
        Ok((status, _)) => Attempted::Answered(*status),
        Err(SalesforceError::Timeout) => Attempted::TimedOut,
        Err(SalesforceError::Unreachable {
            request_sent: false,
            ..
        }) => Attempted::NotSent,
        Err(_) => Attempted::Lost,
    }
}

fn transport_error(error: reqwest::Error) -> SalesforceError {
    if error.is_timeout() {
        SalesforceError::Timeout
    } else if error.is_connect() {
        SalesforceError::Unreachable {
            detail: "connection failed",
            request_sent: false,
        }
    } else {
        SalesforceError::Unreachable {
            detail: "connection lost before a complete response",
            request_sent: true,
        }
    }
}

fn expect_status(
    status: StatusCode,
    body: &[u8],
    expected: &[StatusCode],
) -> Result<(), SalesforceError> {
    if expected.contains(&status) {
        Ok(())
    } else {
        Err(SalesforceError::from_response(status.as_u16(), body))
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    status: StatusCode,
    body: &[u8],
) -> Result<T, SalesforceError> {
    serde_json::from_slice(body).map_err(|error| SalesforceError::UnexpectedResponse {
        http_status: status.as_u16(),
        detail: error.to_string(),
    })
}

/// The record an acknowledged upsert wrote, and whether it created it.
fn upsert_outcome(
    status: StatusCode,
    external_id_field: &str,
    external_id: &str,
    body: &[u8],
) -> Result<UpsertOutcome, SalesforceError> {
    if status == StatusCode::NO_CONTENT {
        // Older API versions answer an update by external ID with 204 and no body: the record
        // is the one the external ID names.
        if external_id_field.eq_ignore_ascii_case("Id") {
            let id = SalesforceId::parse(external_id).map_err(|error| {
                SalesforceError::UnexpectedResponse {
                    http_status: status.as_u16(),
                    detail: error.to_string(),
                }
            })?;
            return Ok(UpsertOutcome { id, created: false });
        }
        return Err(SalesforceError::UnexpectedResponse {
            http_status: 204,
            detail: "upsert answered without the record id".into(),
        });
    }
    let created: CreateResponse = decode(status, body)?;
    Ok(UpsertOutcome {
        id: parse_returned_id(status, &created.id)?,
        created: status == StatusCode::CREATED,
    })
}

fn parse_returned_id(status: StatusCode, id: &str) -> Result<SalesforceId, SalesforceError> {
    SalesforceId::parse(id).map_err(|error| SalesforceError::UnexpectedResponse {
        http_status: status.as_u16(),
        detail: format!("returned id {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_paths_keep_record_ids_and_hide_external_id_values() {
        let path = |url: &str| span_path(&Url::parse(url).unwrap());
        assert_eq!(
            path(
                "https://x.my.salesforce.com/services/data/v66.0/sobjects/Lead/Email__c/jo%40example.com"
            ),
            "/services/data/v66.0/sobjects/Lead/Email__c/{external_id}"
        );
        assert_eq!(
            path(
                "https://x.my.salesforce.com/services/data/v66.0/sobjects/Lead/00Q5g00002I7NwMEAV"
            ),
            "/services/data/v66.0/sobjects/Lead/00Q5g00002I7NwMEAV"
        );
        assert_eq!(
            path(
                "https://x.my.salesforce.com/services/data/v66.0/query?q=SELECT+Id+FROM+Lead+WHERE+Email+%3D+%27jo%27"
            ),
            "/services/data/v66.0/query"
        );
    }

    #[test]
    fn reads_the_limit_info_header() {
        let usage = ApiUsage::default();
        assert_eq!(usage.get(), None);
        usage.record("api-usage=25/15000");
        assert_eq!(usage.get(), Some((25, 15000)));
        usage.record("per-app-api-usage=2/250(appName=x), api-usage=26/15000");
        assert_eq!(usage.get(), Some((26, 15000)));
        usage.record("garbage");
        assert_eq!(usage.get(), Some((26, 15000)));
    }
}
