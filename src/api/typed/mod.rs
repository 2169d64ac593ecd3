//! The generic record engine behind the typed object services. An object is described once
//! ([`ObjectType`]: its API name, the proto message that carries it, the one table mapping proto
//! fields to Salesforce API names, its find criteria); [`operations`] implements the shared RPCs
//! over that description and [`codec`] turns records into messages and back. Each object's file
//! holds its description, one [`typed_object_service!`] line-up and its extra RPCs.

pub(crate) mod codec;
pub(crate) mod encoding;
pub(crate) mod operations;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use prost_reflect::MessageDescriptor;

use crate::error::GatewayError;

pub(crate) mod account;
pub(crate) mod campaign;
pub(crate) mod case;
pub(crate) mod contact;
pub(crate) mod lead;
pub(crate) mod opportunity;

/// What a mapped field accepts, and how its value is written to Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A writable value passed through as is (text, number, boolean).
    Value,
    /// A writable record ID; validated (and normalised to 18 characters) before any call.
    Reference,
    /// A writable date, `YYYY-MM-DD`.
    Date,
    /// A writable time of day, `HH:MM:SS`, `HH:MM:SS.sss`, with or without `Z`.
    Time,
    /// A writable date and time (`google.protobuf.Timestamp`, written as ISO 8601 in UTC).
    DateTime,
    /// A writable multi-select picklist (`repeated string`, joined with `;` for Salesforce).
    MultiPicklist,
    /// A writable base64 field (`bytes`).
    Base64,
    /// A writable field of any type (`google.protobuf.Value`).
    AnyValue,
    /// Set by Salesforce: ignored on create, refused in an update mask.
    OutputOnly,
}

/// One row of an object's field table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldMapping {
    /// The proto field name (`first_name`).
    pub(crate) proto: &'static str,
    /// The Salesforce API name (`FirstName`).
    pub(crate) api: &'static str,
    /// What the field accepts.
    pub(crate) kind: FieldKind,
}

const fn row(proto: &'static str, api: &'static str, kind: FieldKind) -> FieldMapping {
    FieldMapping { proto, api, kind }
}

/// Shorthands that keep the tables one line a field.
pub(crate) const fn value(proto: &'static str, api: &'static str) -> FieldMapping {
    row(proto, api, FieldKind::Value)
}
/// A writable reference field.
pub(crate) const fn reference(proto: &'static str, api: &'static str) -> FieldMapping {
    row(proto, api, FieldKind::Reference)
}
/// A writable date field.
pub(crate) const fn date(proto: &'static str, api: &'static str) -> FieldMapping {
    row(proto, api, FieldKind::Date)
}
/// An output-only field.
pub(crate) const fn output(proto: &'static str, api: &'static str) -> FieldMapping {
    row(proto, api, FieldKind::OutputOnly)
}

/// How a find criterion becomes a SOQL condition.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CriterionKind {
    /// A non-empty string field equals the value.
    Equals,
    /// A non-empty reference field equals the ID, which must be one of this object's (its key
    /// prefix checked as well as its checksum).
    IdOf(&'static ObjectType),
    /// A `true` flag restricts to records whose `IsClosed` is false.
    OpenOnly,
}

/// One find criterion: a field of the `Find…Request` message and the API field it filters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Criterion {
    /// The request field.
    pub(crate) proto: &'static str,
    /// The API field.
    pub(crate) api: &'static str,
    /// How it filters.
    pub(crate) kind: CriterionKind,
}

const fn criterion(proto: &'static str, api: &'static str, kind: CriterionKind) -> Criterion {
    Criterion { proto, api, kind }
}
/// The request field, when set, must equal the API field.
pub(crate) const fn equals(proto: &'static str, api: &'static str) -> Criterion {
    criterion(proto, api, CriterionKind::Equals)
}
/// The request field, when set, is an ID of `object` the API field must equal.
pub(crate) const fn id_of(
    proto: &'static str,
    api: &'static str,
    object: &'static ObjectType,
) -> Criterion {
    criterion(proto, api, CriterionKind::IdOf(object))
}
/// The request flag, when true, keeps only records whose API field is false.
pub(crate) const fn open_only(proto: &'static str, api: &'static str) -> Criterion {
    criterion(proto, api, CriterionKind::OpenOnly)
}

/// The find criteria of people (Lead, Contact): name, email and phone.
pub(crate) const PERSON_CRITERIA: &[Criterion] = &[
    equals("first_name", "FirstName"),
    equals("last_name", "LastName"),
    equals("email", "Email"),
    equals("phone", "Phone"),
];

/// A built-in object's description, as its file writes it.
#[derive(Debug)]
pub(crate) struct ObjectTable {
    /// The API name, e.g. `Opportunity`.
    pub(crate) api_name: &'static str,
    /// The key prefix of its IDs, e.g. `006`.
    pub(crate) key_prefix: &'static str,
    /// The full name of the proto message, e.g. `sfgate.v1.Opportunity`.
    pub(crate) message: &'static str,
    /// The request field holding the resource (`opportunity`), for error field paths.
    pub(crate) request_field: &'static str,
    /// Proto field to API name, one row a field.
    pub(crate) fields: &'static [FieldMapping],
    /// The criteria of the find RPC.
    pub(crate) criteria: &'static [Criterion],
}

/// A Salesforce object with a typed API: one of the built-in six (and CaseComment), or an object
/// of a schema file (`[[schemas]]`), both served by the same operations.
#[derive(Debug)]
pub(crate) struct ObjectType {
    /// The API name, e.g. `Opportunity`.
    pub(crate) api_name: &'static str,
    /// The key prefix of its IDs, e.g. `006`.
    pub(crate) key_prefix: &'static str,
    /// The full name of the proto message, e.g. `sfgate.v1.Opportunity`.
    pub(crate) message: &'static str,
    /// The request field holding the resource (`opportunity`), for error field paths.
    pub(crate) request_field: &'static str,
    /// Proto field to API name, one row a field.
    pub(crate) fields: Cow<'static, [FieldMapping]>,
    /// The criteria of the find RPC.
    pub(crate) criteria: Cow<'static, [Criterion]>,
    /// The message's descriptor, for an object of a schema file (built-in objects look theirs up
    /// in the API's own pool).
    descriptor: Option<MessageDescriptor>,
    /// How records become the message, worked out on first use.
    encoding: OnceLock<Arc<encoding::RecordEncoding>>,
}

impl ObjectType {
    /// A built-in object, from its table.
    pub(crate) const fn built_in(table: ObjectTable) -> Self {
        Self {
            api_name: table.api_name,
            key_prefix: table.key_prefix,
            message: table.message,
            request_field: table.request_field,
            fields: Cow::Borrowed(table.fields),
            criteria: Cow::Borrowed(table.criteria),
            descriptor: None,
            encoding: OnceLock::new(),
        }
    }

    /// An object of a schema file: its message, the request field holding it, and the find
    /// criteria as request field and API field. Its names are interned (see [`intern`]).
    pub(crate) fn of_schema(
        object: &crate::schema::compile::ObjectSchema,
        request_field: &str,
        criteria: &[(String, String)],
    ) -> Self {
        let fields = object
            .fields
            .iter()
            .map(|field| FieldMapping {
                proto: intern(&field.proto),
                api: intern(&field.api),
                kind: FieldKind::of_schema(field),
            })
            .collect::<Vec<_>>();
        let criteria = criteria
            .iter()
            .map(|(proto, api)| equals(intern(proto), intern(api)))
            .collect::<Vec<_>>();
        Self {
            api_name: intern(&object.api_name),
            key_prefix: intern(&object.key_prefix),
            message: intern(object.message.full_name()),
            request_field: intern(request_field),
            fields: Cow::Owned(fields),
            criteria: Cow::Owned(criteria),
            descriptor: Some(object.message.clone()),
            encoding: OnceLock::new(),
        }
    }

    /// The message's descriptor.
    pub(crate) fn descriptor(&self) -> Result<MessageDescriptor, GatewayError> {
        match &self.descriptor {
            Some(descriptor) => Ok(descriptor.clone()),
            None => crate::pb::descriptor_pool()
                .get_message_by_name(self.message)
                .ok_or_else(|| {
                    GatewayError::Internal(format!("no descriptor for {}", self.message))
                }),
        }
    }

    /// How records become this object's message.
    pub(crate) fn encoding(&self) -> Result<Arc<encoding::RecordEncoding>, GatewayError> {
        if let Some(encoding) = self.encoding.get() {
            return Ok(Arc::clone(encoding));
        }
        let encoding = Arc::new(encoding::RecordEncoding::of(
            &self.descriptor()?,
            self.fields.iter().map(|field| field.proto),
        ));
        Ok(Arc::clone(self.encoding.get_or_init(|| encoding)))
    }

    /// The table row of a proto field.
    pub(crate) fn field_by_proto(&self, proto: &str) -> Option<&FieldMapping> {
        self.fields.iter().find(|field| field.proto == proto)
    }

    /// The table row of an API field.
    pub(crate) fn field_by_api(&self, api: &str) -> Option<&FieldMapping> {
        self.fields
            .iter()
            .find(|field| field.api.eq_ignore_ascii_case(api))
    }

    /// The request path of an API field, e.g. `lead.last_name` for `LastName`, or
    /// `lead.extra_fields.Foo__c` for a field the table does not map.
    pub(crate) fn request_path_of(&self, api: &str) -> String {
        let prefix = if self.request_field.is_empty() {
            String::new()
        } else {
            format!("{}.", self.request_field)
        };
        match self.field_by_api(api) {
            Some(field) => format!("{prefix}{}", field.proto),
            None if api.eq_ignore_ascii_case("Id") => format!("{prefix}id"),
            None => format!("{prefix}extra_fields.{api}"),
        }
    }
}

impl FieldKind {
    /// The kind of a schema file's field, by its Salesforce type.
    fn of_schema(field: &crate::schema::compile::SchemaField) -> Self {
        use crate::schema::field_types::ProtoType;
        if field.output_only {
            return Self::OutputOnly;
        }
        match (field.salesforce_type.as_str(), field.proto_type) {
            ("id" | "reference", _) => Self::Reference,
            (_, ProtoType::Date) => Self::Date,
            (_, ProtoType::Time) => Self::Time,
            (_, ProtoType::Timestamp) => Self::DateTime,
            (_, ProtoType::RepeatedString) => Self::MultiPicklist,
            (_, ProtoType::Bytes) => Self::Base64,
            (_, ProtoType::AnyValue) => Self::AnyValue,
            // Compound fields are read as a whole and written through their parts.
            (_, ProtoType::Address | ProtoType::GeoLocation) => Self::OutputOnly,
            (
                _,
                ProtoType::String
                | ProtoType::Bool
                | ProtoType::Int32
                | ProtoType::Int64
                | ProtoType::Double,
            ) => Self::Value,
        }
    }
}

/// The one `'static` copy of a name of a schema file (object, message and field names), so that
/// field tables are as cheap to read as the built-in ones. Each distinct name is kept once for the
/// life of the process: reloading the same schema adds nothing, and the total is bounded by the
/// names of every schema ever loaded.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::LazyLock::new(Default::default);
    let mut names = NAMES.lock();
    if let Some(known) = names.get(name) {
        return known;
    }
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(kept);
    kept
}

/// An object an operation acts on: a built-in one, or a schema file's (shared, as a detached
/// create outlives its caller).
#[derive(Debug, Clone)]
pub(crate) enum ObjectRef {
    /// A built-in object.
    BuiltIn(&'static ObjectType),
    /// An object of a schema file.
    Schema(Arc<ObjectType>),
}

impl std::ops::Deref for ObjectRef {
    type Target = ObjectType;

    fn deref(&self) -> &ObjectType {
        match self {
            Self::BuiltIn(object) => object,
            Self::Schema(object) => object,
        }
    }
}

/// Implements a typed object service: the six shared RPCs delegate to [`operations`]; the
/// object's extra RPCs follow the arguments, as methods of the service trait.
///
/// Arguments, in order: the service type, its tonic trait, the object's [`ObjectType`] static,
/// the resource message, the request field holding the resource (`lead`); then the name and
/// request type of Create, Get, Update and Delete; the name, request, response and repeated
/// response field of Find; the name, request and response of Upsert.
macro_rules! typed_object_service {
    (
        $(#[$meta:meta])*
        $service:ident, $server_trait:ident, $object:expr, $resource:ty, $resource_field:ident,
        $create:ident, $create_request:ty,
        $get:ident, $get_request:ty,
        $update:ident, $update_request:ty,
        $delete:ident, $delete_request:ty,
        $find:ident, $find_request:ty, $find_response:ident, $items:ident,
        $upsert:ident, $upsert_request:ty, $upsert_response:ident;
        $($extra:tt)*
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub(crate) struct $service<Limiter> {
            state: $crate::api::call::ApiState<Limiter>,
        }

        impl<Limiter> $service<Limiter> {
            /// Creates the service over the shared state.
            pub(crate) fn new(state: $crate::api::call::ApiState<Limiter>) -> Self {
                Self { state }
            }
        }

        #[tonic::async_trait]
        impl<Limiter: Send + Sync + 'static> $server_trait for $service<Limiter> {
            async fn $create(&self, request: tonic::Request<$create_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                $crate::api::call::respond($crate::api::typed::operations::prost_typed::create(&call, &$object, request.into_inner().$resource_field).await)
            }

            async fn $get(&self, request: tonic::Request<$get_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let request = request.into_inner();
                $crate::api::call::respond($crate::api::typed::operations::prost_typed::get(&call, &$object, &request.id, request.fields).await)
            }

            async fn $update(&self, request: tonic::Request<$update_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let request = request.into_inner();
                $crate::api::call::respond(
                    $crate::api::typed::operations::prost_typed::update(&call, &$object, request.$resource_field, request.update_mask).await,
                )
            }

            async fn $delete(&self, request: tonic::Request<$delete_request>) -> Result<tonic::Response<()>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                $crate::api::call::respond($crate::api::typed::operations::delete(&call, &$object, &request.into_inner().id).await)
            }

            async fn $find(&self, request: tonic::Request<$find_request>) -> Result<tonic::Response<$find_response>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let find_request = concat!("sfgate.v1.", stringify!($find_request));
                let page = $crate::api::typed::operations::prost_typed::find(&call, &$object, find_request, request.get_ref()).await;
                $crate::api::call::respond(page.map(|page| $find_response { $items: page.resources, next_page_token: page.next_page_token }))
            }

            async fn $upsert(&self, request: tonic::Request<$upsert_request>) -> Result<tonic::Response<$upsert_response>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let request = request.into_inner();
                let outcome = $crate::api::typed::operations::prost_typed::upsert(
                    &call,
                    &$object,
                    &request.external_id_field,
                    &request.external_id,
                    request.$resource_field,
                )
                .await;
                $crate::api::call::respond(outcome.map(|(resource, created)| $upsert_response { $resource_field: Some(resource), created }))
            }

            $($extra)*
        }
    };
}
pub(crate) use typed_object_service;

#[cfg(test)]
mod tests {
    use prost_reflect::Kind;

    use super::codec::descriptor;
    use super::{FieldKind, ObjectType};

    const TYPED_OBJECTS: [&ObjectType; 7] = [
        &super::lead::LEAD,
        &super::contact::CONTACT,
        &super::account::ACCOUNT,
        &super::opportunity::OPPORTUNITY,
        &super::case::CASE,
        &super::campaign::CAMPAIGN,
        &super::case::CASE_COMMENT,
    ];

    #[test]
    fn every_proto_field_has_exactly_one_table_row() {
        for object in TYPED_OBJECTS {
            let message = descriptor(object.message).unwrap();
            for field in message.fields() {
                if matches!(field.name(), "id" | "url" | "extra_fields") {
                    continue;
                }
                let rows = object
                    .fields
                    .iter()
                    .filter(|row| row.proto == field.name())
                    .count();
                assert_eq!(
                    rows,
                    1,
                    "{}.{} has {rows} table rows",
                    object.api_name,
                    field.name()
                );
            }
            for row in object.fields.iter() {
                let field = message.get_field_by_name(row.proto).unwrap_or_else(|| {
                    panic!(
                        "{}: table row {} is not a proto field",
                        object.api_name, row.proto
                    )
                });
                let writable_needs_presence =
                    row.kind != FieldKind::OutputOnly && !object.request_field.is_empty();
                assert!(
                    !writable_needs_presence || field.supports_presence(),
                    "{}.{} is writable but not `optional`: unset and empty could not be told apart",
                    object.api_name,
                    row.proto
                );
                if matches!(row.kind, FieldKind::Reference | FieldKind::Date) {
                    assert_eq!(
                        field.kind(),
                        Kind::String,
                        "{}.{}",
                        object.api_name,
                        row.proto
                    );
                }
            }
            let api_names: std::collections::HashSet<_> =
                object.fields.iter().map(|row| row.api).collect();
            assert_eq!(
                api_names.len(),
                object.fields.len(),
                "{} maps an API name twice",
                object.api_name
            );
        }
    }

    #[test]
    fn find_criteria_name_request_fields() {
        for object in &TYPED_OBJECTS[..6] {
            let plural = match object.api_name {
                "Opportunity" => "Opportunities".to_owned(),
                other => format!("{other}s"),
            };
            let request = descriptor(&format!("sfgate.v1.Find{plural}Request")).unwrap();
            for criterion in object.criteria.iter() {
                assert!(
                    request.get_field_by_name(criterion.proto).is_some(),
                    "{plural}: {}",
                    criterion.proto
                );
            }
        }
    }
}
