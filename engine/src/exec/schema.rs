//! The schemas the operators exchange.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names, shared by producers and consumers.
pub mod col {
    /// The raw line (bytes: a line need not be UTF-8).
    pub const LINE: &str = "line";
    /// The source file, as a URL or absolute path.
    pub const FILE: &str = "file";
    /// 1-based line number in the source file.
    pub const LINE_NUMBER: &str = "line_number";
    /// Scan: why a line was cut (over the length cap); null otherwise.
    pub const OVERFLOW: &str = "overflow";
    /// Row `id`.
    pub const ID: &str = "id";
    /// Row `id_part`.
    pub const ID_PART: &str = "id_part";
    /// Row `db_type`.
    pub const DB_TYPE: &str = "db_type";
    /// Row `last_modified`.
    pub const LAST_MODIFIED: &str = "last_modified";
    /// Row `val`.
    pub const VAL: &str = "val";
    /// The write operator's per-task summary (JSON).
    pub const SUMMARY: &str = "summary";
}

/// The scan's output: `line`, `file`, `line_number`, and `overflow`, set
/// (to what to quarantine it with) only for a line over the length cap,
/// whose `line` then holds only its beginning.
pub fn lines_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new(col::LINE, DataType::Binary, false),
            Field::new(col::FILE, DataType::Utf8, false),
            Field::new(col::LINE_NUMBER, DataType::UInt64, false),
            Field::new(col::OVERFLOW, DataType::Utf8, true),
        ]))
    });
    Arc::clone(&SCHEMA)
}

/// The `last_modified` type: milliseconds since the epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The ingest operator's output: good rows only, in the published columns
/// (`id_part` included; a writer makes it a directory when the layout says
/// so). Corrupt records are the ingest's other output, its quarantine.
pub fn ingested_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| crate::output::output_schema(true));
    Arc::clone(&SCHEMA)
}

/// The write operator's output: one row per task, its summary as JSON.
pub fn summary_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![Field::new(
            col::SUMMARY,
            DataType::Utf8,
            false,
        )]))
    });
    Arc::clone(&SCHEMA)
}

/// A schema in an operator's spec: an Arrow IPC stream holding only the
/// schema, in base64 (every type Arrow has, metadata included).
pub mod serde_schema {
    use datafusion::arrow::datatypes::SchemaRef;
    use datafusion::arrow::ipc::reader::StreamReader;
    use datafusion::arrow::ipc::writer::StreamWriter;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::record::base64;

    /// Serialises `schema`.
    pub fn serialize<S: Serializer>(schema: &SchemaRef, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        let mut writer =
            StreamWriter::try_new(&mut bytes, schema).map_err(serde::ser::Error::custom)?;
        writer.finish().map_err(serde::ser::Error::custom)?;
        drop(writer);
        s.serialize_str(&base64::encode(&bytes))
    }

    /// Deserialises a schema.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SchemaRef, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::decode(&text).map_err(|_| serde::de::Error::custom("not base64"))?;
        let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .map_err(serde::de::Error::custom)?;
        Ok(reader.schema())
    }
}
