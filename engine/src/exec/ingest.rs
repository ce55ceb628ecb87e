//! `IngestExec`: the record pipeline over batches of lines. Per batch it
//! parses every envelope, resolves the batch's distinct data keys through the
//! process-wide cache (concurrently, one DKS call per key per process), then
//! turns each line into a row or a corrupt record. Rows flow on (in
//! [`crate::output::output_schema`]); corrupt records go to the plan's other
//! output, the quarantine ([`super::quarantine`]), which the operator stages
//! itself. What a task read and quarantined is handed to the writer above it
//! when its stream ends ([`ingested`]), for the task's summary.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, AsArray, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt64Array,
};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::error::{engine_error, io_error};
use super::options::WeirOptions;
use super::quarantine::{QuarantineMetrics, QuarantineSink, QuarantineSpec, Quarantined};
use super::schema::{col, ingested_schema, timestamp_type};
use crate::keys::KeyCache;
use crate::record::{Cipher, CollectionName, Corrupt, RecordPipeline, RecordRules, Scratch};

/// What the ingest operator does: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestSpec {
    /// The collection given to the run.
    pub collection: CollectionName,
    /// Its record rules (chosen by its ingester).
    pub rules: RecordRules,
    /// The cipher of `dbObject`.
    pub cipher: Cipher,
    /// What key-service work is counted under (the day's staging prefix, unique
    /// per run, collection and day); see [`crate::keys::scope_stats`]. The key
    /// service itself comes from the session's [`WeirOptions`].
    pub scope: String,
    /// Where corrupt records are staged; set by the day's plan
    /// ([`crate::run::DayJob::plan`]), which knows the staging prefix.
    #[serde(default)]
    pub quarantine: Option<QuarantineSpec>,
}

/// What one ingest task attempt did besides its rows, for the writer's
/// summary: its attempt token (the writer names its files with it too), the
/// records it read, the input files they came from, and its quarantine.
#[derive(Debug, Default)]
pub(super) struct Ingested {
    pub attempt: String,
    pub records: u64,
    pub inputs: Vec<String>,
    pub quarantined: Quarantined,
}

/// Ingest tasks of one operator instance, by partition: started ones hold
/// their attempt token, ended ones also what they did.
type Tasks = Arc<Mutex<HashMap<usize, Ingested>>>;

/// The ingest operator.
#[derive(Debug)]
pub struct IngestExec {
    spec: IngestSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    tasks: Tasks,
}

impl IngestExec {
    /// Ingest over `input` (a lines stream, see [`super::schema::lines_schema`]).
    pub fn new(spec: IngestSpec, input: Arc<dyn ExecutionPlan>) -> Self {
        let props = PlanProperties::new(
            EquivalenceProperties::new(ingested_schema()),
            input.properties().output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            spec,
            input,
            props: Arc::new(props),
            metrics: ExecutionPlanMetricsSet::new(),
            tasks: Tasks::default(),
        }
    }

    /// What it does.
    pub fn spec(&self) -> &IngestSpec {
        &self.spec
    }
}

impl DisplayAs for IngestExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IngestExec: collection={}, cipher={:?}",
            self.spec.collection, self.spec.cipher
        )
    }
}

impl ExecutionPlan for IngestExec {
    super::single_input_plan!("IngestExec", |this, input| Self::new(
        this.spec.clone(),
        input
    ));

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (dks, cache) = WeirOptions::from_config(context.session_config())
            .ok_or_else(|| {
                DataFusionError::Configuration(
                    "the session config has no weir.* options: this process was not \
                     started with Weir's config (weir executor / weir run)"
                        .to_owned(),
                )
            })?
            .dks()?;
        let quarantine = self.spec.quarantine.clone().ok_or_else(|| {
            DataFusionError::Internal(
                "IngestExec has no quarantine to stage corrupt records in".to_owned(),
            )
        })?;
        let input = self.input.execute(partition, context)?;
        let cache = KeyCache::shared(&dks, cache).map_err(engine_error)?;
        let pipeline = RecordPipeline::new(
            self.spec.collection.clone(),
            self.spec.rules.clone(),
            self.spec.cipher,
        );
        let counter =
            |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, partition);
        // A token per attempt: a retried task never writes over another
        // attempt's files (the writer above names its files with it too).
        let attempt = crate::random::attempt_token();
        let global = super::global_partition(self.input.as_ref(), partition);
        let sink = QuarantineSink::new(
            quarantine,
            global,
            attempt.clone(),
            QuarantineMetrics {
                files: counter("quarantine_files"),
                bytes: counter("quarantine_bytes"),
            },
        )?;
        lock(&self.tasks).insert(
            partition,
            Ingested {
                attempt,
                ..Ingested::default()
            },
        );
        let task = IngestTask {
            input,
            cache,
            pipeline,
            scope: self.spec.scope.clone(),
            sink: Some(sink),
            inputs: Vec::new(),
            records: 0,
            val_per_row: None,
            rows_out: counter("rows_out"),
            corrupt: counter("corrupt"),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            tasks: Arc::clone(&self.tasks),
            partition,
        };
        let stream = futures::stream::try_unfold(task, |mut task| async move {
            let next = task.next().await?;
            Ok(next.map(|batch| (batch, task)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            ingested_schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One ingest task's state between batches.
struct IngestTask {
    input: SendableRecordBatchStream,
    cache: Arc<KeyCache>,
    pipeline: RecordPipeline,
    scope: String,
    /// Taken when the input ends.
    sink: Option<QuarantineSink>,
    inputs: Vec<String>,
    records: u64,
    /// `val` bytes per row of the previous batch: the next batch's `val`
    /// is sized from it (see [`ingest_batch`]).
    val_per_row: Option<usize>,
    rows_out: Count,
    corrupt: Count,
    baseline: BaselineMetrics,
    tasks: Tasks,
    partition: usize,
}

impl IngestTask {
    /// The next batch holding rows; at the end of the input, the quarantine
    /// is staged and the task's account left for the writer.
    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        while let Some(batch) = self.input.next().await {
            let Some(sink) = self.sink.as_mut() else {
                break;
            };
            let batch = batch?;
            // Wall time of the batch (key lookups included): the ingest
            // is mostly CPU, and its waits are the key service's.
            let timer = self.baseline.elapsed_compute().timer();
            let files = batch_column(&batch, col::FILE)?.as_string::<i32>();
            // A file's lines come in order, so comparing with the last name
            // seen is enough to list the inputs without a lookup per row;
            // and the scan's batches hold one file each, so the rows are
            // walked only when a batch's first and last files differ.
            let rows = batch.num_rows();
            let one_file = rows > 0 && files.value(0) == files.value(rows - 1);
            let names: Box<dyn Iterator<Item = &str>> = if one_file {
                Box::new(std::iter::once(files.value(0)))
            } else {
                Box::new(files.iter().flatten())
            };
            for file in names {
                if self.inputs.last().map(String::as_str) != Some(file) {
                    self.inputs.push(file.to_owned());
                }
            }
            self.records += batch.num_rows() as u64;
            let out = ingest_batch(
                &batch,
                (&self.pipeline, &self.cache, &self.scope),
                self.val_per_row,
                sink,
            )
            .await?;
            if let Some(val) = out.column_by_name(col::VAL).filter(|v| !v.is_empty()) {
                let bytes = val.as_string::<i32>().value_data().len();
                self.val_per_row = Some(bytes / val.len());
            }
            timer.done();
            sink.stage_if_full().await?;
            self.corrupt.add(batch.num_rows() - out.num_rows());
            self.rows_out.add(out.num_rows());
            if out.num_rows() > 0 {
                self.baseline.record_output(out.num_rows());
                return Ok(Some(out));
            }
        }
        if let Some(sink) = self.sink.take() {
            let quarantined = sink.finish().await?;
            let mut tasks = lock(&self.tasks);
            let task = tasks.entry(self.partition).or_default();
            task.records = self.records;
            task.inputs = std::mem::take(&mut self.inputs);
            task.quarantined = quarantined;
        }
        Ok(None)
    }
}

/// The tasks' map, whoever panicked while holding it (it holds plain data).
fn lock(tasks: &Tasks) -> std::sync::MutexGuard<'_, HashMap<usize, Ingested>> {
    tasks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The attempt token of `plan`'s partition `local`, for a plan whose
/// single-input chain holds an [`IngestExec`] whose task has started.
pub(super) fn ingest_attempt(plan: &dyn ExecutionPlan, local: usize) -> Option<String> {
    tasks_of(plan).and_then(|tasks| lock(&tasks).get(&local).map(|t| t.attempt.clone()))
}

/// What the ingest task of `plan`'s partition `local` did, once its stream
/// has ended (taken: asked once, by the writer above it). Two attempts of
/// one partition run one after the other in a process, never at once.
pub(super) fn ingested(plan: &dyn ExecutionPlan, local: usize) -> Option<Ingested> {
    tasks_of(plan).and_then(|tasks| lock(&tasks).remove(&local))
}

fn tasks_of(plan: &dyn ExecutionPlan) -> Option<Tasks> {
    if let Some(ingest) = plan.downcast_ref::<IngestExec>() {
        return Some(Arc::clone(&ingest.tasks));
    }
    match plan.children().as_slice() {
        [child] => tasks_of(child.as_ref()),
        _ => None,
    }
}

fn batch_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Arc<dyn Array>> {
    batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("IngestExec input lacks {name}")))
}

/// The good rows of `batch`, with `val` sized from `val_per_row` (the
/// previous batch's bytes per row) when known; its corrupt records go to
/// `quarantine`.
async fn ingest_batch(
    batch: &RecordBatch,
    (pipeline, cache, scope): (&RecordPipeline, &KeyCache, &str),
    val_per_row: Option<usize>,
    quarantine: &mut QuarantineSink,
) -> Result<RecordBatch> {
    let column = |name: &str| batch_column(batch, name);
    let lines = column(col::LINE)?.as_binary::<i32>();
    let files = column(col::FILE)?.as_string::<i32>();
    let numbers: &UInt64Array = column(col::LINE_NUMBER)?.as_primitive::<UInt64Type>();
    let overflow = column(col::OVERFLOW)?.as_string::<i32>();

    // A line cut at the length cap is never parsed: it is quarantined whole
    // as far as it was kept.
    let envelopes: Vec<_> = (0..lines.len())
        .map(|i| {
            if overflow.is_valid(i) {
                return Err(Corrupt::line_too_long(overflow.value(i)));
            }
            RecordPipeline::parse_line(lines.value(i))
        })
        .collect();
    // Distinct keys first (borrowed), owned copies only of those.
    let distinct: BTreeSet<(&str, &str)> = envelopes
        .iter()
        .filter_map(|e| e.as_ref().ok())
        .filter_map(|e| e.encryption().ok())
        .map(|enc| (enc.key_encryption_key_id, enc.encrypted_encryption_key))
        .collect();
    let wanted: Vec<(String, String)> = distinct
        .into_iter()
        .map(|(kek, key)| (kek.to_owned(), key.to_owned()))
        .collect();
    let keys = cache.resolve_in(Some(scope), wanted).await.map_err(|e| {
        // Name a file of the batch: the day failed while reading it.
        io_error(format!(
            "{} (while ingesting {}): {e}",
            pipeline.collection(),
            files.value(0)
        ))
    })?;

    let n = lines.len();
    let mut id = StringBuilder::with_capacity(n, n * 48);
    let mut id_part = StringBuilder::with_capacity(n, n * 2);
    let mut db_type = StringBuilder::with_capacity(n, n * 6);
    let mut last_modified =
        TimestampMillisecondBuilder::with_capacity(n).with_data_type(timestamp_type());
    // The rows are buffered by the writer as built, so `val` is sized to
    // what it will hold, not to the lines (a plaintext is about 3/4 of its
    // line): from the previous batch of the task, plus 1/16 so it is not
    // doubled and copied near its end.
    let val_bytes = val_per_row.map_or(lines.value_data().len(), |b| n * (b + b / 16));
    let mut val = StringBuilder::with_capacity(n, val_bytes);
    let mut scratch = Scratch::default();
    for (i, envelope) in envelopes.iter().enumerate() {
        let outcome = match envelope {
            Ok(envelope) => pipeline.process_envelope_into(envelope, &keys, &mut scratch),
            Err(c) => Err(c.clone()),
        };
        match outcome {
            Ok((row, row_val)) => {
                id.append_option(row.id);
                id_part.append_option(row.id_part);
                db_type.append_value(row.db_type.as_str());
                last_modified.append_value(row.last_modified.unix_millis());
                val.append_value(row_val);
            }
            Err(c) => quarantine.add(files.value(i), numbers.value(i), &c, lines.value(i))?,
        }
    }
    RecordBatch::try_new(
        ingested_schema(),
        vec![
            Arc::new(id.finish()),
            Arc::new(id_part.finish()),
            Arc::new(db_type.finish()),
            Arc::new(last_modified.finish()),
            Arc::new(val.finish()),
        ],
    )
    .map_err(DataFusionError::from)
}
