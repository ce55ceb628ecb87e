//! `GzipLinesScanExec`: gzip JSON-lines files, streamed from an object store,
//! one output partition per file group. Emits each line's bytes, its file and
//! its 1-based line number.
//!
//! Weir's own scan rather than DataFusion's JSON source: the stock one loses
//! its compression setting when a plan is shipped to Ballista executors, and
//! ingestion needs the raw line (to quarantine it) and its position anyway.
//!
//! The file groups are the scan's input, an in-memory source with one batch
//! per partition ([`file_groups`]), not part of its spec: Ballista's scheduler
//! cuts a stage's plan down to each task's partitions by rewriting the
//! leaves it knows (in-memory sources among them), and a leaf it does not
//! know would run every partition in every task.

use std::fmt;
use std::sync::Arc;

use async_compression::tokio::bufread::GzipDecoder;
use std::any::Any;

use datafusion::arrow::array::{
    AsArray, BinaryBuilder, RecordBatch, StringArray, StringBuilder, UInt64Array, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;

use super::error::{io_error, storage_error};
use super::progress::Progress;
use super::schema::lines_schema;
use crate::storage::{Location, S3Settings};

/// One input file, as listed once per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Object path inside the source store.
    pub path: String,
    /// Size in bytes at listing time.
    pub size: u64,
}

/// How the scan reads: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSpec {
    /// The source root (path or URL), resolved in each process.
    pub source: String,
    /// Lines per output batch at most.
    pub batch_lines: usize,
    /// How to reach S3, when the source is there.
    pub s3: S3Settings,
    /// Longer lines are not held: only their first [`LONG_LINE_PREFIX`]
    /// bytes, length and SHA-256 go on, to be quarantined.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Line bytes per batch at most (a smaller bound under `--memory-limit`:
    /// batches in flight are memory the pool does not see).
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: usize,
}

/// The default line cap: far above any MongoDB document (16 MiB, 22 MiB as
/// base64), far below what a batch can hold.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

fn default_batch_bytes() -> usize {
    BATCH_BYTES
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

/// What is kept of a line over the cap.
pub const LONG_LINE_PREFIX: usize = 4096;

/// Line bytes per output batch at most (besides [`ScanSpec::batch_lines`]):
/// arrow's 32-bit offsets cannot pass 2 GiB, and memory should not either.
pub const BATCH_BYTES: usize = 64 << 20;

/// Spreads `files` over at most `partitions` groups, largest first onto the
/// lightest group, so partitions finish together.
pub fn balance(mut files: Vec<InputFile>, partitions: usize) -> Vec<Vec<InputFile>> {
    let n = partitions.clamp(1, files.len().max(1));
    let mut groups: Vec<(u64, Vec<InputFile>)> = vec![(0, Vec::new()); n];
    files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    for file in files {
        let lightest = groups
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .unwrap_or_else(|| unreachable!("at least one group"));
        lightest.0 += file.size;
        lightest.1.push(file);
    }
    let mut groups: Vec<Vec<InputFile>> = groups.into_iter().map(|(_, g)| g).collect();
    for g in &mut groups {
        g.sort_by(|a, b| a.path.cmp(&b.path));
    }
    groups
}

fn groups_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("partition", DataType::UInt64, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("size", DataType::UInt64, false),
    ]))
}

/// The scan's input: partition `i` is one batch listing group `i`'s files
/// (with `i` itself, the partition's number in the whole plan, which a
/// task's cut-down plan no longer tells by position).
pub fn file_groups(groups: &[Vec<InputFile>]) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = groups_schema();
    let partitions = groups
        .iter()
        .enumerate()
        .map(|(i, files)| {
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(UInt64Array::from(vec![i as u64; files.len()])),
                    Arc::new(StringArray::from_iter_values(files.iter().map(|f| &f.path))),
                    Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.size))),
                ],
            )?;
            Ok(vec![batch])
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?)
}

/// The files of `input`'s partition `local` (see [`file_groups`]) and that
/// partition's number in the whole plan.
pub(super) fn group_of(
    input: &Arc<dyn ExecutionPlan>,
    local: usize,
) -> Result<(usize, Vec<InputFile>)> {
    let memory = input
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| {
            let source: &dyn Any = exec.data_source().as_ref();
            source.downcast_ref::<MemorySourceConfig>()
        })
        .ok_or_else(|| {
            DataFusionError::Internal(format!(
                "Weir reads its file groups from an in-memory source, not {}",
                input.name()
            ))
        })?;
    let batches = memory.partitions().get(local).ok_or_else(|| {
        DataFusionError::Internal(format!("the file groups have no partition {local}"))
    })?;
    let mut global = local;
    let mut files = Vec::new();
    for batch in batches {
        let column = |i: usize| batch.column(i);
        let numbers = column(0).as_primitive::<UInt64Type>();
        let paths = column(1).as_string::<i32>();
        let sizes = column(2).as_primitive::<UInt64Type>();
        for row in 0..batch.num_rows() {
            global = numbers.value(row) as usize;
            files.push(InputFile {
                path: paths.value(row).to_owned(),
                size: sizes.value(row),
            });
        }
    }
    Ok((global, files))
}

/// What the scan under `plan` read for partition `local`: lines and input
/// bytes (for the writer to report beside what reached it).
pub(crate) fn scanned(plan: &dyn ExecutionPlan, local: usize) -> Option<(u64, u64)> {
    if let Some(scan) = plan.downcast_ref::<GzipLinesScanExec>() {
        let metrics = scan.metrics.clone_inner();
        let sum = |name: &str| {
            metrics
                .iter()
                .filter(|m| m.value().name() == name && m.partition() == Some(local))
                .map(|m| m.value().as_usize() as u64)
                .sum::<u64>()
        };
        return Some((sum("lines_read"), sum("bytes_read")));
    }
    match plan.children().as_slice() {
        [child] => scanned(child.as_ref(), local),
        _ => None,
    }
}

/// The number in the whole plan of `plan`'s partition `local`, for a plan
/// whose single-input chain ends in a [`GzipLinesScanExec`] (as Weir's day
/// plans do); `local` itself otherwise.
pub fn global_partition(plan: &dyn ExecutionPlan, local: usize) -> usize {
    if let Some(scan) = plan.downcast_ref::<GzipLinesScanExec>() {
        return group_of(&scan.input, local).map_or(local, |(global, _)| global);
    }
    match plan.children().as_slice() {
        [child] => global_partition(child.as_ref(), local),
        _ => local,
    }
}

/// The scan operator.
#[derive(Debug)]
pub struct GzipLinesScanExec {
    spec: ScanSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl GzipLinesScanExec {
    /// A scan of the files `input` lists ([`file_groups`]), as `spec` says.
    pub fn new(spec: ScanSpec, input: Arc<dyn ExecutionPlan>) -> Self {
        let props = PlanProperties::new(
            EquivalenceProperties::new(lines_schema()),
            Partitioning::UnknownPartitioning(
                input.properties().output_partitioning().partition_count(),
            ),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            spec,
            input,
            props: Arc::new(props),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// What it reads.
    pub fn spec(&self) -> &ScanSpec {
        &self.spec
    }
}

impl DisplayAs for GzipLinesScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GzipLinesScanExec: source={}, groups={}",
            self.spec.source,
            self.props.output_partitioning().partition_count()
        )
    }
}

impl ExecutionPlan for GzipLinesScanExec {
    super::single_input_plan!("GzipLinesScanExec", |this, input| Self::new(
        this.spec.clone(),
        input
    ));

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (_, files) = group_of(&self.input, partition)?;
        let location = Location::parse(&self.spec.source, &self.spec.s3)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let batch_lines = self.spec.batch_lines.max(1);
        let max_line = self.spec.max_line_bytes.max(LONG_LINE_PREFIX);
        let batch_bytes = self.spec.batch_bytes.max(1);
        let bytes_read = MetricBuilder::new(&self.metrics).counter("bytes_read", partition);
        let lines_read = MetricBuilder::new(&self.metrics).counter("lines_read", partition);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let stream = futures::stream::iter(files)
            .map(move |file| {
                read_file(
                    location.clone(),
                    file,
                    (batch_lines, max_line, batch_bytes),
                    bytes_read.clone(),
                    lines_read.clone(),
                )
            })
            .flatten()
            .inspect(move |batch| {
                if let Ok(batch) = batch {
                    baseline.record_output(batch.num_rows());
                }
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            lines_schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Bytes of a local input file read per blocking task.
const LOCAL_READ_BLOCK: usize = 1 << 20;

/// A local file as blocks of up to [`LOCAL_READ_BLOCK`] bytes, each read on
/// the blocking pool straight into the buffer that is handed on. Through
/// tokio's `File` and a `BufReader` every byte was copied once more, out of
/// tokio's own buffer.
fn local_blocks(
    file: std::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures::stream::try_unfold(file, |file| async move {
        let (file, block) = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut block = Vec::with_capacity(LOCAL_READ_BLOCK);
            // `read_to_end` reads into the capacity without zeroing it.
            (&file)
                .take(LOCAL_READ_BLOCK as u64)
                .read_to_end(&mut block)
                .map(|_| (file, block))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok((!block.is_empty()).then(|| (bytes::Bytes::from(block), file)))
    })
}

/// The batches of one file, streamed: memory holds one batch, whatever the
/// file's size.
fn read_file(
    location: Location,
    file: InputFile,
    (batch_lines, max_line, batch_bytes): (usize, usize, usize),
    bytes_read: Count,
    lines_read: Count,
) -> impl futures::Stream<Item = Result<RecordBatch>> + Send {
    // The text is a listed key: parse it as it is (`from` would escape a
    // `%` in it again and name another object).
    let path =
        ObjectPath::parse(&file.path).unwrap_or_else(|_| ObjectPath::from(file.path.as_str()));
    let display = location.display(&path);
    let file_size = file.size;
    futures::stream::once(async move {
        super::allow::check(super::allow::Access::Read, &display)?;
        // Not a gzip stream at all: a final error naming the file, not an
        // I/O error the scheduler would retry.
        if file_size == 0 {
            return Err(DataFusionError::Execution(format!(
                "{display} is empty (0 bytes), not a gzip file"
            )));
        }
        let got = location
            .store
            .get(&path)
            .await
            .map_err(|e| storage_error("read", &display, e))?;
        // Local files are read in large blocks: object_store's local stream
        // reads 8 KiB per blocking task, which costs more than the gzip.
        let compressed: Box<dyn tokio::io::AsyncBufRead + Unpin + Send> = match got.payload {
            object_store::GetResultPayload::File(file, _) => {
                Progress::global().bytes(file_size);
                // Counted as read, not as listed: the writer checks the two.
                let counted = bytes_read.clone();
                let blocks = local_blocks(file)
                    .inspect_ok(move |block| counted.add(block.len()))
                    .boxed();
                Box::new(tokio_util::io::StreamReader::new(blocks))
            }
            object_store::GetResultPayload::Stream(stream) => {
                let counted = bytes_read.clone();
                let body = stream
                    .inspect_ok(move |chunk| {
                        counted.add(chunk.len());
                        Progress::global().bytes(chunk.len() as u64);
                    })
                    .map_err(std::io::Error::other);
                Box::new(tokio_util::io::StreamReader::new(body))
            }
        };
        let mut decoder = GzipDecoder::new(compressed);
        // K2HB files may be concatenated gzip members.
        decoder.multiple_members(true);
        let reader = tokio::io::BufReader::with_capacity(256 << 10, decoder);
        Ok::<_, DataFusionError>(lines_in_batches(
            reader,
            display,
            (batch_lines, max_line, batch_bytes),
            lines_read,
        ))
    })
    .try_flatten()
}

fn lines_in_batches<R>(
    reader: R,
    display: String,
    (batch_lines, max_line, batch_bytes): (usize, usize, usize),
    lines_read: Count,
) -> impl futures::Stream<Item = Result<RecordBatch>> + Send
where
    R: tokio::io::AsyncBufRead + Unpin + Send + 'static,
{
    struct State<R> {
        reader: R,
        display: String,
        next_line: u64,
        done: bool,
        buf: Vec<u8>,
        /// Line bytes of the previous batch.
        last_bytes: Option<usize>,
    }
    let state = State {
        reader,
        display,
        next_line: 1,
        done: false,
        buf: Vec::with_capacity(8192),
        last_bytes: None,
    };
    futures::stream::try_unfold(state, move |mut s| {
        let lines_read = lines_read.clone();
        async move {
            if s.done {
                return Ok(None);
            }
            // Sized from the previous batch (a file's lines are alike), so
            // the buffer is not doubled and copied near its end: with a
            // guess of 2 KiB a line, batches of ~2.2 KB lines allocated
            // 8 MiB, then 16 MiB, and copied; the profile put the page
            // faults and copies at a fifth of a day's CPU.
            let capacity = s
                .last_bytes
                .map_or(batch_lines * 2048, |b| b + b / 16)
                .min(batch_bytes.saturating_add(LONG_LINE_PREFIX));
            let mut lines = BinaryBuilder::with_capacity(batch_lines, capacity);
            let mut numbers = UInt64Builder::with_capacity(batch_lines);
            let mut overflow = StringBuilder::new();
            let mut count = 0;
            let mut bytes = 0usize;
            while count < batch_lines && bytes < batch_bytes {
                s.buf.clear();
                let line = read_line(&mut s.reader, &mut s.buf, max_line)
                    .await
                    .map_err(|e| {
                        io_error(format!(
                            "{}: cannot read past line {}: {}",
                            s.display,
                            s.next_line - 1,
                            crate::redact::secrets(&e.to_string())
                        ))
                    })?;
                let Some(too_long) = line else {
                    s.done = true;
                    Progress::global().file_done();
                    break;
                };
                let mut line = s.buf.as_slice();
                if too_long.is_none() {
                    line = line.strip_suffix(b"\r").unwrap_or(line);
                }
                bytes += line.len();
                lines.append_value(line);
                overflow.append_option(too_long);
                numbers.append_value(s.next_line);
                s.next_line += 1;
                count += 1;
            }
            if count == 0 {
                return Ok(None);
            }
            s.last_bytes = Some(bytes);
            lines_read.add(count);
            Progress::global().lines(count as u64);
            let mut files = StringBuilder::with_capacity(count, count * s.display.len());
            for _ in 0..count {
                files.append_value(&s.display);
            }
            let batch = RecordBatch::try_new(
                lines_schema(),
                vec![
                    Arc::new(lines.finish()),
                    Arc::new(files.finish()),
                    Arc::new(numbers.finish()),
                    Arc::new(overflow.finish()),
                ],
            )?;
            Ok(Some((batch, s)))
        }
    })
}

/// Reads one line (without its `\n`) into `buf`, holding at most
/// `max_line` bytes of it. `None` at the end of the file; `Some(Some(why))`
/// for a longer line, of which `buf` keeps the first [`LONG_LINE_PREFIX`]
/// bytes and `why` gives the length and SHA-256 of the whole.
async fn read_line<R>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max_line: usize,
) -> std::io::Result<Option<Option<String>>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use sha2::Digest;
    let mut hasher: Option<sha2::Sha256> = None;
    let mut length = 0u64;
    let mut any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, end) = match memchr::memchr(b'\n', available) {
            Some(at) => (&available[..at], Some(at + 1)),
            None => (available, None),
        };
        length += chunk.len() as u64;
        match &mut hasher {
            Some(h) => h.update(chunk),
            None if buf.len() + chunk.len() <= max_line => buf.extend_from_slice(chunk),
            None => {
                // Over the cap: from here on only count and hash.
                let mut h = sha2::Sha256::new();
                h.update(&buf[..]);
                h.update(chunk);
                let keep = LONG_LINE_PREFIX.min(buf.len() + chunk.len());
                if buf.len() < keep {
                    let more = keep - buf.len();
                    buf.extend_from_slice(&chunk[..more]);
                }
                buf.truncate(keep);
                hasher = Some(h);
            }
        }
        let consumed = end.unwrap_or(available.len());
        reader.consume(consumed);
        if end.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    Ok(Some(hasher.map(|h| {
        let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "the line is {length} bytes, over the {max_line}-byte limit (--max-line-bytes); \
             sha256 {digest}; its first {} bytes are kept",
            buf.len()
        )
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> InputFile {
        InputFile {
            path: path.to_owned(),
            size,
        }
    }

    #[test]
    fn files_spread_by_size_over_at_most_the_partitions() {
        let files = vec![file("a", 100), file("b", 60), file("c", 50), file("d", 10)];
        let groups = balance(files, 2);
        assert_eq!(groups.len(), 2);
        let sizes: Vec<u64> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.size).sum())
            .collect();
        assert_eq!(sizes, vec![110, 110]);
        // Never more groups than files, and at least one.
        assert_eq!(balance(vec![file("a", 1)], 8).len(), 1);
        assert_eq!(balance(vec![], 8).len(), 1);
    }

    #[test]
    fn a_scan_cut_down_to_some_partitions_knows_their_numbers_in_the_plan() {
        let groups = vec![
            vec![file("a", 1)],
            vec![file("b", 1), file("c", 1)],
            vec![file("d", 1)],
        ];
        let whole = file_groups(&groups).unwrap();
        // What Ballista's scheduler does for a task of partitions 2 and 1.
        let memory: &dyn Any = whole
            .downcast_ref::<DataSourceExec>()
            .unwrap()
            .data_source()
            .as_ref();
        let memory = memory.downcast_ref::<MemorySourceConfig>().unwrap();
        let kept = vec![
            memory.partitions()[2].clone(),
            memory.partitions()[1].clone(),
        ];
        let cut = MemorySourceConfig::try_new_exec(&kept, groups_schema(), None).unwrap();
        let spec = ScanSpec {
            source: "/src".into(),
            batch_lines: 10,
            s3: S3Settings::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            batch_bytes: BATCH_BYTES,
        };
        let scan = GzipLinesScanExec::new(spec, cut);
        assert_eq!(scan.properties().output_partitioning().partition_count(), 2);
        assert_eq!(global_partition(&scan, 0), 2);
        assert_eq!(global_partition(&scan, 1), 1);
        assert_eq!(group_of(&scan.input, 1).unwrap().1, groups[1]);
    }

    #[tokio::test]
    async fn lines_over_the_cap_keep_a_prefix_their_length_and_hash() {
        use sha2::Digest;
        let long = vec![b'x'; 10_000];
        let mut input = b"short\r\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nlast");
        // Small reads, so the long line arrives in many pieces.
        let mut reader = tokio::io::BufReader::with_capacity(100, &input[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut buf, 5_000).await.unwrap(),
            Some(None)
        );
        assert_eq!(buf, b"short\r");
        buf.clear();
        let why = read_line(&mut reader, &mut buf, 5_000)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(buf.len(), LONG_LINE_PREFIX);
        let digest: String = sha2::Sha256::digest(&long)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            why.contains("10000 bytes") && why.contains(&digest),
            "{why}"
        );
        buf.clear();
        assert_eq!(
            read_line(&mut reader, &mut buf, 5_000).await.unwrap(),
            Some(None)
        );
        assert_eq!(buf, b"last");
        buf.clear();
        assert_eq!(read_line(&mut reader, &mut buf, 5_000).await.unwrap(), None);
    }
}
