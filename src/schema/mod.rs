//! Typed services from an org's own schema (DESIGN.md §9):
//!
//! - [`field_types`]: the one table from Salesforce field types to proto types;
//! - [`describe`]: the parts of an object's describe that generation reads;
//! - [`naming`]: proto names from API names;
//! - [`generate`]: the `.proto` of an org's objects (`sfgate schema`);
//! - [`compile`]: a schema file compiled in-process and mapped to the objects it serves.

pub mod compile;
pub mod describe;
pub mod field_types;
pub mod generate;
pub mod naming;

/// The field numbers a schema file already gives, for regenerating it without renumbering.
pub fn numbers_of_file(
    path: &std::path::Path,
) -> Result<generate::PreviousNumbers, compile::SchemaError> {
    compile::load(path).map(|schema| compile::numbers_of(&schema))
}
