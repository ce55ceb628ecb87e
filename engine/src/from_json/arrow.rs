//! Parsed rows as Arrow arrays: each column is built from its values, nested
//! columns from their children's values.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, ListArray, MapArray,
    StringArray, StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::arrow::error::ArrowError;

use super::schema::{SparkType, StructType, map_entries};
use super::value::{Outcome, Val};
use super::{FromJsonStats, parse};

/// `from_json` over a column of JSON text: one struct per row (NULL for a NULL,
/// empty or blank input), and what the parser met.
pub fn from_json_column(
    input: &StringArray,
    schema: &StructType,
) -> Result<(StructArray, FromJsonStats), ArrowError> {
    let mut stats = FromJsonStats::default();
    let mut rows: Vec<Option<Vec<Val>>> = Vec::with_capacity(input.len());
    for i in 0..input.len() {
        let text = (!input.is_null(i)).then(|| input.value(i));
        let parsed = parse(text, schema);
        stats.rows += 1;
        match parsed.outcome {
            Outcome::Ok | Outcome::Empty => {}
            Outcome::Partial => stats.partial += 1,
            Outcome::Malformed => stats.malformed += 1,
        }
        stats.rejected_datetimes += parsed.rejected_datetimes as u64;
        rows.push(parsed.row);
    }
    let valid: Vec<bool> = rows.iter().map(Option::is_some).collect();
    let fields = schema.fields();
    let mut columns = Vec::with_capacity(fields.len());
    for (f, field) in fields.iter().enumerate() {
        let values: Vec<&Val> = rows
            .iter()
            .map(|r| r.as_ref().map_or(&Val::Null, |r| &r[f]))
            .collect();
        columns.push(build(&field.ty, &values)?);
    }
    let array = StructArray::try_new(
        schema.arrow_fields(),
        columns,
        Some(NullBuffer::from(valid)),
    )?;
    Ok((array, stats))
}

/// One column of `ty` from its values (anything not of the type is NULL).
fn build(ty: &SparkType, values: &[&Val]) -> Result<ArrayRef, ArrowError> {
    macro_rules! primitive {
        ($builder:expr, $variant:ident) => {{
            let mut b = $builder;
            for v in values {
                match v {
                    Val::$variant(x) => b.append_value(*x),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match ty {
        SparkType::Boolean => primitive!(BooleanBuilder::with_capacity(values.len()), Bool),
        SparkType::Byte => primitive!(Int8Builder::with_capacity(values.len()), Byte),
        SparkType::Short => primitive!(Int16Builder::with_capacity(values.len()), Short),
        SparkType::Int => primitive!(Int32Builder::with_capacity(values.len()), Int),
        SparkType::Long => primitive!(Int64Builder::with_capacity(values.len()), Long),
        SparkType::Float => primitive!(Float32Builder::with_capacity(values.len()), Float),
        SparkType::Double => primitive!(Float64Builder::with_capacity(values.len()), Double),
        SparkType::Date => primitive!(Date32Builder::with_capacity(values.len()), Date),
        SparkType::Timestamp => primitive!(
            TimestampMicrosecondBuilder::with_capacity(values.len()).with_timezone("UTC"),
            Timestamp
        ),
        SparkType::Decimal { precision, scale } => primitive!(
            Decimal128Builder::with_capacity(values.len())
                .with_precision_and_scale(*precision, *scale as i8)?,
            Decimal
        ),
        SparkType::String => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 16);
            for v in values {
                match v {
                    Val::String(s) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        SparkType::Array(element) => {
            let mut children = Vec::new();
            let mut lengths = Vec::with_capacity(values.len());
            let mut valid = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Val::Array(items) => {
                        children.extend(items.iter());
                        lengths.push(items.len());
                        valid.push(true);
                    }
                    _ => {
                        lengths.push(0);
                        valid.push(false);
                    }
                }
            }
            Arc::new(ListArray::try_new(
                Arc::new(Field::new_list_field(element.arrow_type(), true)),
                OffsetBuffer::from_lengths(lengths),
                build(element, &children)?,
                Some(NullBuffer::from(valid)),
            )?)
        }
        SparkType::Map(value) => {
            let mut keys = StringBuilder::new();
            let mut children = Vec::new();
            let mut lengths = Vec::with_capacity(values.len());
            let mut valid = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Val::Map(entries) => {
                        for (k, v) in entries {
                            keys.append_value(k);
                            children.push(v);
                        }
                        lengths.push(entries.len());
                        valid.push(true);
                    }
                    _ => {
                        lengths.push(0);
                        valid.push(false);
                    }
                }
            }
            let entries_field = map_entries(value);
            let DataType::Struct(entry_fields) = entries_field.data_type().clone() else {
                unreachable!("map entries are a struct");
            };
            let entries = StructArray::try_new(
                entry_fields,
                vec![Arc::new(keys.finish()), build(value, &children)?],
                None,
            )?;
            Arc::new(MapArray::try_new(
                entries_field,
                OffsetBuffer::from_lengths(lengths),
                entries,
                Some(NullBuffer::from(valid)),
                false,
            )?)
        }
        SparkType::Struct(st) => {
            let valid: Vec<bool> = values.iter().map(|v| matches!(v, Val::Struct(_))).collect();
            let mut columns = Vec::with_capacity(st.fields().len());
            for f in 0..st.fields().len() {
                let child: Vec<&Val> = values
                    .iter()
                    .map(|v| match v {
                        Val::Struct(fields) => &fields[f],
                        _ => &Val::Null,
                    })
                    .collect();
                columns.push(build(&st.fields()[f].ty, &child)?);
            }
            let fields: Fields = st.arrow_fields();
            if fields.is_empty() {
                Arc::new(StructArray::new_empty_fields(
                    values.len(),
                    Some(NullBuffer::from(valid)),
                ))
            } else {
                Arc::new(StructArray::try_new(
                    fields,
                    columns,
                    Some(NullBuffer::from(valid)),
                )?)
            }
        }
    })
}
