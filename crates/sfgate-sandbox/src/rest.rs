//! The REST data API under `/services/data`.

use std::collections::{HashMap, VecDeque};

use axum::response::Response;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::ids;
use super::schema::{self, FieldDef, FieldType, ObjectDef};
use super::soql::{self, Select};
use super::store::{self, Actor};
use super::values::{self, Json};
use super::{LATEST_VERSION, Org, describe, http_json, sosl};

/// Oldest API version served.
const MIN_VERSION: f64 = 20.0;
/// API version from which an upsert that updates answers 200 with a body.
const UPSERT_BODY_VERSION: f64 = 46.0;
/// Query batch size bounds (`Sforce-Query-Options: batchSize=N`).
const BATCH_MIN: usize = 200;
const BATCH_MAX: usize = 2000;
/// Open query cursors kept; the oldest is dropped beyond this.
const MAX_CURSORS: usize = 200;

/// A successful answer: status and optional JSON body.
struct Reply {
    status: StatusCode,
    body: Option<Json>,
    /// A blob's bytes, answered as they are instead of a JSON body.
    blob: Option<Vec<u8>>,
}

impl Reply {
    fn ok(body: Json) -> Self {
        Self::with(StatusCode::OK, body)
    }

    fn with(status: StatusCode, body: Json) -> Self {
        Self {
            status,
            body: Some(body),
            blob: None,
        }
    }

    fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
            blob: None,
        }
    }
}

/// One data-API request after routing and authentication.
struct Ctx<'a> {
    org: &'a Org,
    parts: &'a Parts,
    body: &'a str,
    /// e.g. `66.0`.
    version: String,
    user_id: String,
    params: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn version_number(&self) -> f64 {
        self.version.parse().unwrap_or(MIN_VERSION)
    }

    /// The method, honouring `?_HttpMethod=PATCH` on POST.
    fn method(&self) -> Method {
        match self.param("_HttpMethod") {
            Some(m) if self.parts.method == Method::POST => {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or(Method::POST)
            }
            _ => self.parts.method.clone(),
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor::api(&self.user_id)
    }
}

/// Serves a `/services/data...` request.
pub(crate) fn handle(org: &Org, parts: &Parts, body: &str) -> Response {
    match route(org, parts, body) {
        Ok(Reply {
            blob: Some(bytes), ..
        }) => {
            let mut response = Response::new(axum::body::Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/octet-stream"),
            );
            let (name, value) = limit_header(org);
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
            response
        }
        Ok(reply) => {
            let text = reply.body.map(|b| b.to_text()).unwrap_or_default();
            http_json(reply.status, &text, &[limit_header(org)])
        }
        Err(e) => error_response(org, &e),
    }
}

/// An error array response with the limit header.
pub(crate) fn error_response(org: &Org, e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut headers = vec![limit_header(org)];
    if status == StatusCode::UNAUTHORIZED {
        headers.push(("WWW-Authenticate", "Token".into()));
    }
    http_json(status, &e.body().to_text(), &headers)
}

fn limit_header(org: &Org) -> (&'static str, String) {
    (
        "Sforce-Limit-Info",
        format!("api-usage={}/{}", org.usage(), org.daily_limit),
    )
}

/// Percent-decoded, non-empty path segments after `/services/data`.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches("/services/data")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

/// Decodes `%XX` escapes (invalid escapes are kept as written).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `v66.0` -> `66.0` when it is a served version.
fn parse_version(seg: &str) -> Option<String> {
    let v = seg.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    let n: f64 = v.parse().ok()?;
    (n >= MIN_VERSION).then(|| v.to_string())
}

fn method_not_allowed(method: &Method, allowed: &str) -> ApiError {
    ApiError::new(
        405,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
}

fn route(org: &Org, parts: &Parts, body: &str) -> ApiResult<Reply> {
    let segs = segments(parts.uri.path());
    let Some((first, rest)) = segs.split_first() else {
        return match parts.method {
            Method::GET | Method::HEAD => Ok(Reply::ok(versions())),
            ref m => Err(method_not_allowed(m, "GET,HEAD")),
        };
    };
    let version = parse_version(first).ok_or_else(ApiError::not_found)?;
    let session = org
        .session_of(&parts.headers)
        .ok_or_else(ApiError::invalid_session)?;
    if !org.count_call() {
        return Err(ApiError::new(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ));
    }
    let params = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let ctx = Ctx {
        org,
        parts,
        body,
        version,
        user_id: session.user_id,
        params,
    };
    let method = ctx.method();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let deleted = org.deleted_fields.lock().clone();
    if deleted.is_empty() {
        return route_api(&ctx, &method, &rest);
    }
    let Some(obj) = addressed_object(&ctx, &rest) else {
        return route_api(&ctx, &method, &rest);
    };
    let deleted: Vec<&'static str> = deleted
        .iter()
        .filter(|(object, _)| *object == obj.name)
        .map(|(_, field)| *field)
        .collect();
    refuse_deleted_fields(&ctx, obj, &deleted)?;
    route_api(&ctx, &method, &rest).map(|mut reply| {
        if let Some(body) = reply.body.as_mut() {
            strip_deleted_fields(body, &deleted);
        }
        reply
    })
}

/// The object a request addresses: `sobjects/{Object}/…`, or the `FROM` of a query.
fn addressed_object(ctx: &Ctx<'_>, rest: &[&str]) -> Option<&'static ObjectDef> {
    let name = match rest {
        ["sobjects", name, ..] => Some((*name).to_owned()),
        ["query" | "queryAll"] => ctx.param("q").and_then(|q| {
            let words: Vec<&str> = q
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .collect();
            words
                .iter()
                .position(|word| word.eq_ignore_ascii_case("from"))
                .and_then(|at| words.get(at + 1..)?.iter().find(|word| !word.is_empty()))
                .map(|name| (*name).to_owned())
        }),
        _ => None,
    };
    name.as_deref().and_then(schema::object)
}

/// `INVALID_FIELD` when the request names a deleted field of the object it addresses: in its
/// JSON body, its `fields` list, or its SOQL.
fn refuse_deleted_fields(
    ctx: &Ctx<'_>,
    obj: &ObjectDef,
    deleted: &[&'static str],
) -> ApiResult<()> {
    let named = |text: &str, field: &str| {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word.eq_ignore_ascii_case(field))
    };
    for field in deleted {
        let in_body = serde_json::from_str::<serde_json::Value>(ctx.body)
            .ok()
            .and_then(|body| body.as_object().cloned())
            .is_some_and(|body| body.keys().any(|key| key.eq_ignore_ascii_case(field)));
        let in_params = ["fields", "q"]
            .iter()
            .filter_map(|name| ctx.param(name))
            .any(|text| named(text, field));
        if in_body || in_params {
            return Err(ApiError::new(
                400,
                "INVALID_FIELD",
                soql::no_such_column(field, obj),
            ));
        }
    }
    Ok(())
}

/// Drops the addressed object's deleted fields from an answer: record keys, and describe's field
/// entries.
fn strip_deleted_fields(body: &mut Json, deleted: &[&'static str]) {
    let is_deleted = |name: &str| deleted.iter().any(|field| field.eq_ignore_ascii_case(name));
    match body {
        Json::Object(entries) => {
            entries.retain(|(key, _)| !is_deleted(key));
            for (_, value) in entries.iter_mut() {
                strip_deleted_fields(value, deleted);
            }
        }
        Json::Array(items) => {
            items.retain(|item| match item {
                Json::Object(entries) => !entries.iter().any(|(key, value)| {
                    key == "name"
                        && matches!(value, Json::Value(serde_json::Value::String(name)) if is_deleted(name))
                        && entries.iter().any(|(key, _)| key == "soapType")
                }),
                _ => true,
            });
            for item in items.iter_mut() {
                strip_deleted_fields(item, deleted);
            }
        }
        Json::Value(serde_json::Value::Object(map)) => {
            map.retain(|key, _| !is_deleted(key));
        }
        Json::Value(_) => {}
    }
}

/// The API's routes, once the session, the limit and deleted fields are checked.
fn route_api(ctx: &Ctx<'_>, method: &Method, rest: &[&str]) -> ApiResult<Reply> {
    let org = ctx.org;
    match (rest, method) {
        ([], &Method::GET) => Ok(Reply::ok(resources(&ctx.version))),
        (["limits"], &Method::GET) => Ok(Reply::ok(limits(org))),
        (["sobjects", tail @ ..], _) => sobjects(ctx, method, tail),
        (["query"], &Method::GET) => query(ctx, false),
        (["queryAll"], &Method::GET) => query(ctx, true),
        (["query" | "queryAll", locator], &Method::GET) => query_more(ctx, locator),
        (["search"], &Method::GET) => search(ctx),
        ([] | ["limits"] | ["query" | "queryAll", ..] | ["search"], m) => {
            Err(method_not_allowed(m, "GET,HEAD"))
        }
        _ => Err(ApiError::not_found()),
    }
}

/// `GET /services/data`: every served version, oldest first.
fn versions() -> Json {
    const SEASONS: [&str; 3] = ["Winter", "Spring", "Summer"];
    let latest: u32 = LATEST_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(66);
    let list = (MIN_VERSION as u32..=latest)
        .map(|v| {
            let n = v - MIN_VERSION as u32;
            let label = format!("{} '{:02}", SEASONS[(n % 3) as usize], 11 + n / 3);
            Json::object()
                .with("label", label)
                .with("url", format!("/services/data/v{v}.0"))
                .with("version", format!("{v}.0"))
        })
        .collect();
    Json::Array(list)
}

fn resources(version: &str) -> Json {
    let base = format!("/services/data/v{version}");
    [
        "sobjects",
        "query",
        "queryAll",
        "search",
        "limits",
        "recent",
        "composite",
    ]
    .iter()
    .fold(Json::object(), |j, r| j.with(r, format!("{base}/{r}")))
}

fn limits(org: &Org) -> Json {
    let entry = |max: u64, remaining: u64| {
        Json::object()
            .with("Max", Value::from(max))
            .with("Remaining", Value::from(remaining))
    };
    let used = org.usage();
    Json::object()
        .with(
            "DailyApiRequests",
            entry(org.daily_limit, org.daily_limit.saturating_sub(used)),
        )
        .with("DailyAsyncApexExecutions", entry(250_000, 250_000))
        .with("DailyBulkApiBatches", entry(15_000, 15_000))
        .with("DataStorageMB", entry(5, 5))
        .with("FileStorageMB", entry(20, 20))
}

fn object_of(name: &str) -> ApiResult<&'static ObjectDef> {
    schema::object(name).ok_or_else(ApiError::not_found)
}

fn sobjects(ctx: &Ctx<'_>, method: &Method, tail: &[&str]) -> ApiResult<Reply> {
    match tail {
        [] if method == Method::GET => Ok(Reply::ok(describe::global(&ctx.version))),
        [] => Err(method_not_allowed(method, "GET,HEAD")),
        [name] => {
            let obj = object_of(name)?;
            match *method {
                Method::GET => Ok(Reply::ok(describe::basic_info(obj, &ctx.version))),
                Method::POST => create(ctx, obj),
                _ => Err(method_not_allowed(method, "GET,HEAD,POST")),
            }
        }
        [name, "describe"] => {
            let obj = object_of(name)?;
            if method != Method::GET {
                return Err(method_not_allowed(method, "GET,HEAD"));
            }
            Ok(Reply::ok(describe::object(obj, &ctx.version)))
        }
        [name, raw_id] => {
            let obj = object_of(name)?;
            by_id(ctx, method, obj, raw_id)
        }
        [name, raw_id, field]
            if ids::parse(raw_id).is_ok_and(|id| {
                ids::prefix(&id) == object_of(name).map_or("", |o| o.key_prefix)
            }) =>
        {
            blob(ctx, method, object_of(name)?, raw_id, field)
        }
        [name, field, value] => {
            let obj = object_of(name)?;
            by_external_id(ctx, method, obj, field, value)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn ensure_writable(obj: &ObjectDef, method: &Method) -> ApiResult<()> {
    if obj.writable {
        Ok(())
    } else {
        Err(method_not_allowed(method, "GET,HEAD"))
    }
}

fn save_result(id: &str, created: Option<bool>) -> Json {
    let j = Json::object()
        .with("id", id)
        .with("success", true)
        .with("errors", Json::Array(Vec::new()));
    match created {
        Some(c) => j.with("created", c),
        None => j,
    }
}

fn create(ctx: &Ctx<'_>, obj: &'static ObjectDef) -> ApiResult<Reply> {
    ensure_writable(obj, &Method::POST)?;
    let mut store = ctx.org.store.lock();
    let input = store::parse_body(&store, obj, ctx.body, true)?;
    let id = store.create(obj, input, ctx.actor())?;
    Ok(Reply::with(StatusCode::CREATED, save_result(&id, None)))
}

/// Validates an id from the URL for `obj`.
fn path_id(obj: &ObjectDef, raw: &str, method: &Method) -> ApiResult<String> {
    let malformed = || {
        ApiError::new(
            400,
            "MALFORMED_ID",
            format!("{}: id value of incorrect type: {raw}", obj.id_label()),
        )
    };
    let id = ids::parse(raw).map_err(|_| malformed())?;
    if ids::prefix(&id) == obj.key_prefix {
        return Ok(id);
    }
    if method == Method::GET {
        Err(ApiError::not_found())
    } else {
        Err(malformed())
    }
}

fn by_id(ctx: &Ctx<'_>, method: &Method, obj: &'static ObjectDef, raw: &str) -> ApiResult<Reply> {
    match *method {
        Method::GET | Method::HEAD => {
            let id = path_id(obj, raw, method)?;
            let only = field_list(obj, ctx.param("fields"))?;
            let store = ctx.org.store.lock();
            let rec = store.fetch(obj, &id, false)?;
            Ok(Reply::ok(store::render(rec, only.as_deref(), &ctx.version)))
        }
        Method::PATCH => {
            ensure_writable(obj, method)?;
            let id = path_id(obj, raw, method)?;
            let mut store = ctx.org.store.lock();
            store.fetch(obj, &id, true)?;
            let input = store::parse_body(&store, obj, ctx.body, false)?;
            store.update(obj, &id, input, ctx.actor())?;
            Ok(Reply::no_content())
        }
        Method::DELETE => {
            ensure_writable(obj, method)?;
            let id = path_id(obj, raw, method)?;
            ctx.org.store.lock().delete(obj, &id, ctx.actor())?;
            Ok(Reply::no_content())
        }
        _ => Err(method_not_allowed(method, "GET,HEAD,PATCH,DELETE")),
    }
}

/// `GET /sobjects/{Object}/{id}/{Field}`: the bytes of a base64 field.
fn blob(
    ctx: &Ctx<'_>,
    method: &Method,
    obj: &'static ObjectDef,
    raw_id: &str,
    field: &str,
) -> ApiResult<Reply> {
    use base64::Engine as _;
    if *method != Method::GET {
        return Err(method_not_allowed(method, "GET"));
    }
    let f = obj
        .field(field)
        .filter(|f| f.ty == FieldType::Base64)
        .ok_or_else(ApiError::not_found)?;
    let id = path_id(obj, raw_id, method)?;
    let store = ctx.org.store.lock();
    let rec = store.fetch(obj, &id, false)?;
    let text = rec.get(f.name).as_str().ok_or_else(ApiError::not_found)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| ApiError::new(500, "UNKNOWN_EXCEPTION", "stored blob is not base64"))?;
    Ok(Reply {
        status: StatusCode::OK,
        body: None,
        blob: Some(bytes),
    })
}

/// Parses `?fields=A,B` into field definitions.
fn field_list(obj: &ObjectDef, param: Option<&str>) -> ApiResult<Option<Vec<&'static FieldDef>>> {
    let Some(list) = param else {
        return Ok(None);
    };
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            obj.field(n)
                .ok_or_else(|| ApiError::new(400, "INVALID_FIELD", soql::no_such_column(n, obj)))
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// The external id field named in an upsert / lookup URL.
fn external_field(obj: &ObjectDef, name: &str) -> ApiResult<&'static FieldDef> {
    obj.field(name)
        .filter(|f| f.external_id || f.name == "Id")
        .ok_or_else(|| {
            ApiError::new(
                404,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {name}"),
            )
        })
}

fn record_urls(obj: &ObjectDef, matches: &[String], version: &str) -> Json {
    let urls = matches
        .iter()
        .map(|id| {
            Json::from(format!(
                "/services/data/v{version}/sobjects/{}/{id}",
                obj.name
            ))
        })
        .collect();
    Json::Array(urls)
}

fn by_external_id(
    ctx: &Ctx<'_>,
    method: &Method,
    obj: &'static ObjectDef,
    field_name: &str,
    value: &str,
) -> ApiResult<Reply> {
    let field = external_field(obj, field_name)?;
    match *method {
        Method::GET | Method::HEAD => {
            let only = field_list(obj, ctx.param("fields"))?;
            let store = ctx.org.store.lock();
            match store.find_by(obj, field, value).as_slice() {
                [] => Err(ApiError::not_found()),
                [id] => {
                    let rec = store.fetch(obj, id, false)?;
                    Ok(Reply::ok(store::render(rec, only.as_deref(), &ctx.version)))
                }
                many => Ok(Reply::with(
                    StatusCode::MULTIPLE_CHOICES,
                    record_urls(obj, many, &ctx.version),
                )),
            }
        }
        Method::PATCH => {
            ensure_writable(obj, method)?;
            upsert(ctx, obj, field, value)
        }
        Method::DELETE => {
            ensure_writable(obj, method)?;
            let mut store = ctx.org.store.lock();
            match store.find_by(obj, field, value).as_slice() {
                [] => Err(ApiError::not_found()),
                [id] => {
                    let id = id.clone();
                    store.delete(obj, &id, ctx.actor())?;
                    Ok(Reply::no_content())
                }
                many => Ok(Reply::with(
                    StatusCode::MULTIPLE_CHOICES,
                    record_urls(obj, many, &ctx.version),
                )),
            }
        }
        _ => Err(method_not_allowed(method, "GET,HEAD,PATCH,DELETE")),
    }
}

fn upsert(
    ctx: &Ctx<'_>,
    obj: &'static ObjectDef,
    field: &'static FieldDef,
    value: &str,
) -> ApiResult<Reply> {
    let mut store = ctx.org.store.lock();
    let matches = store.find_by(obj, field, value);
    let create = matches.is_empty();
    let mut input = store::parse_body(&store, obj, ctx.body, create)?;
    if let Some((_, v)) = input.iter().find(|(f, _)| f.name == field.name) {
        let same = values::as_text(v).is_some_and(|t| t.eq_ignore_ascii_case(value));
        if !same {
            return Err(ApiError::dml(
                "INVALID_FIELD",
                format!(
                    "The value of the external ID field {} in the request body does not match the value in the URL: {value}",
                    field.name
                ),
                &[field.name],
            ));
        }
    }
    input.retain(|(f, _)| f.name != field.name);
    match matches.as_slice() {
        [] if field.name == "Id" => Err(ApiError::not_found()),
        [] => {
            let v = values::coerce(field, &Value::String(value.to_string()))
                .map_err(|_| ApiError::not_found())?;
            input.push((field, v));
            let id = store.create(obj, input, ctx.actor())?;
            Ok(Reply::with(
                StatusCode::CREATED,
                save_result(&id, Some(true)),
            ))
        }
        [id] => {
            store.update(obj, id, input, ctx.actor())?;
            if ctx.version_number() >= UPSERT_BODY_VERSION {
                Ok(Reply::ok(save_result(id, Some(false))))
            } else {
                Ok(Reply::no_content())
            }
        }
        many => Ok(Reply::with(
            StatusCode::MULTIPLE_CHOICES,
            record_urls(obj, many, &ctx.version),
        )),
    }
}

// ---------------------------------------------------------------- query

/// An open query cursor: the full result and its batch size.
#[derive(Debug)]
struct Cursor {
    records: Vec<Json>,
    batch: usize,
}

/// Open query cursors by locator.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    next: u64,
    open: HashMap<String, Cursor>,
    order: VecDeque<String>,
}

impl Cursors {
    fn open(&mut self, records: Vec<Json>, batch: usize) -> String {
        self.next += 1;
        let locator = ids::make("01g", 1_000_000 + self.next);
        self.open.insert(locator.clone(), Cursor { records, batch });
        self.order.push_back(locator.clone());
        while self.order.len() > MAX_CURSORS {
            if let Some(old) = self.order.pop_front() {
                self.open.remove(&old);
            }
        }
        locator
    }

    fn close(&mut self, locator: &str) {
        self.open.remove(locator);
        self.order.retain(|l| l != locator);
    }
}

fn batch_size(parts: &Parts) -> usize {
    parts
        .headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|opt| {
                let (k, n) = opt.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("batchSize")
                    .then(|| n.trim().parse::<usize>().ok())?
            })
        })
        .map_or(BATCH_MAX, |n| n.clamp(BATCH_MIN, BATCH_MAX))
}

fn query_page(total: usize, next_url: Option<String>, records: Vec<Json>) -> Json {
    let mut j = Json::object()
        .with("totalSize", total)
        .with("done", next_url.is_none());
    if let Some(url) = next_url {
        j.set("nextRecordsUrl", url);
    }
    j.with("records", Json::Array(records))
}

fn query(ctx: &Ctx<'_>, all_rows: bool) -> ApiResult<Reply> {
    let q = ctx
        .param("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| {
            ApiError::new(400, "MALFORMED_QUERY", "A query string has to be specified")
        })?;
    let parsed = soql::parse(q).map_err(|e| e.into_api(q))?;
    let outcome = {
        let store = ctx.org.store.lock();
        soql::execute(&parsed, &store, all_rows, &ctx.version)
    };
    if matches!(parsed.select, Select::Count | Select::CountOf { .. }) {
        return Ok(Reply::ok(query_page(outcome.total, None, outcome.records)));
    }
    let batch = batch_size(ctx.parts);
    let records = outcome.records;
    if records.len() <= batch {
        return Ok(Reply::ok(query_page(outcome.total, None, records)));
    }
    let first = records[..batch].to_vec();
    let locator = ctx.org.cursors.lock().open(records, batch);
    let next = format!("/services/data/v{}/query/{locator}-{batch}", ctx.version);
    Ok(Reply::ok(query_page(outcome.total, Some(next), first)))
}

fn query_more(ctx: &Ctx<'_>, locator: &str) -> ApiResult<Reply> {
    let invalid = || ApiError::new(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let mut cursors = ctx.org.cursors.lock();
    let cursor = cursors.open.get(id).ok_or_else(invalid)?;
    if offset > cursor.records.len() {
        return Err(invalid());
    }
    let end = (offset + cursor.batch).min(cursor.records.len());
    let page = cursor.records[offset..end].to_vec();
    let total = cursor.records.len();
    if end >= total {
        cursors.close(id);
        return Ok(Reply::ok(query_page(total, None, page)));
    }
    let next = format!("/services/data/v{}/query/{id}-{end}", ctx.version);
    Ok(Reply::ok(query_page(total, Some(next), page)))
}

fn search(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let q = ctx
        .param("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "MALFORMED_SEARCH",
                "No search term found. The search term must be enclosed in braces.",
            )
        })?;
    let records = sosl::search(&ctx.org.store.lock(), q, &ctx.version)?;
    Ok(Reply::ok(
        Json::object().with("searchRecords", Json::Array(records)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_paths() {
        assert_eq!(parse_version("v66.0").as_deref(), Some("66.0"));
        assert_eq!(parse_version("v20.0").as_deref(), Some("20.0"));
        assert_eq!(parse_version("v19.0"), None);
        assert_eq!(parse_version("v66"), None);
        assert_eq!(parse_version("66.0"), None);
        assert_eq!(
            segments("/services/data/v66.0/sobjects/Lead/"),
            ["v66.0", "sobjects", "Lead"]
        );
        assert_eq!(percent_decode("a%40b.com%2"), "a@b.com%2");
        let text = versions().to_text();
        assert!(text.starts_with(
            r#"[{"label":"Winter '11","url":"/services/data/v20.0","version":"20.0"}"#
        ));
        assert!(
            text.contains(
                r#"{"label":"Winter '26","url":"/services/data/v65.0","version":"65.0"}"#
            )
        );
        assert!(
            text.ends_with(
                r#"{"label":"Spring '26","url":"/services/data/v66.0","version":"66.0"}]"#
            )
        );
    }
}
