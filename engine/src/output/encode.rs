//! Encoding sorted good rows into one file's bytes, per format.

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
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
        OutputFormat::Jsonl => gzip_lines(batches, |batch, rows, out| {
            // The old job's row as `serde_json::json!` wrote it (keys in
            // its map's order, absent values `null`), written field by
            // field: building a JSON value per row copied every `val`.
            let text = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>());
            let (id, id_part, db_type, val) = (
                text(col::ID),
                text(col::ID_PART),
                text(col::DB_TYPE),
                text(col::VAL),
            );
            let millis = batch
                .column_by_name(col::LAST_MODIFIED)
                .map(|c| c.as_primitive::<TimestampMillisecondType>());
            for i in rows {
                let at = |c| value_at(c, i);
                let last_modified =
                    UtcDateTime::from_unix_millis(millis.map(|m| m.value(i)).unwrap_or_default())
                        .map(|t| t.format_millis());
                out.extend_from_slice(b"{\"db_type\":");
                json_string(out, at(db_type));
                out.extend_from_slice(b",\"id\":");
                json_string(out, at(id));
                out.extend_from_slice(b",\"id_part\":");
                json_string(out, at(id_part));
                out.extend_from_slice(b",\"last_modified\":");
                json_string(out, last_modified.as_deref());
                out.extend_from_slice(b",\"val\":");
                json_string(out, at(val));
                out.extend_from_slice(b"}\n");
            }
            Ok(())
        }),
        OutputFormat::Text => gzip_lines(batches, |batch, rows, out| {
            let val = batch.column_by_name(col::VAL).map(|c| c.as_string::<i32>());
            text_lines(val, rows, out);
            Ok(())
        }),
    }
}

/// Row `i` of a string column, `None` when null or when there is no column.
fn value_at(column: Option<&StringArray>, i: usize) -> Option<&str> {
    column.filter(|c| c.is_valid(i)).map(|c| c.value(i))
}

/// One line per row of a string column: its value, or an empty line when
/// it is null or there is no column.
fn text_lines(column: Option<&StringArray>, rows: Range<usize>, out: &mut Vec<u8>) {
    for i in rows {
        if let Some(value) = value_at(column, i) {
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
}

/// A JSON string as serde_json writes it (`write_utf8_str` escapes the
/// same bytes the same way), or `null`.
fn json_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(v) => crate::json::write_utf8_str(v, out),
        None => out.extend_from_slice(b"null"),
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
            gzip_lines(batches.iter().cloned().map(Ok), |batch, rows, out| {
                text_lines(Some(batch.column(0).as_string::<i32>()), rows, out);
                Ok(())
            })
        }
    }
}

/// Rows handed to `lines` at a time: a few hundred KB of text, so the
/// buffer stays small and the compressor gets large writes.
const LINES_CHUNK: usize = 128;

/// Gzip of the lines `lines` writes (each ending in `\n`) for chunks of
/// each batch's rows.
fn gzip_lines(
    batches: impl Iterator<Item = Result<RecordBatch>>,
    mut lines: impl FnMut(&RecordBatch, Range<usize>, &mut Vec<u8>) -> std::io::Result<()>,
) -> Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut buf = Vec::with_capacity(LINES_CHUNK * 4096);
    for batch in batches {
        let batch = batch?;
        let rows = batch.num_rows();
        for start in (0..rows).step_by(LINES_CHUNK) {
            buf.clear();
            lines(&batch, start..rows.min(start + LINES_CHUNK), &mut buf)?;
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

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text).unwrap();
        text
    }

    /// JSON lines are the bytes `serde_json::json!` gave for each row
    /// before they were written field by field: key order, escapes, `null`s,
    /// and a table without `id_part`; over more rows than one chunk.
    #[test]
    fn json_lines_are_the_old_rows_byte_for_byte() {
        use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
        let vals = [
            r#"{"a":"q\"uote","b":"\u0001 tab\t é 😀 </"}"#,
            "plain",
            "",
            "line\nbreak \u{7f} \u{2028}",
        ];
        let n = 300;
        let rows: Vec<usize> = (0..n).collect();
        let ids: StringArray = rows
            .iter()
            .map(|i| (i % 7 != 3).then(|| format!(r#"{{"id":"{i}\""}}"#)))
            .collect();
        let parts: StringArray = rows
            .iter()
            .map(|i| (i % 5 != 1).then(|| format!("{:02x}", i % 256)))
            .collect();
        let types: StringArray = rows
            .iter()
            .map(|i| Some(if i % 2 == 0 { "INSERT" } else { "DELETE" }))
            .collect();
        let millis = TimestampMillisecondArray::from(
            rows.iter()
                .map(|i| 1_700_000_000_000 + *i as i64 * 997)
                .collect::<Vec<_>>(),
        )
        .with_data_type(timestamp_type());
        let val: StringArray = rows.iter().map(|i| Some(vals[i % vals.len()])).collect();
        for with_id_part in [true, false] {
            let mut columns: Vec<datafusion::arrow::array::ArrayRef> = vec![Arc::new(ids.clone())];
            if with_id_part {
                columns.push(Arc::new(parts.clone()));
            }
            columns.extend([
                Arc::new(types.clone()) as _,
                Arc::new(millis.clone()) as _,
                Arc::new(val.clone()) as _,
            ]);
            let schema = output_schema(with_id_part);
            let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
            let bytes = encode_batches(
                schema,
                [Ok(batch.slice(0, 100)), Ok(batch.slice(100, 200))].into_iter(),
                OutputFormat::Jsonl,
                OrcCompression::Zlib,
            )
            .unwrap();
            let mut expected = String::new();
            for i in 0..n {
                let text = |c: &StringArray| c.is_valid(i).then(|| c.value(i).to_owned());
                let row = serde_json::json!({
                    "id": text(&ids),
                    "id_part": if with_id_part { text(&parts) } else { None },
                    "db_type": text(&types),
                    "last_modified": UtcDateTime::from_unix_millis(millis.value(i))
                        .map(|t| t.format_millis()),
                    "val": text(&val),
                });
                expected.push_str(&serde_json::to_string(&row).unwrap());
                expected.push('\n');
            }
            assert_eq!(gunzip(&bytes), expected, "with id_part: {with_id_part}");
        }
    }

    #[test]
    fn hive_escapes_what_paths_cannot_hold() {
        assert_eq!(hive_escape("ab"), "ab");
        assert_eq!(hive_escape("a/"), "a%2F");
        assert_eq!(hive_escape("=:"), "%3D%3A");
        assert_eq!(hive_escape(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(hive_escape("é"), "é");
    }
}
