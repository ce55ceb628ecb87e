//! `WriteExec`: every partition writes its own files, in parallel, into the
//! run's staging area, and returns what it staged ([`TaskSummary`], one JSON
//! row). Nothing is published here: the driver commits the files of the
//! successful attempts only (see [`crate::output::publish`]).
//!
//! Good rows are buffered up to a bound, sorted by `id` (within `id_part`),
//! and written as one file per Hive partition per flush. Memory is bounded by
//! the buffer, not by the input. Corrupt records never reach it: they are the
//! ingest's own output ([`super::quarantine`]); the writer only adds what the
//! ingest below it read and quarantined to the task's summary.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use super::error::storage_error;
use super::flush::{EncodedFile, Run, column, encode_flush, sorted_runs};
use super::schema::col;
use super::summary::{summary_properties, summary_stream};
use crate::keys::scope_stats;
use crate::output::{FileKind, OutputSpec, StagedFile, TaskSummary};
use crate::storage::{Location, S3Settings, raw_join};

/// What the write operator does: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSpec {
    /// The destination root (path or URL), resolved in each process.
    pub dest: String,
    /// The run's staging prefix for this day, relative to `dest`.
    pub staging: String,
    /// Format and layout.
    pub output: OutputSpec,
    /// Buffered good-row bytes per task before a file is written.
    pub buffer_bytes: usize,
    /// When not 0, good rows are written as sorted runs in this many groups
    /// of `id_part`s, for [`super::CompactExec`] to merge into one file per
    /// `id_part` directory (instead of one per directory per flush per task).
    #[serde(default)]
    pub run_groups: usize,
    /// Bytes of runs this process may hold in memory for the compaction
    /// instead of staging them ([`super::memory_runs`]); 0 on a cluster,
    /// where the compaction of a group may run in another executor. Only a
    /// task's last flush is held.
    #[serde(default)]
    pub memory_run_bytes: usize,
    /// How to reach S3, when the destination is there.
    pub s3: S3Settings,
}

/// The write operator.
#[derive(Debug)]
pub struct WriteExec {
    spec: WriteSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl WriteExec {
    /// Writes `input` (see [`super::schema::ingested_schema`]).
    pub fn new(spec: WriteSpec, input: Arc<dyn ExecutionPlan>) -> Self {
        let props = summary_properties(input.properties().output_partitioning().clone());
        Self {
            spec,
            input,
            props,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// What it does.
    pub fn spec(&self) -> &WriteSpec {
        &self.spec
    }
}

impl DisplayAs for WriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WriteExec: format={}, dir={}, staging={}",
            self.spec.output.format.as_str(),
            self.spec.output.data_dir,
            self.spec.staging
        )
    }
}

impl ExecutionPlan for WriteExec {
    super::single_input_plan!("WriteExec", |this, input| Self::new(
        this.spec.clone(),
        input
    ));

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, Arc::clone(&context))?;
        let counter =
            |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, partition);
        let metrics = WriteMetrics {
            baseline: BaselineMetrics::new(&self.metrics, partition),
            rows: counter("rows_written"),
            files: counter("files_written"),
            bytes: counter("bytes_written"),
            flushes: counter("flushes"),
        };
        let scan_side = Arc::clone(&self.input);
        // A token per attempt: a retried or duplicated task never writes over
        // another attempt's files, and only the committed list is published.
        let dest = super::allow::staging_dest(&self.spec.dest, &self.spec.s3, &self.spec.staging)?;
        // The ingest below has drawn one (its quarantine is named with it).
        let attempt = super::ingest::ingest_attempt(self.input.as_ref(), partition)
            .unwrap_or_else(crate::random::attempt_token);
        // On a cluster a task runs a cut-down plan: name files and summaries
        // by the partition's number in the whole plan, not in the task's.
        let global = super::global_partition(self.input.as_ref(), partition);
        // The buffer is reserved from the session's memory pool: under
        // `--memory-limit` a task writes a file when the pool is full instead
        // of growing past it.
        let reservation =
            MemoryConsumer::new(format!("WriteExec[{global}]")).register(context.memory_pool());
        let mut writer = TaskWriter::new(
            self.spec.clone(),
            dest,
            global,
            attempt,
            reservation,
            metrics,
        );
        // The day's staging prefix is also the scope its key-service work is
        // counted under (the ingest below is given the same one).
        let writer_scope = self.spec.staging.clone();
        tracing::info!(partition = global, attempt = %writer.summary.attempt, staging = %writer_scope, "write task started");
        Ok(summary_stream(async move {
            while let Some(batch) = input.next().await {
                writer.push(batch?).await?;
            }
            let (mut summary, writer_metrics) = writer.finish().await?;
            // Good rows only came up: what else the task read, and its
            // quarantine, the ingest tells.
            summary.records = summary.rows;
            if let Some(ingested) = super::ingest::ingested(scan_side.as_ref(), partition) {
                summary.records = ingested.records;
                summary.inputs = ingested.inputs;
                summary.corrupt = ingested.quarantined.corrupt;
                summary.files.extend(ingested.quarantined.files);
            }
            if let Some((lines, bytes)) = super::scan::scanned(scan_side.as_ref(), partition) {
                summary.lines_scanned = lines;
                summary.bytes_scanned = bytes;
            }
            summary.executor = super::worker_id();
            summary.dks = scope_stats(&writer_scope);
            summary.inputs.sort();
            summary.inputs.dedup();
            writer_metrics.baseline.record_output(1);
            tracing::info!(partition = summary.partition, attempt = %summary.attempt, records = summary.records, files = summary.files.len(), "write task finished");
            Ok(summary)
        }))
    }
}

/// What a write task counts (DataFusion's metrics of the operator).
struct WriteMetrics {
    baseline: BaselineMetrics,
    rows: Count,
    files: Count,
    bytes: Count,
    flushes: Count,
}

/// Why a task writes its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// The buffer is full, or the memory pool is: more rows will follow.
    Midway,
    /// The input has ended.
    Last,
}

/// One task attempt's writing state.
struct TaskWriter {
    metrics: WriteMetrics,
    spec: WriteSpec,
    dest: Location,
    summary: TaskSummary,
    good: Vec<RecordBatch>,
    good_bytes: usize,
    /// What the buffer holds from the memory pool (twice its bytes: the
    /// sorted copy made at a flush is as large).
    reservation: MemoryReservation,
    flushes: usize,
    /// Data files written to local disk, on their way to it.
    syncs: super::local_file::Syncs,
}

impl TaskWriter {
    fn new(
        spec: WriteSpec,
        dest: Location,
        partition: usize,
        attempt: String,
        reservation: MemoryReservation,
        metrics: WriteMetrics,
    ) -> Self {
        Self {
            metrics,
            spec,
            dest,
            summary: TaskSummary {
                partition,
                attempt,
                ..TaskSummary::default()
            },
            good: Vec::new(),
            good_bytes: 0,
            reservation,
            flushes: 0,
            syncs: super::local_file::Syncs::default(),
        }
    }

    async fn push(&mut self, good: RecordBatch) -> Result<()> {
        if good.num_rows() == 0 {
            return Ok(());
        }
        // A full buffer is written when more rows come, not when it fills:
        // the input's end then always writes the last one ([`Flush::Last`]).
        if self.good_bytes >= self.spec.buffer_bytes {
            self.flush_good(Flush::Midway).await?;
        }
        let db_type = column(&good, col::DB_TYPE)?;
        let deletes = db_type
            .as_string::<i32>()
            .iter()
            .filter(|v| *v == Some("DELETE"))
            .count() as u64;
        self.summary.rows += good.num_rows() as u64;
        self.summary.deletes += deletes;
        self.summary.inserts += good.num_rows() as u64 - deletes;
        let size = good.get_array_memory_size();
        if self.reservation.try_grow(2 * size).is_err() {
            // The pool is full: write what is buffered, then try again.
            self.flush_good(Flush::Midway).await?;
            self.reservation.try_grow(2 * size).map_err(|e| {
                DataFusionError::ResourcesExhausted(format!(
                    "task {}: a batch of {size} bytes does not fit the memory limit \
                     even with nothing buffered; raise --memory-limit ({e})",
                    self.summary.partition
                ))
            })?;
        }
        self.good_bytes += size;
        self.good.push(good);
        Ok(())
    }

    async fn flush_good(&mut self, when: Flush) -> Result<()> {
        if self.good.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.good);
        tracing::debug!(
            partition = self.summary.partition,
            attempt = %self.summary.attempt,
            bytes = self.good_bytes,
            "write task flushing"
        );
        self.good_bytes = 0;
        let flush = self.flushes;
        self.flushes += 1;
        self.metrics.flushes.add(1);
        self.metrics
            .rows
            .add(batches.iter().map(RecordBatch::num_rows).sum());
        let timer = self.metrics.baseline.elapsed_compute().timer();
        let spec = self.spec.output.clone();
        let groups = self.spec.run_groups;
        let base = format!(
            "part-{:05}-{flush:04}-{}",
            self.summary.partition, self.summary.attempt
        );
        // Runs get their extension from `sorted_runs`.
        let (kind, name) = if groups > 0 {
            (FileKind::Run, base)
        } else {
            (
                FileKind::Data,
                format!("{base}.{}", spec.format.extension()),
            )
        };
        let staging = self.staging_prefix(kind);
        // On local disk the files are written where they are encoded; for
        // object stores the bytes come back to be uploaded.
        let local = self
            .dest
            .is_local()
            .then(|| std::path::PathBuf::from(self.dest.display(&staging)));
        let compress_runs = local.is_none();
        // Runs the compaction in this process will read: held in memory,
        // within the budget, under the names they would be staged at; only
        // the last flush's (why: [`super::memory_runs`]).
        let hold = kind == FileKind::Run && when == Flush::Last && self.spec.memory_run_bytes > 0;
        let memory = hold.then(|| {
            (
                self.dest.clone(),
                staging.clone(),
                self.spec.memory_run_bytes,
            )
        });
        // Sorting and encoding are CPU work: off the async workers.
        let (written, to_upload) = tokio::task::spawn_blocking(move || {
            let mut written = Vec::new();
            let mut to_upload = Vec::new();
            let mut held = Vec::new();
            let mut store = |(target, bytes, rows): EncodedFile| {
                match &local {
                    Some(root) => {
                        let path = root.join(&target);
                        let file = super::local_file::write(&path, &bytes)?;
                        // Data files are made durable while the task goes on.
                        let sync = (kind == FileKind::Data).then_some((file, path));
                        written.push((target, bytes.len() as u64, rows, sync));
                    }
                    None => to_upload.push((target, bytes, rows)),
                }
                Ok::<_, DataFusionError>(())
            };
            if groups > 0 {
                sorted_runs(&batches, groups, &name, compress_runs, |run: Run<'_>| {
                    let room = memory.as_ref().and_then(|(dest, staging, budget)| {
                        let key = dest.display(&raw_join(staging, &run.target));
                        super::memory_runs::room(key, run.arrow_bytes, *budget)
                    });
                    let (target, rows) = (run.target.clone(), run.rows);
                    match room {
                        Some(room) => {
                            let size = room.hold(run.batches()?);
                            held.push((target, size as u64, rows, None));
                            Ok(())
                        }
                        None => store((target, run.encode()?, rows)),
                    }
                })?;
            } else {
                encode_flush(&batches, &spec, &name, &mut store)?;
            }
            written.extend(held);
            Ok::<_, DataFusionError>((written, to_upload))
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))??;
        timer.done();
        for (target, bytes, rows, sync) in written {
            if let Some((file, path)) = sync {
                self.syncs.start(file, path).await?;
            }
            let path = raw_join(&staging, &target);
            self.record(kind, path, target, bytes, rows);
        }
        for (target, bytes, rows) in to_upload {
            self.stage(kind, target, bytes, rows).await?;
        }
        self.reservation.free();
        Ok(())
    }

    fn staging_prefix(&self, kind: FileKind) -> ObjectPath {
        staging_dir(&self.dest, &self.spec.staging, &self.summary.attempt, kind)
    }

    fn record(&mut self, kind: FileKind, path: ObjectPath, target: String, bytes: u64, rows: u64) {
        self.metrics.files.add(1);
        self.metrics.bytes.add(bytes as usize);
        self.summary.files.push(StagedFile {
            kind,
            staged: path.to_string(),
            target,
            rows,
            bytes,
        });
    }

    async fn stage(
        &mut self,
        kind: FileKind,
        target: String,
        bytes: Vec<u8>,
        rows: u64,
    ) -> Result<()> {
        let path = raw_join(&self.staging_prefix(kind), &target);
        let size = bytes.len() as u64;
        put(&self.dest, &path, bytes).await?;
        self.record(kind, path, target, size, rows);
        Ok(())
    }

    async fn finish(mut self) -> Result<(TaskSummary, WriteMetrics)> {
        self.flush_good(Flush::Last).await?;
        self.syncs.finish().await?;
        Ok((self.summary, self.metrics))
    }
}

/// Where an attempt stages its files of `kind`:
/// `<staging>/<attempt>/{data,quarantine,runs}`.
pub(super) fn staging_dir(
    dest: &Location,
    staging: &str,
    attempt: &str,
    kind: FileKind,
) -> ObjectPath {
    let sub = match kind {
        FileKind::Data => "data",
        FileKind::Quarantine => "quarantine",
        FileKind::Run => "runs",
    };
    dest.child(&format!("{staging}/{attempt}/{sub}"))
}

/// Large files go up in parts (S3 refuses single puts over 5 GiB and retries
/// parts, not whole files).
pub(super) async fn put(dest: &Location, path: &ObjectPath, bytes: Vec<u8>) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let display = dest.display(path);
    let mut writer = object_store::buffered::BufWriter::new(Arc::clone(&dest.store), path.clone());
    let io = |e: std::io::Error| {
        super::error::io_error(format!(
            "cannot write {display}: {}",
            crate::redact::secrets(&e.to_string())
        ))
    };
    writer.write_all(&bytes).await.map_err(io)?;
    writer.shutdown().await.map_err(io)?;
    // Make sure it is there (BufWriter reports errors on shutdown).
    if !dest.is_local() {
        dest.store
            .head(path)
            .await
            .map_err(|e| storage_error("write", &dest.display(path), e))?;
    }
    Ok(())
}
