//! Data contracts, checked on a day's staged outputs before anything is
//! published (write, audit, publish): a key unique and never blank, the row
//! count within bounds and near the usual, a column complete enough, the
//! newest change fresh enough, a declared schema. Each check is DataFusion
//! SQL over the staged files (read back by `OutputScanExec`), so it runs
//! where the day ran: in-process, or on the cluster's executors.
//!
//! A check of severity `error` that fails fails the day (nothing is
//! published; the previous outputs stay); one of severity `warn` is
//! reported and the day publishes. Every check's value, threshold and
//! verdict go to the day's report and status; a failure lists up to
//! [`MAX_IDS`] offending ids (never other values) and how many there are.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::post::{DerivedOutput, OutputTable, StagedDay};
use crate::run::PlanRunner;

/// The most offending ids a failed check lists.
pub const MAX_IDS: usize = 20;
/// The day's own rows, as checks name them.
pub const DAILY: &str = "daily";
/// The staged output a check reads, as its SQL names it.
const CHECKED: &str = "__weir_checked";

/// What a failed check does to the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing is published.
    #[default]
    Error,
    /// Reported; the day publishes.
    Warn,
}

/// A column a `schema` check declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredColumn {
    /// Its name.
    pub name: String,
    /// Its type, as Hive / Athena write it (`STRING`, `BIGINT`,
    /// `TIMESTAMP`, `ARRAY<STRING>`, …; case does not matter).
    #[serde(rename = "type")]
    pub ty: String,
    /// `false`: no row may hold NULL in it.
    #[serde(default = "yes")]
    pub nullable: bool,
}

fn yes() -> bool {
    true
}

/// What is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    /// No two rows share these columns' values (rows with a NULL in them
    /// are left to `not_blank`).
    Unique {
        /// The key (default `id`).
        #[serde(default = "id_column")]
        columns: Vec<String>,
    },
    /// No row has NULL or blank text in these columns.
    NotBlank {
        /// The columns (default `id`).
        #[serde(default = "id_column")]
        columns: Vec<String>,
    },
    /// The output holds between `min` and `max` rows.
    RowCount {
        /// Fewest rows.
        min: Option<u64>,
        /// Most rows.
        max: Option<u64>,
    },
    /// The row count differs from the median of the last `days` completed
    /// days (from the run status) by at most `max_change` (0.5: ±50 %).
    RowCountChange {
        /// The largest change allowed, as a share of the median.
        max_change: f64,
        /// Completed days the median is taken over.
        #[serde(default = "seven")]
        days: u32,
    },
    /// At least `min_ratio` of the rows have a value in `column`.
    Completeness {
        /// The column.
        column: String,
        /// The smallest share of rows with a value (0 to 1).
        min_ratio: f64,
    },
    /// The newest `column` value (a time) is at most `max_age_days` before
    /// the end of the export date.
    Freshness {
        /// The column (default `last_modified`).
        #[serde(default = "last_modified")]
        column: String,
        /// Days.
        max_age_days: f64,
    },
    /// The output has exactly these columns, of these types.
    Schema {
        /// The columns, in any order.
        columns: Vec<DeclaredColumn>,
    },
}

fn id_column() -> Vec<String> {
    vec!["id".to_owned()]
}

fn seven() -> u32 {
    7
}

fn last_modified() -> String {
    "last_modified".to_owned()
}

/// One check of one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckDef {
    /// The output: `daily`, `export`, or a table's name (`auditlog`).
    pub output: String,
    /// What is checked.
    #[serde(flatten)]
    pub kind: CheckKind,
    /// What a failure does.
    #[serde(default)]
    pub severity: Severity,
    /// The column whose values name offending rows (default `id`; absent
    /// from the output: no ids are listed).
    #[serde(default)]
    pub key: Option<String>,
}

impl CheckDef {
    /// `unique(id)`, `row_count`, …: how reports name it.
    pub fn name(&self) -> String {
        match &self.kind {
            CheckKind::Unique { columns } => format!("unique({})", columns.join(", ")),
            CheckKind::NotBlank { columns } => format!("not_blank({})", columns.join(", ")),
            CheckKind::RowCount { .. } => "row_count".to_owned(),
            CheckKind::RowCountChange { days, .. } => format!("row_count_change({days} days)"),
            CheckKind::Completeness { column, .. } => format!("completeness({column})"),
            CheckKind::Freshness { column, .. } => format!("freshness({column})"),
            CheckKind::Schema { .. } => "schema".to_owned(),
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within its threshold.
    Passed,
    /// Outside it.
    Failed,
    /// Not run: the output was not built this run, or there is no history.
    Skipped,
}

/// A check's outcome, as reports and the status keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The output checked.
    pub output: String,
    /// The check (`unique(id)`, …).
    pub check: String,
    /// Its severity.
    pub severity: Severity,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was measured (rows, a share, days, a count of offenders).
    pub value: Option<f64>,
    /// What it was held to, in words (`0`, `>= 0.99`, `1 000..=2 000`).
    pub threshold: String,
    /// Offending rows (or columns, for `schema`), all of them.
    pub offending: u64,
    /// Up to [`MAX_IDS`] of their ids (for `schema`: the columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offending_ids: Vec<String>,
    /// Why it was skipped, or what did not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl CheckResult {
    /// A failed check of severity `error`: the day publishes nothing.
    pub fn blocks(&self) -> bool {
        self.verdict == Verdict::Failed && self.severity == Severity::Error
    }

    /// One line for errors and logs (ids are left to the report).
    pub fn summary(&self) -> String {
        let value = self
            .value
            .map_or_else(|| "-".to_owned(), |v| format!("{}", round(v)));
        let mut text = format!(
            "{} on {}: {value} (threshold {})",
            self.check, self.output, self.threshold
        );
        if self.offending > 0 {
            text.push_str(&format!("; {} offending", self.offending));
        }
        if let Some(detail) = &self.detail {
            text.push_str(&format!("; {detail}"));
        }
        text
    }
}

fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Row counts of an output on earlier completed days, newest last.
pub type History = Vec<u64>;

/// Checks every definition against the day's staged outputs: `daily` is the
/// day's rows, other names are derived outputs (one not built this run is
/// skipped). `history(output)` gives earlier completed days' row counts.
pub async fn run_checks(
    day: &StagedDay<'_>,
    derived: &[DerivedOutput],
    checks: &[CheckDef],
    history: &dyn Fn(&str) -> History,
) -> DfResult<Vec<CheckResult>> {
    let table = |output: &str| {
        if output == DAILY {
            return Some(day.rows_table());
        }
        let d = derived.iter().find(|d| names_output(&d.name, output))?;
        let read = d.read_back.as_ref()?;
        Some(day.staged_table(
            d,
            read.format,
            Arc::clone(&read.schema),
            read.partition_columns.clone(),
        ))
    };
    check_tables(
        &|| day.session(),
        day.runner,
        &table,
        checks,
        day.job.export_date,
        history,
    )
    .await
}

/// Checks every definition against the table `table(output)` gives (an
/// output it has none for is skipped), in sessions `session` makes, with
/// plans run by `runner`.
pub async fn check_tables(
    session: &dyn Fn() -> DfResult<SessionContext>,
    runner: &dyn PlanRunner,
    table: &dyn Fn(&str) -> Option<OutputTable>,
    checks: &[CheckDef],
    export_date: NaiveDate,
    history: &dyn Fn(&str) -> History,
) -> DfResult<Vec<CheckResult>> {
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        let Some(table) = table(&check.output) else {
            results.push(skipped(check, "the output was not built this run"));
            continue;
        };
        let ctx = session()?;
        ctx.register_table(CHECKED, Arc::new(table))?;
        let run = Checker {
            ctx: &ctx,
            runner,
            check,
        };
        let result = run
            .evaluate(export_date, &history(&check.output))
            .await
            .map_err(|e| e.context(format!("check {} on {}", check.name(), check.output)))?;
        results.push(result);
    }
    Ok(results)
}

/// The latest completed run of each day in the `lookback` days before
/// `export_date` (what `row_count_change` compares against); none when no
/// check needs them.
pub async fn earlier_days(
    dest: &crate::storage::Location,
    collection: &str,
    export_date: NaiveDate,
    checks: &[CheckDef],
) -> crate::Result<Vec<crate::status::DayRun>> {
    let lookback = checks
        .iter()
        .filter_map(|c| match c.kind {
            CheckKind::RowCountChange { days, .. } => Some(i64::from(days)),
            _ => None,
        })
        .max();
    let Some(days) = lookback else {
        return Ok(Vec::new());
    };
    // Completed days can be sparse (weekends, outages): look further back.
    let from = export_date - chrono::Duration::days(days * 3 + 7);
    let to = export_date - chrono::Duration::days(1);
    Ok(crate::status::StatusStore::new(dest.clone())
        .latest(collection, from, to)
        .await?
        .into_iter()
        .filter(|r| r.state == crate::status::DayState::Completed)
        .collect())
}

/// An output's row counts on `days`, oldest first.
pub fn counts_of(days: &[crate::status::DayRun], output: &str) -> History {
    days.iter()
        .filter_map(|r| {
            if output == DAILY {
                Some(r.records_out)
            } else {
                r.outputs
                    .iter()
                    .find(|o| names_output(&o.format, output))?
                    .rows
            }
        })
        .collect()
}

/// Logs each failed check, and says why the day may not publish when one
/// of severity `error` failed (ids are left to the report).
pub fn verdict_of(
    collection: &str,
    export_date: NaiveDate,
    results: &[CheckResult],
) -> Option<String> {
    for c in results.iter().filter(|c| c.verdict == Verdict::Failed) {
        tracing::warn!(collection, %export_date, severity = ?c.severity, check = %c.summary(), "data check failed");
    }
    let blocking: Vec<String> = results
        .iter()
        .filter(|c| c.blocks())
        .map(CheckResult::summary)
        .collect();
    (!blocking.is_empty()).then(|| {
        format!(
            "data checks failed, nothing published (offending ids in the report): {}",
            blocking.join("; ")
        )
    })
}

/// Whether an output's name (`export`, `table:<name>`) is what a check
/// calls `output` (`export`, `<name>`).
pub fn names_output(name: &str, output: &str) -> bool {
    name == output || name.strip_prefix("table:") == Some(output)
}

fn skipped(check: &CheckDef, why: &str) -> CheckResult {
    CheckResult {
        output: check.output.clone(),
        check: check.name(),
        severity: check.severity,
        verdict: Verdict::Skipped,
        value: None,
        threshold: String::new(),
        offending: 0,
        offending_ids: Vec::new(),
        detail: Some(why.to_owned()),
    }
}

struct Checker<'a> {
    ctx: &'a SessionContext,
    runner: &'a dyn PlanRunner,
    check: &'a CheckDef,
}

/// `"name"`, for SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Checker<'_> {
    async fn rows(&self, sql: &str) -> DfResult<Vec<RecordBatch>> {
        let plan = self.ctx.sql(sql).await?.create_physical_plan().await?;
        self.runner.collect(plan).await
    }

    /// The first column of the first row, as a number.
    async fn number(&self, sql: &str) -> DfResult<Option<f64>> {
        let batches = self.rows(sql).await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Float64)?;
        let column = column.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        Ok((!column.is_null(0)).then(|| column.value(0)))
    }

    /// The first column as text, sorted, at most [`MAX_IDS`].
    async fn texts(&self, sql: &str) -> DfResult<Vec<String>> {
        let mut out = Vec::new();
        for batch in self.rows(sql).await? {
            let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
            let column = column.as_string::<i32>();
            out.extend((0..column.len()).map(|i| column.value(i).to_owned()));
        }
        out.sort();
        out.truncate(MAX_IDS);
        Ok(out)
    }

    async fn has_column(&self, name: &str) -> DfResult<bool> {
        Ok(self
            .ctx
            .table_provider(CHECKED)
            .await?
            .schema()
            .field_with_name(name)
            .is_ok())
    }

    /// Ids of the rows `condition` holds for, if the output has the key.
    async fn ids_where(&self, condition: &str) -> DfResult<Vec<String>> {
        let key = self.check.key.clone().unwrap_or_else(|| "id".to_owned());
        if !self.has_column(&key).await? {
            return Ok(Vec::new());
        }
        let key = quoted(&key);
        self.texts(&format!(
            "SELECT DISTINCT CAST({key} AS VARCHAR) FROM {CHECKED} WHERE ({condition}) AND {key} IS NOT NULL ORDER BY 1 LIMIT {MAX_IDS}"
        ))
        .await
    }

    async fn count(&self, condition: &str) -> DfResult<u64> {
        Ok(self
            .number(&format!("SELECT count(*) FROM {CHECKED} WHERE {condition}"))
            .await?
            .unwrap_or(0.0) as u64)
    }

    async fn evaluate(&self, export_date: NaiveDate, history: &[u64]) -> DfResult<CheckResult> {
        let check = self.check;
        let mut result = CheckResult {
            output: check.output.clone(),
            check: check.name(),
            severity: check.severity,
            verdict: Verdict::Passed,
            value: None,
            threshold: String::new(),
            offending: 0,
            offending_ids: Vec::new(),
            detail: None,
        };
        let total = || async {
            Ok::<_, DataFusionError>(
                self.number(&format!("SELECT count(*) FROM {CHECKED}"))
                    .await?
                    .unwrap_or(0.0),
            )
        };
        let failed = match &check.kind {
            CheckKind::Unique { columns } => {
                let key = columns.iter().map(|c| quoted(c)).collect::<Vec<_>>();
                let not_null = key
                    .iter()
                    .map(|c| format!("{c} IS NOT NULL"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let grouped = format!(
                    "SELECT {cols}, count(*) AS n FROM {CHECKED} WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1",
                    cols = key.join(", ")
                );
                let duplicated = self
                    .number(&format!("SELECT count(*) FROM ({grouped})"))
                    .await?
                    .unwrap_or(0.0);
                result.value = Some(duplicated);
                result.threshold = "0 duplicated keys".to_owned();
                result.offending = duplicated as u64;
                if duplicated > 0.0 {
                    let text = key
                        .iter()
                        .map(|c| format!("CAST({c} AS VARCHAR)"))
                        .collect::<Vec<_>>()
                        .join(" || '|' || ");
                    result.offending_ids = self
                        .texts(&format!(
                            "SELECT {text} FROM ({grouped}) ORDER BY 1 LIMIT {MAX_IDS}"
                        ))
                        .await?;
                }
                duplicated > 0.0
            }
            CheckKind::NotBlank { columns } => {
                let blank = columns
                    .iter()
                    .map(|c| {
                        let c = quoted(c);
                        format!("{c} IS NULL OR trim(CAST({c} AS VARCHAR)) = ''")
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let n = self.count(&format!("({blank})")).await?;
                result.value = Some(n as f64);
                result.threshold = "0 blank rows".to_owned();
                result.offending = n;
                if n > 0 {
                    result.offending_ids = self.ids_where(&blank).await?;
                }
                n > 0
            }
            CheckKind::RowCount { min, max } => {
                let n = total().await?;
                result.value = Some(n);
                result.threshold = format!(
                    "{}..={}",
                    min.map_or_else(String::new, |m| m.to_string()),
                    max.map_or_else(String::new, |m| m.to_string())
                );
                min.is_some_and(|m| n < m as f64) || max.is_some_and(|m| n > m as f64)
            }
            CheckKind::RowCountChange { max_change, days } => {
                let n = total().await?;
                let recent: Vec<u64> = history.iter().rev().take(*days as usize).copied().collect();
                result.threshold = format!("<= {max_change} of the median");
                match median(&recent) {
                    None => {
                        result.verdict = Verdict::Skipped;
                        result.detail = Some("no completed earlier day to compare".to_owned());
                        false
                    }
                    Some(m) => {
                        let change = if m == 0.0 {
                            if n == 0.0 { 0.0 } else { f64::INFINITY }
                        } else {
                            (n - m).abs() / m
                        };
                        result.value = Some(change);
                        result.detail = Some(format!(
                            "{n} rows against a median of {m} over {} days",
                            recent.len()
                        ));
                        change > *max_change
                    }
                }
            }
            CheckKind::Completeness { column, min_ratio } => {
                let c = quoted(column);
                let n = total().await?;
                let missing = self.count(&format!("{c} IS NULL")).await?;
                let ratio = if n == 0.0 {
                    1.0
                } else {
                    (n - missing as f64) / n
                };
                result.value = Some(ratio);
                result.threshold = format!(">= {min_ratio}");
                result.offending = missing;
                let failed = ratio < *min_ratio;
                if failed {
                    result.offending_ids = self.ids_where(&format!("{c} IS NULL")).await?;
                }
                failed
            }
            CheckKind::Freshness {
                column,
                max_age_days,
            } => {
                let c = quoted(column);
                let newest = self
                    .number(&format!(
                        "SELECT CAST(max(CAST({c} AS TIMESTAMP)) AS BIGINT) FROM {CHECKED}"
                    ))
                    .await?;
                result.threshold = format!("<= {max_age_days} days");
                let end = export_date
                    .succ_opt()
                    .unwrap_or(export_date)
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc().timestamp_nanos_opt().unwrap_or(i64::MAX) as f64);
                match (newest, end) {
                    (Some(newest), Some(end)) => {
                        // Timestamps cast to BIGINT are nanoseconds.
                        let age = (end - newest) / 86_400e9;
                        result.value = Some(age);
                        age > *max_age_days
                    }
                    _ => {
                        result.detail = Some(format!("no value in {column}"));
                        true
                    }
                }
            }
            CheckKind::Schema { columns } => self.schema(columns, &mut result).await?,
        };
        if failed {
            result.verdict = Verdict::Failed;
        }
        Ok(result)
    }

    /// Declared columns against the output's: missing, extra, other types,
    /// NULLs where none may be.
    async fn schema(
        &self,
        declared: &[DeclaredColumn],
        result: &mut CheckResult,
    ) -> DfResult<bool> {
        let schema = self.ctx.table_provider(CHECKED).await?.schema();
        let mut wrong = Vec::new();
        for d in declared {
            match schema.field_with_name(&d.name) {
                Err(_) => wrong.push(format!("{}: missing", d.name)),
                Ok(field) => {
                    let ty = crate::tables::hive_type(field.data_type());
                    if !ty.eq_ignore_ascii_case(d.ty.trim()) {
                        wrong.push(format!("{}: {ty}, declared {}", d.name, d.ty));
                    } else if !d.nullable {
                        let nulls = self.count(&format!("{} IS NULL", quoted(&d.name))).await?;
                        if nulls > 0 {
                            wrong.push(format!("{}: {nulls} NULLs", d.name));
                        }
                    }
                }
            }
        }
        for field in schema.fields() {
            if !declared.iter().any(|d| &d.name == field.name()) {
                wrong.push(format!("{}: not declared", field.name()));
            }
        }
        result.value = Some(wrong.len() as f64);
        result.threshold = format!("{} declared columns", declared.len());
        result.offending = wrong.len() as u64;
        if !wrong.is_empty() {
            result.detail = Some(wrong.join("; "));
        }
        result.offending_ids = wrong.into_iter().take(MAX_IDS).collect();
        Ok(result.offending > 0)
    }
}

fn median(values: &[u64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2] as f64),
        n => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_read_from_toml() {
        #[derive(Deserialize)]
        struct File {
            checks: Vec<CheckDef>,
        }
        let file: File = serde_json::from_str(
            r#"{"checks": [
                {"output": "export", "kind": "unique"},
                {"output": "auditlog", "kind": "completeness", "column": "audit_id",
                 "min_ratio": 0.99, "severity": "warn"},
                {"output": "auditlog", "kind": "schema",
                 "columns": [{"name": "audit_id", "type": "string", "nullable": false}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            file.checks[0].kind,
            CheckKind::Unique {
                columns: vec!["id".to_owned()]
            }
        );
        assert_eq!(file.checks[0].severity, Severity::Error);
        assert_eq!(file.checks[1].severity, Severity::Warn);
        assert_eq!(file.checks[1].name(), "completeness(audit_id)");
        assert!(
            matches!(&file.checks[2].kind, CheckKind::Schema { columns } if !columns[0].nullable)
        );
    }

    #[test]
    fn the_median_of_earlier_days() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5, 1, 3]), Some(3.0));
        assert_eq!(median(&[4, 1, 3, 10]), Some(3.5));
    }
}
