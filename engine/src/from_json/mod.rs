//! `from_json(json_text, schema)` with Spark 3.5's semantics (PERMISSIVE mode,
//! session time zone UTC, the default options), as the old job's
//! `from_json(val, <schema file>)` and its SQL used it: the schema is a Spark
//! DDL string or a Spark JSON schema; fields are matched by exact name; a
//! value that does not convert is NULL and its siblings are kept; input that
//! is not a JSON object gives a struct of NULLs; NULL, empty or blank input
//! gives NULL.
//!
//! Where Spark raises instead of returning (a date or timestamp string that
//! its new parser rejects and its legacy one reads, `SparkUpgradeException`),
//! Weir nulls the field and counts it ([`FromJsonStats::rejected_datetimes`]):
//! one odd date must not fail a day.
//!
//! ```
//! use weir_engine::from_json::{Val, parse, parse_schema};
//!
//! let schema = parse_schema("a STRING, b INT, c DATE").unwrap();
//! let row = parse(Some(r#"{"a": [1, 2.50], "b": "7", "c": "2023-6-1 10:00"}"#), &schema).row;
//! assert_eq!(
//!     row,
//!     Some(vec![Val::String("[1,2.5]".into()), Val::Null, Val::Date(19509)])
//! );
//! ```

mod arrow;
mod convert;
mod datetime;
mod decimal;
mod generate;
mod lexer;
mod schema;
mod udf;
mod value;

#[cfg(test)]
mod tests;

pub use arrow::from_json_column;
pub use schema::{SchemaError, SparkType, StructField, StructType, parse_schema};
pub use udf::from_json_udf;
pub use value::{Outcome, Parsed, Val};

/// The function's SQL name.
pub const FROM_JSON: &str = "from_json";

/// Parses one input (`None` is SQL NULL) as Spark's `from_json` does.
pub fn parse(input: Option<&str>, schema: &StructType) -> Parsed {
    convert::parse(input, schema)
}

/// What `from_json` met in a column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FromJsonStats {
    /// Inputs read.
    pub rows: u64,
    /// Inputs that were not a JSON object Spark can read (all fields NULL).
    pub malformed: u64,
    /// Inputs with at least one field that did not convert (NULL).
    pub partial: u64,
    /// Date and timestamp strings Spark 3.5 would raise on (nulled here).
    pub rejected_datetimes: u64,
}
