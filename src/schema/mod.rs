//! Typed services from an org's own schema (issue 15, under way): the table that maps each
//! Salesforce field type to its proto type ([`field_types`]). Generation (`sfgate schema`) and
//! serving generated services build on it.

pub mod field_types;
