//! `GzipLinesScanExec`: gzip JSON-lines files, streamed from an object store,
//! one output partition per file group. Emits each line's bytes, its file and
//! its 1-based line number.
//!
//! Weir's own scan rather than DataFusion's JSON source: the stock one loses
//! its compression setting when a plan is shipped to Ballista executors, and
//! ingestion needs the raw line (to quarantine it) and its position anyway.

use std::fmt;
use std::sync::Arc;

use async_compression::tokio::bufread::GzipDecoder;
use datafusion::arrow::array::{BinaryBuilder, RecordBatch, StringBuilder, UInt64Builder};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
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

/// What the scan reads: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSpec {
    /// The source root (path or URL), resolved in each process.
    pub source: String,
    /// File groups: partition `i` reads group `i`, file after file.
    pub groups: Vec<Vec<InputFile>>,
    /// Lines per output batch at most.
    pub batch_lines: usize,
    /// How to reach S3, when the source is there.
    pub s3: S3Settings,
}

impl ScanSpec {
    /// Spreads `files` over at most `partitions` groups, largest first onto
    /// the lightest group, so partitions finish together.
    pub fn balanced(
        source: String,
        s3: S3Settings,
        mut files: Vec<InputFile>,
        partitions: usize,
        batch_lines: usize,
    ) -> Self {
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
        Self {
            source,
            groups,
            batch_lines,
            s3,
        }
    }
}

/// The scan operator.
#[derive(Debug)]
pub struct GzipLinesScanExec {
    spec: ScanSpec,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl GzipLinesScanExec {
    /// A scan of `spec`.
    pub fn new(spec: ScanSpec) -> Self {
        let props = PlanProperties::new(
            EquivalenceProperties::new(lines_schema()),
            Partitioning::UnknownPartitioning(spec.groups.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            spec,
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
        let files: usize = self.spec.groups.iter().map(Vec::len).sum();
        write!(
            f,
            "GzipLinesScanExec: source={}, files={files}, groups={}",
            self.spec.source,
            self.spec.groups.len()
        )
    }
}

impl ExecutionPlan for GzipLinesScanExec {
    fn name(&self) -> &str {
        "GzipLinesScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let files = self.spec.groups.get(partition).cloned().unwrap_or_default();
        let location = Location::parse(&self.spec.source, &self.spec.s3)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let batch_lines = self.spec.batch_lines.max(1);
        let bytes_read = MetricBuilder::new(&self.metrics).counter("bytes_read", partition);
        let lines_read = MetricBuilder::new(&self.metrics).counter("lines_read", partition);
        let stream = futures::stream::iter(files)
            .map(move |file| {
                read_file(
                    location.clone(),
                    file,
                    batch_lines,
                    bytes_read.clone(),
                    lines_read.clone(),
                )
            })
            .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            lines_schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The batches of one file, streamed: memory holds one batch, whatever the
/// file's size.
fn read_file(
    location: Location,
    file: InputFile,
    batch_lines: usize,
    bytes_read: Count,
    lines_read: Count,
) -> impl futures::Stream<Item = Result<RecordBatch>> + Send {
    let path = ObjectPath::from(file.path.as_str());
    let display = location.display(&path);
    let file_size = file.size;
    futures::stream::once(async move {
        let got = location
            .store
            .get(&path)
            .await
            .map_err(|e| storage_error("read", &display, e))?;
        // Local files are read in large blocks: object_store's local stream
        // reads 8 KiB per blocking task, which costs more than the gzip.
        let compressed: Box<dyn tokio::io::AsyncBufRead + Unpin + Send> = match got.payload {
            object_store::GetResultPayload::File(file, _) => {
                bytes_read.add(file_size as usize);
                Progress::global().bytes(file_size);
                Box::new(tokio::io::BufReader::with_capacity(
                    1 << 20,
                    tokio::fs::File::from_std(file),
                ))
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
        Ok::<_, DataFusionError>(lines_in_batches(reader, display, batch_lines, lines_read))
    })
    .try_flatten()
}

fn lines_in_batches<R>(
    reader: R,
    display: String,
    batch_lines: usize,
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
    }
    let state = State {
        reader,
        display,
        next_line: 1,
        done: false,
        buf: Vec::with_capacity(8192),
    };
    futures::stream::try_unfold(state, move |mut s| {
        let lines_read = lines_read.clone();
        async move {
            if s.done {
                return Ok(None);
            }
            let mut lines = BinaryBuilder::with_capacity(batch_lines, batch_lines * 2048);
            let mut numbers = UInt64Builder::with_capacity(batch_lines);
            let mut count = 0;
            while count < batch_lines {
                s.buf.clear();
                let n = s.reader.read_until(b'\n', &mut s.buf).await.map_err(|e| {
                    io_error(format!(
                        "{}: cannot read past line {}: {e}",
                        s.display,
                        s.next_line - 1
                    ))
                })?;
                if n == 0 {
                    s.done = true;
                    Progress::global().file_done();
                    break;
                }
                let mut line = s.buf.as_slice();
                if let Some(rest) = line.strip_suffix(b"\n") {
                    line = rest.strip_suffix(b"\r").unwrap_or(rest);
                }
                lines.append_value(line);
                numbers.append_value(s.next_line);
                s.next_line += 1;
                count += 1;
            }
            if count == 0 {
                return Ok(None);
            }
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
                ],
            )?;
            Ok(Some((batch, s)))
        }
    })
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
        let spec = ScanSpec::balanced("/src".into(), S3Settings::default(), files, 2, 10);
        assert_eq!(spec.groups.len(), 2);
        let sizes: Vec<u64> = spec
            .groups
            .iter()
            .map(|g| g.iter().map(|f| f.size).sum())
            .collect();
        assert_eq!(sizes, vec![110, 110]);
        // Never more groups than files, and at least one.
        assert_eq!(
            ScanSpec::balanced(
                "/src".into(),
                S3Settings::default(),
                vec![file("a", 1)],
                8,
                10
            )
            .groups
            .len(),
            1
        );
        assert_eq!(
            ScanSpec::balanced("/src".into(), S3Settings::default(), vec![], 8, 10)
                .groups
                .len(),
            1
        );
    }
}
