//! The description of a typed Salesforce object: its API name, the proto message that carries it,
//! and the one table mapping proto fields to Salesforce API names. Generic code in
//! [`super::records`] does the rest.

use std::sync::OnceLock;

use super::record_codec::RecordEncoding;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CriterionKind {
    /// A non-empty string field equals the value.
    Equals,
    /// A non-empty record ID field equals the (validated) ID.
    IdEquals,
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
    /// The repeated field of the find response (`opportunities`).
    /// Proto field to API name, one row a field.
    pub(crate) fields: &'static [FieldMapping],
    /// The criteria of the find RPC.
    pub(crate) criteria: &'static [Criterion],
    /// How its message is written from a record, worked out on first use (`OnceLock::new()` in
    /// every table).
    pub(crate) encoding: OnceLock<RecordEncoding>,
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
