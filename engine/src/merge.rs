//! The snapshot merge's driver: which sources make the export of a date,
//! the plan that merges them ([`crate::exec::MergeExec`]), and its report.
//!
//! The export of date D is one row per `id` from the latest complete export
//! before D and every daily after that export's date up to D. The previous
//! export is found under the destination (the newest directory of a date
//! before D with `_SUCCESS` and a manifest) or named by the caller; there is
//! no fallback date. A daily missing in the range fails the merge naming the
//! dates, unless the caller allows it. Inside a day's run (`--update`) the
//! day's own staged files are its daily, and the export publishes with the
//! day; alone ([`run_merge`]) it publishes by itself, all or nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::error::Fault;
use crate::exec::{
    InputFile, MergeExec, MergeRule, MergeSource, MergeSpec, file_groups, hive_value,
};
use crate::output::{
    DirOutput, OrcCompression, OutputFormat, StagedFile, publish_all, published_files,
};
use crate::post::DerivedOutput;
use crate::report::DayReport;
use crate::run::{PlanRunner, STAGING_ROOT, check_one_attempt_each, end_day, summaries_of};
use crate::storage::{Location, S3Settings};
use crate::{Error, Result};

/// The name of the merge's output among a day's derived outputs.
pub const EXPORT: &str = "export";

/// The dailies' directory (relative to the destination) for an export date.
pub type DailyDir = Arc<dyn Fn(NaiveDate) -> String + Send + Sync>;

/// Where the merge starts when the caller says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeStart {
    /// The previous export to merge into (path or URL), instead of the
    /// newest one before the date under the destination.
    pub previous_export: Option<String>,
    /// Its export date, when its path does not end in one.
    pub previous_export_date: Option<NaiveDate>,
    /// With no previous export: the first daily to merge.
    pub since: Option<NaiveDate>,
    /// Merge without the dailies that are missing in the range.
    pub allow_missing_days: bool,
}

/// One collection's merge for one export date.
#[derive(Clone)]
pub struct MergeJob {
    /// `db:collection` (reports, errors).
    pub collection: String,
    /// The export's date.
    pub export_date: NaiveDate,
    /// The run's id.
    pub run_id: String,
    /// The destination root (path or URL).
    pub dest: String,
    /// How to reach S3.
    pub s3: S3Settings,
    /// Exports are `<exports_dir>/<YYYY-MM-DD>`, relative to `dest`.
    pub exports_dir: String,
    /// Where each date's daily is.
    pub daily_dir: DailyDir,
    /// Format of the dailies and of the export (ORC or Parquet).
    pub format: OutputFormat,
    /// ORC codec.
    pub orc_compression: OrcCompression,
    /// Which row of an id is kept.
    pub rule: MergeRule,
    /// Whether files sit in `id_part=` directories.
    pub id_part_dirs: bool,
    /// Parallel tasks at most (each merges a group of `id_part`s).
    pub partitions: usize,
    /// Rows (as Arrow bytes) after which an export file is cut.
    pub file_bytes: usize,
    /// Where it starts, when the caller says.
    pub start: MergeStart,
    /// Checks of the export before it publishes (`weir merge`; within a
    /// day's run, the day's checks cover it).
    pub checks: Vec<crate::checks::CheckDef>,
}

impl std::fmt::Debug for MergeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeJob")
            .field("collection", &self.collection)
            .field("export_date", &self.export_date)
            .field("dest", &self.dest)
            .field("exports_dir", &self.exports_dir)
            .field("format", &self.format)
            .field("rule", &self.rule)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

/// Who wrote a previous export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportOrigin {
    /// Weir (a manifest lists its files, sorted by `id`).
    Weir,
    /// Another writer, such as the old job (`_SUCCESS`, no manifest; its
    /// files are sorted as they are read, and rows without `last_modified`
    /// count as older than every daily after it).
    Other,
}

/// Which kind of source a merge read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The previous export.
    PreviousExport,
    /// A published daily.
    Daily,
    /// The day being run, staged and not yet published.
    StagedDay,
}

/// One source of a merge, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeSourceReport {
    /// Which kind.
    pub kind: SourceKind,
    /// Its export date.
    pub export_date: String,
    /// Its directory.
    pub path: String,
    /// Files read.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Rows read from it.
    pub rows_in: u64,
    /// Who wrote it (previous exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<ExportOrigin>,
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeReport {
    /// The export's date.
    pub export_date: String,
    /// The rule (`delete_wins`, `latest`).
    pub rule: String,
    /// The previous export merged into, when there was one.
    pub previous_export: Option<MergeSourceReport>,
    /// Without a previous export: why, and the first daily merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<String>,
    /// Every source, the previous export first, then dailies by date.
    pub sources: Vec<MergeSourceReport>,
    /// Dates in the range without a complete daily (merged without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_days: Vec<String>,
    /// Rows read.
    pub rows_in: u64,
    /// Rows in the export.
    pub rows_out: u64,
    /// Of which INSERT.
    pub inserts: u64,
    /// Of which DELETE.
    pub deletes: u64,
    /// Rows read that another row of their id replaced.
    pub duplicates_collapsed: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes of the export's files.
    pub bytes_written: u64,
    /// Tasks (groups of `id_part`s).
    pub tasks: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A source and its files, found before planning.
struct Found {
    source: MergeSource,
    report: MergeSourceReport,
    files: Vec<InputFile>,
}

impl MergeJob {
    /// The export's directory for `date`, relative to the destination.
    pub fn export_dir(&self, date: NaiveDate) -> String {
        format!("{}/{date}", self.exports_dir.trim_end_matches('/'))
    }

    fn failed(&self, fault: Fault, detail: String) -> Error {
        Error::DayCheck {
            collection: self.collection.clone(),
            export_date: self.export_date.to_string(),
            detail,
            fault,
        }
    }

    /// The previous export: the one named, or the newest complete one
    /// before the date under the destination.
    async fn previous(&self, dest: &Location) -> Result<Option<Found>> {
        if let Some(path) = &self.start.previous_export {
            return self.named_previous(path).await.map(Some);
        }
        let root = dest.child(&self.exports_dir);
        let listed = dest
            .store
            .list_with_delimiter(Some(&root))
            .await
            .map_err(|e| Error::storage("list", dest.display(&root), &e))?;
        let mut dates: Vec<NaiveDate> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .filter_map(|name| NaiveDate::parse_from_str(name, "%Y-%m-%d").ok())
            .filter(|d| *d < self.export_date)
            .collect();
        dates.sort_unstable_by(|a, b| b.cmp(a));
        for date in dates {
            let dir = dest.child(&self.export_dir(date));
            if let Some(files) = published_files(dest, &dir).await? {
                return Ok(Some(self.found(
                    dest,
                    &dir,
                    files,
                    date,
                    SourceKind::PreviousExport,
                    Some(ExportOrigin::Weir),
                )));
            }
            tracing::warn!(collection = %self.collection, export = %dest.display(&dir), "an export without _SUCCESS or manifest is skipped");
        }
        Ok(None)
    }

    /// An export named by path: Weir's (its manifest), or another writer's
    /// (its ORC or Parquet files, under a `_SUCCESS`).
    async fn named_previous(&self, path: &str) -> Result<Found> {
        let loc = Location::parse(path, &self.s3)?;
        let dir = loc.prefix.clone();
        let date = match self.start.previous_export_date {
            Some(d) => d,
            None => dir
                .filename()
                .and_then(|n| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok())
                .ok_or_else(|| {
                    self.failed(
                        Fault::Configuration,
                        format!(
                            "--previous-export {path} does not end in its export date; give --previous-export-date"
                        ),
                    )
                })?,
        };
        if date >= self.export_date {
            return Err(self.failed(
                Fault::Configuration,
                format!(
                    "--previous-export {path} is of {date}, not before {}",
                    self.export_date
                ),
            ));
        }
        if let Some(files) = published_files(&loc, &dir).await? {
            return Ok(self.found(
                &loc,
                &dir,
                files,
                date,
                SourceKind::PreviousExport,
                Some(ExportOrigin::Weir),
            ));
        }
        let marker = crate::storage::raw_join(&dir, "_SUCCESS");
        if loc.store.head(&marker).await.is_err() {
            return Err(self.failed(
                Fault::Input,
                format!(
                    "--previous-export {path} is not complete: no _SUCCESS (or Weir manifest) in it; nothing published"
                ),
            ));
        }
        let listed: Vec<object_store::ObjectMeta> = loc
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| Error::storage("list", loc.display(&dir), &e))?;
        let mut files = Vec::new();
        let mut format = None;
        for m in listed {
            let name = m.location.filename().unwrap_or_default();
            let this = if name.ends_with(".orc") {
                OutputFormat::Orc
            } else if name.ends_with(".parquet") {
                OutputFormat::Parquet
            } else {
                continue;
            };
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            if format.is_some_and(|f| f != this) {
                return Err(self.failed(
                    Fault::Input,
                    format!("--previous-export {path} mixes ORC and Parquet files"),
                ));
            }
            format = Some(this);
            files.push(InputFile {
                path: m.location.to_string(),
                size: m.size,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let bytes = files.iter().map(|f| f.size).sum();
        Ok(Found {
            source: MergeSource {
                root: loc.url.clone(),
                dir: dir.to_string(),
                format: format.unwrap_or(self.format),
                rank: date.num_days_from_ce(),
                sorted: false,
            },
            report: MergeSourceReport {
                kind: SourceKind::PreviousExport,
                export_date: date.to_string(),
                path: loc.display(&dir),
                files: files.len(),
                bytes,
                rows_in: 0,
                written_by: Some(ExportOrigin::Other),
            },
            files,
        })
    }

    fn found(
        &self,
        loc: &Location,
        dir: &object_store::path::Path,
        listed: Vec<crate::output::ListedFile>,
        date: NaiveDate,
        kind: SourceKind,
        written_by: Option<ExportOrigin>,
    ) -> Found {
        let files: Vec<InputFile> = listed
            .iter()
            .map(|f| InputFile {
                path: crate::storage::raw_join(dir, &f.path).to_string(),
                size: f.bytes,
            })
            .collect();
        Found {
            source: MergeSource {
                root: loc.url.clone(),
                dir: dir.to_string(),
                format: format_of(&listed).unwrap_or(self.format),
                rank: date.num_days_from_ce(),
                sorted: true,
            },
            report: MergeSourceReport {
                kind,
                export_date: date.to_string(),
                path: loc.display(dir),
                files: files.len(),
                bytes: files.iter().map(|f| f.size).sum(),
                rows_in: 0,
                written_by,
            },
            files,
        }
    }
}

fn format_of(files: &[crate::output::ListedFile]) -> Option<OutputFormat> {
    files.first().and_then(|f| {
        if f.path.ends_with(".orc") {
            Some(OutputFormat::Orc)
        } else if f.path.ends_with(".parquet") {
            Some(OutputFormat::Parquet)
        } else {
            None
        }
    })
}

/// Stages the export of `job.export_date` under `staging`; `staged_day`
/// is the day's own staged data when the merge runs inside its commit.
pub async fn stage_merge(
    job: &MergeJob,
    staging: &str,
    staged_day: Option<&[StagedFile]>,
    runner: &dyn PlanRunner,
) -> Result<(DerivedOutput, MergeReport)> {
    let started = Instant::now();
    if !matches!(job.format, OutputFormat::Orc | OutputFormat::Parquet) {
        return Err(job.failed(
            Fault::Configuration,
            format!(
                "the merge reads and writes ORC or Parquet, not {}",
                job.format.as_str()
            ),
        ));
    }
    let dest = Location::parse(&job.dest, &job.s3)?;
    let mut report = MergeReport {
        export_date: job.export_date.to_string(),
        rule: job.rule.as_str().to_owned(),
        ..MergeReport::default()
    };
    let mut found: Vec<Found> = Vec::new();
    let first = match job.previous(&dest).await? {
        Some(previous) => {
            let date = NaiveDate::parse_from_str(&previous.report.export_date, "%Y-%m-%d")
                .map_err(|e| job.failed(Fault::Bug, e.to_string()))?;
            found.push(previous);
            date.succ_opt().unwrap_or(date)
        }
        None => match job.start.since {
            Some(since) => {
                report.started_from = Some(format!(
                    "no export before {} under {}: merged the dailies from {since}",
                    job.export_date,
                    dest.display(&dest.child(&job.exports_dir))
                ));
                since
            }
            None => {
                return Err(job.failed(
                    Fault::Input,
                    format!(
                        "no complete export before {} under {} to merge into; give --previous-export PATH, or --since DATE to start from the dailies; nothing published",
                        job.export_date,
                        dest.display(&dest.child(&job.exports_dir))
                    ),
                ));
            }
        },
    };
    let mut missing = Vec::new();
    let mut date = first;
    while date <= job.export_date {
        match staged_day {
            Some(files) if date == job.export_date => {
                let dir = dest.child(staging);
                let files: Vec<InputFile> = files
                    .iter()
                    .map(|f| InputFile {
                        path: f.staged.clone(),
                        size: f.bytes,
                    })
                    .collect();
                found.push(Found {
                    source: MergeSource {
                        root: dest.url.clone(),
                        dir: dir.to_string(),
                        format: job.format,
                        rank: date.num_days_from_ce(),
                        sorted: true,
                    },
                    report: MergeSourceReport {
                        kind: SourceKind::StagedDay,
                        export_date: date.to_string(),
                        path: dest.display(&dest.child(&(job.daily_dir)(date))),
                        files: files.len(),
                        bytes: files.iter().map(|f| f.size).sum(),
                        rows_in: 0,
                        written_by: None,
                    },
                    files,
                });
            }
            _ => {
                let dir = dest.child(&(job.daily_dir)(date));
                match published_files(&dest, &dir).await? {
                    Some(files) => {
                        found.push(job.found(&dest, &dir, files, date, SourceKind::Daily, None))
                    }
                    None => missing.push(date.to_string()),
                }
            }
        }
        date = match date.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    if !missing.is_empty() && !job.start.allow_missing_days {
        return Err(job.failed(
            Fault::Input,
            format!(
                "no complete daily (manifest and _SUCCESS) for {} between {first} and {}; nothing published (--allow-missing-days merges without them)",
                missing.join(", "),
                job.export_date
            ),
        ));
    }
    report.missing_days = missing;
    // Each id_part's files go to one task; id_parts are spread over the
    // tasks by bytes.
    let mut by_part: BTreeMap<String, (u64, Vec<InputFile>)> = BTreeMap::new();
    for f in &found {
        for file in &f.files {
            let part = if job.id_part_dirs {
                hive_value(&file.path, crate::exec::schema::col::ID_PART).ok_or_else(|| {
                    job.failed(
                        Fault::Input,
                        format!("{} is not in an id_part= directory", file.path),
                    )
                })?
            } else {
                String::new()
            };
            let entry = by_part.entry(part).or_default();
            entry.0 += file.size;
            entry.1.push(file.clone());
        }
    }
    let tasks = job.partitions.clamp(1, by_part.len().max(1));
    let mut parts: Vec<(u64, Vec<InputFile>)> = by_part.into_values().collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut groups: Vec<(u64, Vec<InputFile>)> = vec![(0, Vec::new()); tasks];
    for (bytes, files) in parts {
        let lightest = groups
            .iter_mut()
            .min_by_key(|(b, _)| *b)
            .unwrap_or_else(|| unreachable!("at least one group"));
        lightest.0 += bytes;
        lightest.1.extend(files);
    }
    let groups: Vec<Vec<InputFile>> = groups
        .into_iter()
        .map(|(_, g)| g)
        .filter(|g| !g.is_empty())
        .collect();
    let spec = MergeSpec {
        dest: job.dest.clone(),
        staging: staging.to_owned(),
        name: EXPORT.to_owned(),
        format: job.format,
        orc_compression: job.orc_compression,
        rule: job.rule,
        sources: found.iter().map(|f| f.source.clone()).collect(),
        id_part_dirs: job.id_part_dirs,
        file_bytes: job.file_bytes.max(1 << 20),
        s3: job.s3.clone(),
    };
    check_distinct_sources(&spec.sources).map_err(|d| job.failed(Fault::Bug, d))?;
    let mut staged = Vec::new();
    if !groups.is_empty() {
        let plan_failed = |source: datafusion::error::DataFusionError| Error::Execution {
            collection: job.collection.clone(),
            export_date: job.export_date.to_string(),
            source: source.context("merging the export"),
        };
        let input = file_groups(&groups).map_err(plan_failed)?;
        let plan = Arc::new(MergeExec::new(spec, input));
        let batches = runner.collect(plan).await.map_err(plan_failed)?;
        let summaries = summaries_of(batches)?;
        check_one_attempt_each(&summaries, groups.len()).map_err(|d| job.failed(Fault::Bug, d))?;
        for s in summaries {
            report.rows_in += s.records;
            report.rows_out += s.rows;
            report.inserts += s.inserts;
            report.deletes += s.deletes;
            for (f, rows) in found.iter_mut().zip(&s.rows_by_source) {
                f.report.rows_in += rows;
            }
            staged.extend(s.files);
        }
    }
    report.tasks = groups.len();
    report.duplicates_collapsed = report.rows_in - report.rows_out.min(report.rows_in);
    report.bytes_read = found.iter().map(|f| f.report.bytes).sum();
    report.bytes_written = staged.iter().map(|f| f.bytes).sum();
    staged.sort_by(|a, b| a.target.cmp(&b.target));
    report.sources = found.into_iter().map(|f| f.report).collect();
    report.previous_export = report
        .sources
        .first()
        .filter(|s| s.kind == SourceKind::PreviousExport)
        .cloned();
    report.seconds = started.elapsed().as_secs_f64();
    let output = DerivedOutput {
        name: EXPORT.to_owned(),
        dir: job.export_dir(job.export_date),
        files: staged,
        merge: Some(report.clone()),
        delta: None,
        all_null_rows: None,
        read_back: Some(export_read_back(job)),
        schema_record: None,
    };
    Ok((output, report))
}

/// How an export's files read back: the export's columns, and `id_part`
/// from its directories when it has them.
pub fn export_read_back(job: &MergeJob) -> crate::post::ReadBack {
    let mut fields: Vec<datafusion::arrow::datatypes::Field> = crate::exec::export_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut partition_columns = Vec::new();
    if job.id_part_dirs {
        fields.push(datafusion::arrow::datatypes::Field::new(
            crate::exec::schema::col::ID_PART,
            datafusion::arrow::datatypes::DataType::Utf8,
            true,
        ));
        partition_columns.push(crate::exec::schema::col::ID_PART.to_owned());
    }
    crate::post::ReadBack {
        format: job.format,
        schema: std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        partition_columns,
    }
}

/// No two sources may hold one file: each file counts for one source.
fn check_distinct_sources(sources: &[MergeSource]) -> std::result::Result<(), String> {
    for (i, a) in sources.iter().enumerate() {
        for b in &sources[i + 1..] {
            if a.rank == b.rank {
                return Err(format!(
                    "two sources of one export date: {} and {}",
                    a.dir, b.dir
                ));
            }
            if a.dir == b.dir {
                return Err(format!("two sources share {}", a.dir));
            }
        }
    }
    Ok(())
}

/// The export's checks, on its staged files.
async fn check_export(
    job: &MergeJob,
    dest: &Location,
    output: &DerivedOutput,
    runner: &dyn PlanRunner,
) -> Result<Vec<crate::checks::CheckResult>> {
    use crate::checks::{check_tables, counts_of, earlier_days};
    let read = export_read_back(job);
    let table = crate::post::OutputTable::new(
        &job.dest,
        read.format,
        read.schema,
        read.partition_columns,
        output
            .files
            .iter()
            .map(|f| crate::exec::InputFile {
                path: f.staged.clone(),
                size: f.bytes,
            })
            .collect(),
        job.partitions,
        job.s3.clone(),
    );
    let earlier = earlier_days(dest, &job.collection, job.export_date, &job.checks).await?;
    let session = || {
        Ok(crate::post::weir_session(
            datafusion::prelude::SessionConfig::new()
                .with_target_partitions(job.partitions.max(1))
                .with_round_robin_repartition(false),
        ))
    };
    check_tables(
        &session,
        runner,
        &|o| (o == EXPORT).then(|| table.clone()),
        &job.checks,
        job.export_date,
        &|o| counts_of(&earlier, o),
    )
    .await
    .map_err(|e| Error::Execution {
        collection: job.collection.clone(),
        export_date: job.export_date.to_string(),
        source: e.context("data checks of the export"),
    })
}

/// The merge alone (over published dailies), published by itself: the new
/// export replaces its date's directory, or (on failure) nothing changes.
/// `guard`'s last check runs before the commit.
pub async fn run_merge(
    job: &MergeJob,
    runner: &dyn PlanRunner,
    guard: Option<&dyn crate::post::PostProcess>,
) -> DayReport {
    let started = Instant::now();
    let mut report = DayReport {
        collection: job.collection.clone(),
        export_date: job.export_date.to_string(),
        ..DayReport::default()
    };
    let staging = format!(
        "{STAGING_ROOT}/{}/{}.merge/{}",
        job.run_id,
        job.collection.replace(':', "."),
        job.export_date
    );
    let outcome = async {
        let dest = Location::parse(&job.dest, &job.s3)?;
        let (output, merge) = stage_merge(job, &staging, None, runner).await?;
        if !job.checks.is_empty() {
            report.checks = check_export(job, &dest, &output, runner).await?;
            if let Some(why) =
                crate::checks::verdict_of(&job.collection, job.export_date, &report.checks)
            {
                return Err(job.failed(Fault::Input, why));
            }
        }
        if let Some(guard) = guard {
            guard
                .before_publish()
                .await
                .map_err(|detail| job.failed(Fault::Environment, detail))?;
        }
        let files: Vec<&StagedFile> = output.files.iter().collect();
        let keep = crate::status::versions::keep_prefix(
            &job.collection,
            &job.export_date.to_string(),
            &job.run_id,
        );
        let paths = crate::output::CommitPaths {
            staging: &staging,
            keep: &keep,
        };
        let published = publish_all(
            &dest,
            paths,
            &[DirOutput {
                dir: &output.dir,
                files: &files,
            }],
            &job.run_id,
        )
        .await?;
        report.merge = Some(merge);
        report.derived = published
            .into_iter()
            .next()
            .map(|dir| BTreeMap::from([(output.name.clone(), dir)]))
            .unwrap_or_default();
        Ok::<_, Error>(())
    }
    .await;
    end_day(
        &mut report,
        outcome,
        (&job.dest, &job.s3, &staging),
        started,
    )
    .await;
    report
}
