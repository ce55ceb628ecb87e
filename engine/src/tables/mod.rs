//! Tables built from a collection's rows in the day's commit: the old job's
//! typed projection of `val` (`from_json(val, <schema file>)`, `val.*`) and
//! its SQL-built tables (an audit collection's raw, typed, secured and redacted
//! tables). A [`TableDef`] says where a table's rows come from, how they are
//! made, how it is laid out and what a run replaces; [`stage_tables`] stages
//! each one with the generic writer, so they publish with the day, or not at
//! all.
//!
//! SQL runs in the day's session, where the source is the table `day_rows`
//! (the day's staged rows) or `export_rows` (the export the run's merge
//! staged), `{export_date}` is replaced by the day (`2024-01-16`), Weir's
//! functions (`from_json`, [`keyed_hash`](keyed_hash::KEYED_HASH)) are
//! registered, and each table built so far is a view under its own name.
//! A table's columns are recorded when first published and enforced after
//! ([`SCHEMA_DIR`]).

pub mod delta;
mod enforce;
pub mod keyed_hash;

pub use enforce::{Column, SCHEMA_DIR, SchemaRecord, hive_type, recorded_columns};

use std::fmt;

use chrono::NaiveDate;
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{col, lit};
use datafusion::prelude::SessionContext;

use crate::exec::schema::col as columns;
use crate::from_json::{StructType, from_json_udf, parse_schema};
use crate::output::OutputFormat;
use crate::post::{DerivedOutput, DerivedSpec, StagedDay, StepFailed};

/// The table of the day's staged rows.
pub const DAY_ROWS: &str = crate::post::DAY_ROWS;

/// The table of the export staged by the run's merge.
pub const EXPORT_ROWS: &str = "export_rows";

/// Where a table's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableSource {
    /// The day's rows (`day_rows`).
    #[default]
    Day,
    /// The collection's full export from the merge (`export_rows`): built
    /// when the run merges (`--update`).
    Export,
}

/// What a run replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Replace {
    /// The day's partition, `<day_column>=<export date>`.
    #[default]
    Day,
    /// The whole table (the old job's typed tables, rebuilt from the export).
    Table,
}

/// How a table is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    /// Parquet files in Hive directories.
    #[default]
    Parquet,
    /// ORC files in Hive directories (flat columns only).
    Orc,
    /// A Delta Lake table: Parquet files and a transaction log
    /// ([`delta`]): versions, rollback, safe concurrent writers.
    Delta,
}

impl TableFormat {
    /// The files' format.
    pub fn files(self) -> OutputFormat {
        match self {
            TableFormat::Orc => OutputFormat::Orc,
            TableFormat::Parquet | TableFormat::Delta => OutputFormat::Parquet,
        }
    }

    /// Its name in config and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Orc => "orc",
            TableFormat::Delta => "delta",
        }
    }
}

/// How a table's rows are made.
#[derive(Debug, Clone, PartialEq)]
pub enum TableQuery {
    /// `from_json(val, schema)` with its fields as columns (Spark's `val.*`);
    /// the text as given (a Spark DDL or JSON schema).
    Schema(String),
    /// DataFusion SQL.
    Sql(String),
}

/// One table of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// Its name: the directory under the collection's tables, and the view
    /// later tables' SQL can read.
    pub name: String,
    /// Where its rows come from.
    pub source: TableSource,
    /// How its rows are made.
    pub query: TableQuery,
    /// Hive partition columns (directories), inside the day's partition.
    pub partition_by: Vec<String>,
    /// Columns each file is sorted by.
    pub sort_by: Vec<String>,
    /// What a run replaces.
    pub replace: Replace,
    /// The day partition's column when [`Replace::Day`].
    pub day_column: String,
    /// How it is stored (ORC cannot hold nested columns yet).
    pub format: TableFormat,
}

/// A definition Weir cannot build, with whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefError {
    /// The table.
    pub table: String,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for TableDefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table `{}`: {}", self.table, self.detail)
    }
}

impl std::error::Error for TableDefError {}

impl TableDef {
    /// A table of the day's rows, its day's partition replaced, in Parquet.
    pub fn new(name: impl Into<String>, query: TableQuery) -> Self {
        TableDef {
            name: name.into(),
            source: TableSource::Day,
            query,
            partition_by: Vec::new(),
            sort_by: Vec::new(),
            replace: Replace::Day,
            day_column: "date_str".to_owned(),
            format: TableFormat::Parquet,
        }
    }

    /// Checks what can be checked before a run: the name, the format and a
    /// schema's text.
    pub fn validate(&self) -> Result<(), TableDefError> {
        let fail = |detail: String| {
            Err(TableDefError {
                table: self.name.clone(),
                detail,
            })
        };
        let valid_name = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return fail("a table name is lower-case letters, digits and `_`".to_owned());
        }
        if let TableQuery::Schema(text) = &self.query
            && let Err(e) = parse_schema(text)
        {
            return fail(e.to_string());
        }
        Ok(())
    }

    /// The table's rows, planned in `ctx` over its source.
    pub async fn frame(&self, ctx: &SessionContext, export_date: NaiveDate) -> DfResult<DataFrame> {
        let source = match self.source {
            TableSource::Day => DAY_ROWS,
            TableSource::Export => EXPORT_ROWS,
        };
        match &self.query {
            TableQuery::Sql(sql) => {
                ctx.sql(&sql.replace("{export_date}", &export_date.to_string()))
                    .await
            }
            TableQuery::Schema(text) => {
                let schema: StructType =
                    parse_schema(text).map_err(|e| DataFusionError::Plan(e.to_string()))?;
                const PARSED: &str = "__weir_parsed";
                let parsed = from_json_udf().call(vec![col(columns::VAL), lit(text.as_str())]);
                let fields = schema
                    .fields()
                    .iter()
                    .map(|f| get_field(col(PARSED), f.name.as_str()).alias(&f.name))
                    .collect::<Vec<_>>();
                ctx.table(source)
                    .await?
                    .select(vec![parsed.alias(PARSED)])?
                    .select(fields)
            }
        }
    }

    /// The table's directory (relative to the destination).
    pub fn dir(&self, tables_root: &str) -> String {
        format!("{tables_root}/{}", self.name)
    }

    /// Where it goes under `tables_root` and what the run replaces (a Delta
    /// table is one directory; its log says which files are live).
    pub fn spec(&self, tables_root: &str, export_date: NaiveDate) -> DerivedSpec {
        let table_dir = self.dir(tables_root);
        DerivedSpec {
            name: format!("table:{}", self.name),
            dir: match (self.replace, self.format) {
                (Replace::Day, TableFormat::Parquet | TableFormat::Orc) => {
                    format!("{table_dir}/{}={export_date}", self.day_column)
                }
                _ => table_dir,
            },
            format: self.format.files(),
            partition_by: self.partition_by.clone(),
            sort_by: self.sort_by.clone(),
        }
    }
}

/// Rows of a staged table whose every column is NULL, counted where the day
/// runs (on the executors in cluster mode) from the files just written.
async fn all_null_rows(
    day: &StagedDay<'_>,
    output: &DerivedOutput,
    format: OutputFormat,
    schema: &datafusion::arrow::datatypes::Schema,
) -> DfResult<u64> {
    use datafusion::functions_aggregate::expr_fn::count;
    use datafusion::logical_expr::{Expr, and};
    const STAGED: &str = "__weir_staged";
    let table = day.staged_table(
        output,
        format,
        std::sync::Arc::new(schema.clone()),
        Vec::new(),
    );
    let ctx = crate::post::weir_session(
        datafusion::prelude::SessionConfig::new()
            .with_target_partitions(day.job.partitions.max(1))
            .with_round_robin_repartition(false),
    );
    ctx.register_table(STAGED, std::sync::Arc::new(table))?;
    let Some(all_null) = schema
        .fields()
        .iter()
        .map(|f| Expr::Column(datafusion::common::Column::from_name(f.name())).is_null())
        .reduce(and)
    else {
        return Ok(0);
    };
    let plan = ctx
        .table(STAGED)
        .await?
        .filter(all_null)?
        .aggregate(vec![], vec![count(lit(1)).alias("n")])?
        .create_physical_plan()
        .await?;
    let batches = day.runner.collect(plan).await?;
    Ok(batches
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .map(|c| c.iter().flatten().sum::<i64>())
        })
        .sum::<i64>() as u64)
}

/// Stages `tables` of one source in order, each visible to the next as a view.
/// `ctx` is the day's session with the source registered. A table that fails
/// fails the day's commit, naming the table.
pub async fn stage_tables(
    day: &StagedDay<'_>,
    ctx: &SessionContext,
    tables: &[TableDef],
    tables_root: &str,
) -> Result<Vec<DerivedOutput>, StepFailed> {
    let export_date = day.job.export_date;
    let dest = crate::storage::Location::parse(&day.job.dest, &day.job.s3)
        .map_err(|e| StepFailed::new("tables", e))?;
    let mut outputs = Vec::with_capacity(tables.len());
    for table in tables {
        let step = |e: DataFusionError| StepFailed::new(format!("table {}", table.name), e);
        let frame = table.frame(ctx, export_date).await.map_err(step)?;
        let columns = enforce::columns_of(frame.schema().as_arrow());
        let schema = enforce::enforce(&dest, &day.job.staging(), table, tables_root, &columns)
            .await
            .map_err(|e| StepFailed::new(format!("table {}", table.name), e))?;
        ctx.register_table(table.name.as_str(), frame.clone().into_view())
            .map_err(step)?;
        let data_schema = frame.schema().as_arrow().clone();
        let spec = table.spec(tables_root, export_date);
        let mut output = day.stage(frame, spec.clone()).await?;
        if matches!(table.query, TableQuery::Schema(_)) && table.partition_by.is_empty() {
            output.all_null_rows = Some(
                all_null_rows(day, &output, table.format.files(), &data_schema)
                    .await
                    .map_err(step)?,
            );
        }
        if table.format == TableFormat::Delta {
            let day_partition = (table.replace == Replace::Day)
                .then(|| (table.day_column.clone(), export_date.to_string()));
            let mut partition_columns: Vec<String> =
                day_partition.iter().map(|(c, _)| c.clone()).collect();
            partition_columns.extend(table.partition_by.iter().cloned());
            output.delta = Some(Box::new(delta::DeltaPlan {
                table_dir: spec.dir,
                app_id: format!(
                    "weir:{}:{}:{export_date}:{}",
                    day.job.run_id, day.job.ingest.collection, table.name
                ),
                replace: table.replace,
                day: day_partition,
                schema: std::sync::Arc::new(data_schema),
                partition_columns,
                run_id: day.job.run_id.clone(),
            }));
        }
        outputs.push(output);
        outputs.extend(schema);
    }
    Ok(outputs)
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[tokio::test]
    async fn a_typed_table_parses_each_val_once() {
        let ctx = crate::post::weir_session(Default::default());
        ctx.sql(r#"CREATE TABLE day_rows (val VARCHAR) AS VALUES ('{"a": 1, "b": "x"}')"#)
            .await
            .unwrap();
        let table = TableDef::new("t", TableQuery::Schema("a INT, b STRING".into()));
        let frame = table
            .frame(&ctx, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap())
            .await
            .unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        assert_eq!(text.matches("from_json(").count(), 1, "{text}");
        let batches = frame.collect().await.unwrap();
        assert_eq!(batches[0].num_columns(), 2);
    }
}
