//! What a write task does with a full buffer: sort it by (`id_part`, `id`)
//! and encode it, either as the day's files (one per `id_part` directory,
//! or one) or, when the layout has `id_part=` directories, as sorted runs
//! that [`super::CompactExec`] merges into one file per directory.
//!
//! Only the sort keys are copied for sorting; rows are gathered from the
//! buffered batches one chunk at a time, so a flush holds the buffer plus
//! one chunk and one encoded file, not a second copy of the buffer. Line
//! formats (JSON lines, text) are not gathered at all: each line is written
//! from the batch its row is in.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{
    SortColumn, SortOptions, concat, interleave_record_batch, lexsort_to_indices,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::error::{DataFusionError, Result};

use super::schema::col;
use crate::output::{
    OutputFormat, OutputSpec, encode_batches, encode_lines_at, hive_escape, output_schema,
};

/// One encoded file: its path under the staging directory, bytes, rows.
pub(super) type EncodedFile = (String, Vec<u8>, u64);

/// Rows gathered at once while encoding a file, at most.
const ENCODE_CHUNK: usize = 16 * 1024;

/// Bytes gathered at once while encoding a file: a chunk the encoder reads
/// back from the cache it was just written to. (Chunks of 16,384 rows of
/// ~2 KB lines were 32 MB, written out to memory and read back in.)
const ENCODE_CHUNK_BYTES: usize = 256 * 1024;

/// The extension of run files (Arrow IPC streams, LZ4 frames).
pub(super) const RUN_EXTENSION: &str = "arrows";

/// Bytes per batch in a run: the merge holds one batch of every run it
/// reads, so small batches keep it small however many runs a day has.
const RUN_BATCH_BYTES: usize = 256 * 1024;

/// Buffered rows in (`id_part`, `id`) order, and the stretches of equal
/// `id_part` (one stretch, `None`, when `by_id_part` is false).
struct Sorted<'a> {
    batches: &'a [RecordBatch],
    starts: Vec<usize>,
    order: Vec<usize>,
    stretches: Vec<(usize, usize, Option<String>)>,
}

impl<'a> Sorted<'a> {
    fn new(batches: &'a [RecordBatch], by_id_part: bool) -> Result<Self> {
        let key_names: &[&str] = if by_id_part {
            &[col::ID_PART, col::ID]
        } else {
            &[col::ID]
        };
        let keys: Vec<ArrayRef> = key_names
            .iter()
            .map(|name| {
                let parts: Vec<ArrayRef> = batches
                    .iter()
                    .map(|b| column(b, name))
                    .collect::<Result<_>>()?;
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                Ok(concat(&refs)?)
            })
            .collect::<Result<_>>()?;
        let sort: Vec<SortColumn> = keys
            .iter()
            .map(|values| SortColumn {
                values: Arc::clone(values),
                options: Some(SortOptions {
                    descending: false,
                    nulls_first: true,
                }),
            })
            .collect();
        let order: Vec<usize> = lexsort_to_indices(&sort, None)?
            .values()
            .iter()
            .map(|i| *i as usize)
            .collect();
        let mut starts = Vec::with_capacity(batches.len());
        let mut total = 0usize;
        for b in batches {
            starts.push(total);
            total += b.num_rows();
        }
        let mut stretches = Vec::new();
        if by_id_part {
            let id_part = keys[0].as_string::<i32>();
            let value = |g: usize| id_part.is_valid(g).then(|| id_part.value(g));
            let mut start = 0;
            for i in 1..=order.len() {
                if i == order.len() || value(order[i]) != value(order[start]) {
                    let v = value(order[start]).unwrap_or("").to_owned();
                    stretches.push((start, i, Some(v)));
                    start = i;
                }
            }
        } else if !order.is_empty() {
            stretches.push((0, order.len(), None));
        }
        Ok(Self {
            batches,
            starts,
            order,
            stretches,
        })
    }

    /// About the bytes a row takes in `schema`'s columns (the buffer's
    /// average).
    fn row_bytes(&self, schema: &SchemaRef) -> f64 {
        let data: usize = self
            .batches
            .iter()
            .flat_map(|b| {
                schema
                    .fields()
                    .iter()
                    .filter_map(|f| b.column_by_name(f.name()))
                    .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
            })
            .sum();
        data as f64 / self.order.len().max(1) as f64
    }

    /// Rows per gathered chunk of about `bytes` (at least 16).
    fn chunk_rows(&self, bytes: usize) -> usize {
        let buffered: usize = self
            .batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        let row_bytes = buffered / self.order.len().max(1);
        (bytes / row_bytes.max(1)).clamp(16, ENCODE_CHUNK)
    }

    /// Where row `order[i]` is: (batch, row in it), for each `i` of `rows`.
    fn located(&self, rows: impl Iterator<Item = usize>) -> Vec<(usize, usize)> {
        rows.map(|i| {
            let global = self.order[i];
            let batch = self.starts.partition_point(|s| *s <= global) - 1;
            (batch, global - self.starts[batch])
        })
        .collect()
    }

    /// The rows `order[range]` in `schema`'s columns, a chunk at a time.
    fn gather(
        &self,
        rows: impl Iterator<Item = usize>,
        schema: &SchemaRef,
        chunk_rows: usize,
    ) -> impl Iterator<Item = Result<RecordBatch>> + '_ {
        let refs: Vec<&RecordBatch> = self.batches.iter().collect();
        let pairs = self.located(rows);
        let chunk_rows = chunk_rows.max(1);
        let schema = Arc::clone(schema);
        (0..pairs.len()).step_by(chunk_rows).map(move |start| {
            let chunk = &pairs[start..pairs.len().min(start + chunk_rows)];
            let rows = interleave_record_batch(&refs, chunk)?;
            let columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| column(&rows, f.name()))
                .collect::<Result<_>>()?;
            Ok(RecordBatch::try_new(Arc::clone(&schema), columns)?)
        })
    }
}

/// Sorts buffered rows and encodes the day's files: one per `id_part`
/// directory (or one), named `name`, each handed to `emit` when done.
pub(super) fn encode_flush(
    batches: &[RecordBatch],
    spec: &OutputSpec,
    name: &str,
    mut emit: impl FnMut(EncodedFile) -> Result<()>,
) -> Result<()> {
    let sorted = Sorted::new(batches, spec.id_part_dirs)?;
    let schema = output_schema(!spec.id_part_dirs);
    let chunk_rows = sorted.chunk_rows(ENCODE_CHUNK_BYTES);
    for (start, end, id_part) in &sorted.stretches {
        let target = match id_part {
            Some(v) => format!("id_part={}/{name}", hive_escape(v)),
            None => name.to_owned(),
        };
        let bytes = match spec.format {
            // Lines are written from the buffer where the rows are.
            OutputFormat::Jsonl | OutputFormat::Text => {
                let rows = sorted.located(*start..*end);
                guarded(spec, &target, || {
                    encode_lines_at(&schema, batches, rows.into_iter(), spec.format)
                })?
            }
            OutputFormat::Orc | OutputFormat::Parquet => {
                let rows = sorted.gather(*start..*end, &schema, chunk_rows);
                encode_file(&schema, rows, spec, &target)?
            }
        };
        emit((target, bytes, (end - start) as u64))?;
    }
    Ok(())
}

/// One sorted run of a flush: a group's rows, gathered as it is consumed,
/// either into batches to hold in memory or into its staged encoding.
pub(super) struct Run<'a> {
    /// `<group>/<name>.arrows`, under the staging directory.
    pub target: String,
    /// Rows in the run.
    pub rows: u64,
    /// About the bytes the run's rows take as Arrow arrays.
    pub arrow_bytes: usize,
    chunks: Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>,
    ipc: IpcWriteOptions,
    compress: bool,
    chunk_rows: usize,
}

impl Run<'_> {
    /// The run's rows, in batches of about [`RUN_BATCH_BYTES`].
    pub(super) fn batches(self) -> Result<Vec<RecordBatch>> {
        self.chunks.collect()
    }

    /// The run as an Arrow IPC stream (in LZ4 frames when compressed).
    pub(super) fn encode(self) -> Result<Vec<u8>> {
        // Sized up front: grown by doubling, each run was copied about once
        // more. (LZ4's output is smaller by an unknown factor: left to grow.)
        let sized = match self.compress {
            false => Vec::with_capacity(ipc_bytes(
                self.arrow_bytes,
                self.rows as usize,
                self.chunk_rows,
            )),
            true => Vec::new(),
        };
        let schema = output_schema(true);
        let mut writer = StreamWriter::try_new_with_options(sized, &schema, self.ipc)?;
        for batch in self.chunks {
            writer.write(&batch?)?;
        }
        writer.finish()?;
        Ok(writer.into_inner()?)
    }
}

/// Sorts buffered rows by (`id_part`, `id`) and hands `emit` one run per
/// group of `id_part`s ([`run_group`]), to hold or to encode as an Arrow
/// IPC stream, in LZ4 frames when `compress`.
///
/// Runs staged on a local disk are not compressed: LZ4 there cost about 6 %
/// of an ORC day's CPU (compressing and reading back) to save bytes that
/// never leave the machine. On object stores they cross the network twice.
pub(super) fn sorted_runs(
    batches: &[RecordBatch],
    groups: usize,
    name: &str,
    compress: bool,
    mut emit: impl FnMut(Run<'_>) -> Result<()>,
) -> Result<()> {
    let sorted = Sorted::new(batches, true)?;
    let schema = output_schema(true);
    let mut by_group: Vec<Vec<(usize, usize)>> = vec![Vec::new(); groups.max(1)];
    for (start, end, id_part) in &sorted.stretches {
        let group = run_group(id_part.as_deref().unwrap_or(""), groups);
        by_group[group].push((*start, *end));
    }
    let chunk_rows = sorted.chunk_rows(RUN_BATCH_BYTES);
    let ipc = IpcWriteOptions::default()
        .try_with_compression(compress.then_some(CompressionType::LZ4_FRAME))
        .map_err(DataFusionError::from)?;
    let row_bytes = sorted.row_bytes(&schema);
    for (group, stretches) in by_group.iter().enumerate() {
        if stretches.is_empty() {
            continue;
        }
        let rows = stretches.iter().flat_map(|(s, e)| *s..*e);
        let count: usize = stretches.iter().map(|(s, e)| e - s).sum();
        emit(Run {
            target: format!("{group:05}/{name}.{RUN_EXTENSION}"),
            rows: count as u64,
            arrow_bytes: (row_bytes * count as f64) as usize,
            chunks: Box::new(sorted.gather(rows, &schema, chunk_rows)),
            ipc: ipc.clone(),
            compress,
            chunk_rows,
        })?;
    }
    Ok(())
}

/// About the bytes `rows` rows of `arrow_bytes` take as an Arrow IPC stream
/// of chunks of `chunk_rows`, and a little more.
fn ipc_bytes(arrow_bytes: usize, rows: usize, chunk_rows: usize) -> usize {
    // A chunk's message header and 64-byte padding: under 4 KiB.
    (arrow_bytes as f64 * 1.03) as usize + (rows / chunk_rows.max(1) + 2) * 4096
}

/// The group of an `id_part` among `groups`: a fixed hash (FNV-1a), the
/// same in every process, so every task sends an `id_part` to one group.
pub(super) fn run_group(id_part: &str, groups: usize) -> usize {
    let hash = id_part.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % groups.max(1) as u64) as usize
}

/// The group a run's target (`<group>/<name>`) belongs to.
pub fn group_of_target(target: &str) -> Option<usize> {
    target.split('/').next()?.parse().ok()
}

/// Encodes one file; an encoder's error or panic fails the task naming the
/// file (and, from the encoder, the column) instead of crashing it.
pub(super) fn encode_file(
    schema: &SchemaRef,
    chunks: impl Iterator<Item = Result<RecordBatch>>,
    spec: &OutputSpec,
    target: &str,
) -> Result<Vec<u8>> {
    guarded(spec, target, || {
        encode_batches(
            Arc::clone(schema),
            chunks,
            spec.format,
            spec.orc_compression,
        )
    })
}

/// Runs an encoder of `target`: its error or panic becomes an error naming
/// the file.
fn guarded(
    spec: &OutputSpec,
    target: &str,
    encode: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let format = spec.format.as_str();
    let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(encode));
    match encoded {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(DataFusionError::External(Box::new(EncodeError {
            file: target.to_owned(),
            format,
            detail: e.to_string(),
        }))),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(DataFusionError::External(Box::new(EncodeError {
                file: target.to_owned(),
                format,
                detail: format!("the {format} encoder panicked (a bug in Weir): {detail}"),
            })))
        }
    }
}

/// A file that could not be encoded: the data's fault when a value cannot
/// be stored in the format (the detail names the column), a bug otherwise.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {file} as {format}: {detail}")]
struct EncodeError {
    /// The file, relative to the day's directory.
    file: String,
    /// The output format.
    format: &'static str,
    /// What went wrong.
    detail: String,
}

pub(super) fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| DataFusionError::Internal(format!("missing column {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_stable_and_spread() {
        assert_eq!(run_group("ab", 4), run_group("ab", 4));
        let used: std::collections::BTreeSet<usize> = (0..256)
            .map(|i| run_group(&format!("{i:02x}"), 4))
            .collect();
        assert_eq!(used.len(), 4);
        assert_eq!(group_of_target("00003/part-1.arrows"), Some(3));
    }

    /// Every run `sorted_runs` makes, encoded: target, bytes, rows.
    fn encoded_runs(batch: &RecordBatch, groups: usize, compress: bool) -> Vec<EncodedFile> {
        let mut files = Vec::new();
        sorted_runs(std::slice::from_ref(batch), groups, "p", compress, |run| {
            let (target, rows) = (run.target.clone(), run.rows);
            files.push((target, run.encode()?, rows));
            Ok(())
        })
        .unwrap();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files
    }

    /// The rows of every run `sorted_runs` makes, decoded, and its bytes.
    fn runs(batch: &RecordBatch, compress: bool) -> (Vec<RecordBatch>, usize) {
        let files = encoded_runs(batch, 2, compress);
        let bytes = files.iter().map(|f| f.1.len()).sum();
        let mut rows = Vec::new();
        for (_, file, _) in files {
            let mut decoder = datafusion::arrow::ipc::reader::StreamDecoder::new();
            let mut buf = datafusion::arrow::buffer::Buffer::from_vec(file);
            while !buf.is_empty() {
                if let Some(b) = decoder.decode(&mut buf).unwrap() {
                    rows.push(b);
                }
            }
            decoder.finish().unwrap();
        }
        (rows, bytes)
    }

    /// Rows in the runs' columns: `ids` (their first two characters as
    /// `id_part`), inserts, and `val(i)` for row `i`.
    fn rows_of<'a>(ids: &[String], val: impl Fn(usize) -> &'a str) -> RecordBatch {
        use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
        let n = ids.len();
        RecordBatch::try_new(
            output_schema(true),
            vec![
                Arc::new(StringArray::from_iter_values(ids)),
                Arc::new(StringArray::from_iter_values(ids.iter().map(|i| &i[..2]))),
                Arc::new(StringArray::from_iter_values((0..n).map(|_| "INSERT"))),
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(0..n as i64).with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values((0..n).map(val))),
            ],
        )
        .unwrap()
    }

    /// Local runs are plain Arrow IPC, object-store runs LZ4 frames; the
    /// same rows come back from either.
    #[test]
    fn runs_hold_the_same_rows_with_or_without_lz4() {
        let n = 2_000;
        let ids: Vec<String> = (0..n).map(|i| format!("{:02x}-{i}", i % 7)).collect();
        let val = "{\"amount\": \"12.50\", \"note\": \"the same words again\"}";
        let batch = rows_of(&ids, |_| val);
        let (plain, plain_bytes) = runs(&batch, false);
        let (lz4, lz4_bytes) = runs(&batch, true);
        assert_eq!(plain, lz4);
        assert_eq!(plain.iter().map(RecordBatch::num_rows).sum::<usize>(), n);
        assert!(
            lz4_bytes * 3 < plain_bytes,
            "LZ4 {lz4_bytes} bytes against {plain_bytes} plain"
        );
    }

    /// A plain run's bytes are allocated once: its capacity covers it (no
    /// doubling copy) without holding much more than it.
    #[test]
    fn plain_runs_are_sized_up_front() {
        let n = 20_000;
        let ids: Vec<String> = (0..n).map(|i| format!("{:02x}-{i}", i % 251)).collect();
        // `val`s of 50 to 3,000 bytes, unevenly spread over the groups.
        let vals: Vec<String> = (0..n)
            .map(|i| "x".repeat(50 + (i * 7_919) % 2_950))
            .collect();
        let batch = rows_of(&ids, |i| &vals[i]);
        let files = encoded_runs(&batch, 4, false);
        assert_eq!(files.len(), 4);
        for (target, bytes, _) in &files {
            let (len, cap) = (bytes.len(), bytes.capacity());
            assert!(cap >= len, "{target}: {len} bytes outgrew {cap}");
            assert!(
                cap <= len + len / 10 + 64 * 1024,
                "{target}: {cap} bytes reserved for {len}"
            );
        }
    }

    /// A run held in memory is the same rows, in the same batches, as the
    /// run staged, and its size is about what was estimated before
    /// gathering it.
    #[test]
    fn held_runs_are_the_staged_rows() {
        let n = 5_000;
        let ids: Vec<String> = (0..n).map(|i| format!("{:02x}-{i}", i % 13)).collect();
        let vals: Vec<String> = (0..n).map(|i| "y".repeat(20 + i % 400)).collect();
        let batch = rows_of(&ids, |i| &vals[i]);
        let mut held = Vec::new();
        sorted_runs(std::slice::from_ref(&batch), 2, "p", false, |run| {
            let estimate = run.arrow_bytes;
            let batches = run.batches()?;
            let size: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
            assert!(
                size.abs_diff(estimate) <= estimate / 5 + 64 * 1024,
                "estimated {estimate} bytes, held {size}"
            );
            held.extend(batches);
            Ok(())
        })
        .unwrap();
        let (staged, _) = runs(&batch, false);
        assert_eq!(held, staged);
        assert!(held.len() > 2, "runs are cut in batches: {}", held.len());
    }
}
