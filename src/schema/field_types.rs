//! The one table from Salesforce field types (a describe's `type`) to proto types, for generated
//! messages: text-like types are `string`, a multi-select picklist `repeated string`, dates the
//! `YYYY-MM-DD` text the typed services use, date-times `google.protobuf.Timestamp`, compound
//! address and geolocation fields messages of their own, `anyType` a `google.protobuf.Value`.

/// A proto type a Salesforce field is generated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoType {
    /// `string`.
    String,
    /// `repeated string`: a multi-select picklist's values (Salesforce joins them with `;`).
    RepeatedString,
    /// `bool`.
    Bool,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `double`.
    Double,
    /// `string` holding `YYYY-MM-DD`.
    Date,
    /// `string` holding `HH:MM:SS.sssZ`.
    Time,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `bytes` (base64 in Salesforce's JSON).
    Bytes,
    /// `sfgate.v1.Address`: street, city, state, postal code, country, and their codes.
    Address,
    /// `sfgate.v1.GeoLocation`: latitude and longitude.
    GeoLocation,
    /// `google.protobuf.Value`: whatever the field holds.
    AnyValue,
}

impl ProtoType {
    /// The type as a `.proto` file writes it (without `optional`).
    pub fn proto_name(self) -> &'static str {
        match self {
            Self::String | Self::Date | Self::Time => "string",
            Self::RepeatedString => "repeated string",
            Self::Bool => "bool",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Double => "double",
            Self::Timestamp => "google.protobuf.Timestamp",
            Self::Bytes => "bytes",
            Self::Address => "sfgate.v1.Address",
            Self::GeoLocation => "sfgate.v1.GeoLocation",
            Self::AnyValue => "google.protobuf.Value",
        }
    }
}

/// Every Salesforce field type and its proto type (the describe's `type`, lower case).
pub const FIELD_TYPES: &[(&str, ProtoType)] = &[
    ("id", ProtoType::String),
    ("reference", ProtoType::String),
    ("string", ProtoType::String),
    ("textarea", ProtoType::String),
    ("phone", ProtoType::String),
    ("email", ProtoType::String),
    ("url", ProtoType::String),
    ("encryptedstring", ProtoType::String),
    ("combobox", ProtoType::String),
    ("picklist", ProtoType::String),
    ("multipicklist", ProtoType::RepeatedString),
    ("boolean", ProtoType::Bool),
    ("int", ProtoType::Int32),
    ("long", ProtoType::Int64),
    ("double", ProtoType::Double),
    ("currency", ProtoType::Double),
    ("percent", ProtoType::Double),
    ("date", ProtoType::Date),
    ("time", ProtoType::Time),
    ("datetime", ProtoType::Timestamp),
    ("base64", ProtoType::Bytes),
    ("address", ProtoType::Address),
    ("location", ProtoType::GeoLocation),
    ("anytype", ProtoType::AnyValue),
];

/// The proto type of a Salesforce field type, if it has one (case-insensitive).
pub fn proto_type_of(salesforce_type: &str) -> Option<ProtoType> {
    FIELD_TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(salesforce_type))
        .map(|(_, proto)| *proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_maps_one_salesforce_type() {
        let expected = [
            ("Id", "string"),
            ("reference", "string"),
            ("string", "string"),
            ("textarea", "string"),
            ("phone", "string"),
            ("email", "string"),
            ("url", "string"),
            ("encryptedstring", "string"),
            ("combobox", "string"),
            ("picklist", "string"),
            ("multipicklist", "repeated string"),
            ("boolean", "bool"),
            ("int", "int32"),
            ("long", "int64"),
            ("double", "double"),
            ("currency", "double"),
            ("percent", "double"),
            ("date", "string"),
            ("time", "string"),
            ("datetime", "google.protobuf.Timestamp"),
            ("base64", "bytes"),
            ("address", "sfgate.v1.Address"),
            ("location", "sfgate.v1.GeoLocation"),
            ("anyType", "google.protobuf.Value"),
        ];
        assert_eq!(
            expected.len(),
            FIELD_TYPES.len(),
            "a row per type, each tested"
        );
        for (salesforce, proto) in expected {
            assert_eq!(
                proto_type_of(salesforce).map(ProtoType::proto_name),
                Some(proto),
                "{salesforce}"
            );
        }
        let mut names: Vec<&str> = FIELD_TYPES.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELD_TYPES.len(), "each type once");
        assert_eq!(
            proto_type_of("complexvalue"),
            None,
            "an unsupported type is refused"
        );
    }
}
