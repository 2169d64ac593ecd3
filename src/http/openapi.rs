//! The OpenAPI 3.1 document of the HTTP/JSON routes, generated from the same descriptors — and
//! their comments — that the routes are: an operation per route (`LeadService_CreateLead`), a
//! schema per message in the proto3 JSON mapping, the AIP-193 error body, and the security
//! schemes of the API key (`Authorization: Bearer`) and the tenant (`X-Tenant-Id`).

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use super::request::has_scalar_json;
use super::routes::{BodyField, Route, Routes, field_at};

/// The document, as JSON.
pub(crate) fn document(routes: &Routes) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    // OpenAPI allows one path per shape: `PATCH /v1/leads/{lead.id}` is documented under
    // `/v1/leads/{id}` of `GET`, its variable named `id` (matching is by position).
    let mut shapes: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for route in routes.iter() {
        let own: Vec<String> = route
            .template
            .variables()
            .map(|path| path.join("."))
            .collect();
        let (path, names) = shapes
            .entry(route.template.shape())
            .or_insert_with(|| (route.template.openapi_path(), own))
            .clone();
        let operation = operation(route, &names, &mut schemas);
        paths
            .entry(path)
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    let mut components = schemas.into_components();
    components.insert("Error".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sfgate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Typed Salesforce actions over HTTP/JSON. The same API is served over gRPC and gRPC-Web on this port.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "The caller's API key: `Authorization: Bearer <key>`." },
                "tenant": { "type": "apiKey", "in": "header", "name": "X-Tenant-Id", "description": "The tenant (Salesforce org) to call." },
            },
        },
        "security": [{ "apiKey": [], "tenant": [] }],
    })
}

fn operation(route: &Route, names: &[String], schemas: &mut Schemas) -> Value {
    let rpc = &route.rpc;
    let service = rpc.parent_service();
    let input = rpc.input();
    let description = comment(rpc.parent_file().file_descriptor_proto(), rpc.path());
    let mut parameters = Vec::new();
    let mut in_path = BTreeSet::new();
    for (variable, name) in route.template.variables().zip(names) {
        if let Ok(field) = field_at(&input, variable) {
            in_path.insert(variable[0].clone());
            parameters.push(json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": schemas.field(&field),
                "description": field_comment(&field),
            }));
        }
    }
    let body_field = match &route.body {
        BodyField::Field(field) => Some(field.name().to_owned()),
        BodyField::None | BodyField::Whole => None,
    };
    if !matches!(route.body, BodyField::Whole) {
        for field in input.fields() {
            let scalar =
                !matches!(field.kind(), Kind::Message(message) if !has_scalar_json(&message));
            if in_path.contains(field.name())
                || body_field.as_deref() == Some(field.name())
                || !scalar
                || field.is_map()
            {
                continue;
            }
            parameters.push(json!({
                "name": field.json_name(),
                "in": "query",
                "schema": schemas.field(&field),
                "description": field_comment(&field),
            }));
        }
    }
    parameters.push(json!({
        "name": "X-Request-Timeout",
        "in": "header",
        "schema": { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s)?$" },
        "description": "The call's deadline: 2.5s, 500ms or seconds (or the `timeout` query parameter).",
    }));
    if rpc.name().starts_with("Create") {
        parameters.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
            "description": "A retry with the same key returns the first result instead of creating a second record.",
        }));
    }
    let request_body = match &route.body {
        BodyField::None => None,
        BodyField::Whole => Some(schemas.message(&input)),
        BodyField::Field(field) => Some(schemas.field(field)),
    };
    let output = schemas.message(&rpc.output());
    let content_type = if rpc.is_server_streaming() {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let mut operation = json!({
        "operationId": format!("{}_{}", service.name(), rpc.name()),
        "tags": [service.name()],
        "summary": description.lines().next().unwrap_or(rpc.name()),
        "description": description,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": if rpc.is_server_streaming() { "One JSON object a line, as each page arrives." } else { "The answer." },
                "content": { content_type: { "schema": output } },
            },
            "default": {
                "description": "An error: the HTTP status of its gRPC code, with an AIP-193 body.",
                "headers": { "Retry-After": { "schema": { "type": "integer" }, "description": "Seconds until a retry may succeed (429, 503)." } },
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            },
        },
    });
    if let Some(schema) = request_body {
        operation["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": schema } },
        });
    }
    operation
}

/// The message schemas met so far, by full name.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
}

impl Schemas {
    fn into_components(self) -> Map<String, Value> {
        self.done.into_iter().collect()
    }

    /// A reference to a message's schema (or the schema of a well-known type), adding it.
    fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known(message) {
            return schema;
        }
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) {
            self.done.insert(name.clone(), Value::Null);
            let mut properties = Map::new();
            for field in message.fields() {
                let mut schema = self.field(&field);
                if let Some(object) = schema.as_object_mut() {
                    let described = field_comment(&field);
                    if !described.is_empty() {
                        object.insert("description".into(), described.into());
                    }
                }
                properties.insert(field.json_name().to_owned(), schema);
            }
            let schema = json!({
                "type": "object",
                "description": comment(message.parent_file().file_descriptor_proto(), message.path()),
                "properties": properties,
            });
            self.done.insert(name.clone(), schema);
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The schema of a field's JSON value.
    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return json!({});
            };
            let value = entry.map_entry_value_field();
            return json!({ "type": "object", "additionalProperties": self.single(&value) });
        }
        let single = self.single(field);
        if field.is_list() {
            json!({ "type": "array", "items": single })
        } else {
            single
        }
    }

    fn single(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64 })
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" })
            }
            Kind::Double | Kind::Float => json!({ "type": "number" }),
            Kind::Enum(enumeration) => json!({
                "type": "string",
                "enum": enumeration.values().map(|value| value.name().to_owned()).collect::<Vec<_>>(),
            }),
            Kind::Message(message) => self.message(&message),
        }
    }
}

/// The schema of a well-known type's JSON form.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.FieldMask" => {
            json!({ "type": "string", "description": "Comma-separated field paths, e.g. `email,status`." })
        }
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$" })
        }
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Empty" => json!({ "type": "object", "maxProperties": 0 }),
        "google.protobuf.StringValue" => json!({ "type": "string" }),
        "google.protobuf.BoolValue" => json!({ "type": "boolean" }),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({ "type": "integer" })
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+$" })
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => json!({ "type": "number" }),
        _ => return None,
    })
}

/// The AIP-193 error body.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "An error (AIP-193): the HTTP status, the gRPC code's name, and the google.rpc details (ErrorInfo, BadRequest, RetryInfo, QuotaFailure) with their @type.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": { "type": "integer", "description": "The HTTP status." },
                    "message": { "type": "string" },
                    "status": { "type": "string", "description": "The gRPC code, e.g. RESOURCE_EXHAUSTED." },
                    "details": {
                        "type": "array",
                        "items": { "type": "object", "required": ["@type"], "properties": { "@type": { "type": "string" } } },
                    },
                },
            },
        },
    })
}

fn field_comment(field: &FieldDescriptor) -> String {
    comment(field.parent_file().file_descriptor_proto(), field.path())
}

/// The leading comment of the element at `path` of a file, trimmed.
fn comment(file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
    file.source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|location| location.path == path))
        .and_then(|location| location.leading_comments.as_deref())
        .map(|text| {
            text.lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}
