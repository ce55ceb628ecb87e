//! `TableWriteExec`: the generic partition-parallel writer. Any schema, sort
//! keys, Hive partition columns as `name=value` directories, every format
//! Weir writes; each task attempt stages its own files (named by partition,
//! flush and attempt) and returns their list as a [`TaskSummary`], so what
//! it writes is committed by the day's one all-or-nothing publish, exactly
//! like the ingest writer's output. What derived outputs (post-processing
//! SQL, merges, tables) are written with.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{
    SortColumn, SortOptions, cast, concat_batches, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
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
use serde::{Deserialize, Serialize};

use super::summary::{summary_properties, summary_stream};
use super::write::put;
use crate::output::{
    FileKind, OrcCompression, OutputFormat, StagedFile, TaskSummary, encode_table, hive_escape,
};
use crate::storage::{Location, S3Settings, raw_join};

/// What the generic writer does: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableWriteSpec {
    /// The destination root (path or URL).
    pub dest: String,
    /// The run's staging prefix for the day, relative to `dest`.
    pub staging: String,
    /// The output's name: its files stage under `<attempt>/derived/<name>/`.
    pub name: String,
    /// Format.
    pub format: OutputFormat,
    /// ORC codec.
    pub orc_compression: OrcCompression,
    /// Columns that become `name=value` directories (and leave the files).
    pub partition_by: Vec<String>,
    /// Columns each file is sorted by (after the partition columns).
    pub sort_by: Vec<String>,
    /// Buffered bytes per task before files are written.
    pub buffer_bytes: usize,
    /// How to reach S3.
    pub s3: S3Settings,
}

/// The generic writer.
#[derive(Debug)]
pub struct TableWriteExec {
    spec: TableWriteSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl TableWriteExec {
    /// Writes `input`; fails at once when a partition or sort column is not
    /// in its schema (the plan's mistake, before any task runs).
    pub fn try_new(spec: TableWriteSpec, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let schema = input.schema();
        for name in spec.partition_by.iter().chain(&spec.sort_by) {
            if schema.column_with_name(name).is_none() {
                return Err(DataFusionError::Plan(format!(
                    "output {}: no column {name} to partition or sort by",
                    spec.name
                )));
            }
        }
        let props = summary_properties(input.properties().output_partitioning().clone());
        Ok(Self {
            spec,
            input,
            props,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// What it does.
    pub fn spec(&self) -> &TableWriteSpec {
        &self.spec
    }
}

impl DisplayAs for TableWriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TableWriteExec: name={}, format={}, partition_by=[{}], sort_by=[{}]",
            self.spec.name,
            self.spec.format.as_str(),
            self.spec.partition_by.join(", "),
            self.spec.sort_by.join(", ")
        )
    }
}

impl ExecutionPlan for TableWriteExec {
    super::single_input_plan!("TableWriteExec", |this, input| Self::try_new(
        this.spec.clone(),
        input
    )?);

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, Arc::clone(&context))?;
        let dest = super::allow::staging_dest(&self.spec.dest, &self.spec.s3, &self.spec.staging)?;
        let reservation = MemoryConsumer::new(format!("TableWriteExec[{partition}]"))
            .register(context.memory_pool());
        let metric =
            |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, partition);
        let mut writer = TableWriter {
            spec: self.spec.clone(),
            dest,
            summary: TaskSummary {
                partition,
                attempt: crate::random::attempt_token(),
                executor: super::worker_id(),
                ..TaskSummary::default()
            },
            buffer: Vec::new(),
            buffered: 0,
            reservation,
            flushes: 0,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            files: metric("files"),
            bytes: metric("bytes_written"),
        };
        tracing::info!(output = %writer.spec.name, partition, attempt = %writer.summary.attempt, "table write task started");
        Ok(summary_stream(async move {
            while let Some(batch) = input.next().await {
                writer.push(batch?).await?;
            }
            writer.flush().await?;
            tracing::info!(output = %writer.spec.name, partition = writer.summary.partition, rows = writer.summary.rows, files = writer.summary.files.len(), "table write task finished");
            writer.baseline.record_output(1);
            Ok(writer.summary)
        }))
    }
}

/// One task attempt's state.
struct TableWriter {
    spec: TableWriteSpec,
    dest: Location,
    summary: TaskSummary,
    buffer: Vec<RecordBatch>,
    buffered: usize,
    /// Twice the buffer: the sorted copy made at a flush is as large.
    reservation: MemoryReservation,
    flushes: usize,
    baseline: BaselineMetrics,
    files: Count,
    bytes: Count,
}

impl TableWriter {
    async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let size = batch.get_array_memory_size();
        if self.reservation.try_grow(2 * size).is_err() {
            self.flush().await?;
            self.reservation.try_grow(2 * size)?;
        }
        self.summary.records += batch.num_rows() as u64;
        self.buffered += size;
        self.buffer.push(batch);
        if self.buffered >= self.spec.buffer_bytes {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.buffer);
        self.buffered = 0;
        let flush = self.flushes;
        self.flushes += 1;
        let timer = self.baseline.elapsed_compute().timer();
        let files = encode_flush(&self.spec, &batches, &self.summary, flush)?;
        timer.done();
        drop(batches);
        let staging = self.dest.child(&format!(
            "{}/{}/derived/{}",
            self.spec.staging, self.summary.attempt, self.spec.name
        ));
        for (target, bytes, rows) in files {
            let path = raw_join(&staging, &target);
            let size = bytes.len() as u64;
            put(&self.dest, &path, bytes).await?;
            self.files.add(1);
            self.bytes.add(size as usize);
            self.summary.rows += rows;
            self.summary.files.push(StagedFile {
                kind: FileKind::Data,
                staged: path.to_string(),
                target,
                rows,
                bytes: size,
            });
        }
        self.reservation.free();
        Ok(())
    }
}

/// Sorts the buffer by partition then sort columns and encodes one file per
/// partition directory: (target path, bytes, rows).
fn encode_flush(
    spec: &TableWriteSpec,
    batches: &[RecordBatch],
    summary: &TaskSummary,
    flush: usize,
) -> Result<Vec<(String, Vec<u8>, u64)>> {
    let schema = batches[0].schema();
    let all = concat_batches(&schema, batches)?;
    let keys: Vec<SortColumn> = spec
        .partition_by
        .iter()
        .chain(&spec.sort_by)
        .map(|name| {
            Ok(SortColumn {
                values: Arc::clone(column(&all, name)?),
                options: Some(SortOptions {
                    descending: false,
                    nulls_first: true,
                }),
            })
        })
        .collect::<Result<_>>()?;
    let sorted = if keys.is_empty() {
        all
    } else {
        take_record_batch(&all, &lexsort_to_indices(&keys, None)?)?
    };
    // Partition values as directory names, row by row.
    let dirs: Vec<ArrayRef> = spec
        .partition_by
        .iter()
        .map(|name| Ok(cast(column(&sorted, name)?, &DataType::Utf8)?))
        .collect::<Result<_>>()?;
    // A null and an empty value share Hive's default directory.
    let value = |values: &ArrayRef, row: usize| -> String {
        let values = values.as_string::<i32>();
        if values.is_valid(row) {
            values.value(row).to_owned()
        } else {
            String::new()
        }
    };
    let same_dir = |a: usize, b: usize| {
        dirs.iter().all(|values| {
            let values = values.as_string::<i32>();
            let text = |row: usize| {
                if values.is_valid(row) {
                    values.value(row)
                } else {
                    ""
                }
            };
            text(a) == text(b)
        })
    };
    let dir_of = |row: usize| -> String {
        spec.partition_by
            .iter()
            .zip(&dirs)
            .map(|(name, values)| format!("{name}={}/", hive_escape(&value(values, row))))
            .collect()
    };
    let file_schema: SchemaRef = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| !spec.partition_by.contains(f.name()))
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ));
    let projection: Vec<usize> = file_schema
        .fields()
        .iter()
        .map(|f| schema.index_of(f.name()))
        .collect::<std::result::Result<_, _>>()?;
    let name = format!(
        "part-{:05}-{flush:04}-{}.{}",
        summary.partition,
        summary.attempt,
        spec.format.extension()
    );
    // The sorted rows' stretches of one partition directory, found by
    // comparing values (a directory name is made once per stretch). Two
    // values can still share a directory name (a literal
    // `__HIVE_DEFAULT_PARTITION__` and a null), so stretches are gathered
    // per name: one file per directory, never two files of one name.
    let mut stretches: std::collections::BTreeMap<String, Vec<RecordBatch>> = Default::default();
    let rows = sorted.num_rows();
    let mut start = 0;
    while start < rows {
        let mut end = start + 1;
        while end < rows && same_dir(start, end) {
            end += 1;
        }
        stretches
            .entry(dir_of(start))
            .or_default()
            .push(sorted.slice(start, end - start).project(&projection)?);
        start = end;
    }
    let mut out = Vec::with_capacity(stretches.len());
    for (dir, slices) in stretches {
        let bytes = encode_table(
            Arc::clone(&file_schema),
            &slices,
            spec.format,
            spec.orc_compression,
        )
        .map_err(|e| {
            DataFusionError::Execution(format!(
                "output {}: cannot encode {dir}{name}: {e}",
                spec.name
            ))
        })?;
        let rows = slices.iter().map(RecordBatch::num_rows).sum::<usize>() as u64;
        out.push((format!("{dir}{name}"), bytes, rows));
    }
    Ok(out)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("no column {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn a_flush_makes_one_sorted_file_per_partition_directory() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("day", DataType::Utf8, true),
            Field::new("id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("b"),
                    Some("a/x"),
                    Some("b"),
                    None,
                ])),
                Arc::new(StringArray::from(vec!["2", "1", "1", "9"])),
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            ],
        )
        .unwrap();
        let spec = TableWriteSpec {
            dest: "/tmp".into(),
            staging: "s".into(),
            name: "t".into(),
            format: OutputFormat::Jsonl,
            orc_compression: OrcCompression::Zlib,
            partition_by: vec!["day".into()],
            sort_by: vec!["id".into()],
            buffer_bytes: 1 << 20,
            s3: S3Settings::default(),
        };
        let summary = TaskSummary {
            partition: 3,
            attempt: "abc".into(),
            ..TaskSummary::default()
        };
        let files = encode_flush(&spec, &[batch], &summary, 0).unwrap();
        let targets: Vec<(&str, u64)> = files.iter().map(|(t, _, r)| (t.as_str(), *r)).collect();
        assert_eq!(
            targets,
            vec![
                (
                    "day=__HIVE_DEFAULT_PARTITION__/part-00003-0000-abc.jsonl.gz",
                    1
                ),
                ("day=a%2Fx/part-00003-0000-abc.jsonl.gz", 1),
                ("day=b/part-00003-0000-abc.jsonl.gz", 2),
            ]
        );
        let lines = {
            use std::io::Read;
            let mut text = String::new();
            flate2::read::GzDecoder::new(&files[2].1[..])
                .read_to_string(&mut text)
                .unwrap();
            text
        };
        assert_eq!(lines, "{\"id\":\"1\",\"n\":3}\n{\"id\":\"2\",\"n\":1}\n");
    }
}
