//! The generic record engine behind the typed object services. An object is described once
//! ([`ObjectType`]: its API name, the proto message that carries it, the one table mapping proto
//! fields to Salesforce API names, its find criteria); [`operations`] implements the shared RPCs
//! over that description and [`codec`] turns records into messages and back. Each object's file
//! holds its description, one [`typed_object_service!`] line-up and its extra RPCs.

pub(crate) mod codec;
pub(crate) mod operations;

pub(crate) mod account;
pub(crate) mod campaign;
pub(crate) mod case;
pub(crate) mod contact;
pub(crate) mod lead;
pub(crate) mod opportunity;

/// What a mapped field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A writable value passed through as is (text, number, boolean).
    Value,
    /// A writable record ID; validated (and normalised to 18 characters) before any call.
    Reference,
    /// A writable date, `YYYY-MM-DD`.
    Date,
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

/// Shorthands that keep the tables one line a field.
pub(crate) const fn value(proto: &'static str, api: &'static str) -> FieldMapping {
    FieldMapping {
        proto,
        api,
        kind: FieldKind::Value,
    }
}
/// A writable reference field.
pub(crate) const fn reference(proto: &'static str, api: &'static str) -> FieldMapping {
    FieldMapping {
        proto,
        api,
        kind: FieldKind::Reference,
    }
}
/// A writable date field.
pub(crate) const fn date(proto: &'static str, api: &'static str) -> FieldMapping {
    FieldMapping {
        proto,
        api,
        kind: FieldKind::Date,
    }
}
/// An output-only field.
pub(crate) const fn output(proto: &'static str, api: &'static str) -> FieldMapping {
    FieldMapping {
        proto,
        api,
        kind: FieldKind::OutputOnly,
    }
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

/// The find criteria of people (Lead, Contact): name, email and phone.
pub(crate) const PERSON_CRITERIA: &[Criterion] = &[
    Criterion {
        proto: "first_name",
        api: "FirstName",
        kind: CriterionKind::Equals,
    },
    Criterion {
        proto: "last_name",
        api: "LastName",
        kind: CriterionKind::Equals,
    },
    Criterion {
        proto: "email",
        api: "Email",
        kind: CriterionKind::Equals,
    },
    Criterion {
        proto: "phone",
        api: "Phone",
        kind: CriterionKind::Equals,
    },
];

/// A Salesforce object with a typed API.
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
    pub(crate) fields: &'static [FieldMapping],
    /// The criteria of the find RPC.
    pub(crate) criteria: &'static [Criterion],
}

impl ObjectType {
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
                $crate::api::call::respond($crate::api::typed::operations::create(&call, &$object, request.into_inner().$resource_field).await)
            }

            async fn $get(&self, request: tonic::Request<$get_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let request = request.into_inner();
                $crate::api::call::respond($crate::api::typed::operations::get(&call, &$object, &request.id, request.fields).await)
            }

            async fn $update(&self, request: tonic::Request<$update_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let request = request.into_inner();
                $crate::api::call::respond(
                    $crate::api::typed::operations::update(&call, &$object, request.$resource_field, request.update_mask).await,
                )
            }

            async fn $delete(&self, request: tonic::Request<$delete_request>) -> Result<tonic::Response<()>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                $crate::api::call::respond($crate::api::typed::operations::delete(&call, &$object, &request.into_inner().id).await)
            }

            async fn $find(&self, request: tonic::Request<$find_request>) -> Result<tonic::Response<$find_response>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let find_request = concat!("sfgate.v1.", stringify!($find_request));
                let page = $crate::api::typed::operations::find(&call, &$object, find_request, request.get_ref()).await;
                $crate::api::call::respond(page.map(|page| $find_response { $items: page.resources, next_page_token: page.next_page_token }))
            }

            async fn $upsert(&self, request: tonic::Request<$upsert_request>) -> Result<tonic::Response<$upsert_response>, tonic::Status> {
                let call = self.state.call_context(&request)?;
                let request = request.into_inner();
                let outcome = $crate::api::typed::operations::upsert(
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
            for row in object.fields {
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
            for criterion in object.criteria {
                assert!(
                    request.get_field_by_name(criterion.proto).is_some(),
                    "{plural}: {}",
                    criterion.proto
                );
            }
        }
    }
}
