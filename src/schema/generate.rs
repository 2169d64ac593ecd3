//! Writes the `.proto` of an org's objects from their describes: per object a message (a field per
//! Salesforce field, its API name and type in the `sfgate.v1.field` option, a comment from its
//! label, type, length, help text and picklist values) and a service with the typed record actions
//! and their HTTP rules, the same shape as the built-in `sfgate.v1` services.
//!
//! The output depends only on its inputs: the same describes give a byte-identical file. Field
//! numbers already given in a previous version of the file are kept, and the numbers of fields
//! the org no longer has are reserved, so regenerating never breaks a client's wire format.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use super::describe::{FieldDescribe, ObjectDescribe};
use super::field_types::{ProtoType, proto_type_of};
use super::naming::{is_versioned_package, pascal_case, plural, snake_case, words};

/// What a previous version of the file fixed, by object API name: each field's number and proto
/// type, and the numbers it reserved. Regenerating keeps a field's number while its proto type
/// stays the same; a field that is gone, no longer mapped, or of another type now has its number
/// reserved, and new numbers come after every number ever used.
#[derive(Debug, Clone, Default)]
pub struct PreviousNumbers {
    objects: HashMap<String, PreviousObject>,
}

#[derive(Debug, Clone, Default)]
struct PreviousObject {
    fields: HashMap<String, (u32, ProtoType)>,
    reserved: BTreeSet<u32>,
}

impl PreviousNumbers {
    /// No previous version.
    pub fn new() -> Self {
        Self::default()
    }

    /// The previous version gave `object`'s field `api_name` this number and type.
    pub fn field(&mut self, object: &str, api_name: &str, number: u32, proto_type: ProtoType) {
        self.objects
            .entry(object.to_owned())
            .or_default()
            .fields
            .insert(api_name.to_owned(), (number, proto_type));
    }

    /// The previous version reserved this number in `object`'s message.
    pub fn reserved(&mut self, object: &str, number: u32) {
        self.objects
            .entry(object.to_owned())
            .or_default()
            .reserved
            .insert(number);
    }
}

/// What to generate.
#[derive(Debug)]
pub struct Generation<'a> {
    /// The proto package, e.g. `acme.v1`.
    pub package: &'a str,
    /// Where the describes came from, for the file's header (e.g. `tenant acme`).
    pub source: &'a str,
    /// Numbers to keep from the previous version of the file (empty for a first generation).
    pub previous: &'a PreviousNumbers,
}

/// A generated file and the fields it could not map.
#[derive(Debug)]
pub struct GeneratedFile {
    /// The `.proto` text.
    pub text: String,
    /// `Object.Field (type)` of each field left out: its type has no proto mapping.
    pub skipped: Vec<String>,
}

/// Why a file cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The package is not `lower.case.vN`.
    #[error(
        "package {0:?} must be lower-case identifiers ending in a version, e.g. acme.v1 (buf lint's PACKAGE_VERSION_SUFFIX), with no part named sfgate or google"
    )]
    Package(String),
    /// No object was given.
    #[error("no object to generate")]
    NoObject,
    /// Two objects would declare the same name (message, service or request).
    #[error(
        "objects {first} and {second} would both declare {message}: generate them into different packages"
    )]
    SameMessage {
        /// One object.
        first: String,
        /// The other.
        second: String,
        /// The message name.
        message: String,
    },
    /// An object's snake-case name is one of the request fields beside it.
    #[error(
        "object {object} would be the request field {field}, which the generated requests already have: generate it into a package of its own after renaming, or leave it out"
    )]
    ReservedObjectName {
        /// The object.
        object: String,
        /// The clashing field name.
        field: String,
    },
    /// An object has no key prefix, so its IDs cannot be checked.
    #[error("object {0} has no keyPrefix in its describe: it has no records to serve")]
    NoKeyPrefix(String),
}

/// Numbers of the fields every resource message has.
const ID_NUMBER: u32 = 1;
const URL_NUMBER: u32 = 2;
/// Names the generated messages use for themselves.
const RESERVED_FIELD_NAMES: [&str; 2] = ["id", "url"];
/// Names of the find request's own fields, which criteria (named as the resource's fields) must
/// not take.
const FIND_REQUEST_FIELDS: [&str; 2] = ["page_size", "page_token"];
/// Names of the request and response fields beside the resource's, which the resource field (the
/// object's snake-case name) must not take.
const REQUEST_FIELDS: [&str; 9] = [
    "id",
    "fields",
    "update_mask",
    "external_id_field",
    "external_id",
    "created",
    "next_page_token",
    "page_size",
    "page_token",
];
/// Picklist values listed in a field's comment; the rest are counted.
const LISTED_PICKLIST_VALUES: usize = 20;
/// Comment lines are wrapped before this column.
const COMMENT_WIDTH: usize = 100;

/// One field of a generated message.
#[derive(Debug)]
struct FieldPlan<'a> {
    describe: &'a FieldDescribe,
    name: String,
    number: u32,
    proto_type: ProtoType,
}

impl FieldPlan<'_> {
    fn is_criterion(&self) -> bool {
        (self.describe.id_lookup || self.describe.external_id)
            && self.proto_type == ProtoType::String
    }
}

/// One object: its names and fields.
#[derive(Debug)]
struct ObjectPlan<'a> {
    describe: &'a ObjectDescribe,
    key_prefix: &'a str,
    /// `HootsuiteContactPersona`.
    message: String,
    /// `hootsuite_contact_persona`.
    resource_field: String,
    /// `HootsuiteContactPersonas`.
    plural_message: String,
    /// `hootsuite_contact_personas`.
    collection: String,
    fields: Vec<FieldPlan<'a>>,
    reserved: Vec<u32>,
}

impl ObjectPlan<'_> {
    /// The names this object declares in the file: its message, service and request and
    /// response messages (two objects must not share one).
    fn declared_names(&self) -> Vec<String> {
        let (message, plural) = (&self.message, &self.plural_message);
        vec![
            message.clone(),
            format!("{message}Service"),
            format!("Create{message}Request"),
            format!("Get{message}Request"),
            format!("Update{message}Request"),
            format!("Delete{message}Request"),
            format!("Find{plural}Request"),
            format!("Find{plural}Response"),
            format!("Upsert{message}Request"),
            format!("Upsert{message}Response"),
        ]
    }
}

/// Generates the file of `objects`.
pub fn generate(
    generation: &Generation<'_>,
    objects: &[ObjectDescribe],
) -> Result<GeneratedFile, GenerateError> {
    // A package part named `sfgate` or `google` would shadow the imported `sfgate.v1.…` and
    // `google.protobuf.…` names, and the file would not compile.
    let shadows = generation
        .package
        .split('.')
        .any(|part| part == "sfgate" || part == "google");
    if !is_versioned_package(generation.package) || shadows {
        return Err(GenerateError::Package(generation.package.to_owned()));
    }
    if objects.is_empty() {
        return Err(GenerateError::NoObject);
    }
    let mut skipped = Vec::new();
    let mut plans: Vec<ObjectPlan<'_>> = Vec::with_capacity(objects.len());
    let mut names_taken: HashMap<String, String> = HashMap::new();
    for object in objects {
        let plan = plan_object(object, generation.previous, &mut skipped)?;
        for name in plan.declared_names() {
            if let Some(first) = names_taken.insert(name.clone(), object.name.clone()) {
                return Err(GenerateError::SameMessage {
                    first,
                    second: object.name.clone(),
                    message: name,
                });
            }
        }
        plans.push(plan);
    }
    Ok(GeneratedFile {
        text: write_file(generation, &plans),
        skipped,
    })
}

fn plan_object<'a>(
    object: &'a ObjectDescribe,
    previous: &PreviousNumbers,
    skipped: &mut Vec<String>,
) -> Result<ObjectPlan<'a>, GenerateError> {
    let key_prefix = object
        .key_prefix
        .as_deref()
        .filter(|prefix| !prefix.is_empty())
        .ok_or_else(|| GenerateError::NoKeyPrefix(object.name.clone()))?;
    let object_words = words(&object.name);
    let message = pascal_case(&object_words);
    let resource_field = snake_case(&object_words);
    let no_numbers = PreviousObject::default();
    let previous = previous.objects.get(&object.name).unwrap_or(&no_numbers);

    if REQUEST_FIELDS.contains(&resource_field.as_str()) {
        return Err(GenerateError::ReservedObjectName {
            object: object.name.clone(),
            field: resource_field,
        });
    }
    let mut used_names: HashSet<String> = RESERVED_FIELD_NAMES
        .iter()
        .chain(&FIND_REQUEST_FIELDS)
        .map(|name| json_key(name))
        .collect();
    let mut used_numbers: HashSet<u32> = [ID_NUMBER, URL_NUMBER]
        .into_iter()
        .chain(previous.reserved.iter().copied())
        .collect();
    let mut mapped = Vec::new();
    for field in &object.fields {
        if field.name.eq_ignore_ascii_case("Id") {
            continue;
        }
        match proto_type_of(&field.field_type) {
            Some(proto_type) => mapped.push((field, proto_type)),
            None => skipped.push(format!(
                "{}.{} ({})",
                object.name, field.name, field.field_type
            )),
        }
    }
    // Kept numbers first, so that a new field never takes one.
    let mut numbers: Vec<Option<u32>> = mapped
        .iter()
        .map(|(field, proto_type)| {
            previous
                .fields
                .get(&field.name)
                .filter(|(_, previous_type)| previous_type.proto_name() == proto_type.proto_name())
                .map(|(number, _)| *number)
                .filter(|number| used_numbers.insert(*number))
        })
        .collect();
    let mut next = previous
        .fields
        .values()
        .map(|(number, _)| *number)
        .chain(previous.reserved.iter().copied())
        .chain([URL_NUMBER])
        .max()
        .unwrap_or(URL_NUMBER)
        + 1;
    for number in numbers.iter_mut().filter(|number| number.is_none()) {
        while !used_numbers.insert(next) || (19_000..20_000).contains(&next) {
            next += 1;
        }
        *number = Some(next);
    }
    let fields: Vec<FieldPlan<'_>> = mapped
        .into_iter()
        .zip(numbers)
        .map(|((field, proto_type), number)| FieldPlan {
            describe: field,
            name: unique_name(field, &mut used_names),
            number: number.unwrap_or_default(),
            proto_type,
        })
        .collect();
    let kept: HashSet<u32> = fields_numbers(&fields);
    let reserved: BTreeSet<u32> = previous
        .fields
        .values()
        .map(|(number, _)| *number)
        .filter(|number| !kept.contains(number))
        .chain(previous.reserved.iter().copied())
        .collect();
    Ok(ObjectPlan {
        describe: object,
        key_prefix,
        plural_message: plural(&message),
        collection: plural(&resource_field),
        message,
        resource_field,
        fields,
        reserved: reserved.into_iter().collect(),
    })
}

fn fields_numbers(fields: &[FieldPlan<'_>]) -> HashSet<u32> {
    fields.iter().map(|field| field.number).collect()
}

/// The field's snake-case name; on a collision (`Name` and `Name__c`, or `Url__c` and the
/// record page `url`) the suffix is kept (`name_c`), then a number added.
///
/// Names are compared as proto3's JSON mapping sees them (`zip_code` and `zipcode` are both
/// `zipcode`), which protoc refuses to have twice in a message.
fn unique_name(field: &FieldDescribe, used: &mut HashSet<String>) -> String {
    let plain = snake_case(&words(&field.name));
    let suffixed = snake_case(&words(&field.name.replace("__", "_")));
    let numbered = (2_u32..).map(|count| format!("{plain}_{count}"));
    std::iter::once(plain.clone())
        .chain(std::iter::once(suffixed))
        .chain(numbered)
        .find(|candidate| used.insert(json_key(candidate)))
        .unwrap_or(plain)
}

/// A field name as proto3's JSON mapping compares it: lower case, without underscores.
fn json_key(name: &str) -> String {
    name.replace('_', "").to_ascii_lowercase()
}

fn write_file(generation: &Generation<'_>, plans: &[ObjectPlan<'_>]) -> String {
    let mut out = String::new();
    let object_names: Vec<&str> = plans
        .iter()
        .map(|plan| plan.describe.name.as_str())
        .collect();
    comment(
        &mut out,
        "",
        &format!(
            "Generated by `sfgate schema` from the describe of {}: {}. Regenerate it (with --out this file, which keeps its field numbers) after the org's fields change; the gateway serves each field by its `(sfgate.v1.field)` option.",
            generation.source,
            object_names.join(", ")
        ),
    );
    out.push_str("syntax = \"proto3\";\n\n");
    let _ = writeln!(out, "package {};\n", generation.package);
    let mut imports = vec![
        "google/api/annotations.proto",
        "google/protobuf/empty.proto",
        "google/protobuf/field_mask.proto",
        "sfgate/v1/schema.proto",
    ];
    let uses = |proto_type: ProtoType| {
        plans
            .iter()
            .flat_map(|plan| &plan.fields)
            .any(|field| field.proto_type == proto_type)
    };
    if uses(ProtoType::Timestamp) {
        imports.push("google/protobuf/timestamp.proto");
    }
    if uses(ProtoType::AnyValue) {
        imports.push("google/protobuf/struct.proto");
    }
    imports.sort_unstable();
    for import in imports {
        let _ = writeln!(out, "import \"{import}\";");
    }
    let http_root = format!("/{}", generation.package.replace('.', "/"));
    for plan in plans {
        out.push('\n');
        write_service(&mut out, plan, &http_root);
        write_resource(&mut out, plan);
        write_requests(&mut out, plan);
    }
    out
}

fn label_of(plan: &ObjectPlan<'_>) -> String {
    let label = plan.describe.label.trim();
    if label.is_empty() {
        plan.describe.name.clone()
    } else {
        label.to_lowercase()
    }
}

fn write_service(out: &mut String, plan: &ObjectPlan<'_>, http_root: &str) {
    let api = &plan.describe.name;
    let label = label_of(plan);
    let message = &plan.message;
    let resource = &plan.resource_field;
    let path = format!("{http_root}/{}", plan.collection);
    comment(
        out,
        "",
        &format!(
            "Typed access to Salesforce `{api}` records ({label}) of the calling tenant's org."
        ),
    );
    out.push_str("//\n");
    comment(
        out,
        "",
        "Every call names its tenant with the metadata `x-tenant-id` and authenticates with `authorization: Bearer <api key>`.",
    );
    let _ = writeln!(out, "service {message}Service {{");
    let mut rpc = |doc: String,
                   name: String,
                   request: String,
                   response: String,
                   verb: &str,
                   route: String,
                   body: Option<&str>| {
        comment(out, "  ", &doc);
        let _ = writeln!(out, "  rpc {name}({request}) returns ({response}) {{");
        out.push_str("    option (google.api.http) = {\n");
        let _ = writeln!(out, "      {verb}: \"{route}\"");
        if let Some(body) = body {
            let _ = writeln!(out, "      body: \"{body}\"");
        }
        out.push_str("    };\n  }\n");
    };
    rpc(
        format!(
            "Creates a {label} (`POST /sobjects/{api}`) and returns it as stored, with `id` and `url` set."
        ),
        format!("Create{message}"),
        format!("Create{message}Request"),
        message.clone(),
        "post",
        path.clone(),
        Some(resource),
    );
    rpc(
        format!("Reads a {label} by ID (`GET /sobjects/{api}/{{id}}`)."),
        format!("Get{message}"),
        format!("Get{message}Request"),
        message.clone(),
        "get",
        format!("{path}/{{id}}"),
        None,
    );
    rpc(
        format!(
            "Updates the fields named in `update_mask` (`PATCH /sobjects/{api}/{{id}}`) and returns the {label}."
        ),
        format!("Update{message}"),
        format!("Update{message}Request"),
        message.clone(),
        "patch",
        format!("{path}/{{{resource}.id}}"),
        Some(resource),
    );
    rpc(
        format!("Deletes a {label} (`DELETE /sobjects/{api}/{{id}}`)."),
        format!("Delete{message}"),
        format!("Delete{message}Request"),
        "google.protobuf.Empty".to_owned(),
        "delete",
        format!("{path}/{{id}}"),
        None,
    );
    let plural_message = &plan.plural_message;
    if plan.fields.iter().any(FieldPlan::is_criterion) {
        rpc(
            format!(
                "Finds {label} records whose fields equal all the given criteria (SOQL), a page at a time."
            ),
            format!("Find{plural_message}"),
            format!("Find{plural_message}Request"),
            format!("Find{plural_message}Response"),
            "get",
            format!("{path}:find"),
            None,
        );
    }
    if plan.fields.iter().any(|field| field.describe.external_id) {
        rpc(
            format!(
                "Creates or updates the {label} whose external ID field has the given value (`PATCH /sobjects/{api}/{{field}}/{{value}}`)."
            ),
            format!("Upsert{message}"),
            format!("Upsert{message}Request"),
            format!("Upsert{message}Response"),
            "post",
            format!("{path}/{{external_id_field}}/{{external_id}}:upsert"),
            Some(resource),
        );
    }
    out.push_str("}\n");
}

fn write_resource(out: &mut String, plan: &ObjectPlan<'_>) {
    out.push('\n');
    comment(
        out,
        "",
        &format!(
            "A `{}` record ({}). `optional` fields are writable: an unset field is left out of create and update calls.",
            plan.describe.name,
            label_of(plan)
        ),
    );
    let _ = writeln!(out, "message {} {{", plan.message);
    out.push_str("  option (sfgate.v1.object) = {\n");
    let _ = writeln!(out, "    api_name: \"{}\"", plan.describe.name);
    let _ = writeln!(out, "    key_prefix: \"{}\"", plan.key_prefix);
    out.push_str("  };\n");
    if !plan.reserved.is_empty() {
        let numbers: Vec<String> = plan.reserved.iter().map(u32::to_string).collect();
        out.push_str("  // Fields the org no longer has.\n");
        let _ = writeln!(out, "  reserved {};", numbers.join(", "));
    }
    out.push_str("\n  // Record ID (18 characters). Output only.\n");
    let _ = writeln!(out, "  string id = {ID_NUMBER};");
    out.push_str("  // The record's Lightning page. Output only.\n");
    let _ = writeln!(out, "  string url = {URL_NUMBER};");
    for field in &plan.fields {
        comment(out, "  ", &field_comment(field));
        let output_only = field.describe.is_output_only();
        let presence = !output_only
            && !matches!(
                field.proto_type,
                ProtoType::RepeatedString
                    | ProtoType::Timestamp
                    | ProtoType::Address
                    | ProtoType::GeoLocation
                    | ProtoType::AnyValue
            );
        let _ = writeln!(
            out,
            "  {}{} {} = {} [{}];",
            if presence { "optional " } else { "" },
            field.proto_type.proto_name(),
            field.name,
            field.number,
            field_option(field.describe, output_only)
        );
    }
    out.push_str("}\n");
}

fn field_option(field: &FieldDescribe, output_only: bool) -> String {
    let mut option = format!(
        "(sfgate.v1.field) = {{api_name: \"{}\", type: \"{}\"",
        field.name, field.field_type
    );
    if output_only {
        option.push_str(", output_only: true");
    }
    option.push('}');
    option
}

/// The field's comment: label and type, help text, and what the org requires of it.
fn field_comment(field: &FieldPlan<'_>) -> String {
    let describe = field.describe;
    let label = clean(&describe.label);
    let mut text = if label.is_empty() {
        describe.name.clone()
    } else {
        label
    };
    let kind = match describe.field_type.to_ascii_lowercase().as_str() {
        "reference" if !describe.reference_to.is_empty() => {
            format!("ID of a record of {}", describe.reference_to.join(" or "))
        }
        "picklist" | "multipicklist" | "combobox" => {
            let values: Vec<&str> = describe
                .picklist_values
                .iter()
                .filter(|value| value.active)
                .map(|value| value.value.as_str())
                .collect();
            let mut listed = values
                .iter()
                .take(LISTED_PICKLIST_VALUES)
                .map(|value| clean(value))
                .collect::<Vec<_>>()
                .join(", ");
            if values.len() > LISTED_PICKLIST_VALUES {
                let _ = write!(
                    listed,
                    " and {} more",
                    values.len() - LISTED_PICKLIST_VALUES
                );
            }
            match (describe.field_type.as_str(), listed.is_empty()) {
                ("multipicklist", true) => "multi-select picklist".to_owned(),
                ("multipicklist", false) => format!("multi-select picklist of {listed}"),
                (other, true) => other.to_owned(),
                (other, false) => format!("{other} of {listed}"),
            }
        }
        "date" => "date, YYYY-MM-DD".to_owned(),
        "time" => "time of day, HH:MM:SS.sssZ".to_owned(),
        "address" => "address; write its parts (street, city, ...) as their own fields".to_owned(),
        "location" => "geolocation; write its latitude and longitude fields".to_owned(),
        "base64" => {
            "base64; Get reads its content with one request more, Find leaves it unset".to_owned()
        }
        other if describe.length > 0 => format!("{other}, up to {} characters", describe.length),
        other => other.to_owned(),
    };
    let _ = write!(text, " ({kind}).");
    if let Some(help) = describe
        .inline_help_text
        .as_deref()
        .map(clean)
        .filter(|help| !help.is_empty())
    {
        let _ = write!(text, " {help}");
        if !help.ends_with('.') {
            text.push('.');
        }
    }
    if describe.is_output_only() {
        text.push_str(" Output only: set by Salesforce.");
    } else if describe.is_required_on_create() {
        text.push_str(" Required on create.");
    }
    if describe.external_id {
        text.push_str(" External ID: an upsert key.");
    }
    text
}

fn write_requests(out: &mut String, plan: &ObjectPlan<'_>) {
    let message = &plan.message;
    let resource = &plan.resource_field;
    let label = label_of(plan);
    let plural_message = &plan.plural_message;
    let mut request = |doc: String, name: String, fields: &[(String, String)]| {
        out.push('\n');
        comment(out, "", &doc);
        let _ = writeln!(out, "message {name} {{");
        for (doc, declaration) in fields {
            comment(out, "  ", doc);
            let _ = writeln!(out, "  {declaration};");
        }
        out.push_str("}\n");
    };
    let field = |doc: &str, declaration: String| (doc.to_owned(), declaration);
    let id_field = field(
        "The record ID (15 or 18 characters).",
        "string id = 1".to_owned(),
    );
    request(
        format!("Request for `Create{message}`."),
        format!("Create{message}Request"),
        &[field(
            &format!("The {label} to create; `id` must be empty."),
            format!("{message} {resource} = 1"),
        )],
    );
    request(
        format!("Request for `Get{message}`."),
        format!("Get{message}Request"),
        &[
            id_field.clone(),
            field(
                &format!("The fields to read, as field names of `{message}`; empty reads all."),
                "google.protobuf.FieldMask fields = 2".to_owned(),
            ),
        ],
    );
    request(
        format!("Request for `Update{message}`."),
        format!("Update{message}Request"),
        &[
            field(
                &format!("The {label} with `id` set and the new values of the masked fields."),
                format!("{message} {resource} = 1"),
            ),
            field(
                &format!(
                    "The fields to change, as field names of `{message}`. A masked field that is unset in `{resource}` is cleared; `*` writes every field. Empty: every field set in `{resource}`."
                ),
                "google.protobuf.FieldMask update_mask = 2".to_owned(),
            ),
        ],
    );
    request(
        format!("Request for `Delete{message}`."),
        format!("Delete{message}Request"),
        &[id_field],
    );
    let criteria: Vec<&FieldPlan<'_>> = plan
        .fields
        .iter()
        .filter(|field| field.is_criterion())
        .collect();
    if !criteria.is_empty() {
        let mut fields = vec![
            field(
                "Maximum records per page (default 50, at most 1000).",
                "int32 page_size = 1".to_owned(),
            ),
            field(
                "The `next_page_token` of the previous page, with the same criteria.",
                "string page_token = 2".to_owned(),
            ),
        ];
        for criterion in &criteria {
            fields.push(field(
                &format!("`{}` equals.", criterion.describe.name),
                format!(
                    "string {} = {} [{}]",
                    criterion.name,
                    criterion.number,
                    field_option(criterion.describe, false)
                ),
            ));
        }
        request(
            format!(
                "Request for `Find{plural_message}`: all set criteria must match exactly; at least one is required."
            ),
            format!("Find{plural_message}Request"),
            &fields,
        );
        request(
            format!("Response of `Find{plural_message}`."),
            format!("Find{plural_message}Response"),
            &[
                field(
                    "The matching records of this page, in record ID order.",
                    format!("repeated {message} {} = 1", plan.collection),
                ),
                field(
                    "The token of the next page; empty on the last page.",
                    "string next_page_token = 2".to_owned(),
                ),
            ],
        );
    }
    let external_ids: Vec<String> = plan
        .fields
        .iter()
        .filter(|field| field.describe.external_id)
        .map(|field| format!("`{}`", field.describe.name))
        .collect();
    if !external_ids.is_empty() {
        request(
            format!("Request for `Upsert{message}`."),
            format!("Upsert{message}Request"),
            &[
                field(
                    &format!(
                        "API name of an external ID field of `{}` ({}), or `Id`.",
                        plan.describe.name,
                        external_ids.join(", ")
                    ),
                    "string external_id_field = 1".to_owned(),
                ),
                field("The value to match.", "string external_id = 2".to_owned()),
                field(
                    "The values to write; `id` must be empty and the external ID field unset.",
                    format!("{message} {resource} = 3"),
                ),
            ],
        );
        request(
            format!("Response of `Upsert{message}`."),
            format!("Upsert{message}Response"),
            &[
                field(
                    &format!("The {label} as stored."),
                    format!("{message} {resource} = 1"),
                ),
                field(
                    "True when a new record was created, false when an existing one was updated.",
                    "bool created = 2".to_owned(),
                ),
            ],
        );
    }
}

/// Text from the org made safe for a one-line comment: control characters become spaces.
fn clean(text: &str) -> String {
    text.split(|letter: char| letter.is_control())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `text` as `//` comment lines wrapped before [`COMMENT_WIDTH`].
fn comment(out: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + 3 + line.len() + 1 + word.len() > COMMENT_WIDTH {
            let _ = writeln!(out, "{indent}// {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{indent}// {line}");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn describe(fields: serde_json::Value) -> ObjectDescribe {
        serde_json::from_value(json!({
            "name": "Widget__c", "label": "Widget", "keyPrefix": "a0W", "custom": true,
            "fields": fields,
        }))
        .unwrap()
    }

    fn field(name: &str, field_type: &str) -> serde_json::Value {
        json!({"name": name, "label": name, "type": field_type, "createable": true, "updateable": true})
    }

    fn generate_with(objects: &[ObjectDescribe], previous: &PreviousNumbers) -> GeneratedFile {
        generate(
            &Generation {
                package: "acme.v1",
                source: "a test",
                previous,
            },
            objects,
        )
        .unwrap()
    }

    #[test]
    fn colliding_names_keep_their_suffix_and_unmapped_types_are_named() {
        let widget = describe(json!([
            field("Id", "id"),
            field("Name", "string"),
            field("Name__c", "string"),
            field("Url__c", "url"),
            field("Shape__c", "complexvalue"),
            field("Zip_Code__c", "string"),
            field("Zipcode__c", "string"),
            field("Page_Size__c", "double"),
        ]));
        let generated = generate_with(&[widget], &PreviousNumbers::new());
        for expected in [
            "optional string name = 3 [(sfgate.v1.field) = {api_name: \"Name\"",
            "optional string name_c = 4 [(sfgate.v1.field) = {api_name: \"Name__c\"",
            "optional string url_c = 5 [(sfgate.v1.field) = {api_name: \"Url__c\"",
            "optional string zip_code = 6 ",
            "optional string zipcode_c = 7 ",
            "optional double page_size_c = 8 ",
        ] {
            assert!(
                generated.text.contains(expected),
                "{expected}\n{}",
                generated.text
            );
        }
        assert_eq!(generated.skipped, ["Widget__c.Shape__c (complexvalue)"]);
        assert!(!generated.text.contains("Shape__c"));
    }

    #[test]
    fn regenerating_keeps_numbers_and_reserves_the_fields_gone() {
        let mut previous = PreviousNumbers::new();
        previous.field("Widget__c", "Color__c", 7, ProtoType::String);
        previous.field("Widget__c", "Size__c", 3, ProtoType::Double);
        previous.field("Widget__c", "Weight__c", 5, ProtoType::Double);
        previous.field("Widget__c", "Count__c", 6, ProtoType::Int32);
        previous.reserved("Widget__c", 9);
        let widget = describe(json!([
            field("Id", "id"),
            field("Added__c", "string"),
            field("Size__c", "double"),
            field("Color__c", "picklist"),
            field("Count__c", "double"),
        ]));
        let text = generate_with(&[widget], &previous).text;
        assert!(text.contains("optional double size = 3 "), "{text}");
        assert!(text.contains("optional string color = 7 "), "{text}");
        // New fields, and a field whose proto type changed, take numbers past every number used
        // before (9 was reserved); Weight__c's 5, Count__c's old 6 and the 9 stay reserved.
        assert!(text.contains("optional string added = 10 "), "{text}");
        assert!(text.contains("optional double count = 11 "), "{text}");
        assert!(text.contains("  reserved 5, 6, 9;\n"), "{text}");
    }

    #[test]
    fn bad_packages_and_objects_are_refused() {
        let refused = |package: &str, objects: &[ObjectDescribe]| {
            generate(
                &Generation {
                    package,
                    source: "a test",
                    previous: &PreviousNumbers::new(),
                },
                objects,
            )
            .unwrap_err()
            .to_string()
        };
        let widget = describe(json!([field("Id", "id")]));
        assert!(refused("Acme", std::slice::from_ref(&widget)).contains("PACKAGE_VERSION_SUFFIX"));
        assert_eq!(refused("acme.v1", &[]), "no object to generate");
        let mut twin = widget.clone();
        twin.name = "Widget".to_owned();
        assert!(refused("acme.v1", &[widget.clone(), twin]).contains("would both declare Widget"));
        let mut request = widget.clone();
        request.name = "Create_Widget_Request__c".to_owned();
        let said = refused("acme.v1", &[widget.clone(), request]);
        assert!(
            said.contains("would both declare CreateWidgetRequest"),
            "{said}"
        );
        assert!(
            refused("acme.sfgate.v1", std::slice::from_ref(&widget))
                .contains("no part named sfgate")
        );
        let mut clashing = widget.clone();
        clashing.name = "External_Id__c".to_owned();
        assert!(refused("acme.v1", &[clashing]).contains("request field external_id"));
        let mut no_prefix = widget;
        no_prefix.key_prefix = None;
        assert!(refused("acme.v1", &[no_prefix]).contains("no keyPrefix"));
    }
}
