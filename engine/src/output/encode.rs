//! Encoding sorted good rows into one file's bytes, per format.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch, StringArray};
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
        OutputFormat::Jsonl | OutputFormat::Text => {
            let mut lines = Lines::new();
            for batch in batches {
                let batch = batch?;
                let columns = LineColumns::of(&batch, &schema);
                for i in 0..batch.num_rows() {
                    lines.push(|out| columns.line(format, i, out))?;
                }
            }
            Ok(lines.finish()?)
        }
    }
}

/// One file of a line format (JSON lines or text) written straight from
/// the buffered `batches`, the rows at `rows` ((batch, row), in the file's
/// order) in `schema`'s columns. Lines need no columns of their own, so the
/// rows are not gathered into sorted batches first (that copy was about
/// 2.6 % of a JSON-lines day's CPU).
pub fn encode_lines_at(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    rows: impl Iterator<Item = (usize, usize)>,
    format: OutputFormat,
) -> Result<Vec<u8>> {
    if !matches!(format, OutputFormat::Jsonl | OutputFormat::Text) {
        return Err(DataFusionError::Internal(format!(
            "{} is not a line format",
            format.as_str()
        )));
    }
    let columns: Vec<LineColumns<'_>> =
        batches.iter().map(|b| LineColumns::of(b, schema)).collect();
    let mut lines = Lines::new();
    for (batch, i) in rows {
        lines.push(|out| columns[batch].line(format, i, out))?;
    }
    Ok(lines.finish()?)
}

/// A batch's columns as the line formats read them: only those `schema`
/// has (a column the file leaves out is written as absent).
struct LineColumns<'a> {
    id: Option<&'a StringArray>,
    id_part: Option<&'a StringArray>,
    db_type: Option<&'a StringArray>,
    val: Option<&'a StringArray>,
    millis: Option<&'a PrimitiveArray<TimestampMillisecondType>>,
}

impl<'a> LineColumns<'a> {
    fn of(batch: &'a RecordBatch, schema: &Schema) -> Self {
        let column = |name: &str| {
            schema
                .column_with_name(name)
                .and_then(|_| batch.column_by_name(name))
        };
        let text = |name: &str| column(name).map(|c| c.as_string::<i32>());
        Self {
            id: text(col::ID),
            id_part: text(col::ID_PART),
            db_type: text(col::DB_TYPE),
            val: text(col::VAL),
            millis: column(col::LAST_MODIFIED)
                .map(|c| c.as_primitive::<TimestampMillisecondType>()),
        }
    }

    /// Row `i` as one line of `format` (JSON lines or text).
    fn line(&self, format: OutputFormat, i: usize, out: &mut Vec<u8>) {
        if format == OutputFormat::Text {
            return text_line(self.val, i, out);
        }
        // The old job's row as `serde_json::json!` wrote it (keys in its
        // map's order, absent values `null`), written field by field:
        // building a JSON value per row copied every `val`.
        let at = |c| value_at(c, i);
        let last_modified =
            UtcDateTime::from_unix_millis(self.millis.map(|m| m.value(i)).unwrap_or_default())
                .map(|t| t.format_millis());
        out.extend_from_slice(b"{\"db_type\":");
        json_string(out, at(self.db_type));
        out.extend_from_slice(b",\"id\":");
        json_string(out, at(self.id));
        out.extend_from_slice(b",\"id_part\":");
        json_string(out, at(self.id_part));
        out.extend_from_slice(b",\"last_modified\":");
        json_string(out, last_modified.as_deref());
        out.extend_from_slice(b",\"val\":");
        json_string(out, at(self.val));
        out.extend_from_slice(b"}\n");
    }
}

/// Row `i` of a string column as a text line: its value, or an empty line
/// when it is null or there is no column.
fn text_line(column: Option<&StringArray>, i: usize, out: &mut Vec<u8>) {
    if let Some(value) = value_at(column, i) {
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'\n');
}

/// Row `i` of a string column, `None` when null or when there is no column.
fn value_at(column: Option<&StringArray>, i: usize) -> Option<&str> {
    column.filter(|c| c.is_valid(i)).map(|c| c.value(i))
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
            let mut lines = Lines::new();
            for batch in batches {
                let column = batch.column(0).as_string::<i32>();
                for i in 0..batch.num_rows() {
                    lines.push(|out| text_line(Some(column), i, out))?;
                }
            }
            Ok(lines.finish()?)
        }
    }
}

/// Lines handed to the compressor at a time: a few hundred KB of text, so
/// the buffer stays small and the compressor gets large writes.
const LINES_CHUNK: usize = 128;

/// Gzip of lines, handed to the compressor [`LINES_CHUNK`] at a time.
struct Lines {
    gz: GzEncoder<Vec<u8>>,
    buf: Vec<u8>,
    pending: usize,
}

impl Lines {
    fn new() -> Self {
        Self {
            gz: GzEncoder::new(Vec::new(), flate2::Compression::fast()),
            buf: Vec::with_capacity(LINES_CHUNK * 4096),
            pending: 0,
        }
    }

    /// Adds the line `write` writes (ending in `\n`).
    fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> std::io::Result<()> {
        write(&mut self.buf);
        self.pending += 1;
        if self.pending == LINES_CHUNK {
            self.gz.write_all(&self.buf)?;
            self.buf.clear();
            self.pending = 0;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.gz.write_all(&self.buf)?;
        self.gz.finish()
    }
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

    /// Lines written straight from the buffer at given rows are the lines
    /// of those rows gathered first, for both line formats, with the
    /// buffer's columns the file leaves out (`id_part`) left out.
    #[test]
    fn lines_at_rows_are_the_lines_of_the_gathered_rows() {
        use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
        use datafusion::arrow::compute::interleave_record_batch;
        let n = 500;
        let text = |f: &dyn Fn(usize) -> Option<String>| -> StringArray { (0..n).map(f).collect() };
        let buffer = RecordBatch::try_new(
            output_schema(true),
            vec![
                Arc::new(text(&|i| (i % 9 != 4).then(|| format!("id-{i}")))),
                Arc::new(text(&|i| Some(format!("{:02x}", i % 256)))),
                Arc::new(text(&|i| Some(["INSERT", "DELETE"][i % 2].to_owned()))),
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(
                        (0..n as i64).map(|i| 1_600_000_000_000 + i * 7_919),
                    )
                    .with_data_type(timestamp_type()),
                ),
                Arc::new(text(&|i| Some(format!("{{\"n\":{i},\"s\":\"é\\u0001\"}}")))),
            ],
        )
        .unwrap();
        let batches = [buffer.slice(0, 180), buffer.slice(180, n - 180)];
        // Every row once, scattered over both batches.
        let rows: Vec<(usize, usize)> = (0..n)
            .map(|k| (k * 173) % n)
            .map(|g| if g < 180 { (0, g) } else { (1, g - 180) })
            .collect();
        for with_id_part in [true, false] {
            let schema = output_schema(with_id_part);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            let gathered = interleave_record_batch(&refs, &rows).unwrap();
            let gathered = gathered.project(&[0, 1, 2, 3, 4]).unwrap();
            let gathered = if with_id_part {
                gathered
            } else {
                gathered.project(&[0, 2, 3, 4]).unwrap()
            };
            let gathered =
                RecordBatch::try_new(Arc::clone(&schema), gathered.columns().to_vec()).unwrap();
            for format in [OutputFormat::Jsonl, OutputFormat::Text] {
                let at = encode_lines_at(&schema, &batches, rows.iter().copied(), format).unwrap();
                let whole = encode_batches(
                    Arc::clone(&schema),
                    [Ok(gathered.clone())].into_iter(),
                    format,
                    OrcCompression::Zlib,
                )
                .unwrap();
                let (at, whole) = (gunzip(&at), gunzip(&whole));
                assert_eq!(at.lines().count(), n, "{format:?}");
                assert_eq!(at, whole, "{format:?}, with id_part: {with_id_part}");
                if format == OutputFormat::Jsonl {
                    assert_eq!(
                        at.contains("\"id_part\":null"),
                        !with_id_part,
                        "id_part only where the file has it"
                    );
                }
            }
        }
        let not_lines = encode_lines_at(
            &output_schema(true),
            &batches,
            [].into_iter(),
            OutputFormat::Orc,
        );
        assert!(not_lines.is_err());
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
