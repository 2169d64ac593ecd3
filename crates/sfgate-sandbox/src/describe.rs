//! Describe results: describeGlobal, basic info, and full sObject describe.

use serde_json::Value;

use super::schema::{self, FieldDef, FieldType, ObjectDef};
use super::values::Json;

fn strings(items: &[&str]) -> Json {
    Json::Array(items.iter().map(|s| Json::from(*s)).collect())
}

fn urls(obj: &ObjectDef, version: &str) -> Json {
    let base = format!("/services/data/v{version}/sobjects/{}", obj.name);
    Json::object()
        .with("sobject", base.clone())
        .with("describe", format!("{base}/describe"))
        .with("rowTemplate", format!("{base}/{{ID}}"))
}

/// The per-object summary of describeGlobal and basic info.
fn summary(obj: &ObjectDef, version: &str) -> Json {
    Json::object()
        .with("activateable", false)
        .with("createable", obj.writable)
        .with("custom", obj.custom)
        .with("customSetting", false)
        .with("deletable", obj.writable)
        .with("deprecatedAndHidden", false)
        .with("feedEnabled", false)
        .with("keyPrefix", obj.key_prefix)
        .with("label", obj.label)
        .with("labelPlural", obj.label_plural)
        .with("layoutable", obj.writable)
        .with("mergeable", false)
        .with("mruEnabled", obj.writable)
        .with("name", obj.name)
        .with("queryable", true)
        .with("replicateable", true)
        .with("retrieveable", true)
        .with("searchable", obj.searchable)
        .with("triggerable", obj.writable)
        .with("undeletable", obj.writable)
        .with("updateable", obj.writable)
        .with("urls", urls(obj, version))
}

/// `GET /sobjects`.
pub(crate) fn global(version: &str) -> Json {
    let sobjects = schema::OBJECTS
        .iter()
        .map(|o| summary(o, version))
        .collect();
    Json::object()
        .with("encoding", "UTF-8")
        .with("maxBatchSize", 200usize)
        .with("sobjects", Json::Array(sobjects))
}

/// `GET /sobjects/{Object}`.
pub(crate) fn basic_info(obj: &ObjectDef, version: &str) -> Json {
    Json::object()
        .with("objectDescribe", summary(obj, version))
        .with("recentItems", Json::Array(Vec::new()))
}

/// `GET /sobjects/{Object}/describe`.
pub(crate) fn object(obj: &ObjectDef, version: &str) -> Json {
    let mut j = summary(obj, version);
    let fields = obj.fields().map(|f| field(obj, f)).collect();
    j.set("childRelationships", child_relationships(obj));
    j.set("fields", Json::Array(fields));
    j.set("recordTypeInfos", Json::Array(Vec::new()));
    j
}

fn child_relationships(obj: &ObjectDef) -> Json {
    let mut list = Vec::new();
    for child in schema::OBJECTS {
        for f in child.own_fields.iter() {
            if f.ty == FieldType::Reference && f.reference_to.contains(&obj.name) && f.updateable {
                list.push(
                    Json::object()
                        .with("cascadeDelete", false)
                        .with("childSObject", child.name)
                        .with("field", f.name)
                        .with("relationshipName", Value::Null),
                );
            }
        }
    }
    Json::Array(list)
}

/// Fields maintained on create even when not sent.
fn defaulted_on_create(f: &FieldDef) -> bool {
    f.system || f.default.is_some() || f.name == "OwnerId"
}

fn nillable(f: &FieldDef) -> bool {
    let always_set = f.ty == FieldType::Id
        || f.ty == FieldType::Boolean
        || f.name == "OwnerId"
        || matches!(
            f.name,
            "CreatedDate"
                | "CreatedById"
                | "LastModifiedDate"
                | "LastModifiedById"
                | "SystemModstamp"
                | "CaseNumber"
                | "Name"
        ) && f.system;
    !(f.required || always_set)
}

fn field(obj: &ObjectDef, f: &FieldDef) -> Json {
    let (precision, scale, digits) = match f.ty {
        FieldType::Currency => (18, 2, 0),
        FieldType::Percent => (3, 0, 0),
        FieldType::Double => (18, 0, 0),
        FieldType::Int => (0, 0, 9),
        _ => (0, 0, 0),
    };
    let label = if f.ty == FieldType::Id {
        obj.id_label()
    } else {
        f.label.to_string()
    };
    let picklist = f
        .picklist
        .iter()
        .map(|v| {
            Json::object()
                .with("active", true)
                .with("defaultValue", f.default == Some(*v))
                .with("label", *v)
                .with("validFor", Value::Null)
                .with("value", *v)
        })
        .collect();
    let default_value = match (f.ty, f.default) {
        (FieldType::Boolean, Some(d)) => Json::from(d == "true"),
        _ => Json::Value(Value::Null),
    };
    Json::object()
        .with("aggregatable", f.ty != FieldType::TextArea)
        .with("autoNumber", f.name == "CaseNumber")
        .with("byteLength", (f.length * 3) as usize)
        .with("calculated", false)
        .with("caseSensitive", false)
        .with(
            "compoundFieldName",
            f.compound.map_or(Json::Value(Value::Null), Json::from),
        )
        .with("createable", f.createable)
        .with("custom", f.custom)
        .with("defaultValue", default_value)
        .with("defaultedOnCreate", defaulted_on_create(f))
        .with("digits", digits as usize)
        .with("externalId", f.external_id)
        .with(
            "filterable",
            !f.ty.is_compound()
                && !matches!(f.ty, FieldType::Base64 | FieldType::AnyType)
                && (f.ty != FieldType::TextArea || f.length <= 255),
        )
        .with(
            "groupable",
            !matches!(
                f.ty,
                FieldType::TextArea
                    | FieldType::Double
                    | FieldType::Currency
                    | FieldType::Percent
                    | FieldType::DateTime
            ),
        )
        .with(
            "idLookup",
            f.ty == FieldType::Id || f.external_id || f.ty == FieldType::Email,
        )
        .with("label", label)
        .with("length", f.length as usize)
        .with("name", f.name)
        .with("nameField", f.name_field && f.name != "Subject")
        .with("nillable", nillable(f))
        .with("picklistValues", Json::Array(picklist))
        .with("precision", precision as usize)
        .with("referenceTo", strings(f.reference_to))
        .with(
            "relationshipName",
            f.relationship.map_or(Json::Value(Value::Null), Json::from),
        )
        .with("restrictedPicklist", f.restricted)
        .with("scale", scale as usize)
        .with("soapType", f.ty.soap_type())
        .with("sortable", f.ty != FieldType::TextArea)
        .with("type", f.ty.api_name())
        .with("unique", f.unique)
        .with("updateable", f.updateable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_lead() {
        let lead = schema::object("Lead").expect("lead");
        let text = object(lead, "66.0").to_text();
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["name"], "Lead");
        assert_eq!(v["keyPrefix"], "00Q");
        let fields = v["fields"].as_array().expect("fields");
        let status = fields
            .iter()
            .find(|f| f["name"] == "Status")
            .expect("status");
        assert_eq!(status["type"], "picklist");
        assert_eq!(status["restrictedPicklist"], true);
        assert_eq!(status["picklistValues"][0]["defaultValue"], true);
        let ext = fields
            .iter()
            .find(|f| f["name"] == "External_Id__c")
            .expect("ext");
        assert_eq!(
            (
                ext["externalId"].clone(),
                ext["unique"].clone(),
                ext["custom"].clone()
            ),
            (Value::Bool(true), Value::Bool(true), Value::Bool(true))
        );
        let last = fields
            .iter()
            .find(|f| f["name"] == "LastName")
            .expect("last");
        assert_eq!(
            (last["nillable"].clone(), last["length"].clone()),
            (Value::Bool(false), Value::from(80))
        );
        let g: Value = serde_json::from_str(&global("66.0").to_text()).expect("global");
        assert_eq!(g["maxBatchSize"], 200);
        assert!(
            g["sobjects"]
                .as_array()
                .is_some_and(|s| s.len() == schema::OBJECTS.len())
        );
    }
}
