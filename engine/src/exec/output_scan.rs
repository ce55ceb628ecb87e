//! `OutputScanExec`: Weir's own outputs read back as a table — staged files
//! of a day before its commit (what a post-processing step plans SQL over),
//! or published ones. Every format Weir writes: ORC (orc-rust's reader),
//! Parquet, gzip JSON lines and gzip text; Hive `name=value` directories in
//! a file's path become string columns.
//!
//! Like the gzip scan, it reads its file groups from an in-memory source, so
//! Ballista cuts the plan per task at a leaf it knows and each executor reads
//! only its own group. A file is read whole (Weir's files are bounded by the
//! writers' buffer), decoded, and cast column by column to the table's
//! schema; a file that does not fit the schema fails naming file and column.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use super::error::storage_error;
use super::scan::group_of;
use crate::output::OutputFormat;
use crate::storage::{Location, S3Settings, stored_path};

/// What the scan reads: plain data, so it can travel to executors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputScanSpec {
    /// The root the files' object paths are in (path or URL).
    pub root: String,
    /// Their format.
    pub format: OutputFormat,
    /// The table: the files' columns, then the Hive partition columns.
    #[serde(with = "super::schema::serde_schema")]
    pub schema: SchemaRef,
    /// Columns taken from `name=value` directories of each file's path
    /// (strings, at the end of [`OutputScanSpec::schema`]).
    pub partition_columns: Vec<String>,
    /// How to reach S3.
    pub s3: S3Settings,
}

impl OutputScanSpec {
    /// The columns stored in the files.
    fn file_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .filter(|f| !self.partition_columns.contains(f.name()))
            .map(|f| f.as_ref().clone())
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// The scan operator.
#[derive(Debug)]
pub struct OutputScanExec {
    spec: OutputScanSpec,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl OutputScanExec {
    /// Reads the files `input` lists (see [`super::file_groups`]).
    pub fn new(spec: OutputScanSpec, input: Arc<dyn ExecutionPlan>) -> Self {
        let partitions = input.properties().output_partitioning().partition_count();
        let props = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&spec.schema)),
            Partitioning::UnknownPartitioning(partitions),
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
    pub fn spec(&self) -> &OutputScanSpec {
        &self.spec
    }
}

impl DisplayAs for OutputScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OutputScanExec: format={}, root={}",
            self.spec.format.as_str(),
            self.spec.root
        )
    }
}

impl ExecutionPlan for OutputScanExec {
    super::single_input_plan!("OutputScanExec", |this, input| Self::new(
        this.spec.clone(),
        input
    ));

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (_, files) = group_of(&self.input, partition)?;
        let root = Location::parse(&self.spec.root, &self.spec.s3)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let spec = Arc::new(self.spec.clone());
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let stream = futures::stream::iter(files)
            .then(move |file| {
                let (root, spec, baseline) = (root.clone(), Arc::clone(&spec), baseline.clone());
                async move {
                    let path = stored_path(&file.path)
                        .map_err(|e| DataFusionError::External(Box::new(e)))?;
                    let display = root.display(&path);
                    super::allow::check(super::allow::Access::Read, &display)?;
                    let bytes = root
                        .store
                        .get(&path)
                        .await
                        .map_err(|e| storage_error("read", &display, e))?
                        .bytes()
                        .await
                        .map_err(|e| storage_error("read", &display, e))?;
                    let timer = baseline.elapsed_compute().timer();
                    let batches = decode_file(&spec, &file.path, bytes).map_err(|e| {
                        DataFusionError::Execution(format!("cannot read {display}: {e}"))
                    })?;
                    timer.done();
                    for b in &batches {
                        baseline.record_output(b.num_rows());
                    }
                    Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
                }
            })
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.spec.schema),
            stream,
        )))
    }
}

/// One file's rows in the table's schema.
fn decode_file(spec: &OutputScanSpec, path: &str, bytes: Bytes) -> Result<Vec<RecordBatch>> {
    let file_schema = spec.file_schema();
    let raw: Vec<RecordBatch> = match spec.format {
        OutputFormat::Parquet => {
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes,
            )?
            .build()?
            .collect::<std::result::Result<_, _>>()?
        }
        OutputFormat::Orc => orc_rust::ArrowReaderBuilder::try_new(bytes)
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .build()
            .collect::<std::result::Result<_, _>>()?,
        OutputFormat::Jsonl => read_json_lines(&file_schema, gunzip(&bytes)?)?,
        OutputFormat::Text => {
            let text = gunzip(&bytes)?;
            let lines: Vec<&str> = text
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(std::str::from_utf8)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let field = file_schema.fields().first().ok_or_else(|| {
                DataFusionError::Plan("a text table has one string column".to_owned())
            })?;
            vec![RecordBatch::try_new(
                Arc::new(Schema::new(vec![field.as_ref().clone()])),
                vec![Arc::new(StringArray::from(lines))],
            )?]
        }
    };
    let partition_values: Vec<(String, String)> = spec
        .partition_columns
        .iter()
        .map(|name| (name.clone(), hive_value(path, name).unwrap_or_default()))
        .collect();
    raw.iter()
        .map(|batch| {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(spec.schema.fields().len());
            for field in spec.schema.fields() {
                if let Some((_, value)) = partition_values.iter().find(|(n, _)| n == field.name()) {
                    let values = StringArray::from(vec![value.as_str(); batch.num_rows()]);
                    columns.push(cast(&values, field.data_type())?);
                    continue;
                }
                let column = batch.column_by_name(field.name()).ok_or_else(|| {
                    DataFusionError::Execution(format!("no column {}", field.name()))
                })?;
                columns.push(cast(column, field.data_type()).map_err(|e| {
                    DataFusionError::Execution(format!("column {}: {e}", field.name()))
                })?);
            }
            Ok(RecordBatch::try_new(Arc::clone(&spec.schema), columns)?)
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// JSON lines into `schema`; timestamps in any of the forms Weir writes
/// (`…T10:00:00.000+0000`, RFC 3339, or naive).
fn read_json_lines(schema: &SchemaRef, text: Vec<u8>) -> Result<Vec<RecordBatch>> {
    let is_time = |f: &Field| matches!(f.data_type(), DataType::Timestamp(_, _));
    // Timestamps are read as text and parsed here: arrow-json does not take
    // the `+0000` offsets of the old job's format.
    let as_text = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                if is_time(f) {
                    Field::new(f.name(), DataType::Utf8, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    ));
    let reader = datafusion::arrow::json::ReaderBuilder::new(Arc::clone(&as_text))
        .build(std::io::Cursor::new(text))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch?;
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (i, f) in schema.fields().iter().enumerate() {
            let column = batch.column(i);
            if !is_time(f) {
                columns.push(Arc::clone(column));
                continue;
            }
            let text = column.as_string::<i32>();
            let mut millis = Vec::with_capacity(text.len());
            for v in text.iter() {
                millis.push(match v {
                    None => None,
                    Some(v) => Some(parse_timestamp_millis(v).ok_or_else(|| {
                        DataFusionError::Execution(format!(
                            "column {}: {v:?} is not a timestamp",
                            f.name()
                        ))
                    })?),
                });
            }
            let values: ArrayRef = Arc::new(TimestampMillisecondArray::from(millis));
            columns.push(cast(
                &values,
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )?);
        }
        let columns = columns
            .into_iter()
            .zip(schema.fields())
            .map(|(c, f)| cast(&c, f.data_type()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.push(RecordBatch::try_new(Arc::clone(schema), columns)?);
    }
    Ok(out)
}

fn parse_timestamp_millis(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDateTime};
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .map(|t| t.timestamp_millis())
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
}

/// The value of the last `name=value` directory in `path`, Hive-unescaped.
pub(crate) fn hive_value(path: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    let segment = path
        .split('/')
        .rev()
        .skip(1)
        .find_map(|s| s.strip_prefix(prefix.as_str()))?;
    Some(hive_unescape(segment))
}

/// Hive's `unescapePathName`: `%XX` back to its character.
pub fn hive_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            // Hive escapes ASCII only: one byte.
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    if text == "__HIVE_DEFAULT_PARTITION__" {
        String::new()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::hive_escape;

    #[test]
    fn hive_values_round_trip_through_directory_names() {
        for value in ["ab", "é1", "%2", "=3", "{4", "#8", "?9", "/c", "%%", ""] {
            let path = format!("d/id_part={}/part-0.orc", hive_escape(value));
            assert_eq!(
                hive_value(&path, "id_part").as_deref(),
                Some(value),
                "{path}"
            );
        }
        assert_eq!(hive_value("d/part-0.orc", "id_part"), None);
    }

    /// A day's rows written as the day writer encodes them, in every
    /// format, read back by the operator equal to what was written (the
    /// `id_part` from its directory where the layout has one).
    #[tokio::test]
    async fn every_format_weir_writes_reads_back_as_written() {
        use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
        use datafusion::prelude::SessionContext;

        let dir = std::env::temp_dir().join(format!("weir-output-scan-{}", std::process::id()));
        let rows = 5usize;
        let ids: Vec<String> = (0..rows).map(|i| format!("{{\"id\":\"é{i}\"}}")).collect();
        let column = |name: &str, values: Vec<String>| -> (String, ArrayRef) {
            (
                name.to_owned(),
                Arc::new(StringArray::from(values)) as ArrayRef,
            )
        };
        for (format, id_part_dirs) in [
            (OutputFormat::Orc, true),
            (OutputFormat::Parquet, true),
            (OutputFormat::Parquet, false),
            (OutputFormat::Jsonl, false),
            (OutputFormat::Text, false),
        ] {
            let (schema, partition_columns) = crate::post::day_schema(format, id_part_dirs);
            let file_schema = if id_part_dirs {
                crate::output::output_schema(false)
            } else if format == OutputFormat::Text {
                Arc::clone(&schema)
            } else {
                crate::output::output_schema(true)
            };
            let mut columns = Vec::new();
            for field in file_schema.fields() {
                let values: ArrayRef = match field.name().as_str() {
                    "id" => column("id", ids.clone()).1,
                    "id_part" => column("id_part", vec!["%2".to_owned(); rows]).1,
                    "db_type" => column("db_type", vec!["INSERT".to_owned(); rows]).1,
                    "val" => column("val", (0..rows).map(|i| format!("{{\"n\":{i}}}")).collect()).1,
                    _ => Arc::new(
                        TimestampMillisecondArray::from(vec![1_685_613_600_000; rows])
                            .with_timezone("UTC"),
                    ),
                };
                columns.push(values);
            }
            let batch = RecordBatch::try_new(Arc::clone(&file_schema), columns).unwrap();
            let bytes = crate::output::encode_batches(
                Arc::clone(&file_schema),
                std::iter::once(Ok(batch.clone())),
                format,
                crate::output::OrcCompression::Zlib,
            )
            .unwrap();
            let sub = if id_part_dirs { "id_part=%252/" } else { "" };
            let rel = format!(
                "{}-{id_part_dirs}/{sub}part-0.{}",
                format.as_str(),
                format.extension()
            );
            let path = dir.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            let root = dir.display().to_string();
            let spec = OutputScanSpec {
                root: root.clone(),
                format,
                schema: Arc::clone(&schema),
                partition_columns,
                s3: S3Settings::default(),
            };
            let location = Location::parse(&root, &S3Settings::default()).unwrap();
            let files = super::super::file_groups(&[vec![super::super::InputFile {
                path: location.child(&rel).to_string(),
                size: bytes.len() as u64,
            }]])
            .unwrap();
            let scan = Arc::new(OutputScanExec::new(spec, files));
            let read = datafusion::physical_plan::collect(scan, SessionContext::new().task_ctx())
                .await
                .unwrap();
            let read = datafusion::arrow::compute::concat_batches(&schema, &read).unwrap();
            assert_eq!(read.num_rows(), rows, "{format:?}");
            for field in schema.fields() {
                let got = read.column_by_name(field.name()).unwrap();
                let want: ArrayRef = match batch.column_by_name(field.name()) {
                    Some(c) => Arc::clone(c),
                    // The directory's value, unescaped.
                    None => column("id_part", vec!["%2".to_owned(); rows]).1,
                };
                let want = cast(&want, field.data_type()).unwrap();
                assert_eq!(got.to_data(), want.to_data(), "{format:?} {}", field.name());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timestamps_in_every_form_weir_writes() {
        let want = Some(1_685_613_600_000);
        assert_eq!(parse_timestamp_millis("2023-06-01T10:00:00.000+0000"), want);
        assert_eq!(parse_timestamp_millis("2023-06-01T10:00:00Z"), want);
        assert_eq!(parse_timestamp_millis("2023-06-01T10:00:00"), want);
        assert_eq!(parse_timestamp_millis("yesterday"), None);
    }
}
