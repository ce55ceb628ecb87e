//! `MergeExec`: the snapshot merge. One task per group of `id_part`s merges,
//! `id_part` by `id_part`, every source file of that `id_part` (the
//! previous export's, each daily's) into the new export's files, keeping one
//! row per `id` by a [`MergeRule`].
//!
//! Dailies and exports are partitioned by `id_part` and sorted by `id`, so
//! an `id_part` merges alone as DataFusion's streaming k-way merge of its
//! sorted files: no shuffle, and a task holds one batch per open file plus
//! the output file it is filling, whatever the size of the collection. A
//! source that is not Weir's (an export the old job wrote) is sorted file by
//! file as it is read; a file of Weir's that is out of order fails the merge
//! naming it, instead of publishing a wrong export. Like the scan, the
//! operator reads its file groups from an in-memory source that Ballista
//! cuts per task, and each attempt stages its own files for the one commit.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray,
    new_null_array,
};
use datafusion::arrow::compute::{
    SortColumn, SortOptions, cast, concat_batches, interleave_record_batch, lexsort_to_indices,
    take_record_batch,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Int32Type, Schema, SchemaRef, TimestampMillisecondType,
};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_expr::expressions::col as column_expr;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use super::error::storage_error;
use super::output_scan::hive_value;
use super::scan::{InputFile, group_of};
use super::schema::{col, timestamp_type};
use super::summary::{summary_properties, summary_stream};
use super::write::put;
use crate::output::{
    FileKind, OrcCompression, OutputFormat, StagedFile, TaskSummary, encode_table, hive_escape,
};
use crate::storage::{Location, S3Settings, raw_join, stored_path};

/// Which row of an `id` the merge keeps. Both are total orders over the
/// rows of an id, so the result never depends on the order files are read
/// in (a rerun, or the cluster, gives the same rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeRule {
    /// A DELETE row beats any INSERT row (the old job's outcome: a deleted
    /// id never comes back); among rows of one kind the greatest
    /// `last_modified` wins (none is oldest), then the later export date,
    /// then the smaller `val`.
    DeleteWins,
    /// The greatest `last_modified` wins whatever its kind (a delete stays
    /// as its DELETE row, and a later insert brings the id back); then a
    /// DELETE, then the later export date, then the smaller `val`.
    Latest,
}

impl MergeRule {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeleteWins => "delete_wins",
            Self::Latest => "latest",
        }
    }
}

/// One source of the merge: a directory of files, all of one export date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeSource {
    /// The root its files' object paths are in (path or URL).
    pub root: String,
    /// The object-path prefix of its files (no two sources share one).
    pub dir: String,
    /// Their format (ORC or Parquet).
    pub format: OutputFormat,
    /// Its export date as days since 0001-01-01: a later one wins ties.
    pub rank: i32,
    /// Whether its files are sorted by `id` (Weir's are); if not, each file
    /// is sorted as it is read.
    pub sorted: bool,
}

/// What the merge does: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeSpec {
    /// The destination root (path or URL).
    pub dest: String,
    /// The staging prefix, relative to `dest`.
    pub staging: String,
    /// The output's name: its files stage under `<attempt>/derived/<name>/`.
    pub name: String,
    /// Format of the export.
    pub format: OutputFormat,
    /// ORC codec.
    pub orc_compression: OrcCompression,
    /// Which row of an id is kept.
    pub rule: MergeRule,
    /// The sources; the input lists their files, grouped by task.
    pub sources: Vec<MergeSource>,
    /// Whether files sit in `id_part=` directories (and the export's will).
    pub id_part_dirs: bool,
    /// Rows (as Arrow bytes) after which an `id_part`'s file is cut.
    pub file_bytes: usize,
    /// How to reach S3.
    pub s3: S3Settings,
}

impl MergeSpec {
    /// The source a file belongs to (the longest directory that holds it).
    fn source_of(&self, path: &str) -> Option<usize> {
        self.sources
            .iter()
            .enumerate()
            .filter(|(_, s)| path.starts_with(&format!("{}/", s.dir.trim_end_matches('/'))))
            .max_by_key(|(_, s)| s.dir.len())
            .map(|(i, _)| i)
    }
}

/// The columns of an export's files: the daily's, `val` before
/// `last_modified` so that readers of the old export by position still find
/// `id`, `db_type`, `val` first; `last_modified` is null for rows that came
/// from an export without it.
pub fn export_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(col::ID, DataType::Utf8, true),
        Field::new(col::DB_TYPE, DataType::Utf8, false),
        Field::new(col::VAL, DataType::Utf8, false),
        Field::new(col::LAST_MODIFIED, timestamp_type(), true),
    ]))
}

/// The rows as the merge carries them: the export's columns and the
/// source's rank.
fn merge_schema() -> SchemaRef {
    let mut fields: Vec<Field> = export_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(RANK, DataType::Int32, false));
    Arc::new(Schema::new(fields))
}

const RANK: &str = "__weir_rank";

/// The merge operator; its input lists each task's files
/// ([`super::file_groups`]).
#[derive(Debug)]
pub struct MergeExec {
    spec: MergeSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl MergeExec {
    /// Merges the files `input` lists, as `spec` says.
    pub fn new(spec: MergeSpec, input: Arc<dyn ExecutionPlan>) -> Self {
        let props = summary_properties(Partitioning::UnknownPartitioning(
            input.properties().output_partitioning().partition_count(),
        ));
        Self {
            spec,
            input,
            props,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// What it does.
    pub fn spec(&self) -> &MergeSpec {
        &self.spec
    }
}

impl DisplayAs for MergeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MergeExec: name={}, rule={}, format={}, sources={}",
            self.spec.name,
            self.spec.rule.as_str(),
            self.spec.format.as_str(),
            self.spec.sources.len()
        )
    }
}

impl ExecutionPlan for MergeExec {
    super::single_input_plan!("MergeExec", |this, input| Self::new(
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
        let (global, files) = group_of(&self.input, partition)?;
        let spec = Arc::new(self.spec.clone());
        let dest = super::allow::staging_dest(&spec.dest, &spec.s3, &spec.staging)?;
        // Each id_part's files, in a fixed order (source, then path).
        let mut parts: BTreeMap<String, Vec<(usize, InputFile)>> = BTreeMap::new();
        for file in files {
            let source = spec.source_of(&file.path).ok_or_else(|| {
                DataFusionError::Internal(format!("{} is in no source of the merge", file.path))
            })?;
            let id_part = if spec.id_part_dirs {
                hive_value(&file.path, col::ID_PART).ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "{} is not in an id_part= directory",
                        file.path
                    ))
                })?
            } else {
                String::new()
            };
            parts.entry(id_part).or_default().push((source, file));
        }
        for files in parts.values_mut() {
            files.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
        }
        let metrics = MergeMetrics {
            baseline: BaselineMetrics::new(&self.metrics, partition),
            rows_in: MetricBuilder::new(&self.metrics).counter("rows_in", partition),
            files: MetricBuilder::new(&self.metrics).counter("files", partition),
            bytes: MetricBuilder::new(&self.metrics).counter("bytes_written", partition),
        };
        let attempt = crate::random::attempt_token();
        tracing::info!(output = %spec.name, group = global, id_parts = parts.len(), attempt = %attempt, "merge task started");
        Ok(summary_stream(async move {
            let reservation = MemoryConsumer::new(format!("MergeExec[{global}] writer"))
                .register(context.memory_pool());
            let mut writer = ExportWriter {
                reservation,
                summary: TaskSummary {
                    partition: global,
                    attempt,
                    executor: super::worker_id(),
                    ..TaskSummary::default()
                },
                spec: Arc::clone(&spec),
                dest,
                rows_by_source: Arc::new(
                    (0..spec.sources.len()).map(|_| AtomicU64::new(0)).collect(),
                ),
                buffered: Vec::new(),
                bytes: 0,
                files: 0,
                metrics,
            };
            for (id_part, files) in parts {
                merge_id_part(&mut writer, &context, &id_part, files).await?;
            }
            // Every row read, by source (counted by the readers).
            writer.summary.rows_by_source = writer
                .rows_by_source
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect();
            writer.summary.records = writer.summary.rows_by_source.iter().sum();
            let summary = writer.summary;
            tracing::info!(output = %spec.name, group = summary.partition, rows_in = summary.records, rows_out = summary.rows, "merge task finished");
            Ok(summary)
        }))
    }
}

struct MergeMetrics {
    baseline: BaselineMetrics,
    rows_in: Count,
    files: Count,
    bytes: Count,
}

/// Merges one `id_part`'s files into its export files.
async fn merge_id_part(
    writer: &mut ExportWriter,
    context: &Arc<TaskContext>,
    id_part: &str,
    files: Vec<(usize, InputFile)>,
) -> Result<()> {
    let spec = Arc::clone(&writer.spec);
    let batch_size = context.session_config().batch_size();
    let schema = merge_schema();
    let streams: Vec<SendableRecordBatchStream> = files
        .into_iter()
        .map(|(source, file)| {
            read_source(
                Arc::clone(&spec),
                source,
                file,
                batch_size,
                writer.metrics.rows_in.clone(),
                Arc::clone(&writer.rows_by_source),
            )
        })
        .collect();
    let ordering = LexOrdering::new(vec![PhysicalSortExpr::new(
        column_expr(col::ID, &schema)?,
        SortOptions {
            descending: false,
            nulls_first: true,
        },
    )])
    .ok_or_else(|| DataFusionError::Internal("empty ordering".into()))?;
    let reservation =
        MemoryConsumer::new(format!("MergeExec[{id_part}]")).register(context.memory_pool());
    let mut merged = StreamingMergeBuilder::new()
        .with_streams(streams)
        .with_schema(Arc::clone(&schema))
        .with_expressions(&ordering)
        .with_metrics(writer.metrics.baseline.clone())
        .with_batch_size(batch_size)
        .with_reservation(reservation)
        .with_round_robin_tie_breaker(false)
        .build()?;
    let mut collapse = Collapse::new(spec.rule);
    while let Some(batch) = merged.next().await {
        let batch = batch?;
        let kept = collapse.push(&batch)?;
        writer.push(id_part, kept).await?;
    }
    if let Some(last) = collapse.finish() {
        writer.push(id_part, last).await?;
    }
    writer.flush(id_part).await
}

/// One source file's rows in the merge's schema, in `id` order.
fn read_source(
    spec: Arc<MergeSpec>,
    source: usize,
    file: InputFile,
    batch_size: usize,
    rows_in: Count,
    rows_by_source: Arc<Vec<AtomicU64>>,
) -> SendableRecordBatchStream {
    let stream = futures::stream::once(async move {
        let src = &spec.sources[source];
        let root = Location::parse(&src.root, &spec.s3)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let path = stored_path(&file.path).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let display = root.display(&path);
        // Staged files of the day are read where this executor writes.
        let access = if src.root == spec.dest && file.path.starts_with(&spec.staging) {
            super::allow::Access::Write
        } else {
            super::allow::Access::Read
        };
        super::allow::check(access, &display)?;
        let bytes = root
            .store
            .get(&path)
            .await
            .map_err(|e| storage_error("read", &display, e))?
            .bytes()
            .await
            .map_err(|e| storage_error("read", &display, e))?;
        let failed = {
            let display = display.clone();
            move |e: DataFusionError| {
                DataFusionError::Execution(format!("merge: cannot read {display}: {e}"))
            }
        };
        let rank = src.rank;
        let batches = decode(src.format, bytes, batch_size).map_err(&failed)?;
        let batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send> = if src.sorted {
            Box::new(batches.map(move |b| normalize(&b?, rank)))
        } else {
            // Not Weir's: sorted here, one file at a time.
            let all = batches
                .map(|b| normalize(&b?, rank))
                .collect::<Result<Vec<_>>>()
                .map_err(&failed)?;
            Box::new(
                sort_by_id(all, batch_size)
                    .map_err(&failed)?
                    .into_iter()
                    .map(Ok),
            )
        };
        let mut last: Option<String> = None;
        let mut read = 0;
        let checked = batches.map(move |batch| {
            let batch = batch.map_err(&failed)?;
            check_sorted(&batch, &mut last).map_err(|row| {
                DataFusionError::Execution(format!(
                    "merge: {display} is not sorted by id at row {} of the file; nothing published",
                    read + row + 1
                ))
            })?;
            read += batch.num_rows();
            rows_in.add(batch.num_rows());
            rows_by_source[source].fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            Ok(batch)
        });
        Ok::<_, DataFusionError>(futures::stream::iter(checked))
    })
    .try_flatten();
    Box::pin(RecordBatchStreamAdapter::new(merge_schema(), stream))
}

/// A file's batches, decoded as they are taken.
fn decode(
    format: OutputFormat,
    bytes: Bytes,
    batch_size: usize,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    match format {
        OutputFormat::Orc => {
            let reader = orc_rust::ArrowReaderBuilder::try_new(bytes)
                .map_err(|e| DataFusionError::External(Box::new(e)))?
                .with_batch_size(batch_size)
                .build();
            Ok(Box::new(reader.map(|b| b.map_err(DataFusionError::from))))
        }
        OutputFormat::Parquet => {
            let reader =
                datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    bytes,
                )?
                .with_batch_size(batch_size)
                .build()?;
            Ok(Box::new(reader.map(|b| b.map_err(DataFusionError::from))))
        }
        other => Err(DataFusionError::Plan(format!(
            "the merge reads ORC or Parquet, not {}",
            other.as_str()
        ))),
    }
}

/// A file's batch in the merge's schema: `id`, `db_type`, `val` by name,
/// `last_modified` when the file has it (the old job's exports do not),
/// and the source's rank. Extra columns (the old job's `row_number`) are
/// dropped.
fn normalize(batch: &RecordBatch, rank: i32) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let schema = merge_schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(5);
    for field in schema.fields() {
        let name = field.name().as_str();
        if name == RANK {
            columns.push(Arc::new(Int32Array::from(vec![rank; rows])));
            continue;
        }
        match batch.column_by_name(name) {
            Some(values) => columns.push(
                cast(values, field.data_type())
                    .map_err(|e| DataFusionError::Execution(format!("column {name}: {e}")))?,
            ),
            None if name == col::LAST_MODIFIED => {
                columns.push(new_null_array(field.data_type(), rows))
            }
            None => {
                return Err(DataFusionError::Execution(format!("no column {name}")));
            }
        }
    }
    if columns[1].null_count() > 0 || columns[2].null_count() > 0 {
        return Err(DataFusionError::Execution("null db_type or val".to_owned()));
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Rows sorted by `id`, in batches of `batch_size`.
fn sort_by_id(batches: Vec<RecordBatch>, batch_size: usize) -> Result<Vec<RecordBatch>> {
    if batches.is_empty() {
        return Ok(batches);
    }
    let all = concat_batches(&merge_schema(), &batches)?;
    drop(batches);
    let order = lexsort_to_indices(
        &[SortColumn {
            values: Arc::clone(column(&all, col::ID)?),
            options: Some(SortOptions {
                descending: false,
                nulls_first: true,
            }),
        }],
        None,
    )?;
    let sorted = take_record_batch(&all, &order)?;
    let size = batch_size.max(1);
    Ok((0..sorted.num_rows())
        .step_by(size)
        .map(|start| sorted.slice(start, size.min(sorted.num_rows() - start)))
        .collect())
}

/// Checks `batch` continues `last` in `id` order (nulls first); the row that
/// breaks it otherwise.
fn check_sorted(batch: &RecordBatch, last: &mut Option<String>) -> std::result::Result<(), usize> {
    let ids = batch.column(0).as_string::<i32>();
    let mut previous: Option<Option<&str>> = last.as_deref().map(Some);
    for row in 0..ids.len() {
        let id = ids.is_valid(row).then(|| ids.value(row));
        if let Some(p) = previous
            && p > id
        {
            return Err(row);
        }
        previous = Some(id);
    }
    if let Some(Some(id)) = previous {
        *last = Some(id.to_owned());
    }
    Ok(())
}

/// The columns of a merged batch the rule reads.
struct Rows<'a> {
    id: &'a StringArray,
    db_type: &'a StringArray,
    val: &'a StringArray,
    last_modified: &'a TimestampMillisecondArray,
    rank: &'a Int32Array,
}

impl<'a> Rows<'a> {
    fn new(batch: &'a RecordBatch) -> Self {
        Self {
            id: batch.column(0).as_string::<i32>(),
            db_type: batch.column(1).as_string::<i32>(),
            val: batch.column(2).as_string::<i32>(),
            last_modified: batch.column(3).as_primitive::<TimestampMillisecondType>(),
            rank: batch.column(4).as_primitive::<Int32Type>(),
        }
    }

    fn id(&self, row: usize) -> Option<&'a str> {
        self.id.is_valid(row).then(|| self.id.value(row))
    }

    fn is_delete(&self, row: usize) -> bool {
        self.db_type.value(row) == "DELETE"
    }

    fn last_modified(&self, row: usize) -> Option<i64> {
        self.last_modified
            .is_valid(row)
            .then(|| self.last_modified.value(row))
    }
}

impl MergeRule {
    /// Whether row `a` of `x` beats row `b` of `y` (rows of one id).
    fn prefers(self, x: &Rows<'_>, a: usize, y: &Rows<'_>, b: usize) -> bool {
        use std::cmp::{Ordering, Reverse};
        let kind = x.is_delete(a).cmp(&y.is_delete(b));
        let modified = x.last_modified(a).cmp(&y.last_modified(b));
        let first = match self {
            Self::DeleteWins => kind.then(modified),
            Self::Latest => modified.then(kind),
        };
        let order = first
            .then(x.rank.value(a).cmp(&y.rank.value(b)))
            .then(Reverse(x.val.value(a)).cmp(&Reverse(y.val.value(b))));
        order == Ordering::Greater
    }
}

/// Keeps the winning row of each run of equal ids in merged batches; the
/// last id of a batch waits for the next batch (its run may go on there).
struct Collapse {
    rule: MergeRule,
    /// The best row so far of the id the last batch ended with.
    pending: Option<RecordBatch>,
}

impl Collapse {
    fn new(rule: MergeRule) -> Self {
        Self {
            rule,
            pending: None,
        }
    }

    fn push(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let pending = self.pending.take();
        let mut batches: Vec<&RecordBatch> = Vec::with_capacity(2);
        if let Some(p) = &pending {
            batches.push(p);
        }
        batches.push(batch);
        let this = batches.len() - 1;
        let rows: Vec<Rows<'_>> = batches.iter().map(|b| Rows::new(b)).collect();
        let mut best: Option<(usize, usize)> = pending.as_ref().map(|_| (0, 0));
        let mut out: Vec<(usize, usize)> = Vec::new();
        for row in 0..batch.num_rows() {
            let id = rows[this].id(row);
            match best {
                // Rows without an id are never merged with one another.
                Some((b, r)) if id.is_some() && rows[b].id(r) == id => {
                    if self.rule.prefers(&rows[this], row, &rows[b], r) {
                        best = Some((this, row));
                    }
                }
                Some(done) => {
                    out.push(done);
                    best = Some((this, row));
                }
                None => best = Some((this, row)),
            }
        }
        let kept = interleave_record_batch(&batches, &out)?;
        self.pending = best.map(|(b, r)| batches[b].slice(r, 1));
        Ok(kept)
    }

    fn finish(&mut self) -> Option<RecordBatch> {
        self.pending.take()
    }
}

/// Writes kept rows, one file per `id_part` directory, cut every
/// `file_bytes`.
struct ExportWriter {
    /// The rows buffered for the file being filled (a file is cut early
    /// when the pool has no room for more).
    reservation: MemoryReservation,
    spec: Arc<MergeSpec>,
    dest: Location,
    summary: TaskSummary,
    /// Rows read per source, added to by the source readers.
    rows_by_source: Arc<Vec<AtomicU64>>,
    buffered: Vec<RecordBatch>,
    bytes: usize,
    files: usize,
    metrics: MergeMetrics,
}

impl ExportWriter {
    async fn push(&mut self, id_part: &str, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let db_types = batch.column(1).as_string::<i32>();
        let deletes = db_types.iter().filter(|t| *t == Some("DELETE")).count() as u64;
        self.summary.deletes += deletes;
        self.summary.inserts += batch.num_rows() as u64 - deletes;
        self.metrics.baseline.record_output(batch.num_rows());
        let batch = batch.project(&[0, 1, 2, 3])?;
        let size = batch.get_array_memory_size();
        if self.reservation.try_grow(size).is_err() {
            self.flush(id_part).await?;
            self.reservation.try_grow(size)?;
        }
        self.bytes += size;
        self.buffered.push(batch);
        if self.bytes >= self.spec.file_bytes {
            self.flush(id_part).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, id_part: &str) -> Result<()> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.buffered);
        self.bytes = 0;
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        let name = format!(
            "part-{:05}-{:04}-{}.{}",
            self.summary.partition,
            self.files,
            self.summary.attempt,
            self.spec.format.extension()
        );
        self.files += 1;
        let target = if self.spec.id_part_dirs {
            format!("{}={}/{name}", col::ID_PART, hive_escape(id_part))
        } else {
            name
        };
        let timer = self.metrics.baseline.elapsed_compute().timer();
        let bytes = encode_table(
            export_schema(),
            &batches,
            self.spec.format,
            self.spec.orc_compression,
        )
        .map_err(|e| {
            DataFusionError::Execution(format!(
                "output {}: cannot encode {target}: {e}",
                self.spec.name
            ))
        })?;
        timer.done();
        drop(batches);
        let staging = self.dest.child(&format!(
            "{}/{}/derived/{}",
            self.spec.staging, self.summary.attempt, self.spec.name
        ));
        let path = raw_join(&staging, &target);
        let size = bytes.len() as u64;
        put(&self.dest, &path, bytes).await?;
        self.metrics.files.add(1);
        self.metrics.bytes.add(size as usize);
        self.reservation.free();
        self.summary.rows += rows;
        self.summary.files.push(StagedFile {
            kind: FileKind::Data,
            staged: path.to_string(),
            target,
            rows,
            bytes: size,
        });
        Ok(())
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("no column {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[(&str, &str, &str, Option<i64>, i32)]) -> RecordBatch {
        RecordBatch::try_new(
            merge_schema(),
            vec![
                Arc::new(StringArray::from_iter_values(data.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(data.iter().map(|r| r.1))),
                Arc::new(StringArray::from_iter_values(data.iter().map(|r| r.2))),
                Arc::new(
                    TimestampMillisecondArray::from(data.iter().map(|r| r.3).collect::<Vec<_>>())
                        .with_timezone("UTC"),
                ),
                Arc::new(Int32Array::from_iter_values(data.iter().map(|r| r.4))),
            ],
        )
        .unwrap()
    }

    fn kept(rule: MergeRule, batches: &[RecordBatch]) -> Vec<(String, String, String)> {
        let mut collapse = Collapse::new(rule);
        let mut out = Vec::new();
        let mut take = |b: RecordBatch| {
            let r = Rows::new(&b);
            for i in 0..b.num_rows() {
                out.push((
                    r.id(i).unwrap().to_owned(),
                    r.db_type.value(i).to_owned(),
                    r.val.value(i).to_owned(),
                ));
            }
        };
        for b in batches {
            let with_rank = b.clone();
            take(collapse.push(&with_rank).unwrap());
        }
        if let Some(last) = collapse.finish() {
            take(last);
        }
        out
    }

    #[test]
    fn a_delete_beats_inserts_and_the_latest_insert_wins_across_batches() {
        let a = rows(&[
            ("a", "INSERT", "a1", Some(5), 1),
            ("a", "DELETE", "a-gone", Some(1), 1),
            ("b", "INSERT", "b-old", Some(1), 1),
            ("b", "INSERT", "b-new", Some(9), 2),
        ]);
        // `b` goes on in the next batch, with an older row.
        let b = rows(&[
            ("b", "INSERT", "b-older", None, 3),
            ("c", "INSERT", "c2", Some(3), 2),
            ("c", "INSERT", "c1", Some(3), 2),
        ]);
        assert_eq!(
            kept(MergeRule::DeleteWins, &[a.clone(), b.clone()]),
            vec![
                ("a".into(), "DELETE".into(), "a-gone".into()),
                ("b".into(), "INSERT".into(), "b-new".into()),
                // Equal in all but val: the smaller val, whatever the order.
                ("c".into(), "INSERT".into(), "c1".into()),
            ]
        );
        // The latest row wins whatever its kind.
        assert_eq!(
            kept(MergeRule::Latest, &[a, b])[0],
            ("a".into(), "INSERT".into(), "a1".into())
        );
    }

    #[test]
    fn a_later_export_wins_a_tie_of_last_modified() {
        let batch = rows(&[
            ("x", "INSERT", "from-day-2", Some(7), 2),
            ("x", "INSERT", "from-day-3", Some(7), 3),
            ("x", "INSERT", "old-export", None, 9),
        ]);
        assert_eq!(kept(MergeRule::DeleteWins, &[batch])[0].2, "from-day-3");
    }

    #[test]
    fn unsorted_files_are_caught() {
        let mut last = None;
        assert_eq!(
            check_sorted(
                &rows(&[("a", "INSERT", "", None, 0), ("c", "INSERT", "", None, 0)]),
                &mut last
            ),
            Ok(())
        );
        assert_eq!(
            check_sorted(&rows(&[("b", "INSERT", "", None, 0)]), &mut last),
            Err(0)
        );
        let sorted = sort_by_id(
            vec![rows(&[("b", "I", "", None, 0), ("a", "I", "", None, 0)])],
            1,
        )
        .unwrap();
        assert_eq!(sorted.len(), 2);
        assert_eq!(sorted[0].column(0).as_string::<i32>().value(0), "a");
    }
}
