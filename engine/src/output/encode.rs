//! Encoding sorted good rows into one file's bytes, per format.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMillisecondType};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use flate2::write::GzEncoder;

use super::orc::{OrcOptions, OrcWriteError, OrcWriter};
use super::{OrcCompression, OutputFormat};
use crate::exec::schema::{col, timestamp_type};
use crate::record::UtcDateTime;

/// The columns of a published row: `id`, `id_part` (unless it is a directory),
/// `db_type`, `last_modified`, `val`.
pub fn output_schema(with_id_part: bool) -> SchemaRef {
    let mut fields = vec![Field::new(col::ID, DataType::Utf8, true)];
    if with_id_part {
        fields.push(Field::new(col::ID_PART, DataType::Utf8, true));
    }
    fields.extend([
        Field::new(col::DB_TYPE, DataType::Utf8, false),
        Field::new(col::LAST_MODIFIED, timestamp_type(), false),
        Field::new(col::VAL, DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// One file of `batches` (in [`output_schema`], in order), encoded as they
/// come, so only one chunk of rows is decoded at a time.
pub fn encode_batches(
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    format: OutputFormat,
    orc: OrcCompression,
) -> Result<Vec<u8>> {
    let external = |e: OrcWriteError| DataFusionError::External(Box::new(e));
    match format {
        OutputFormat::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                .build();
            let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props))?;
            for batch in batches {
                writer.write(&batch?)?;
            }
            Ok(writer.into_inner()?)
        }
        OutputFormat::Orc => {
            // A bloom filter on `id`: lookups by id skip the row groups
            // whose range holds it but whose rows do not.
            let options = OrcOptions::new(orc).with_bloom_filters(&[col::ID]);
            let mut writer = OrcWriter::try_new(schema, options).map_err(external)?;
            for batch in batches {
                writer.write(&batch?).map_err(external)?;
            }
            writer.finish().map_err(external)
        }
        OutputFormat::Jsonl => gzip_lines(batches, |batch, i, out| {
            let text = |name: &str| {
                batch
                    .column_by_name(name)
                    .map(|c| c.as_string::<i32>())
                    .filter(|c| c.is_valid(i))
                    .map(|c| c.value(i))
            };
            let millis = batch
                .column_by_name(col::LAST_MODIFIED)
                .map(|c| c.as_primitive::<TimestampMillisecondType>().value(i))
                .unwrap_or_default();
            let row = serde_json::json!({
                "id": text(col::ID),
                "id_part": text(col::ID_PART),
                "db_type": text(col::DB_TYPE),
                "last_modified": UtcDateTime::from_unix_millis(millis).map(|t| t.format_millis()),
                "val": text(col::VAL),
            });
            serde_json::to_writer(&mut *out, &row).map_err(std::io::Error::other)
        }),
        OutputFormat::Text => gzip_lines(batches, |batch, i, out| {
            let val = batch
                .column_by_name(col::VAL)
                .map(|c| c.as_string::<i32>().value(i))
                .unwrap_or_default();
            out.write_all(val.as_bytes())
        }),
    }
}

/// One file of any table's `batches` (a generic writer's output): Parquet
/// and ORC with the table's own types, JSON lines as arrow-json writes them
/// (gzip), text as the lines of the table's single string column (gzip).
/// ORC gets a bloom filter on `id` when the table has one.
pub fn encode_table(
    schema: SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
    orc: OrcCompression,
) -> Result<Vec<u8>> {
    match format {
        OutputFormat::Parquet | OutputFormat::Orc => {
            let blooms: &[&str] = if schema.column_with_name(col::ID).is_some() {
                &[col::ID]
            } else {
                &[]
            };
            if format == OutputFormat::Orc {
                let external = |e: OrcWriteError| DataFusionError::External(Box::new(e));
                let options = OrcOptions::new(orc).with_bloom_filters(blooms);
                let mut writer = OrcWriter::try_new(schema, options).map_err(external)?;
                for batch in batches {
                    writer.write(batch).map_err(external)?;
                }
                return writer.finish().map_err(external);
            }
            encode_batches(schema, batches.iter().cloned().map(Ok), format, orc)
        }
        OutputFormat::Jsonl => {
            let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            {
                let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut gz);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            Ok(gz.finish()?)
        }
        OutputFormat::Text => {
            let [field] = schema.fields().iter().collect::<Vec<_>>()[..] else {
                return Err(DataFusionError::Plan(format!(
                    "a text output has one string column, not {}",
                    schema.fields().len()
                )));
            };
            if field.data_type() != &DataType::Utf8 {
                return Err(DataFusionError::Plan(format!(
                    "a text output's column {} is {}, not a string",
                    field.name(),
                    field.data_type()
                )));
            }
            gzip_lines(batches.iter().cloned().map(Ok), |batch, i, out| {
                let column = batch.column(0).as_string::<i32>();
                if column.is_valid(i) {
                    out.write_all(column.value(i).as_bytes())?;
                }
                Ok(())
            })
        }
    }
}

fn gzip_lines(
    batches: impl Iterator<Item = Result<RecordBatch>>,
    mut line: impl FnMut(&RecordBatch, usize, &mut Vec<u8>) -> std::io::Result<()>,
) -> Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut buf = Vec::with_capacity(4096);
    for batch in batches {
        let batch = batch?;
        for i in 0..batch.num_rows() {
            buf.clear();
            line(&batch, i, &mut buf)?;
            buf.push(b'\n');
            gz.write_all(&buf)?;
        }
    }
    Ok(gz.finish()?)
}

/// A Hive partition value as a directory name component (Hive's
/// `escapePathName`: `%XX` for the characters paths cannot hold).
pub fn hive_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let special = c < ' '
            || matches!(
                c,
                '"' | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7f}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
            );
        if special {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        "__HIVE_DEFAULT_PARTITION__".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_escapes_what_paths_cannot_hold() {
        assert_eq!(hive_escape("ab"), "ab");
        assert_eq!(hive_escape("a/"), "a%2F");
        assert_eq!(hive_escape("=:"), "%3D%3A");
        assert_eq!(hive_escape(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(hive_escape("é"), "é");
    }
}
