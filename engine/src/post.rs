//! Post-processing inside the commit (write, audit, publish): after a day's
//! ingest plan has staged its rows and quarantine, and before anything is
//! published, a collection's [`PostProcess`] step reads the staged rows as a
//! DataFusion table and stages more outputs (SQL results, merges, tables)
//! with the generic writer. The day's data, quarantine and every derived
//! output then publish in one all-or-nothing commit; a failing step
//! publishes nothing and names itself.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use crate::exec::schema::col;
use crate::exec::{
    InputFile, OutputScanExec, OutputScanSpec, TableWriteExec, TableWriteSpec, balance, file_groups,
};
use crate::output::{OutputFormat, StagedFile, TaskSummary, output_schema};
use crate::run::{DayJob, PlanRunner};
use crate::storage::S3Settings;

/// The name of the day's staged rows in a step's session.
pub const DAY_ROWS: &str = "day_rows";

/// A post-processing step failed: which one, and why.
#[derive(Debug, thiserror::Error)]
#[error("step {step}: {source}")]
pub struct StepFailed {
    /// The step, as the collection names it.
    pub step: String,
    /// Its cause (DataFusion's planning or execution error, storage, …).
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StepFailed {
    /// `step` failed with `source`.
    pub fn new(
        step: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            step: step.into(),
            source: source.into(),
        }
    }
}

/// What a collection does between staging and publishing.
#[async_trait::async_trait]
pub trait PostProcess: Send + Sync {
    /// Stages the day's derived outputs (none by default).
    async fn post_process(&self, day: &StagedDay<'_>) -> Result<Vec<DerivedOutput>, StepFailed>;

    /// The last check before the commit (the run still holds the day, …);
    /// an error publishes nothing.
    async fn before_publish(&self) -> Result<(), String> {
        Ok(())
    }
}

/// How a derived output is written and where it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedSpec {
    /// Its name (reports, staging directory, errors).
    pub name: String,
    /// The directory it replaces on publish, relative to the destination.
    pub dir: String,
    /// Format.
    pub format: OutputFormat,
    /// Columns that become `name=value` directories.
    pub partition_by: Vec<String>,
    /// Columns each file is sorted by.
    pub sort_by: Vec<String>,
}

/// A derived output, staged: published with the day or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedOutput {
    /// Its name.
    pub name: String,
    /// The directory it replaces.
    pub dir: String,
    /// Its staged files (targets relative to `dir`).
    pub files: Vec<StagedFile>,
    /// What the snapshot merge did, when this is its export.
    pub merge: Option<crate::merge::MergeReport>,
    /// A Delta table's commit: published by its log, not by replacing `dir`.
    pub delta: Option<Box<crate::tables::delta::DeltaPlan>>,
    /// For a typed table, rows whose every column is NULL (a `val` that is
    /// not a JSON object, or none of whose fields fit their types).
    pub all_null_rows: Option<u64>,
    /// How its staged files read back as a table (for checks); `None` for
    /// outputs that are not rows.
    pub read_back: Option<ReadBack>,
    /// For a table's recorded columns, what is checked again just before
    /// the commit.
    pub schema_record: Option<crate::tables::SchemaRecord>,
}

/// How an output's files read back as a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBack {
    /// Their format.
    pub format: OutputFormat,
    /// Their columns (partition columns included).
    pub schema: SchemaRef,
    /// Which columns are `name=value` directories.
    pub partition_columns: Vec<String>,
}

impl DerivedOutput {
    /// Rows staged.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// A DataFusion session for Weir's SQL: Weir's functions (`from_json`,
/// `keyed_hash`) registered, and without the two rules that push struct
/// field access towards the scan (`extract_leaf_expressions`,
/// `push_down_leaf_projections`): they push `x['a']` through the projection
/// that computes `x`, so `from_json(val, …) AS x` then `x['a'], x['b']` would
/// parse every document once per field instead of once.
pub fn weir_session(config: SessionConfig) -> SessionContext {
    let ctx = SessionContext::new_with_config(config);
    ctx.register_udf(crate::from_json::from_json_udf());
    ctx.register_udf(crate::tables::keyed_hash::keyed_hash_udf());
    ctx.remove_optimizer_rule("extract_leaf_expressions");
    ctx.remove_optimizer_rule("push_down_leaf_projections");
    ctx
}

/// A day whose rows are staged and not yet published.
#[derive(Debug)]
pub struct StagedDay<'a> {
    /// The day.
    pub job: &'a DayJob,
    /// Its staged data files (as they will be published).
    pub data: &'a [StagedFile],
    /// Where plans run (in-process or on the cluster).
    pub runner: &'a dyn PlanRunner,
}

impl StagedDay<'_> {
    /// A session to plan SQL in, where [`DAY_ROWS`] is the day's staged rows
    /// and Weir's functions (`from_json`, `keyed_hash`) are registered. Plans made
    /// here run where the day ran: in-process, or on the cluster
    /// ([`StagedDay::stage`] ships them with Weir's codec).
    pub fn session(&self) -> DfResult<SessionContext> {
        // No round-robin repartitioning: it would add a shuffle that Ballista
        // runs with a task per non-empty partition only, so a writer behind
        // it could return fewer task results than it has partitions (a day
        // of 2 files planned for 3 partitions did).
        let config = SessionConfig::new()
            .with_target_partitions(self.job.partitions.max(1))
            .with_round_robin_repartition(false);
        let ctx = weir_session(config);
        ctx.register_table(DAY_ROWS, Arc::new(self.rows_table()))?;
        Ok(ctx)
    }

    /// A staged derived output (the merge's export) as a table of `schema`
    /// whose `partition_columns` are directories.
    pub fn staged_table(
        &self,
        output: &DerivedOutput,
        format: OutputFormat,
        schema: SchemaRef,
        partition_columns: Vec<String>,
    ) -> OutputTable {
        self.table_of(&output.files, format, schema, partition_columns)
    }

    /// The day's staged rows as a table.
    pub fn rows_table(&self) -> OutputTable {
        let output = &self.job.output;
        let (schema, partition_columns) = day_schema(output.format, output.id_part_dirs);
        self.table_of(self.data, output.format, schema, partition_columns)
    }

    fn table_of(
        &self,
        files: &[StagedFile],
        format: OutputFormat,
        schema: SchemaRef,
        partition_columns: Vec<String>,
    ) -> OutputTable {
        OutputTable::new(
            &self.job.dest,
            format,
            schema,
            partition_columns,
            files
                .iter()
                .map(|f| InputFile {
                    path: f.staged.clone(),
                    size: f.bytes,
                })
                .collect(),
            self.job.partitions,
            self.job.s3.clone(),
        )
    }

    /// Writes `frame`'s rows as the derived output `spec` (staged only).
    pub async fn stage(
        &self,
        frame: DataFrame,
        spec: DerivedSpec,
    ) -> Result<DerivedOutput, StepFailed> {
        let failed = |e: DataFusionError| StepFailed::new(spec.name.clone(), e);
        let read_back = ReadBack {
            format: spec.format,
            schema: Arc::new(frame.schema().as_arrow().clone()),
            partition_columns: spec.partition_by.clone(),
        };
        let plan = frame.create_physical_plan().await.map_err(failed)?;
        let writer = TableWriteSpec {
            dest: self.job.dest.clone(),
            staging: self.job.staging(),
            name: spec.name.clone(),
            format: spec.format,
            orc_compression: self.job.output.orc_compression,
            partition_by: spec.partition_by.clone(),
            sort_by: spec.sort_by.clone(),
            buffer_bytes: self.job.buffer_bytes,
            s3: self.job.s3.clone(),
        };
        let plan = Arc::new(TableWriteExec::try_new(writer, plan).map_err(failed)?);
        let tasks = plan.properties().output_partitioning().partition_count();
        let batches = self.runner.collect(plan).await.map_err(failed)?;
        let summaries =
            crate::run::summaries_of(batches).map_err(|e| StepFailed::new(spec.name.clone(), e))?;
        // One summary per task, each attempt once: a lost or doubled task
        // would lose or duplicate rows.
        let mut attempts: Vec<&str> = summaries.iter().map(|s| s.attempt.as_str()).collect();
        attempts.sort_unstable();
        attempts.dedup();
        if summaries.len() != tasks || attempts.len() != tasks {
            return Err(StepFailed::new(
                spec.name,
                format!(
                    "{} task results ({} attempts) for {tasks} tasks; nothing published",
                    summaries.len(),
                    attempts.len()
                ),
            ));
        }
        Ok(DerivedOutput {
            name: spec.name,
            dir: spec.dir,
            files: summaries
                .into_iter()
                .flat_map(|s: TaskSummary| s.files)
                .collect(),
            merge: None,
            delta: None,
            all_null_rows: None,
            read_back: Some(read_back),
            schema_record: None,
        })
    }
}

/// The columns of a day's published rows in `format`, and which of them are
/// directories.
pub fn day_schema(format: OutputFormat, id_part_dirs: bool) -> (SchemaRef, Vec<String>) {
    match format {
        OutputFormat::Text => (
            Arc::new(Schema::new(vec![Field::new(
                col::VAL,
                datafusion::arrow::datatypes::DataType::Utf8,
                false,
            )])),
            Vec::new(),
        ),
        OutputFormat::Jsonl => (output_schema(true), Vec::new()),
        OutputFormat::Orc | OutputFormat::Parquet if id_part_dirs => {
            let mut fields: Vec<Field> = output_schema(false)
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.push(Field::new(
                col::ID_PART,
                datafusion::arrow::datatypes::DataType::Utf8,
                true,
            ));
            (Arc::new(Schema::new(fields)), vec![col::ID_PART.to_owned()])
        }
        OutputFormat::Orc | OutputFormat::Parquet => (output_schema(true), Vec::new()),
    }
}

/// Files Weir wrote, as a DataFusion table (read by [`OutputScanExec`]).
#[derive(Debug, Clone)]
pub struct OutputTable {
    spec: OutputScanSpec,
    files: Vec<InputFile>,
    partitions: usize,
}

impl OutputTable {
    /// `files` (object paths under `root`, with sizes) of `format`, whose
    /// columns are `schema` (the last `partition_columns` from directories).
    pub fn new(
        root: &str,
        format: OutputFormat,
        schema: SchemaRef,
        partition_columns: Vec<String>,
        files: Vec<InputFile>,
        partitions: usize,
        s3: S3Settings,
    ) -> Self {
        Self {
            spec: OutputScanSpec {
                root: root.to_owned(),
                format,
                schema,
                partition_columns,
                s3,
            },
            files,
            partitions: partitions.max(1),
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for OutputTable {
    fn schema(&self) -> SchemaRef {
        self.spec.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let groups = balance(
            self.files.clone(),
            self.partitions.min(self.files.len()).max(1),
        );
        let scan: Arc<dyn ExecutionPlan> = Arc::new(OutputScanExec::new(
            self.spec.clone(),
            file_groups(&groups)?,
        ));
        match projection {
            None => Ok(scan),
            Some(columns) => {
                let schema = scan.schema();
                let exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> =
                    columns
                        .iter()
                        .map(|&i| {
                            let name = schema.field(i).name().clone();
                            let column: Arc<dyn datafusion::physical_expr::PhysicalExpr> = Arc::new(
                                datafusion::physical_expr::expressions::Column::new(&name, i),
                            );
                            (column, name)
                        })
                        .collect();
                Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
            }
        }
    }
}
