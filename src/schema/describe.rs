//! The parts of a Salesforce describe (`GET /sobjects/{object}/describe`) that generation and
//! drift checks read. Unknown keys are ignored; missing ones take Salesforce's usual defaults.

use serde::Deserialize;

/// An object's describe.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDescribe {
    /// API name, e.g. `Hootsuite_Contact_Persona__c`.
    pub name: String,
    /// Label, e.g. `Contact Persona`.
    #[serde(default)]
    pub label: String,
    /// Plural label, e.g. `Contact Personas`.
    #[serde(default)]
    pub label_plural: String,
    /// Key prefix of its record IDs, e.g. `a0H` (none for some system objects).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Whether it is a custom object.
    #[serde(default)]
    pub custom: bool,
    /// Its fields, in describe order.
    #[serde(default)]
    pub fields: Vec<FieldDescribe>,
}

/// A field's describe.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    /// API name, e.g. `Social_Network__c`.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Describe type, e.g. `picklist`.
    #[serde(rename = "type")]
    pub field_type: String,
    /// Maximum length of text, 0 for other types.
    #[serde(default)]
    pub length: u64,
    /// The help text shown beside the field.
    #[serde(default)]
    pub inline_help_text: Option<String>,
    /// Whether it may be set on create.
    #[serde(default)]
    pub createable: bool,
    /// Whether it may be changed on update.
    #[serde(default)]
    pub updateable: bool,
    /// Whether it may be empty.
    #[serde(default = "yes")]
    pub nillable: bool,
    /// Whether Salesforce fills it in on create when it is not given.
    #[serde(default)]
    pub defaulted_on_create: bool,
    /// Whether it is an external ID (upsert key).
    #[serde(default, rename = "externalId")]
    pub external_id: bool,
    /// Whether it identifies a record (find key).
    #[serde(default)]
    pub id_lookup: bool,
    /// Whether it is a custom field.
    #[serde(default)]
    pub custom: bool,
    /// The objects a reference field points to.
    #[serde(default)]
    pub reference_to: Vec<String>,
    /// The compound field this field is part of (`BillingAddress` for `BillingCity`).
    #[serde(default)]
    pub compound_field_name: Option<String>,
    /// Picklist values, active and inactive.
    #[serde(default)]
    pub picklist_values: Vec<PicklistValue>,
}

/// One value of a picklist.
#[derive(Debug, Clone, Deserialize)]
pub struct PicklistValue {
    /// The API value.
    pub value: String,
    /// Whether it may be chosen.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl FieldDescribe {
    /// Set by Salesforce: neither createable nor updateable.
    pub fn is_output_only(&self) -> bool {
        !self.createable && !self.updateable
    }

    /// Must be given on create: createable, not nillable and not defaulted.
    pub fn is_required_on_create(&self) -> bool {
        self.createable && !self.nillable && !self.defaulted_on_create
    }
}

/// The API names of the custom objects a `describeGlobal` (`GET /sobjects`) lists, sorted:
/// records of `__c` objects, not custom settings (nor metadata types or events, which are not
/// `__c`).
pub fn custom_object_names(global: &serde_json::Value) -> Vec<String> {
    let flag = |object: &serde_json::Value, key: &str| {
        object.get(key).and_then(serde_json::Value::as_bool) == Some(true)
    };
    let mut names: Vec<String> = global
        .get("sobjects")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|object| flag(object, "custom") && !flag(object, "customSetting"))
        .filter_map(|object| object.get("name").and_then(serde_json::Value::as_str))
        .filter(|name| name.ends_with("__c"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}
