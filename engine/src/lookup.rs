//! Lookup by id: the rows of a few ids in a published dataset, reading only
//! what can hold them — the `id_part=` directory the id falls in, then the
//! ORC stripes or Parquet row groups whose statistics' range holds the id,
//! and within an ORC stripe the `id` column first, the other columns only
//! for the rows that matched.
//!
//! Ids can be personal data: a [`LookupKey`] prints as `LookupKey(#n)`, and
//! no error or log line here holds one. Every byte fetched is counted
//! ([`Lookup::bytes_read`]), so the benchmark and the command can say how
//! much of the dataset a lookup read.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::exec::{hive_unescape, hive_value};
use crate::json::{canonical_string, parse};
use crate::output::OutputFormat;
use crate::record::RecordRules;
use crate::storage::Location;
use crate::{Error, Result};

/// The column every Weir output is keyed by.
pub const ID_COLUMN: &str = "id";

/// One id asked for: the `id` column's value, and the `id_part` directory
/// that holds it where the layout has them.
#[derive(Clone, PartialEq, Eq)]
pub struct LookupKey {
    /// The `id` column's value.
    pub id: String,
    /// The `id_part` it falls in (collections whose layout has `id_part=` directories).
    pub id_part: Option<String>,
    /// Its position among the ids asked (what reports name instead of it).
    pub position: usize,
}

impl std::fmt::Debug for LookupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the id itself: it can be personal data.
        write!(f, "LookupKey(#{})", self.position)
    }
}

impl LookupKey {
    /// The key of `given`, as a user types it. For collections with
    /// `id_part` (spec §7) the `id` column holds `message._id` serialised
    /// canonically, e.g. `{"id":"0f6e…"}`: `given` may be that, or the
    /// inner `id` alone. Otherwise `given` is the column's value.
    pub fn new(rules: &RecordRules, given: &str, position: usize) -> Self {
        if !rules.id_part {
            return Self {
                id: given.to_owned(),
                id_part: None,
                position,
            };
        }
        let inner = match parse(given) {
            Ok(value) => value
                .as_object()
                .and_then(|o| o.get("id"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            Err(_) => None,
        };
        let (id, inner) = match inner {
            Some(inner) => (canonical_or_given(given), inner),
            None => {
                // The inner id: `{"id": <it>}` as the pipeline writes it.
                let wrapped = format!("{{\"id\":{}}}", serde_json::Value::String(given.to_owned()));
                (canonical_or_given(&wrapped), given.to_owned())
            }
        };
        Self {
            id,
            id_part: Some(inner.chars().take(2).collect()),
            position,
        }
    }
}

fn canonical_or_given(text: &str) -> String {
    parse(text)
        .map(|v| canonical_string(&v))
        .unwrap_or_else(|_| text.to_owned())
}

/// A published file of the dataset looked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupFile {
    /// Its object path.
    pub path: ObjectPath,
    /// Its path relative to the dataset's directory (Hive `name=value`
    /// directories in it become columns of the rows found).
    pub relative: String,
    /// Its size.
    pub bytes: u64,
}

/// What a lookup found and what it cost.
#[derive(Debug, Default)]
pub struct Lookup {
    /// The rows of the ids asked, with the Hive columns of their file's path.
    pub rows: Vec<RecordBatch>,
    /// Rows found for each id asked, by position.
    pub found: Vec<usize>,
    /// Bytes fetched from storage.
    pub bytes_read: u64,
    /// Bytes of the dataset's files.
    pub dataset_bytes: u64,
    /// Files of the dataset.
    pub files: usize,
    /// Files opened (their footer read at least).
    pub files_opened: usize,
}

impl Lookup {
    /// The rows as JSON lines (one object per row, nulls left out).
    pub fn json_lines(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
        // A row that does not encode is a published file's (its types).
        for batch in &self.rows {
            writer
                .write(batch)
                .map_err(|e| published("rows found", e))?;
        }
        writer.finish().map_err(|e| published("rows found", e))?;
        Ok(out)
    }
}

/// The rows of `keys` in `files` (a dataset in `format`) whose
/// `key_column` (a string column; Weir's outputs' is [`ID_COLUMN`]) holds
/// one of them.
pub async fn lookup(
    dest: &Location,
    files: &[LookupFile],
    format: OutputFormat,
    key_column: &str,
    keys: &[LookupKey],
) -> Result<Lookup> {
    if !matches!(format, OutputFormat::Orc | OutputFormat::Parquet) {
        return Err(Error::Config {
            field: "lookup".to_owned(),
            detail: format!(
                "reads ORC and Parquet outputs; this one is {}",
                format.as_str()
            ),
        });
    }
    let counter = Arc::new(AtomicU64::new(0));
    let mut result = Lookup {
        dataset_bytes: files.iter().map(|f| f.bytes).sum(),
        files: files.len(),
        found: vec![0; keys.len()],
        ..Lookup::default()
    };
    for file in files {
        let file_part = hive_value(&file.relative, "id_part");
        let ids: BTreeSet<String> = keys
            .iter()
            .filter(|k| match (&file_part, &k.id_part) {
                (Some(dir), Some(part)) => dir == part,
                _ => true,
            })
            .map(|k| k.id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        result.files_opened += 1;
        let reader = Ranged {
            inner: Arc::new(RangedInner {
                handle: tokio::runtime::Handle::current(),
                store: Arc::clone(&dest.store),
                path: file.path.clone(),
                len: file.bytes,
                read: Arc::clone(&counter),
                cache: Mutex::new(HashMap::new()),
                storage_failed: Mutex::new(None),
            }),
        };
        let shown = dest.display(&file.path);
        let inner = Arc::clone(&reader.inner);
        let column = key_column.to_owned();
        let found = tokio::task::spawn_blocking(move || match format {
            OutputFormat::Orc => orc_rows(reader, &column, &ids),
            _ => parquet_rows(reader, &column, &ids),
        })
        .await
        .map_err(|e| published(&shown, e))?;
        // A storage failure is the environment's, not the file's.
        if let Some(detail) = inner.storage_failed.lock().ok().and_then(|mut f| f.take()) {
            return Err(Error::storage("get", shown, &detail));
        }
        let found = found.map_err(|e| published(&shown, e))?;
        for batch in found {
            result.rows.push(with_hive_columns(&batch, &file.relative)?);
        }
    }
    for batch in &result.rows {
        let Some(ids) = batch.column_by_name(key_column) else {
            continue;
        };
        let ids = cast(ids, &DataType::Utf8).map_err(|e| published("lookup rows", e))?;
        for id in ids.as_string::<i32>().iter().flatten() {
            for key in keys.iter().filter(|k| k.id == id) {
                // A caller's own key past the ids asked is not counted.
                if let Some(n) = result.found.get_mut(key.position) {
                    *n += 1;
                }
            }
        }
    }
    result.bytes_read = counter.load(Ordering::Relaxed);
    Ok(result)
}

fn published(file: &str, e: impl std::fmt::Display) -> Error {
    Error::Published {
        file: file.to_owned(),
        detail: crate::redact::secrets(&e.to_string()),
    }
}

/// `batch` with a string column for each `name=value` directory of `path`
/// it does not hold already.
fn with_hive_columns(batch: &RecordBatch, path: &str) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let segments: Vec<&str> = path.split('/').collect();
    for segment in &segments[..segments.len().saturating_sub(1)] {
        let Some((name, value)) = segment.split_once('=') else {
            continue;
        };
        if batch.schema().column_with_name(name).is_some() {
            continue;
        }
        fields.push(Field::new(name, DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(vec![
            hive_unescape(value);
            batch.num_rows()
        ])));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| published(path, e))
}

/// Rows of `batch` whose `key` is one of `ids`.
fn keep_ids(batch: &RecordBatch, key: &str, ids: &BTreeSet<String>) -> io::Result<RecordBatch> {
    let column = batch.column_by_name(key).ok_or_else(|| no_column(key))?;
    let column = cast(column, &DataType::Utf8).map_err(io::Error::other)?;
    let keep: BooleanArray = column
        .as_string::<i32>()
        .iter()
        .map(|v| Some(v.is_some_and(|v| ids.contains(v))))
        .collect();
    filter_record_batch(batch, &keep).map_err(io::Error::other)
}

fn no_column(key: &str) -> io::Error {
    io::Error::other(format!("no column {key:?}"))
}

/// Whether `[lower, upper]` can hold one of `ids`.
fn range_holds(ids: &BTreeSet<String>, lower: &[u8], upper: &[u8]) -> bool {
    ids.iter()
        .any(|id| lower <= id.as_bytes() && id.as_bytes() <= upper)
}

/// ORC: the stripes whose `id` statistics can hold an id; in each, the
/// `id` column, then every column of the rows that matched.
fn orc_rows(reader: Ranged, key: &str, ids: &BTreeSet<String>) -> io::Result<Vec<RecordBatch>> {
    use orc_rust::ArrowReaderBuilder;
    use orc_rust::projection::ProjectionMask;
    use orc_rust::row_selection::RowSelection;
    use orc_rust::statistics::TypeStatistics;

    let orc = |e: orc_rust::error::OrcError| io::Error::other(e);
    let builder = ArrowReaderBuilder::try_new(reader.clone()).map_err(orc)?;
    let meta = builder.file_metadata();
    let root = meta.root_data_type().clone();
    let column = root
        .children()
        .iter()
        .find(|c| c.name() == key)
        .map(|c| c.data_type().column_index())
        .ok_or_else(|| no_column(key))?;
    let stripes: Vec<(u64, u64)> = meta
        .stripe_metadatas()
        .iter()
        .filter(|s| {
            match s
                .column_statistics()
                .get(column)
                .and_then(|c| c.type_statistics())
            {
                Some(TypeStatistics::String {
                    lower_bound,
                    upper_bound,
                    ..
                }) => range_holds(ids, lower_bound.as_bytes(), upper_bound.as_bytes()),
                // No statistics: the stripe may hold anything.
                _ => true,
            }
        })
        .map(|s| (s.offset(), s.number_of_rows()))
        .collect();
    let mut out = Vec::new();
    for (offset, rows) in stripes {
        let range = offset as usize..offset as usize + 1;
        let ids_only = ArrowReaderBuilder::try_new(reader.clone())
            .map_err(orc)?
            .with_projection(ProjectionMask::named_roots(&root, &[key]))
            .with_file_byte_range(range.clone())
            .build();
        let mut matched = Vec::new();
        let mut row = 0usize;
        for batch in ids_only {
            let batch = batch.map_err(io::Error::other)?;
            let column = cast(batch.column(0), &DataType::Utf8).map_err(io::Error::other)?;
            for (i, v) in column.as_string::<i32>().iter().enumerate() {
                if v.is_some_and(|v| ids.contains(v)) {
                    matched.push(row + i..row + i + 1);
                }
            }
            row += batch.num_rows();
        }
        if matched.is_empty() {
            continue;
        }
        let selection = RowSelection::from_consecutive_ranges(matched.into_iter(), rows as usize);
        let rows = ArrowReaderBuilder::try_new(reader.clone())
            .map_err(orc)?
            .with_file_byte_range(range)
            .with_row_selection(selection)
            .build();
        for batch in rows {
            // The selection is exact; filtering again guards against a
            // reader that decodes more than it was asked.
            out.push(keep_ids(&batch.map_err(io::Error::other)?, key, ids)?);
        }
    }
    Ok(out)
}

/// Parquet: the row groups whose `id` statistics can hold an id.
fn parquet_rows(reader: Ranged, key: &str, ids: &BTreeSet<String>) -> io::Result<Vec<RecordBatch>> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(io::Error::other)?;
    let column = builder
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.path().parts() == [key])
        .ok_or_else(|| no_column(key))?;
    let groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            let stats = g.column(column).statistics();
            match stats.and_then(|s| Some((s.min_bytes_opt()?, s.max_bytes_opt()?))) {
                Some((lower, upper)) => range_holds(ids, lower, upper),
                None => true,
            }
        })
        .map(|(i, _)| i)
        .collect();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let reader = builder
        .with_row_groups(groups)
        .build()
        .map_err(io::Error::other)?;
    reader
        .map(|batch| keep_ids(&batch.map_err(io::Error::other)?, key, ids))
        .collect()
}

/// A file read by ranges from the object store, each range fetched once
/// and counted. The readers are synchronous; they run on a blocking thread
/// and wait on the runtime for each range.
#[derive(Clone)]
struct Ranged {
    inner: Arc<RangedInner>,
}

struct RangedInner {
    handle: tokio::runtime::Handle,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    len: u64,
    read: Arc<AtomicU64>,
    /// Ranges already fetched: the ORC reader reads the file's tail again
    /// for each pass, and the `id` stream twice.
    cache: Mutex<HashMap<(u64, u64), Bytes>>,
    /// The store's error, when a fetch failed (the readers see only an
    /// `io::Error`).
    storage_failed: Mutex<Option<String>>,
}

impl Ranged {
    fn fetch(&self, start: u64, length: u64) -> io::Result<Bytes> {
        let inner = &self.inner;
        let end = start.saturating_add(length).min(inner.len);
        if start >= end {
            return Ok(Bytes::new());
        }
        if let Some(hit) = inner
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&(start, end)).cloned())
        {
            return Ok(hit);
        }
        let got = inner
            .handle
            .block_on(inner.store.get_range(&inner.path, start..end))
            .map_err(|e| {
                let detail = crate::redact::secrets(&e.to_string());
                if let Ok(mut failed) = inner.storage_failed.lock() {
                    *failed = Some(detail.clone());
                }
                io::Error::other(detail)
            })?;
        inner.read.fetch_add(got.len() as u64, Ordering::Relaxed);
        if let Ok(mut cache) = inner.cache.lock() {
            cache.insert((start, end), got.clone());
        }
        Ok(got)
    }
}

impl orc_rust::reader::ChunkReader for Ranged {
    type T = bytes::buf::Reader<Bytes>;

    fn len(&self) -> u64 {
        self.inner.len
    }

    fn get_read(&self, offset_from_start: u64) -> io::Result<Self::T> {
        Ok(self
            .fetch(
                offset_from_start,
                self.inner.len - offset_from_start.min(self.inner.len),
            )?
            .reader())
    }

    fn get_bytes(&self, offset_from_start: u64, length: u64) -> io::Result<Bytes> {
        self.fetch(offset_from_start, length)
    }
}

impl datafusion::parquet::file::reader::Length for Ranged {
    fn len(&self) -> u64 {
        self.inner.len
    }
}

impl datafusion::parquet::file::reader::ChunkReader for Ranged {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> datafusion::parquet::errors::Result<Self::T> {
        let rest = self.inner.len - start.min(self.inner.len);
        Ok(self.fetch(start, rest)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> datafusion::parquet::errors::Result<Bytes> {
        Ok(self.fetch(start, length as u64)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed() -> RecordRules {
        RecordRules {
            id_part: true,
            ..RecordRules::default()
        }
    }

    #[test]
    fn an_inner_id_and_the_column_value_give_the_same_key() {
        let inner = LookupKey::new(&keyed(), "0f6e-é\"x", 0);
        let column = LookupKey::new(&keyed(), &inner.id, 1);
        assert_eq!(inner.id, column.id);
        assert_eq!(inner.id_part.as_deref(), Some("0f"));
        assert_eq!(column.id_part.as_deref(), Some("0f"));
        assert!(inner.id.starts_with("{\"id\":"), "{}", inner.id);
    }

    #[test]
    fn without_id_part_the_id_is_taken_as_given() {
        let key = LookupKey::new(&RecordRules::default(), "{\"id\":\"ab\"}", 3);
        assert_eq!(key.id, "{\"id\":\"ab\"}");
        assert_eq!(key.id_part, None);
    }

    #[test]
    fn a_key_never_prints_its_id() {
        let key = LookupKey::new(&keyed(), "secret-person-id", 7);
        let shown = format!("{key:?}");
        assert_eq!(shown, "LookupKey(#7)");
    }

    #[test]
    fn ranges_compare_as_bytes() {
        let ids: BTreeSet<String> = ["m".to_owned()].into();
        assert!(range_holds(&ids, b"a", b"z"));
        assert!(range_holds(&ids, b"m", b"m"));
        assert!(!range_holds(&ids, b"n", b"z"));
    }
}
