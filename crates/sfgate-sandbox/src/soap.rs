//! The SOAP partner API (`POST /services/Soap/u/{version}`): `login` and
//! `convertLead`.
//!
//! Requests are read into a small element tree by local name (prefixes and
//! namespaces are ignored, as lenient SOAP stacks do).

use axum::response::Response;
use chrono::{Days, Utc};
use http::StatusCode;
use http::request::Parts;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::{Value, json};

use super::ids;
use super::oauth::GrantType;
use super::schema::{self, ObjectDef};
use super::seed;
use super::store::{self, Actor, Store};
use super::values;
use super::{Org, respond};

const ENVELOPE_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#;
const ENVELOPE_CLOSE: &str = "</soapenv:Envelope>";
const CONTENT_TYPE: &str = "text/xml;charset=UTF-8";
/// Deepest element nesting accepted in a request.
const MAX_DEPTH: usize = 64;

/// An XML element: local name, attributes by local name, text, children.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of a child; `None` when absent, empty or `xsi:nil`.
    fn value(&self, name: &str) -> Option<String> {
        let c = self.child(name)?;
        if c.attrs.iter().any(|(k, v)| k == "nil" && v == "true") {
            return None;
        }
        Some(c.text.trim().to_string()).filter(|t| !t.is_empty())
    }

    fn flag(&self, name: &str) -> bool {
        self.value(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn start_node(e: &BytesStart<'_>) -> Node {
    let attrs = e
        .attributes()
        .flatten()
        .map(|a| {
            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_default();
            (key, value)
        })
        .collect();
    Node {
        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        attrs,
        ..Node::default()
    }
}

/// Parses an XML document into its root element.
pub(crate) fn parse_xml(xml: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        match event {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err("document nested too deeply".into());
                }
                stack.push(start_node(&e));
            }
            Event::Empty(e) => {
                let node = start_node(&e);
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                stack
                    .last_mut()
                    .ok_or("unbalanced end tag")?
                    .children
                    .push(node);
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        match name.as_ref() {
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "amp" => "&".into(),
                            "apos" => "'".into(),
                            "quot" => "\"".into(),
                            other => return Err(format!("unknown entity &{other};")),
                        }
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("unexpected end of document".into());
    }
    stack
        .pop()
        .and_then(|doc| doc.children.into_iter().next())
        .ok_or_else(|| "empty document".into())
}

/// The request text with the content of every `password` element (any
/// namespace prefix), as in `login`, replaced by `<redacted>`.
pub(crate) fn redact_password(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let (before, from_open) = rest.split_at(open);
        out.push_str(before);
        let Some(close) = from_open.find('>') else {
            rest = from_open;
            break;
        };
        let (tag, after) = from_open.split_at(close + 1);
        out.push_str(tag);
        rest = after;
        let inner = tag.trim_start_matches('<').trim_end_matches('>');
        let name = inner
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let local = name.rsplit(':').next().unwrap_or_default();
        if local == "password" && !inner.ends_with('/') {
            let end = rest.find("</").unwrap_or(rest.len());
            if end > 0 {
                out.push_str("<redacted>");
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// A SOAP Fault response.
pub(crate) fn fault_response(status: StatusCode, code: &str, message: &str) -> Response {
    let (code, message) = (escape(code), escape(message));
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>{code}</faultcode><faultstring>{message}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
    );
    respond(status, CONTENT_TYPE, &body, &[])
}

fn client_fault(message: &str) -> Response {
    fault_response(StatusCode::INTERNAL_SERVER_ERROR, "soapenv:Client", message)
}

fn invalid_session() -> Response {
    fault_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "sf:INVALID_SESSION_ID",
        "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session",
    )
}

fn ok_envelope(org: &Org, body: &str) -> Response {
    let header = format!(
        "<soapenv:Header><LimitInfoHeader><limitInfo><current>{}</current><limit>{}</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header>",
        org.usage(),
        org.daily_limit
    );
    let xml = format!("{ENVELOPE_OPEN}{header}<soapenv:Body>{body}</soapenv:Body>{ENVELOPE_CLOSE}");
    respond(StatusCode::OK, CONTENT_TYPE, &xml, &[])
}

/// Serves `POST /services/Soap/u/{version}[/orgId]`.
pub(crate) fn handle(org: &Org, parts: &Parts, body: &str) -> Response {
    let path = parts.uri.path();
    let version = path
        .strip_prefix("/services/Soap/u/")
        .and_then(|rest| rest.split('/').next())
        .filter(|v| v.parse::<f64>().is_ok_and(|n| n >= 20.0));
    let Some(version) = version else {
        return respond(StatusCode::NOT_FOUND, "text/plain", "Not Found", &[]);
    };
    if parts.method != http::Method::POST {
        return client_fault("SOAP requests must use HTTP POST");
    }
    let envelope = match parse_xml(body) {
        Ok(e) if e.name == "Envelope" => e,
        Ok(_) => return client_fault("Expected a SOAP Envelope"),
        Err(e) => return client_fault(&format!("Unable to parse the SOAP request: {e}")),
    };
    let Some(operation) = envelope.child("Body").and_then(|b| b.children.first()) else {
        return client_fault("Missing SOAP Body or operation");
    };
    let session_id = envelope
        .child("Header")
        .and_then(|h| h.child("SessionHeader"))
        .and_then(|s| s.value("sessionId"));
    match operation.name.as_str() {
        "login" => login(org, operation, version),
        "convertLead" => {
            let Some(session) = session_id.and_then(|t| org.session_of_token(&t)) else {
                return invalid_session();
            };
            if !org.count_call() {
                return fault_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "sf:REQUEST_LIMIT_EXCEEDED",
                    "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
                );
            }
            convert_leads(org, operation, &session.user_id)
        }
        other => client_fault(&format!(
            "No operation available for request {{urn:partner.soap.sforce.com}}{other}"
        )),
    }
}

fn login(org: &Org, op: &Node, version: &str) -> Response {
    let username = op.value("username").unwrap_or_default();
    let password = op.value("password").unwrap_or_default();
    let Some(user_id) = org.login(&username, &password) else {
        return fault_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sf:INVALID_LOGIN",
            "INVALID_LOGIN: Invalid username, password, security token; or user locked out.",
        );
    };
    let (token, _) = org
        .sessions
        .lock()
        .issue(&org.org_id, &user_id, GrantType::SoapLogin);
    let store = org.store.lock();
    let user = store.live_by_id(&user_id);
    let text = |k: &str| escape(user.and_then(|u| u.text(k)).unwrap_or_default()).into_owned();
    let base = &org.base_url;
    let body = format!(
        "<loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}/{org_id}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox><serverUrl>{base}/services/Soap/u/{version}/{org_id}</serverUrl><sessionId>{token}</sessionId><userId>{user_id}</userId><userInfo><currencySymbol>$</currencySymbol><organizationId>{org_id}</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>{org_name}</organizationName><profileId xsi:nil=\"true\"/><userDefaultCurrencyIsoCode xsi:nil=\"true\"/><userEmail>{email}</userEmail><userFullName>{name}</userFullName><userId>{user_id}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>{username}</userName><userTimeZone>GMT</userTimeZone><userType>Standard</userType></userInfo></result></loginResponse>",
        org_id = org.org_id,
        org_name = escape(seed::ORG_NAME),
        email = text("Email"),
        name = text("Name"),
        username = text("Username"),
    );
    drop(store);
    ok_envelope(org, &body)
}

/// One `leadConverts` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeadConvert {
    pub(crate) account_id: Option<String>,
    pub(crate) contact_id: Option<String>,
    pub(crate) converted_status: Option<String>,
    pub(crate) do_not_create_opportunity: bool,
    pub(crate) lead_id: Option<String>,
    pub(crate) opportunity_name: Option<String>,
    pub(crate) overwrite_lead_source: bool,
    pub(crate) owner_id: Option<String>,
}

impl LeadConvert {
    fn from_node(n: &Node) -> Self {
        Self {
            account_id: n.value("accountId"),
            contact_id: n.value("contactId"),
            converted_status: n.value("convertedStatus"),
            do_not_create_opportunity: n.flag("doNotCreateOpportunity"),
            lead_id: n.value("leadId"),
            opportunity_name: n.value("opportunityName"),
            overwrite_lead_source: n.flag("overwriteLeadSource"),
            owner_id: n.value("ownerId"),
        }
    }
}

/// The ids a successful conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Converted {
    pub(crate) account_id: String,
    pub(crate) contact_id: String,
    pub(crate) opportunity_id: Option<String>,
}

/// A per-lead failure: status code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvertError {
    pub(crate) code: String,
    pub(crate) message: String,
}

fn fail(code: &str, message: impl Into<String>) -> ConvertError {
    ConvertError {
        code: code.into(),
        message: message.into(),
    }
}

fn convert_leads(org: &Org, op: &Node, user_id: &str) -> Response {
    let requests: Vec<LeadConvert> = op
        .children_named("leadConverts")
        .map(LeadConvert::from_node)
        .collect();
    if requests.is_empty() {
        return client_fault("convertLead requires at least one leadConverts element");
    }
    let mut results = String::new();
    for req in &requests {
        let outcome = {
            let mut store = org.store.lock();
            convert(&mut store, req, user_id)
        };
        results.push_str(&result_xml(req, &outcome));
    }
    ok_envelope(
        org,
        &format!("<convertLeadResponse>{results}</convertLeadResponse>"),
    )
}

fn id_xml(tag: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("<{tag}>{}</{tag}>", escape(id)),
        None => format!("<{tag} xsi:nil=\"true\"/>"),
    }
}

fn result_xml(req: &LeadConvert, outcome: &Result<Converted, ConvertError>) -> String {
    let lead = id_xml("leadId", req.lead_id.as_deref());
    match outcome {
        Ok(c) => format!(
            "<result>{}{}{lead}{}<success>true</success></result>",
            id_xml("accountId", Some(&c.account_id)),
            id_xml("contactId", Some(&c.contact_id)),
            id_xml("opportunityId", c.opportunity_id.as_deref()),
        ),
        Err(e) => format!(
            "<result>{}{}<errors><message>{}</message><statusCode>{}</statusCode></errors>{lead}{}<success>false</success></result>",
            id_xml("accountId", None),
            id_xml("contactId", None),
            escape(&e.message),
            escape(&e.code),
            id_xml("opportunityId", None),
        ),
    }
}

/// Resolves an id of `obj` given in a convert request.
fn lookup(store: &Store, obj: &ObjectDef, raw: &str, what: &str) -> Result<String, ConvertError> {
    let id = ids::parse(raw).map_err(|_| {
        fail(
            "MALFORMED_ID",
            format!("{}: id value of incorrect type: {raw}", obj.id_label()),
        )
    })?;
    if ids::prefix(&id) != obj.key_prefix {
        return Err(fail(
            "INVALID_CROSS_REFERENCE_KEY",
            format!("invalid cross reference id: {what} {raw}"),
        ));
    }
    match store.by_id(&id) {
        Some(r) if !r.is_deleted() => Ok(id),
        _ => Err(fail(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        )),
    }
}

fn obj(name: &str) -> Result<&'static ObjectDef, ConvertError> {
    schema::object(name).ok_or_else(|| fail("UNKNOWN_EXCEPTION", format!("no object {name}")))
}

/// Converts one lead; all or nothing.
pub(crate) fn convert(
    store: &mut Store,
    req: &LeadConvert,
    user_id: &str,
) -> Result<Converted, ConvertError> {
    let lead_obj = obj("Lead")?;
    let raw_lead = req.lead_id.as_deref().ok_or_else(|| {
        fail(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [leadId]",
        )
    })?;
    let lead_id = lookup(store, lead_obj, raw_lead, "leadId")?;
    let lead = store
        .live_by_id(&lead_id)
        .cloned()
        .ok_or_else(|| fail("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))?;
    if lead.get("IsConverted") == &Value::Bool(true) {
        return Err(fail(
            "CANNOT_UPDATE_CONVERTED_LEAD",
            "cannot reference converted lead",
        ));
    }
    let status = req.converted_status.clone().unwrap_or_default();
    let status_ok = store.live(obj("LeadStatus")?).any(|s| {
        s.text("MasterLabel") == Some(status.as_str()) && s.get("IsConverted") == &Value::Bool(true)
    });
    if !status_ok {
        return Err(fail(
            "INVALID_STATUS",
            format!("invalid convertedStatus: {status}"),
        ));
    }
    let account_id = req
        .account_id
        .as_deref()
        .map(|a| lookup(store, obj("Account")?, a, "accountId"))
        .transpose()?;
    let contact_id = req
        .contact_id
        .as_deref()
        .map(|c| lookup(store, obj("Contact")?, c, "contactId"))
        .transpose()?;
    let owner = match req.owner_id.as_deref() {
        Some(o) => lookup(store, obj("User")?, o, "ownerId")?,
        None => lead
            .text("OwnerId")
            .map_or_else(|| user_id.to_string(), str::to_string),
    };

    let plan = Plan {
        req,
        lead,
        status,
        account_id,
        contact_id,
        owner,
    };
    let snapshot = store.clone();
    let result = plan.apply(store, user_id);
    if result.is_err() {
        *store = snapshot;
    }
    result
}

/// A validated conversion, ready to write.
struct Plan<'r> {
    req: &'r LeadConvert,
    lead: store::Record,
    status: String,
    account_id: Option<String>,
    contact_id: Option<String>,
    owner: String,
}

impl Plan<'_> {
    /// Creates the account, contact and opportunity as needed and marks the lead.
    fn apply(self, store: &mut Store, user_id: &str) -> Result<Converted, ConvertError> {
        let Self {
            req,
            lead,
            status,
            account_id,
            contact_id,
            owner,
        } = self;
        let (lead, owner) = (&lead, owner.as_str());
        let actor = Actor::system(user_id);
        let get = |k: &str| lead.get(k).clone();
        let to_err = |e: super::error::ApiError| {
            let item = e.items.into_iter().next();
            fail(
                item.as_ref()
                    .map_or("UNKNOWN_EXCEPTION", |i| i.error_code.as_str()),
                item.as_ref().map_or(String::new(), |i| i.message.clone()),
            )
        };
        let contact_account = contact_id
            .as_deref()
            .and_then(|c| store.live_by_id(c))
            .and_then(|c| c.text("AccountId").map(str::to_string));
        let account_id = match account_id.or(contact_account) {
            Some(a) => a,
            None => {
                let account = obj("Account")?;
                let input = store::system_input(
                    account,
                    &[
                        ("Name", get("Company")),
                        ("Phone", get("Phone")),
                        ("Website", get("Website")),
                        ("Industry", get("Industry")),
                        ("OwnerId", json!(owner)),
                    ],
                );
                store.create(account, input, actor).map_err(to_err)?
            }
        };
        let contact_obj = obj("Contact")?;
        let contact_id = match contact_id {
            Some(c) => {
                if req.overwrite_lead_source && !get("LeadSource").is_null() {
                    let input =
                        store::system_input(contact_obj, &[("LeadSource", get("LeadSource"))]);
                    store
                        .update(contact_obj, &c, input, actor)
                        .map_err(to_err)?;
                }
                c
            }
            None => {
                let pairs: Vec<(&str, Value)> = [
                    "FirstName",
                    "LastName",
                    "Email",
                    "Phone",
                    "MobilePhone",
                    "Title",
                    "LeadSource",
                    "Description",
                ]
                .iter()
                .map(|k| (*k, get(k)))
                .chain([("AccountId", json!(account_id)), ("OwnerId", json!(owner))])
                .collect();
                let input = store::system_input(contact_obj, &pairs);
                store.create(contact_obj, input, actor).map_err(to_err)?
            }
        };
        let opportunity_id = if req.do_not_create_opportunity {
            None
        } else {
            let opp = obj("Opportunity")?;
            let company = lead.text("Company").unwrap_or_default();
            let name = req
                .opportunity_name
                .clone()
                .unwrap_or_else(|| format!("{company}-"));
            let close = Utc::now()
                .date_naive()
                .checked_add_days(Days::new(30))
                .map(values::format_date);
            let input = store::system_input(
                opp,
                &[
                    ("Name", json!(name)),
                    ("StageName", json!("Prospecting")),
                    ("CloseDate", json!(close)),
                    ("AccountId", json!(account_id)),
                    ("LeadSource", get("LeadSource")),
                    ("OwnerId", json!(owner)),
                ],
            );
            Some(store.create(opp, input, actor).map_err(to_err)?)
        };
        let lead_obj = obj("Lead")?;
        let input = store::system_input(
            lead_obj,
            &[
                ("IsConverted", json!(true)),
                ("Status", json!(status)),
                ("ConvertedAccountId", json!(account_id)),
                ("ConvertedContactId", json!(contact_id)),
                ("ConvertedOpportunityId", json!(opportunity_id)),
                (
                    "ConvertedDate",
                    json!(values::format_date(Utc::now().date_naive())),
                ),
            ],
        );
        store
            .update(lead_obj, &lead.id, input, actor)
            .map_err(to_err)?;
        Ok(Converted {
            account_id,
            contact_id,
            opportunity_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixed_and_plain_xml() {
        let xml = r#"<?xml version="1.0"?><se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Body><m:convertLead xmlns:m="urn:partner.soap.sforce.com"><m:leadConverts><m:leadId>00Q&amp;1</m:leadId><m:accountId xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><m:doNotCreateOpportunity>true</m:doNotCreateOpportunity><m:opportunityName>A &lt;b&gt; &#233;</m:opportunityName></m:leadConverts></m:convertLead></se:Body></se:Envelope>"#;
        let env = parse_xml(xml).expect("xml");
        assert_eq!(env.name, "Envelope");
        let op = &env.child("Body").expect("body").children[0];
        assert_eq!(op.name, "convertLead");
        let lc = LeadConvert::from_node(op.child("leadConverts").expect("lc"));
        assert_eq!(lc.lead_id.as_deref(), Some("00Q&1"));
        assert_eq!(lc.account_id, None);
        assert!(lc.do_not_create_opportunity);
        assert_eq!(lc.opportunity_name.as_deref(), Some("A <b> é"));
        assert!(parse_xml("<a><b></a>").is_err());
        assert!(parse_xml("").is_err());
    }

    #[test]
    fn password_redaction() {
        assert_eq!(
            redact_password(
                r#"<e:Body><n1:login xmlns:n1="urn:p"><n1:username>u</n1:username><n1:password>p&lt;1</n1:password></n1:login></e:Body>"#
            ),
            r#"<e:Body><n1:login xmlns:n1="urn:p"><n1:username>u</n1:username><n1:password><redacted></n1:password></n1:login></e:Body>"#
        );
        assert_eq!(
            redact_password("<password a='1'>x</password><password/><password></password>"),
            "<password a='1'><redacted></password><password/><password></password>"
        );
        for odd in [
            "",
            "<",
            "<password>",
            "<password>open",
            "a > b <c",
            "é<password>é",
        ] {
            let redacted = redact_password(odd);
            assert!(!redacted.contains("open"), "{odd}");
            assert!(redacted.len() <= odd.len() + 10, "{odd}");
        }
        assert_eq!(redact_password("<password>open"), "<password><redacted>");
    }
}
