//! `IngestExec`: the record pipeline over batches of lines. Per batch it
//! parses every envelope, resolves the batch's distinct data keys through the
//! process-wide cache (concurrently, one DKS call per key per process), then
//! turns each line into a row or a corrupt record. Both flow on.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, BinaryBuilder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
    UInt64Array,
};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
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
}

/// The ingest operator.
#[derive(Debug)]
pub struct IngestExec {
    spec: IngestSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
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
        let input = self.input.execute(partition, context)?;
        let cache = KeyCache::shared(&dks, cache).map_err(engine_error)?;
        let scope: Arc<str> = Arc::from(self.spec.scope.as_str());
        let pipeline = Arc::new(RecordPipeline::new(
            self.spec.collection.clone(),
            self.spec.rules.clone(),
            self.spec.cipher,
        ));
        let rows_out = MetricBuilder::new(&self.metrics).counter("rows_out", partition);
        let corrupt = MetricBuilder::new(&self.metrics).counter("corrupt", partition);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let stream = input.then(move |batch| {
            let cache = Arc::clone(&cache);
            let pipeline = Arc::clone(&pipeline);
            let scope = Arc::clone(&scope);
            let (rows_out, corrupt) = (rows_out.clone(), corrupt.clone());
            let baseline = baseline.clone();
            async move {
                // Wall time of the batch (key lookups included): the ingest
                // is mostly CPU, and its waits are the key service's.
                let timer = baseline.elapsed_compute().timer();
                let out = ingest_batch(&batch?, &pipeline, &cache, &scope).await?;
                timer.done();
                baseline.record_output(out.num_rows());
                let bad = out
                    .column_by_name(col::REASON)
                    .map_or(0, |c| c.len() - c.null_count());
                corrupt.add(bad);
                rows_out.add(out.num_rows() - bad);
                Ok(out)
            }
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

async fn ingest_batch(
    batch: &RecordBatch,
    pipeline: &RecordPipeline,
    cache: &KeyCache,
    scope: &str,
) -> Result<RecordBatch> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| DataFusionError::Internal(format!("IngestExec input lacks {name}")))
    };
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
    let mut val = StringBuilder::with_capacity(n, lines.value_data().len());
    let mut reason = StringBuilder::with_capacity(n, 0);
    let mut field = StringBuilder::with_capacity(n, 0);
    let mut detail = StringBuilder::with_capacity(n, 0);
    let mut original = BinaryBuilder::with_capacity(n, 0);
    let mut scratch = Scratch::default();
    for (i, envelope) in envelopes.iter().enumerate() {
        let outcome = match envelope {
            Ok(envelope) => pipeline.process_envelope(envelope, &keys, &mut scratch),
            Err(c) => Err(c.clone()),
        };
        match outcome {
            Ok(row) => {
                id.append_option(row.id);
                id_part.append_option(row.id_part);
                db_type.append_value(row.db_type.as_str());
                last_modified.append_value(row.last_modified.unix_millis());
                val.append_value(&row.val);
                reason.append_null();
                field.append_null();
                detail.append_null();
                original.append_null();
            }
            Err(c) => {
                id.append_null();
                id_part.append_null();
                db_type.append_null();
                last_modified.append_null();
                val.append_null();
                reason.append_value(c.reason.code());
                field.append_value(&c.field);
                detail.append_value(&c.detail);
                original.append_value(lines.value(i));
            }
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
            Arc::new(files.clone()),
            Arc::new(numbers.clone()),
            Arc::new(reason.finish()),
            Arc::new(field.finish()),
            Arc::new(detail.finish()),
            Arc::new(original.finish()),
        ],
    )
    .map_err(DataFusionError::from)
}
