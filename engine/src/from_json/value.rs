//! One parsed row's values, before they become Arrow arrays.

/// A value of a [`super::SparkType`]; `Null` is SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// TINYINT.
    Byte(i8),
    /// SMALLINT.
    Short(i16),
    /// INT.
    Int(i32),
    /// BIGINT.
    Long(i64),
    /// FLOAT.
    Float(f32),
    /// DOUBLE.
    Double(f64),
    /// DECIMAL: the unscaled value (the scale is the type's).
    Decimal(i128),
    /// STRING.
    String(String),
    /// DATE: days since 1970-01-01.
    Date(i32),
    /// TIMESTAMP: microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// ARRAY.
    Array(Vec<Val>),
    /// MAP, entries in input order (repeated keys kept, as Spark keeps them).
    Map(Vec<(String, Val)>),
    /// STRUCT, one value per field in declared order.
    Struct(Vec<Val>),
}

/// What `from_json` made of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// `None` for a NULL struct (the input was NULL, empty or blank); else one
    /// value per schema field.
    pub row: Option<Vec<Val>>,
    /// How Spark's parser judged the record.
    pub outcome: Outcome,
    /// Date and timestamp strings that Spark 3.5 refuses with
    /// `SparkUpgradeException` (its new parser rejects them, its legacy one
    /// reads them): Spark fails the query; Weir nulls the field and counts it.
    pub rejected_datetimes: u32,
}

/// Spark's verdict on a record (PERMISSIVE mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every field that is present converted.
    Ok,
    /// NULL, empty or blank input: a NULL struct.
    Empty,
    /// Some fields did not convert and are NULL; the rest are kept.
    Partial,
    /// Not a JSON object Spark can read (syntax error, a top-level array or
    /// scalar): every field is NULL.
    Malformed,
}
