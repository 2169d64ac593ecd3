//! The in-memory records of the org: id generation, validation, business rules.
//!
//! Writes go through three steps: [`parse_body`] turns a JSON request body into an
//! [`Input`] (unknown fields, JSON types, read-only fields), then [`Store::create`] or
//! [`Store::update`] checks values, fills system and derived fields, and enforces
//! required fields, validation rules, unique fields and duplicate rules.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::ids::{self, IdError};
use super::schema::{self, FieldDef, FieldType, ObjectDef};
use super::values::{self, Json};

/// Field values by API name; every field of the object is present (null when empty).
pub(crate) type Fields = BTreeMap<String, Value>;

/// Field values to write, already converted to their stored form.
pub(crate) type Input = Vec<(&'static FieldDef, Value)>;

/// The first sequence number ids are issued from (mixed-case ids from the start).
const FIRST_ID: u64 = 2_100_000_000;
/// The first CaseNumber.
const FIRST_CASE_NUMBER: u64 = 1001;

static NULL: Value = Value::Null;

/// One record, live or deleted (deleted records keep `IsDeleted = true`).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) object: &'static ObjectDef,
    pub(crate) fields: Fields,
}

impl Record {
    /// A field's value, null when unset.
    pub(crate) fn get(&self, name: &str) -> &Value {
        self.fields.get(name).unwrap_or(&NULL)
    }

    /// A text field's value.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).as_str()
    }

    /// Whether the record is in the recycle bin.
    pub(crate) fn is_deleted(&self) -> bool {
        self.get("IsDeleted") == &Value::Bool(true)
    }
}

/// Who writes, and when. `system` writes (seed data, lead conversion) may touch
/// read-only records such as converted leads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actor<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) now: DateTime<Utc>,
    pub(crate) system: bool,
}

impl<'a> Actor<'a> {
    /// An API user writing now.
    pub(crate) fn api(user_id: &'a str) -> Self {
        Self {
            user_id,
            now: Utc::now(),
            system: false,
        }
    }

    /// The org itself writing now.
    pub(crate) fn system(user_id: &'a str) -> Self {
        Self {
            system: true,
            ..Self::api(user_id)
        }
    }
}

/// All records of the org.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    tables: HashMap<&'static str, BTreeMap<String, Record>>,
    next_id: u64,
    next_case_number: u64,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty org.
    pub(crate) fn new() -> Self {
        Self {
            tables: HashMap::new(),
            next_id: FIRST_ID,
            next_case_number: FIRST_CASE_NUMBER,
        }
    }

    /// Issues a fresh 18-char id for `obj`.
    pub(crate) fn new_id(&mut self, obj: &ObjectDef) -> String {
        let id = ids::make(obj.key_prefix, self.next_id);
        self.next_id += 1;
        id
    }

    /// Every record of `obj` (including deleted ones) in id order.
    pub(crate) fn rows(&self, obj: &ObjectDef) -> impl Iterator<Item = &Record> {
        self.tables
            .get(obj.name)
            .into_iter()
            .flat_map(|t| t.values())
    }

    /// Live records of `obj`.
    pub(crate) fn live(&self, obj: &ObjectDef) -> impl Iterator<Item = &Record> {
        self.rows(obj).filter(|r| !r.is_deleted())
    }

    /// A record by canonical 18-char id, of any object, live or deleted.
    pub(crate) fn by_id(&self, id: &str) -> Option<&Record> {
        let obj = schema::object_by_prefix(ids::prefix(id))?;
        self.tables.get(obj.name)?.get(id)
    }

    /// A live record by canonical id.
    pub(crate) fn live_by_id(&self, id: &str) -> Option<&Record> {
        self.by_id(id).filter(|r| !r.is_deleted())
    }

    /// The record behind a URL id: 404 NOT_FOUND when missing, ENTITY_IS_DELETED
    /// when deleted and `deleted_is_error`, NOT_FOUND otherwise.
    pub(crate) fn fetch(
        &self,
        obj: &ObjectDef,
        id: &str,
        deleted_is_error: bool,
    ) -> ApiResult<&Record> {
        let rec = self
            .tables
            .get(obj.name)
            .and_then(|t| t.get(id))
            .ok_or_else(ApiError::not_found)?;
        if rec.is_deleted() {
            return Err(if deleted_is_error {
                ApiError::new(404, "ENTITY_IS_DELETED", "entity is deleted")
            } else {
                ApiError::not_found()
            });
        }
        Ok(rec)
    }

    /// Ids of live records whose `field` equals `value` (text case-insensitively).
    pub(crate) fn find_by(&self, obj: &ObjectDef, field: &FieldDef, value: &str) -> Vec<String> {
        self.live(obj)
            .filter(|r| same_value(field, r.get(field.name), value))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Creates a record and returns its id.
    pub(crate) fn create(
        &mut self,
        obj: &'static ObjectDef,
        input: Input,
        actor: Actor<'_>,
    ) -> ApiResult<String> {
        let input = self.check_values(obj, &input)?;
        let mut fields = blank(obj);
        let now = Value::String(values::format_datetime(actor.now));
        let user = Value::String(actor.user_id.to_string());
        for name in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            fields.insert(name.into(), now.clone());
        }
        fields.insert("CreatedById".into(), user.clone());
        fields.insert("LastModifiedById".into(), user.clone());
        for (f, v) in &input {
            fields.insert(f.name.to_string(), v.clone());
        }
        if obj.has_owner && fields.get("OwnerId").is_none_or(Value::is_null) {
            fields.insert("OwnerId".into(), user);
        }
        if obj.name == "Case" {
            let number = format!("{:08}", self.next_case_number);
            fields.insert("CaseNumber".into(), Value::String(number));
        }
        derive(obj, &mut fields, None, &input, actor.now);
        self.check_record(obj, &fields, None)?;
        let id = self.new_id(obj);
        fields.insert("Id".into(), Value::String(id.clone()));
        if obj.name == "Case" {
            self.next_case_number += 1;
        }
        self.insert(Record {
            id: id.clone(),
            object: obj,
            fields,
        });
        Ok(id)
    }

    /// Updates a live record.
    pub(crate) fn update(
        &mut self,
        obj: &'static ObjectDef,
        id: &str,
        input: Input,
        actor: Actor<'_>,
    ) -> ApiResult<()> {
        let old = self.fetch(obj, id, true)?.fields.clone();
        if !actor.system && obj.name == "Lead" && old.get("IsConverted") == Some(&Value::Bool(true))
        {
            return Err(ApiError::dml(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
                &[] as &[&str],
            ));
        }
        let input = self.check_values(obj, &input)?;
        let mut fields = old.clone();
        for (f, v) in &input {
            fields.insert(f.name.to_string(), v.clone());
        }
        let now = Value::String(values::format_datetime(actor.now));
        fields.insert("LastModifiedDate".into(), now.clone());
        fields.insert("SystemModstamp".into(), now);
        fields.insert(
            "LastModifiedById".into(),
            Value::String(actor.user_id.to_string()),
        );
        derive(obj, &mut fields, Some(&old), &input, actor.now);
        self.check_record(obj, &fields, Some(id))?;
        if let Some(rec) = self.tables.get_mut(obj.name).and_then(|t| t.get_mut(id)) {
            rec.fields = fields;
        }
        Ok(())
    }

    /// Moves a live record to the recycle bin.
    pub(crate) fn delete(&mut self, obj: &ObjectDef, id: &str, actor: Actor<'_>) -> ApiResult<()> {
        self.fetch(obj, id, true)?;
        if let Some(rec) = self.tables.get_mut(obj.name).and_then(|t| t.get_mut(id)) {
            let now = Value::String(values::format_datetime(actor.now));
            rec.fields.insert("IsDeleted".into(), Value::Bool(true));
            rec.fields.insert("SystemModstamp".into(), now);
        }
        Ok(())
    }

    fn insert(&mut self, rec: Record) {
        self.tables
            .entry(rec.object.name)
            .or_default()
            .insert(rec.id.clone(), rec);
    }

    /// Per-value checks: lengths, email syntax, restricted picklists, references.
    /// Returns the input with references in their canonical 18-char form.
    fn check_values(&self, obj: &ObjectDef, input: &Input) -> ApiResult<Input> {
        input
            .iter()
            .map(|(f, v)| Ok((*f, self.check_value(obj, f, v)?)))
            .collect()
    }

    fn check_value(&self, obj: &ObjectDef, f: &'static FieldDef, v: &Value) -> ApiResult<Value> {
        let Some(s) = v.as_str() else {
            return Ok(v.clone());
        };
        if f.ty.is_text() && f.length > 0 && s.chars().count() > f.length as usize {
            return Err(ApiError::dml(
                "STRING_TOO_LONG",
                format!(
                    "{}: data value too large: {s} (max length={})",
                    f.label, f.length
                ),
                &[f.name],
            ));
        }
        if f.ty == FieldType::Email && !is_email(s) {
            return Err(ApiError::dml(
                "INVALID_EMAIL_ADDRESS",
                format!("{}: invalid email address: {s}", f.label),
                &[f.name],
            ));
        }
        if f.restricted && !f.picklist.contains(&s) {
            return Err(ApiError::dml(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                format!("{}: bad value for restricted picklist field: {s}", f.label),
                &[f.name],
            ));
        }
        if f.ty == FieldType::Reference {
            return self.check_reference(obj, f, s).map(Value::String);
        }
        Ok(v.clone())
    }

    /// A reference must name a live record of one of the field's targets; a
    /// target scoped to one object (a RecordType) must be scoped to `obj`.
    fn check_reference(&self, obj: &ObjectDef, f: &FieldDef, s: &str) -> ApiResult<String> {
        let id = ids::parse(s).map_err(|IdError::Malformed| {
            ApiError::dml(
                "MALFORMED_ID",
                format!("{}: id value of incorrect type: {s}", f.label),
                &[f.name],
            )
        })?;
        let target_ok = self.live_by_id(&id).is_some_and(|r| {
            f.reference_to.contains(&r.object.name)
                && r.object
                    .scope_field
                    .is_none_or(|scope| r.text(scope) == Some(obj.name))
        });
        if !target_ok {
            return Err(ApiError::dml(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &[f.name],
            ));
        }
        Ok(id)
    }

    /// Whole-record checks, in Salesforce's order of save.
    fn check_record(
        &self,
        obj: &ObjectDef,
        fields: &Fields,
        own_id: Option<&str>,
    ) -> ApiResult<()> {
        check_required(obj, fields)?;
        check_validation_rules(obj, fields)?;
        self.check_unique(obj, fields, own_id)?;
        self.check_duplicate_rules(obj, fields, own_id)
    }

    fn check_unique(
        &self,
        obj: &ObjectDef,
        fields: &Fields,
        own_id: Option<&str>,
    ) -> ApiResult<()> {
        for f in obj.fields().filter(|f| f.unique) {
            let Some(value) = fields.get(f.name).and_then(Value::as_str) else {
                continue;
            };
            let clash = self
                .find_by(obj, f, value)
                .into_iter()
                .find(|id| Some(id.as_str()) != own_id);
            if let Some(other) = clash {
                return Err(ApiError::dml(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {} duplicates value on record with id: {other}",
                        f.name
                    ),
                    &[] as &[&str],
                ));
            }
        }
        Ok(())
    }

    /// The org's one active blocking duplicate rule: Leads match on Email.
    fn check_duplicate_rules(
        &self,
        obj: &ObjectDef,
        fields: &Fields,
        own_id: Option<&str>,
    ) -> ApiResult<()> {
        if obj.name != "Lead" {
            return Ok(());
        }
        let Some(email) = fields.get("Email").and_then(Value::as_str) else {
            return Ok(());
        };
        let matches: Vec<&Record> = self
            .live(obj)
            .filter(|r| Some(r.id.as_str()) != own_id)
            .filter(|r| r.get("IsConverted") != &Value::Bool(true))
            .filter(|r| {
                r.text("Email")
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .collect();
        if matches.is_empty() {
            return Ok(());
        }
        Err(duplicates_detected(obj, &matches))
    }
}

/// Whether a stored value equals a text value as external ids compare.
fn same_value(field: &FieldDef, stored: &Value, value: &str) -> bool {
    match stored {
        Value::String(s) if field.ty.is_id() => ids::parse(value).is_ok_and(|v| &v == s),
        Value::String(s) => s.eq_ignore_ascii_case(value),
        Value::Null => false,
        other => values::as_text(other).is_some_and(|t| t == value),
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// A new record: every field null, defaults applied.
fn blank(obj: &ObjectDef) -> Fields {
    obj.fields()
        .map(|f| {
            let v = match (f.default, f.ty) {
                (Some(d), FieldType::Boolean) => Value::Bool(d == "true"),
                (Some(d), _) => Value::String(d.into()),
                (None, _) => Value::Null,
            };
            (f.name.to_string(), v)
        })
        .collect()
}

/// Fills formula-like fields from the others.
fn derive(
    obj: &ObjectDef,
    fields: &mut Fields,
    old: Option<&Fields>,
    input: &Input,
    now: DateTime<Utc>,
) {
    for f in obj.fields().filter(|f| f.ty == FieldType::Boolean) {
        if fields.get(f.name).is_none_or(Value::is_null) {
            fields.insert(f.name.into(), Value::Bool(false));
        }
    }
    derive_compounds(obj, fields);
    if obj.field("FirstName").is_some() && obj.field("Name").is_some_and(|f| f.system) {
        let name = [fields.get("FirstName"), fields.get("LastName")]
            .into_iter()
            .filter_map(|v| v.and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        fields.insert("Name".into(), Value::String(name));
    }
    let text =
        |fields: &Fields, name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
    match obj.name {
        "Case" => {
            let closed = text(fields, "Status").as_deref() == Some("Closed");
            fields.insert("IsClosed".into(), Value::Bool(closed));
            let closed_date = match (closed, fields.get("ClosedDate")) {
                (false, _) => Value::Null,
                (true, Some(Value::String(d))) => Value::String(d.clone()),
                (true, _) => Value::String(values::format_datetime(now)),
            };
            fields.insert("ClosedDate".into(), closed_date);
        }
        "Opportunity" => {
            let stage = text(fields, "StageName");
            let stage = stage.as_deref();
            let closed = matches!(stage, Some("Closed Won" | "Closed Lost"));
            fields.insert("IsClosed".into(), Value::Bool(closed));
            fields.insert("IsWon".into(), Value::Bool(stage == Some("Closed Won")));
            let stage_changed = old.is_none_or(|o| text(o, "StageName").as_deref() != stage);
            let explicit = input.iter().any(|(f, _)| f.name == "Probability");
            if stage_changed && !explicit {
                let p = schema::STAGES.iter().find(|(s, _)| Some(*s) == stage);
                if let Some(n) = p.and_then(|(_, p)| serde_json::Number::from_f64(*p)) {
                    fields.insert("Probability".into(), Value::Number(n));
                }
            }
        }
        _ => {}
    }
}

fn check_required(obj: &ObjectDef, fields: &Fields) -> ApiResult<()> {
    let missing: Vec<&str> = obj
        .fields()
        .filter(|f| f.required && !f.system)
        .filter(|f| fields.get(f.name).is_none_or(Value::is_null))
        .map(|f| f.name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ApiError::dml(
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{}]", missing.join(", ")),
        &missing,
    ))
}

/// A validation rule: when `violated` holds, the save fails on `field`.
struct ValidationRule {
    object: &'static str,
    field: &'static str,
    message: &'static str,
    violated: fn(&Fields) -> bool,
}

static VALIDATION_RULES: &[ValidationRule] = &[
    ValidationRule {
        object: "Opportunity",
        field: "Amount",
        message: "Amount must not be negative",
        violated: |f| {
            f.get("Amount")
                .and_then(Value::as_f64)
                .is_some_and(|a| a < 0.0)
        },
    },
    ValidationRule {
        object: "Campaign",
        field: "EndDate",
        message: "End Date must not be before Start Date",
        violated: |f| {
            let start = f.get("StartDate").and_then(Value::as_str);
            let end = f.get("EndDate").and_then(Value::as_str);
            matches!((start, end), (Some(s), Some(e)) if e < s)
        },
    },
];

fn check_validation_rules(obj: &ObjectDef, fields: &Fields) -> ApiResult<()> {
    match VALIDATION_RULES
        .iter()
        .find(|r| r.object == obj.name && (r.violated)(fields))
    {
        Some(rule) => Err(ApiError::dml(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            rule.message,
            &[rule.field],
        )),
        None => Ok(()),
    }
}

/// The DUPLICATES_DETECTED error with its `duplicateResult`.
fn duplicates_detected(obj: &ObjectDef, matches: &[&Record]) -> ApiError {
    const MESSAGE: &str = "Use one of these records?";
    let match_records = matches
        .iter()
        .map(|r| {
            Json::object()
                .with("additionalInformation", Json::Array(Vec::new()))
                .with("fieldDiffs", Json::Array(Vec::new()))
                .with("matchConfidence", Value::from(100.0))
                .with("record", record_ref(obj, &r.id, super::LATEST_VERSION))
        })
        .collect::<Vec<_>>();
    let match_result = Json::object()
        .with("entityType", obj.name)
        .with("errorMessage", Value::Null)
        .with("matchEngine", "ExactMatchEngine")
        .with("matchRecords", Json::Array(match_records))
        .with("rule", "Standard_Lead_Match_Rule_v1_0")
        .with("size", matches.len())
        .with("success", true);
    let result = Json::object()
        .with("allowSave", false)
        .with(
            "duplicateRule",
            "Standard_Rule_for_Leads_with_Duplicate_Leads",
        )
        .with("duplicateRuleEntityType", obj.name)
        .with("errorMessage", MESSAGE)
        .with("matchResults", Json::Array(vec![match_result]));
    ApiError::dml("DUPLICATES_DETECTED", MESSAGE, &[] as &[&str])
        .with_extra("duplicateResult", result)
}

/// The `attributes` object of a record.
pub(crate) fn attributes(obj: &ObjectDef, id: &str, version: &str) -> Json {
    Json::object().with("type", obj.name).with(
        "url",
        format!("/services/data/v{version}/sobjects/{}/{id}", obj.name),
    )
}

/// `{"attributes":{..},"Id":".."}`.
fn record_ref(obj: &ObjectDef, id: &str, version: &str) -> Json {
    Json::object()
        .with("attributes", attributes(obj, id, version))
        .with("Id", id)
}

/// A record as the REST API returns it: attributes, then the fields asked for
/// (all of them in describe order when `only` is `None`).
pub(crate) fn render(rec: &Record, only: Option<&[&FieldDef]>, version: &str) -> Json {
    let mut j = Json::object().with("attributes", attributes(rec.object, &rec.id, version));
    match only {
        Some(list) => {
            j.set("Id", rec.id.as_str());
            for f in list {
                j.set(f.name, rec.get(f.name).clone());
            }
        }
        None => {
            for f in rec.object.fields() {
                j.set(f.name, field_json(rec, f, version));
            }
        }
    }
    j
}

/// A field's value as a record read shows it: a base64 field is the URL of its blob (as
/// Salesforce answers, `/services/data/vXX.X/sobjects/{Object}/{id}/{Field}`), any other its value.
pub(crate) fn field_json(rec: &Record, f: &FieldDef, version: &str) -> Value {
    let value = rec.get(f.name);
    if f.ty == FieldType::Base64 && !value.is_null() {
        return Value::String(format!(
            "/services/data/v{version}/sobjects/{}/{}/{}",
            rec.object.name, rec.id, f.name
        ));
    }
    value.clone()
}

/// The compound fields of `obj` (addresses, geolocations) from their parts, as Salesforce reads
/// them: `null` while every part is.
fn derive_compounds(obj: &ObjectDef, fields: &mut Fields) {
    for compound in obj.fields().filter(|f| f.ty.is_compound()) {
        let mut parts = serde_json::Map::new();
        let mut any = false;
        for part in obj.fields().filter(|f| f.compound == Some(compound.name)) {
            let value = fields.get(part.name).cloned().unwrap_or(Value::Null);
            any |= !value.is_null();
            parts.insert(compound_key(part.name, compound.name), value);
        }
        if compound.ty == FieldType::Address {
            for extra in ["geocodeAccuracy", "latitude", "longitude"] {
                parts.entry(extra).or_insert(Value::Null);
            }
        }
        let value = if any {
            Value::Object(parts)
        } else {
            Value::Null
        };
        fields.insert(compound.name.to_string(), value);
    }
}

/// The key of a part in its compound's JSON: `BillingPostalCode` of `BillingAddress` is
/// `postalCode`, `Site__Latitude__s` of `Site__c` is `latitude`.
fn compound_key(part: &str, compound: &str) -> String {
    let stem = part.trim_end_matches("__c").trim_end_matches("__s");
    let prefix = compound
        .trim_end_matches("__c")
        .trim_end_matches("Address")
        .trim_end_matches('_');
    let stem = stem
        .strip_prefix(prefix)
        .filter(|_| !prefix.is_empty())
        .unwrap_or(stem)
        .trim_start_matches('_');
    let joined: String = stem.split('_').collect();
    let mut letters = joined.chars();
    letters
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + letters.as_str())
        .unwrap_or_default()
}

/// Parses a REST request body into an [`Input`] for `obj`.
///
/// Reports, like Salesforce: malformed JSON and wrong JSON types as
/// JSON_PARSER_ERROR, unknown fields as INVALID_FIELD, read-only fields as
/// INVALID_FIELD_FOR_INSERT_UPDATE. Parent references by external id
/// (`"Account": {"External_Id__c": "X"}`) are resolved against `store`.
pub(crate) fn parse_body(
    store: &Store,
    obj: &'static ObjectDef,
    raw: &str,
    create: bool,
) -> ApiResult<Input> {
    let map = parse_object(obj, raw)?;
    let mut input = Input::new();
    let mut read_only = Vec::new();
    for (key, value) in &map {
        if key == "attributes" || (!create && key.eq_ignore_ascii_case("Id")) {
            continue;
        }
        let (field, value) = match obj.field(key) {
            Some(f) => {
                let v = values::coerce(f, value).map_err(|m| {
                    let (line, col) = values::position_of_value(raw, key);
                    ApiError::parser(format!(
                        "Cannot deserialize instance of {} from {} value {} or request may be missing a required field at [line:{line}, column:{col}]",
                        m.target, m.token, m.shown
                    ))
                })?;
                (f, v)
            }
            None => match obj.relationship(key).filter(|_| value.is_object()) {
                Some(f) => (f, resolve_parent_ref(store, f, value)?),
                None => {
                    return Err(ApiError::dml(
                        "INVALID_FIELD",
                        format!("No such column '{key}' on sobject of type {}", obj.name),
                        &[key],
                    ));
                }
            },
        };
        if !field.writable(create) {
            read_only.push(field.name);
        }
        input.push((field, value));
    }
    if !read_only.is_empty() {
        return Err(ApiError::dml(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                read_only.join(", ")
            ),
            &read_only,
        ));
    }
    Ok(input)
}

/// Parses the body as a JSON object.
pub(crate) fn parse_object(obj: &ObjectDef, raw: &str) -> ApiResult<Map<String, Value>> {
    let value: Value = serde_json::from_str(raw).map_err(|e| {
        let text = e.to_string();
        let text = text.split(" at line ").next().unwrap_or_default();
        ApiError::parser(format!(
            "{text} at [line:{}, column:{}]",
            e.line(),
            e.column()
        ))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => {
            let token = match other {
                Value::Array(_) => "START_ARRAY value [",
                Value::String(_) => "VALUE_STRING",
                _ => "scalar value",
            };
            Err(ApiError::parser(format!(
                "Cannot deserialize instance of {} from {token} or request may be missing a required field at [line:1, column:1]",
                obj.name
            )))
        }
    }
}

/// Resolves `"Account": {"External_Id__c": "X"}` to the parent's id.
fn resolve_parent_ref(store: &Store, f: &'static FieldDef, value: &Value) -> ApiResult<Value> {
    let target = f.target().ok_or_else(ApiError::not_found)?;
    let invalid = |msg: String| ApiError::dml("INVALID_FIELD", msg, &[] as &[&str]);
    let Some((key, v)) = value
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() != "attributes"))
    else {
        return Err(invalid(format!(
            "The relationship {} requires an external id field",
            f.relationship.unwrap_or(f.name)
        )));
    };
    let ext = target
        .field(key)
        .filter(|e| e.external_id || e.name == "Id")
        .ok_or_else(|| {
            invalid(format!(
                "Provided external ID field does not exist or is not accessible: {key}"
            ))
        })?;
    let text = values::as_text(v).unwrap_or_default();
    let found = store.find_by(target, ext, &text);
    match found.as_slice() {
        [one] => Ok(Value::String(one.clone())),
        [] => Err(invalid(format!(
            "Foreign key external ID: {text} not found for field {} in entity {}",
            ext.name, target.name
        ))),
        _ => Err(invalid(format!(
            "Foreign key external ID: {text} matched multiple records for field {} in entity {}",
            ext.name, target.name
        ))),
    }
}

/// Builds an [`Input`] from `(field, json)` pairs without access checks (seed
/// data, lead conversion). Unknown fields and wrong types are programming errors
/// and are skipped.
pub(crate) fn system_input(obj: &ObjectDef, pairs: &[(&str, Value)]) -> Input {
    pairs
        .iter()
        .filter_map(|(name, v)| {
            let f = obj.field(name)?;
            Some((f, values::coerce(f, v).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "0055g0000000001AAA";

    fn obj(name: &str) -> &'static ObjectDef {
        schema::object(name).expect("object")
    }

    fn create(store: &mut Store, name: &str, body: Value) -> ApiResult<String> {
        let o = obj(name);
        let input = parse_body(store, o, &body.to_string(), true)?;
        store.create(o, input, Actor::api(USER))
    }

    #[test]
    fn create_fills_defaults_and_system_fields() {
        let mut s = Store::new();
        let id = create(
            &mut s,
            "Lead",
            json!({"LastName": "Doe", "Company": "Acme"}),
        )
        .expect("lead");
        let rec = s.live_by_id(&id).expect("rec");
        assert_eq!(rec.text("Status"), Some("Open - Not Contacted"));
        assert_eq!(rec.text("OwnerId"), Some(USER));
        assert_eq!(rec.text("Name"), Some("Doe"));
        assert_eq!(rec.get("IsConverted"), &json!(false));
        assert!(
            rec.text("CreatedDate")
                .is_some_and(|d| d.ends_with("+0000"))
        );
    }

    #[test]
    fn validation_errors() {
        let mut s = Store::new();
        let e = create(
            &mut s,
            "Lead",
            json!({"LastName": "x", "Company": "y", "Foo": 1}),
        )
        .expect_err("foo");
        assert_eq!(e.code(), "INVALID_FIELD");
        assert_eq!(
            e.items[0].message,
            "No such column 'Foo' on sobject of type Lead"
        );
        let e = create(&mut s, "Lead", json!({"FirstName": "x"})).expect_err("req");
        assert_eq!(
            e.items[0].message,
            "Required fields are missing: [LastName, Company]"
        );
        assert_eq!(
            e.items[0].fields,
            Some(vec!["LastName".into(), "Company".into()])
        );
        let e = create(
            &mut s,
            "Lead",
            json!({"LastName": "x", "Company": "y", "IsConverted": true}),
        )
        .expect_err("ro");
        assert_eq!(e.code(), "INVALID_FIELD_FOR_INSERT_UPDATE");
        let e = create(
            &mut s,
            "Lead",
            json!({"LastName": "x", "Company": "y", "Title": "t".repeat(129)}),
        )
        .expect_err("len");
        assert_eq!(e.code(), "STRING_TOO_LONG");
        assert!(e.items[0].message.ends_with("(max length=128)"));
        let e = create(
            &mut s,
            "Lead",
            json!({"LastName": "x", "Company": "y", "Status": "Bogus"}),
        )
        .expect_err("pick");
        assert_eq!(
            e.items[0].message,
            "Status: bad value for restricted picklist field: Bogus"
        );
        let e = create(&mut s, "Opportunity", json!({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-01-01", "Amount": "abc"})).expect_err("type");
        assert_eq!(e.code(), "JSON_PARSER_ERROR");
        assert!(
            e.items[0]
                .message
                .starts_with("Cannot deserialize instance of double from VALUE_STRING value abc")
        );
        let e = create(
            &mut s,
            "Contact",
            json!({"LastName": "x", "AccountId": "xyz"}),
        )
        .expect_err("malformed");
        assert_eq!(
            e.items[0].message,
            "Account ID: id value of incorrect type: xyz"
        );
        let e = create(
            &mut s,
            "Contact",
            json!({"LastName": "x", "AccountId": "001D000000IqhSL"}),
        )
        .expect_err("xref");
        assert_eq!(e.code(), "INVALID_CROSS_REFERENCE_KEY");
        let e = create(&mut s, "Opportunity", json!({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-01-01", "Amount": -1})).expect_err("rule");
        assert_eq!(
            (e.code(), e.items[0].message.as_str()),
            (
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "Amount must not be negative"
            )
        );
        let e = create(&mut s, "Lead", json!(["x"])).expect_err("array");
        assert_eq!(e.code(), "JSON_PARSER_ERROR");
        let e = create(
            &mut s,
            "Lead",
            json!({"LastName": "x", "Company": "y", "Email": "not-an-email"}),
        )
        .expect_err("email");
        assert_eq!(e.code(), "INVALID_EMAIL_ADDRESS");
    }

    #[test]
    fn unique_and_duplicate_rules() {
        let mut s = Store::new();
        create(
            &mut s,
            "Account",
            json!({"Name": "A", "External_Id__c": "ext-1"}),
        )
        .expect("a");
        let e = create(
            &mut s,
            "Account",
            json!({"Name": "B", "External_Id__c": "EXT-1"}),
        )
        .expect_err("dup");
        assert_eq!(e.code(), "DUPLICATE_VALUE");
        create(
            &mut s,
            "Lead",
            json!({"LastName": "a", "Company": "c", "Email": "a@example.com"}),
        )
        .expect("lead");
        let e = create(
            &mut s,
            "Lead",
            json!({"LastName": "b", "Company": "c", "Email": "A@Example.com"}),
        )
        .expect_err("dup lead");
        assert_eq!(e.code(), "DUPLICATES_DETECTED");
        assert!(e.body().to_text().contains("\"duplicateResult\""));
    }

    #[test]
    fn derived_fields_and_case_numbers() {
        let mut s = Store::new();
        let c1 = create(&mut s, "Case", json!({"Subject": "one"})).expect("c1");
        let c2 = create(
            &mut s,
            "Case",
            json!({"Subject": "two", "Status": "Closed"}),
        )
        .expect("c2");
        let r1 = s.live_by_id(&c1).expect("r1");
        assert_eq!(
            (
                r1.text("CaseNumber"),
                r1.text("Status"),
                r1.text("Priority")
            ),
            (Some("00001001"), Some("New"), Some("Medium"))
        );
        assert_eq!(r1.get("IsClosed"), &json!(false));
        let r2 = s.live_by_id(&c2).expect("r2");
        assert_eq!(r2.text("CaseNumber"), Some("00001002"));
        assert_eq!(r2.get("IsClosed"), &json!(true));
        assert!(r2.text("ClosedDate").is_some());
        let opp = create(
            &mut s,
            "Opportunity",
            json!({"Name": "o", "StageName": "Closed Won", "CloseDate": "2024-01-01"}),
        )
        .expect("opp");
        let r = s.live_by_id(&opp).expect("r");
        assert_eq!(
            (r.get("IsWon"), r.get("Probability")),
            (&json!(true), &json!(100.0))
        );
    }

    #[test]
    fn update_and_delete() {
        let mut s = Store::new();
        let o = obj("Account");
        let id = create(&mut s, "Account", json!({"Name": "A"})).expect("a");
        let input = parse_body(&s, o, r#"{"Name": null}"#, false).expect("input");
        let e = s
            .update(o, &id, input, Actor::api(USER))
            .expect_err("required");
        assert_eq!(e.code(), "REQUIRED_FIELD_MISSING");
        s.delete(o, &id, Actor::api(USER)).expect("delete");
        let e = s.delete(o, &id, Actor::api(USER)).expect_err("again");
        assert_eq!((e.status, e.code()), (404, "ENTITY_IS_DELETED"));
        assert_eq!(s.fetch(o, &id, false).expect_err("get").code(), "NOT_FOUND");
    }

    #[test]
    fn parent_reference_by_external_id() {
        let mut s = Store::new();
        let acc = create(
            &mut s,
            "Account",
            json!({"Name": "A", "External_Id__c": "acc-1"}),
        )
        .expect("a");
        let c = create(
            &mut s,
            "Contact",
            json!({"LastName": "x", "Account": {"External_Id__c": "acc-1"}}),
        )
        .expect("c");
        assert_eq!(
            s.live_by_id(&c).and_then(|r| r.text("AccountId")),
            Some(acc.as_str())
        );
        let e = create(
            &mut s,
            "Contact",
            json!({"LastName": "x", "Account": {"External_Id__c": "nope"}}),
        )
        .expect_err("missing");
        assert_eq!(e.code(), "INVALID_FIELD");
    }
}
