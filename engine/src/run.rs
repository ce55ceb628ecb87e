//! Running one collection's day as a DataFusion plan: list the input once,
//! scan → ingest → write in parallel partitions, check the corrupt share,
//! publish atomically, clean the staging area, report.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use datafusion::arrow::array::AsArray;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;

use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{CorruptLimit, Fault};
use crate::exec::{
    CompactExec, CompactSpec, GzipLinesScanExec, INPUT_CHANGED, IngestExec, IngestSpec, InputFile,
    QuarantineSpec, ScanSpec, WeirOptions, WriteExec, WriteSpec, balance, file_groups,
    run_group_of,
};
use crate::keys::{CacheConfig, CacheStats, DksConfig};
use crate::layout::landing_date;
use crate::output::{FileKind, OutputSpec, StagedFile, TaskSummary, discard_staging};
use crate::post::{DerivedOutput, PostProcess, StagedDay};
use crate::report::{DayReport, DayStatus, OutputRef, TaskReport};
use crate::storage::{Location, S3Settings};
use crate::{Error, Result};

mod commit;

/// The staging root under the destination; one directory per run below it.
pub const STAGING_ROOT: &str = "_weir_staging";

/// One collection's day, fully described.
#[derive(Debug, Clone)]
pub struct DayJob {
    /// The run's id.
    pub run_id: String,
    /// The export date.
    pub export_date: NaiveDate,
    /// Source root.
    pub source: String,
    /// The day's input prefix under the source root (the ingester's layout).
    pub input_prefix: String,
    /// Destination root.
    pub dest: String,
    /// Record processing (collection, rules, cipher, keys).
    pub ingest: IngestSpec,
    /// Output format and layout.
    pub output: OutputSpec,
    /// Above this share of corrupt records the day fails.
    pub max_corrupt_ratio: f64,
    /// Above this many corrupt records the day fails; a task stops the day
    /// as soon as it alone has more.
    pub max_corrupt: Option<u64>,
    /// Parallel partitions at most.
    pub partitions: usize,
    /// Lines per batch.
    pub batch_lines: usize,
    /// Longer lines are quarantined as `line_too_long` without being held.
    pub max_line_bytes: usize,
    /// Line bytes per scanned batch at most.
    pub batch_bytes: usize,
    /// Good-row bytes a task buffers before writing a file.
    pub buffer_bytes: usize,
    /// How to reach S3.
    pub s3: S3Settings,
    /// What to do when a listed input file is gone when read.
    pub on_missing_input: MissingInput,
    /// Publish a day whose input files hold no lines (otherwise it fails,
    /// as a day with no files does, instead of replacing a good day).
    pub allow_empty: bool,
    /// Data checks on the staged outputs before the commit.
    pub checks: Vec<crate::checks::CheckDef>,
    /// Archive the day's input first and read it from there, or read it
    /// from the archive alone (`--archive-input`, `--source-archive`).
    pub archive: Option<crate::archive::InputArchive>,
    /// The day lease's ttl. The publish lease's follows it up to
    /// [`crate::status::lease::PUBLISH_LEASE_TTL`]: a deployment that
    /// renews its day leases often accepts that rate for the commit too,
    /// and a commit killed holding the lease costs the next day no more.
    pub lease_ttl: std::time::Duration,
}

/// What to do when a listed input file is gone when read (a coalescing job
/// deleted it under the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingInput {
    /// Fail the day, naming the file.
    #[default]
    Fail,
    /// List the day again once and rerun it; fail if it happens again.
    Retry,
}

/// Executes a physical plan and returns its batches: in-process, or on a
/// cluster (the cluster crate provides that one).
#[async_trait::async_trait]
pub trait PlanRunner: Send + Sync + std::fmt::Debug {
    /// Runs `plan` to completion.
    async fn collect(
        &self,
        plan: Arc<dyn ExecutionPlan>,
    ) -> datafusion::error::Result<Vec<datafusion::arrow::array::RecordBatch>>;

    /// Bytes of sorted runs a day's write tasks may hold in memory for its
    /// compaction: only where every task runs in this process.
    fn memory_run_bytes(&self) -> usize {
        0
    }
}

/// Runs plans on this process's DataFusion runtime.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    /// The task context (runtime, memory pool, config).
    pub task_ctx: Arc<TaskContext>,
    /// Bytes of runs held in memory between a day's writes and its
    /// compaction ([`LocalRunner::memory_run_bytes`]).
    pub memory_runs: usize,
}

/// Runs a local day holds in memory at most, without `--memory-limit`:
/// a day of 200,000 records makes about 230 MB of runs; past this, runs are
/// staged on disk, so a larger day's memory stays where a smaller one's is.
pub const MEMORY_RUNS_DEFAULT: usize = 256 << 20;

/// The share of `--memory-limit` runs may be held in, at most (the pool
/// takes [`MEMORY_POOL_SHARE`]; the rest is untracked working memory).
pub const MEMORY_RUNS_SHARE: f64 = 0.2;

/// The share of `--memory-limit` given to DataFusion's memory pool, from
/// which buffers are reserved; the rest is for what the pool does not track
/// (code, scan and parse buffers, encoded files on their way out).
pub const MEMORY_POOL_SHARE: f64 = 0.6;

impl LocalRunner {
    /// A runtime with `partitions` target partitions whose sessions reach
    /// `dks` (the settings travel as `weir.*` options, as on a cluster), and
    /// with `memory_limit` bytes at most for the process when given.
    pub fn new(
        partitions: usize,
        dks: &DksConfig,
        cache: CacheConfig,
        memory_limit: Option<usize>,
    ) -> Result<Self> {
        let config = SessionConfig::new()
            .with_target_partitions(partitions.max(1))
            .with_option_extension(WeirOptions::new(dks, cache));
        let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
        if let Some(limit) = memory_limit {
            runtime = runtime.with_memory_limit(limit, MEMORY_POOL_SHARE);
        }
        let runtime = runtime.build_arc().map_err(|e| Error::Config {
            field: "--memory-limit".to_owned(),
            detail: e.to_string(),
        })?;
        let memory_runs = memory_limit.map_or(MEMORY_RUNS_DEFAULT, |limit| {
            MEMORY_RUNS_DEFAULT.min((limit as f64 * MEMORY_RUNS_SHARE) as usize)
        });
        Ok(Self {
            task_ctx: SessionContext::new_with_config_rt(config, runtime).task_ctx(),
            memory_runs,
        })
    }
}

#[async_trait::async_trait]
impl PlanRunner for LocalRunner {
    async fn collect(
        &self,
        plan: Arc<dyn ExecutionPlan>,
    ) -> datafusion::error::Result<Vec<datafusion::arrow::array::RecordBatch>> {
        datafusion::physical_plan::collect(plan, Arc::clone(&self.task_ctx)).await
    }

    fn memory_run_bytes(&self) -> usize {
        self.memory_runs
    }
}

impl DayJob {
    /// The landing date read.
    pub fn landing_date(&self) -> NaiveDate {
        landing_date(self.export_date)
    }

    /// This day's staging prefix (relative to the destination root).
    pub fn staging(&self) -> String {
        format!(
            "{STAGING_ROOT}/{}/{}.{}/{}",
            self.run_id,
            self.ingest.collection.db(),
            self.ingest.collection.collection(),
            self.export_date
        )
    }

    /// Lists the day's input once: `*.jsonl.gz` and `*.json.gz` under the
    /// landing prefix, and the other files there (not read; reported).
    pub async fn list_input(&self) -> Result<(Location, Vec<InputFile>, Vec<String>)> {
        let source = Location::parse(&self.source, &self.s3)?;
        let prefix = source.child(&self.input_prefix);
        let listed: Vec<object_store::ObjectMeta> = source
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| Error::storage("list", source.display(&prefix), &e))?;
        let (mut files, mut skipped) = (Vec::new(), Vec::new());
        for m in listed {
            let name = m.location.filename().unwrap_or_default();
            if name.ends_with(".jsonl.gz") || name.ends_with(".json.gz") {
                files.push(InputFile {
                    path: m.location.to_string(),
                    size: m.size,
                });
            } else {
                skipped.push(source.display(&m.location));
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        skipped.sort();
        Ok((source, files, skipped))
    }

    /// The physical plan: file groups → scan → ingest → write, staging
    /// every run (as on a cluster).
    pub fn plan(&self, files: Vec<InputFile>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.plan_holding(files, 0)
    }

    /// [`Self::plan`] whose write tasks hold up to `memory_run_bytes` of
    /// runs in memory for a compaction in the same process.
    pub fn plan_holding(
        &self,
        files: Vec<InputFile>,
        memory_run_bytes: usize,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let scan = ScanSpec {
            source: self.source.clone(),
            batch_lines: self.batch_lines,
            max_line_bytes: self.max_line_bytes,
            batch_bytes: self.batch_bytes,
            s3: self.s3.clone(),
        };
        let groups = file_groups(&balance(files, self.partitions))?;
        let scan = Arc::new(GzipLinesScanExec::new(scan, groups));
        let ingest = IngestSpec {
            scope: self.staging(),
            quarantine: Some(QuarantineSpec {
                dest: self.dest.clone(),
                staging: self.staging(),
                stop_after_corrupt: self.task_corrupt_stop(),
                s3: self.s3.clone(),
            }),
            ..self.ingest.clone()
        };
        let ingest = Arc::new(IngestExec::new(ingest, scan));
        Ok(Arc::new(WriteExec::new(
            WriteSpec {
                dest: self.dest.clone(),
                staging: self.staging(),
                output: self.output.clone(),
                buffer_bytes: self.buffer_bytes,
                // With `id_part=` directories the tasks write sorted runs and
                // a second plan merges them: one file per directory, not one
                // per directory per flush per task.
                run_groups: if self.output.id_part_dirs {
                    self.partitions.max(1)
                } else {
                    0
                },
                memory_run_bytes,
                s3: self.s3.clone(),
            },
            ingest,
        )))
    }

    /// The corrupt count past which one task alone proves the day fails:
    /// `--max-corrupt`, or none at all when the allowed share is 0. (A share
    /// above 0 is never certain mid-stream: the day's line count is known
    /// only at its end, and gzip sizes do not bound it.)
    fn task_corrupt_stop(&self) -> Option<u64> {
        let by_share = (self.max_corrupt_ratio <= 0.0).then_some(0);
        match (by_share, self.max_corrupt) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The plan merging the staged runs: one task per group of `id_part`s
    /// that has runs, each listing its runs in (task, flush) order.
    pub fn compact_plan(&self, runs: &[&StagedFile]) -> Result<Arc<dyn ExecutionPlan>> {
        let mut groups: std::collections::BTreeMap<usize, Vec<&StagedFile>> = Default::default();
        for run in runs {
            let group = run_group_of(&run.target).ok_or_else(|| Error::Config {
                field: "task summary".to_owned(),
                detail: format!("a run without a group: {}", run.target),
            })?;
            groups.entry(group).or_default().push(run);
        }
        // Targets are `<group>/part-<task>-<flush>-<attempt>`: in that order
        // the merge breaks ties the same way in every run of the day (the
        // staged path starts with the attempt's random token).
        let groups: Vec<Vec<InputFile>> = groups
            .into_values()
            .map(|mut g| {
                g.sort_by(|a, b| a.target.cmp(&b.target));
                g.iter()
                    .map(|r| InputFile {
                        path: r.staged.clone(),
                        size: r.bytes,
                    })
                    .collect()
            })
            .collect();
        let spec = CompactSpec {
            dest: self.dest.clone(),
            staging: self.staging(),
            output: self.output.clone(),
            file_bytes: self.buffer_bytes.max(1 << 20),
            s3: self.s3.clone(),
        };
        let input = file_groups(&groups).map_err(|e| Error::Config {
            field: "compaction".to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Arc::new(CompactExec::new(spec, input)))
    }
}

/// Runs one day end to end. A failed day publishes nothing, leaves the
/// previous output as it was, and removes its staging files.
pub async fn run_day(job: &DayJob, runner: &dyn PlanRunner) -> DayReport {
    run_day_with(job, runner, None).await
}

/// [`run_day`] with a collection's post-processing between staging and
/// publishing: its outputs publish with the day's, or nothing does.
pub async fn run_day_with(
    job: &DayJob,
    runner: &dyn PlanRunner,
    post: Option<&dyn PostProcess>,
) -> DayReport {
    let started = Instant::now();
    let mut report = DayReport {
        collection: job.ingest.collection.to_string(),
        export_date: job.export_date.to_string(),
        landing_date: job.landing_date().to_string(),
        ..DayReport::default()
    };
    let mut outcome = run_day_inner(job, runner, post, &mut report).await;
    let input_changed = matches!(&outcome, Err(e @ Error::Execution { .. }) if e.to_string().contains(INPUT_CHANGED));
    if input_changed && job.on_missing_input == MissingInput::Retry {
        tracing::warn!(collection = %report.collection, export_date = %report.export_date, "input changed during the run; listing again once");
        if let Ok(dest) = Location::parse(&job.dest, &job.s3) {
            let _ = discard_staging(&dest, &job.staging()).await;
        }
        let fresh = DayReport {
            collection: report.collection.clone(),
            export_date: report.export_date.clone(),
            landing_date: report.landing_date.clone(),
            ..DayReport::default()
        };
        report = fresh;
        outcome = run_day_inner(job, runner, post, &mut report)
            .await
            .map_err(|e| match e {
                Error::Execution {
                    collection,
                    export_date,
                    source,
                } => Error::Execution {
                    collection,
                    export_date,
                    source: source.context("after listing the input again"),
                },
                other => other,
            });
    }
    end_day(
        &mut report,
        outcome,
        (&job.dest, &job.s3, &job.staging()),
        started,
    )
    .await;
    report.records_per_sec = report.records_in as f64 / report.seconds.max(1e-9);
    report
}

/// A day's (or a merge's) end, whatever happened: its staging removed,
/// its status, fault and error, its wall time.
pub(crate) async fn end_day(
    report: &mut DayReport,
    outcome: Result<()>,
    (dest, s3, staging): (&str, &S3Settings, &str),
    started: Instant,
) {
    if let Ok(dest) = Location::parse(dest, s3)
        && let Err(e) = discard_staging(&dest, staging).await
    {
        tracing::warn!(error = %e, "could not remove staging files");
    }
    match outcome {
        Ok(()) => report.status = DayStatus::Published,
        Err(e) => {
            report.status = DayStatus::Failed;
            report.fault = Some(e.fault());
            report.error = Some(e.to_string());
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
}

async fn run_day_inner(
    job: &DayJob,
    runner: &dyn PlanRunner,
    post: Option<&dyn PostProcess>,
    report: &mut DayReport,
) -> Result<()> {
    let input = match &job.archive {
        None => {
            let (location, files, skipped) = job.list_input().await?;
            crate::archive::DayInput {
                location,
                files,
                skipped,
                archived: None,
            }
        }
        Some(archive) => crate::archive::day_input(job, archive).await?,
    };
    let crate::archive::DayInput {
        location: source,
        files,
        skipped,
        archived,
    } = input;
    // Read from the archive: the plan's scan reads under its root.
    let archived_job;
    let job = match (archived, &job.archive) {
        (Some(archived), Some(archive)) => {
            report.archive = Some(archived);
            archived_job = DayJob {
                source: archive.root.clone(),
                input_prefix: archive.dir.clone(),
                archive: None,
                ..job.clone()
            };
            &archived_job
        }
        _ => job,
    };
    if !skipped.is_empty() {
        tracing::warn!(
            collection = %report.collection,
            export_date = %report.export_date,
            skipped = skipped.len(),
            first = %skipped[0],
            "files under the day's prefix are not *.jsonl.gz or *.json.gz and were not read"
        );
    }
    report.skipped_files = skipped;
    if files.is_empty() {
        // A missing day is an incident, not an empty day: publishing nothing
        // over yesterday's run would hide it.
        return Err(Error::DayCheck {
            collection: job.ingest.collection.to_string(),
            export_date: job.export_date.to_string(),
            fault: Fault::Input,
            detail: format!(
                "no *.jsonl.gz or *.json.gz files under {}{}; nothing published",
                source.display(&source.child(&job.input_prefix)),
                match report.skipped_files.len() {
                    0 => String::new(),
                    n => format!(
                        " ({n} other files there were not read: {})",
                        report.skipped_files.join(", ")
                    ),
                }
            ),
        });
    }
    report.files = files.len();
    report.bytes_read = files.iter().map(|f| f.size).sum();
    crate::exec::Progress::global().expect(files.len() as u64, report.bytes_read);
    let plan_failed = |source: datafusion::error::DataFusionError| Error::Execution {
        collection: job.ingest.collection.to_string(),
        export_date: job.export_date.to_string(),
        source,
    };
    let check_failed = |fault: Fault| {
        move |detail: String| Error::DayCheck {
            collection: job.ingest.collection.to_string(),
            export_date: job.export_date.to_string(),
            detail,
            fault,
        }
    };
    // An invariant of Weir's own plans; a mismatch of counts is a bug or an
    // input that changed (the message says which).
    let day_failed = check_failed(Fault::Bug);
    let listed: Vec<String> = files
        .iter()
        .map(|f| match crate::storage::stored_path(&f.path) {
            Ok(path) => source.display(&path),
            Err(_) => f.path.clone(),
        })
        .collect();
    let plan = job
        .plan_holding(files, runner.memory_run_bytes())
        .map_err(plan_failed)?;
    let partitions = plan.properties().output_partitioning().partition_count();
    let batches = runner.collect(plan).await.map_err(plan_failed)?;
    let summaries = summaries_of(batches)?;
    tracing::debug!(
        collection = %report.collection,
        export_date = %report.export_date,
        runs_held = crate::exec::memory_runs_under(&dest_staging_display(job)),
        process_held_bytes = crate::exec::held_run_bytes(),
        "write phase done"
    );
    check_one_attempt_each(&summaries, partitions).map_err(day_failed)?;
    check_counts(&summaries, report.bytes_read).map_err(|detail| {
        let fault = if detail.contains(INPUT_CHANGED) {
            Fault::Input
        } else {
            Fault::Bug
        };
        check_failed(fault)(detail)
    })?;
    for s in &summaries {
        // Each task reports its process's work for the day so far; the
        // process's last task to end has seen it all (counters only grow).
        let seen = report
            .dks_by_executor
            .entry(s.executor.clone())
            .or_default();
        *seen = seen.max_each(&s.dks);
        report.records_in += s.records;
        report.records_out += s.rows;
        report.inserts += s.inserts;
        report.deletes += s.deletes;
        for (reason, n) in &s.corrupt {
            *report.corrupt_by_reason.entry(*reason).or_default() += n;
            report.corrupt += n;
        }
    }
    report.tasks = summaries
        .iter()
        .map(|s| TaskReport {
            partition: s.partition,
            attempt: s.attempt.clone(),
            executor: s.executor.clone(),
            records: s.records,
            inputs: s.inputs.clone(),
        })
        .collect();
    report.tasks.sort_by_key(|t| t.partition);
    report.dks = report
        .dks_by_executor
        .values()
        .fold(CacheStats::default(), |sum, e| sum.add(e));
    if report.records_in == 0 && !job.allow_empty {
        return Err(check_failed(Fault::Input)(format!(
            "the {} input files hold no lines ({}); an empty day is published only with --allow-empty",
            report.files,
            listed.join(", ")
        )));
    }
    let ratio = report.corrupt as f64 / report.records_in.max(1) as f64;
    let passed = match job.max_corrupt {
        Some(n) if report.corrupt > n => Some(CorruptLimit::Count(n)),
        _ => (ratio > job.max_corrupt_ratio).then_some(CorruptLimit::Share(job.max_corrupt_ratio)),
    };
    if let Some(limit) = passed {
        return Err(Error::TooManyCorrupt {
            collection: job.ingest.collection.to_string(),
            export_date: job.export_date.to_string(),
            corrupt: report.corrupt,
            records: report.records_in,
            limit,
        });
    }
    let dest = Location::parse(&job.dest, &job.s3)?;
    let files = |kind: FileKind| {
        summaries
            .iter()
            .flat_map(|s| &s.files)
            .filter(move |f| f.kind == kind)
            .collect::<Vec<_>>()
    };
    let runs = files(FileKind::Run);
    let data: Vec<StagedFile> = if runs.is_empty() {
        files(FileKind::Data).into_iter().cloned().collect()
    } else {
        let plan = job.compact_plan(&runs)?;
        let groups = plan.properties().output_partitioning().partition_count();
        let compacted = summaries_of(
            runner
                .collect(plan)
                .await
                .map_err(|e| plan_failed(e.context("merging the staged runs")))?,
        )?;
        check_one_attempt_each(&compacted, groups).map_err(day_failed)?;
        compacted.into_iter().flat_map(|s| s.files).collect()
    };
    // Post-processing reads the staged rows and stages more, before
    // anything is published.
    let staged = StagedDay {
        job,
        data: &data,
        runner,
    };
    let derived = match post {
        Some(step) => step
            .post_process(&staged)
            .await
            .map_err(|source| Error::PostProcessing {
                collection: job.ingest.collection.to_string(),
                export_date: job.export_date.to_string(),
                source,
            })?,
        None => Vec::new(),
    };
    check_distinct_dirs(job, &derived).map_err(check_failed(Fault::Configuration))?;
    // The data contracts, on what is staged: a failed `error` check
    // publishes nothing.
    if !job.checks.is_empty() {
        report.checks = run_day_checks(&staged, &derived).await?;
        let collection = job.ingest.collection.to_string();
        if let Some(why) = crate::checks::verdict_of(&collection, job.export_date, &report.checks) {
            return Err(check_failed(Fault::Input)(why));
        }
    }
    let quarantine = files(FileKind::Quarantine);
    let day = commit::Staged {
        job,
        dest: &dest,
        data: &data,
        quarantine: &quarantine,
        post,
    };
    commit::commit_day(day, derived, report).await
}

/// The day's staging directory as users read it (held runs are keyed
/// under it); empty when the destination does not parse.
fn dest_staging_display(job: &DayJob) -> String {
    Location::parse(&job.dest, &job.s3)
        .map(|dest| dest.display(&dest.child(&job.staging())))
        .unwrap_or_default()
}

/// Derived outputs each replace their own directory, never the day's data
/// or quarantine or one another's.
fn check_distinct_dirs(job: &DayJob, derived: &[DerivedOutput]) -> std::result::Result<(), String> {
    let mut dirs = vec![
        job.output.data_dir.as_str(),
        job.output.quarantine_dir.as_str(),
    ];
    for d in derived {
        let clash = dirs.iter().find(|other| {
            let (a, b) = (d.dir.trim_end_matches('/'), other.trim_end_matches('/'));
            a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
        });
        if let Some(other) = clash {
            return Err(format!(
                "derived output {} would be published at {}, inside or over {other}; nothing published",
                d.name, d.dir
            ));
        }
        dirs.push(&d.dir);
    }
    Ok(())
}

/// Every line the scans read reached a writer as a row or a corrupt record,
/// and the scans read exactly the bytes listed: otherwise records were lost
/// on the way, or a file changed under the run, and nothing is published.
fn check_counts(summaries: &[TaskSummary], listed_bytes: u64) -> std::result::Result<(), String> {
    let lines: u64 = summaries.iter().map(|s| s.lines_scanned).sum();
    let records: u64 = summaries.iter().map(|s| s.records).sum();
    if lines != records {
        return Err(format!(
            "the scans read {lines} lines but {records} records reached the writers; nothing published"
        ));
    }
    let bytes: u64 = summaries.iter().map(|s| s.bytes_scanned).sum();
    if bytes != listed_bytes {
        return Err(format!(
            "the scans read {bytes} bytes of input files listed at {listed_bytes} bytes: {INPUT_CHANGED}; nothing published"
        ));
    }
    Ok(())
}

/// The task summaries a plan of Weir's writers returned.
pub(crate) fn summaries_of(
    batches: Vec<datafusion::arrow::array::RecordBatch>,
) -> Result<Vec<TaskSummary>> {
    let mut summaries = Vec::new();
    for batch in &batches {
        let column = batch.column(0).as_string::<i32>();
        for json in column.iter().flatten() {
            let summary: TaskSummary = serde_json::from_str(json).map_err(|e| Error::Config {
                field: "task summary".to_owned(),
                detail: e.to_string(),
            })?;
            summaries.push(summary);
        }
    }
    Ok(summaries)
}

/// The commit publishes exactly one attempt of every partition: a missing
/// one would lose its records, a second one would publish them twice. The
/// engine that ran the plan should guarantee both; this makes sure.
pub(crate) fn check_one_attempt_each(
    summaries: &[TaskSummary],
    partitions: usize,
) -> std::result::Result<(), String> {
    let mut attempts: Vec<Vec<&str>> = vec![Vec::new(); partitions];
    for s in summaries {
        match attempts.get_mut(s.partition) {
            Some(seen) => seen.push(&s.attempt),
            None => {
                return Err(format!(
                    "a task reported partition {} of a {partitions}-partition plan; nothing published",
                    s.partition
                ));
            }
        }
    }
    for (partition, seen) in attempts.iter().enumerate() {
        match seen.len() {
            1 => {}
            0 => {
                return Err(format!(
                    "no result for partition {partition} of {partitions}; nothing published"
                ));
            }
            _ => {
                return Err(format!(
                    "partition {partition} came back from {} attempts ({}); nothing published",
                    seen.len(),
                    seen.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// The day's checks, with the row counts of earlier completed days from the
/// run status for `row_count_change`.
async fn run_day_checks(
    staged: &StagedDay<'_>,
    derived: &[DerivedOutput],
) -> Result<Vec<crate::checks::CheckResult>> {
    let job = staged.job;
    let collection = job.ingest.collection.to_string();
    let dest = Location::parse(&job.dest, &job.s3)?;
    let earlier =
        crate::checks::earlier_days(&dest, &collection, job.export_date, &job.checks).await?;
    let history = |output: &str| crate::checks::counts_of(&earlier, output);
    crate::checks::run_checks(staged, derived, &job.checks, &history)
        .await
        .map_err(|e| Error::Execution {
            collection,
            export_date: job.export_date.to_string(),
            source: e.context("data checks"),
        })
}

/// The outputs a published day adds to the run report.
pub fn output_refs(job: &DayJob, report: &DayReport) -> Vec<OutputRef> {
    let mut refs = Vec::new();
    if let Some(out) = &report.output {
        refs.push(OutputRef {
            collection: report.collection.clone(),
            export_date: report.export_date.clone(),
            format: job.output.format.as_str().to_owned(),
            path: out.path.clone(),
            version: None,
            rows: Some(out.rows),
        });
    }
    if let Some(q) = &report.quarantine {
        refs.push(OutputRef {
            collection: report.collection.clone(),
            export_date: report.export_date.clone(),
            format: "quarantine".to_owned(),
            path: q.path.clone(),
            version: None,
            rows: Some(q.rows),
        });
    }
    for (name, dir) in &report.derived {
        refs.push(OutputRef {
            collection: report.collection.clone(),
            export_date: report.export_date.clone(),
            format: name.clone(),
            path: dir.path.clone(),
            version: dir.version,
            rows: Some(dir.rows),
        });
    }
    refs
}

/// Removes the run's (now empty) staging directory and the staging root if
/// nothing else is in it.
pub async fn cleanup_run(dest: &str, s3: &S3Settings, run_id: &str) {
    let Ok(dest) = Location::parse(dest, s3) else {
        return;
    };
    let _ = discard_staging(&dest, &format!("{STAGING_ROOT}/{run_id}")).await;
    if dest.is_local() {
        let root = std::path::PathBuf::from(dest.display(&dest.child(STAGING_ROOT)));
        let _ = std::fs::remove_dir(root); // only if empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(partition: usize, attempt: &str) -> TaskSummary {
        TaskSummary {
            partition,
            attempt: attempt.to_owned(),
            ..TaskSummary::default()
        }
    }

    #[test]
    fn counts_must_agree_with_what_the_scans_read() {
        let task = |records, lines, bytes| TaskSummary {
            records,
            lines_scanned: lines,
            bytes_scanned: bytes,
            ..TaskSummary::default()
        };
        assert_eq!(check_counts(&[task(3, 3, 10), task(2, 2, 5)], 15), Ok(()));
        let lost = check_counts(&[task(3, 4, 10)], 10).unwrap_err();
        assert!(lost.contains("read 4 lines but 3 records"), "{lost}");
        let changed = check_counts(&[task(3, 3, 12)], 10).unwrap_err();
        assert!(changed.contains(INPUT_CHANGED), "{changed}");
    }

    #[test]
    fn only_one_attempt_of_every_partition_is_committed() {
        let one_each = [summary(1, "b"), summary(0, "a")];
        assert_eq!(check_one_attempt_each(&one_each, 2), Ok(()));
        let twice = [summary(0, "a"), summary(1, "b"), summary(1, "c")];
        let err = check_one_attempt_each(&twice, 2).unwrap_err();
        assert!(
            err.contains("partition 1 came back from 2 attempts (b, c)"),
            "{err}"
        );
        let missing = [summary(0, "a")];
        let err = check_one_attempt_each(&missing, 2).unwrap_err();
        assert!(err.contains("no result for partition 1 of 2"), "{err}");
        let stray = [summary(0, "a"), summary(5, "z")];
        assert!(check_one_attempt_each(&stray, 1).is_err());
    }
}
