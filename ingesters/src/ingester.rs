//! The `Ingester` trait: a collection's daily run, composed from the engine's
//! operators, with hooks collections override.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use weir_engine::archive::{ArchiveMode, InputArchive};
use weir_engine::exec::IngestSpec;
use weir_engine::exec::MergeRule;
use weir_engine::layout::{archive_dir, input_prefix, landing_date};
use weir_engine::merge::{MergeJob, MergeStart, run_merge, stage_merge};
use weir_engine::output::{OrcCompression, OutputFormat, OutputSpec};
use weir_engine::post::{DerivedOutput, PostProcess, StagedDay, StepFailed};
use weir_engine::record::{Cipher, CollectionName, RecordRules};
use weir_engine::report::{DayReport, OutputRef};
use weir_engine::run::{DayJob, MissingInput, PlanRunner, output_refs, run_day_with};
use weir_engine::status::{Lease, RunKind};

use crate::guard::{DayGuard, refused};
use weir_engine::storage::S3Settings;

/// What a run gives every ingester.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's id.
    pub run_id: String,
    /// Source root (path or URL).
    pub source: String,
    /// Destination root (path or URL).
    pub dest: String,
    /// Cipher of `dbObject`.
    pub cipher: Cipher,
    /// `--format`: overrides every collection's default.
    pub format: Option<OutputFormat>,
    /// ORC codec.
    pub orc_compression: OrcCompression,
    /// Above this share of corrupt records a day fails.
    pub max_corrupt_ratio: f64,
    /// Above this many corrupt records a day fails (a task stops it early).
    pub max_corrupt: Option<u64>,
    /// Parallel partitions per day at most.
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
    /// Publish days whose input files hold no lines.
    pub allow_empty: bool,
    /// Archive each day's input under this root first and read it from
    /// there (`--archive-input`).
    pub archive_input: Option<String>,
    /// Read the days from the archive alone (`--source-archive`).
    pub source_archive: bool,
    /// `--update`: each day is merged into the collection's full export in
    /// the day's own commit (the old job's `--force_collection_update`).
    pub update: bool,
    /// Where a merge starts, when the run says (the first date of a range).
    pub merge: MergeStart,
    /// How long a run holds a day without renewing its lease (a run that
    /// dies frees the day after this).
    pub lease_ttl: std::time::Duration,
    /// Which days of the range are run (`--reprocess`).
    pub reprocess: weir_engine::status::Reprocess,
    /// The old job's DynamoDB status table, when the estate's pipelines
    /// poll it (written beside the embedded status).
    pub dynamodb: Option<weir_engine::status::DynamoStatus>,
    /// Which tables to build (`--tables`) and the run's own definitions.
    pub tables: crate::tables::TableSettings,
    /// The run's data checks (`[[checks]]`), by collection (`db:collection`).
    pub checks: std::collections::BTreeMap<String, Vec<weir_engine::checks::CheckDef>>,
    /// Where plans run (it also carries the key service's settings, which
    /// travel in the session config).
    pub runner: Arc<dyn PlanRunner>,
}

/// The root of everything Weir publishes under the destination.
pub const OUTPUT_ROOT: &str = "corporate_data_ingestion";

/// A collection's ingestion. The provided methods are the base run; a
/// collection overrides the hooks it needs. A team's own collection is an
/// implementation of this trait, registered with
/// [`crate::Registry::register`].
#[async_trait::async_trait]
pub trait Ingester: Send + Sync + std::fmt::Debug {
    /// The collection.
    fn collection(&self) -> &CollectionName;

    /// Hook: the record rules (spec §3, §5.1, §7). The base run: neither the
    /// audit reshape nor `id_part`, and the spec's escape stripping.
    fn rules(&self) -> RecordRules {
        base_rules()
    }

    /// Hook: the K2HB consumer whose prefix holds the collection's input
    /// (`corporate_storage/<consumer>/…`).
    fn consumer(&self) -> &str {
        default_consumer(self.collection())
    }

    /// Hook: the format when the run does not force one.
    fn default_format(&self) -> OutputFormat {
        OutputFormat::Parquet
    }

    /// Where a day goes: [`Ingester::output_layout`] for the date.
    fn output(&self, ctx: &RunContext, export_date: NaiveDate) -> OutputSpec {
        (self.output_layout(ctx))(export_date)
    }

    /// The day's job, from the hooks.
    fn day_job(&self, ctx: &RunContext, export_date: NaiveDate) -> DayJob {
        DayJob {
            run_id: ctx.run_id.clone(),
            lease_ttl: ctx.lease_ttl,
            export_date,
            source: ctx.source.clone(),
            input_prefix: input_prefix(
                self.consumer(),
                self.collection(),
                landing_date(export_date),
            ),
            dest: ctx.dest.clone(),
            ingest: IngestSpec {
                collection: self.collection().clone(),
                rules: self.rules(),
                cipher: ctx.cipher,
                // The day's staging prefix and its quarantine there:
                // `DayJob::plan` sets them.
                scope: String::new(),
                quarantine: None,
            },
            output: self.output(ctx, export_date),
            max_corrupt_ratio: ctx.max_corrupt_ratio,
            max_corrupt: ctx.max_corrupt,
            partitions: ctx.partitions,
            batch_lines: ctx.batch_lines,
            max_line_bytes: ctx.max_line_bytes,
            batch_bytes: ctx.batch_bytes,
            buffer_bytes: ctx.buffer_bytes,
            s3: ctx.s3.clone(),
            on_missing_input: ctx.on_missing_input,
            allow_empty: ctx.allow_empty,
            checks: self.checks(ctx),
            archive: ctx.archive_input.as_ref().map(|root| InputArchive {
                root: root.clone(),
                dir: archive_dir(
                    self.consumer(),
                    self.collection(),
                    landing_date(export_date),
                ),
                mode: if ctx.source_archive {
                    ArchiveMode::Replay
                } else {
                    ArchiveMode::Archive
                },
            }),
        }
    }

    /// Hook: the checks every run of the collection makes unless the run's
    /// own `[[checks]]` replace them (same output and check).
    fn default_checks(&self, _ctx: &RunContext) -> Vec<weir_engine::checks::CheckDef> {
        Vec::new()
    }

    /// The day's checks: the defaults, then the run's own (one of the same
    /// output and name replaces a default).
    fn checks(&self, ctx: &RunContext) -> Vec<weir_engine::checks::CheckDef> {
        let configured = ctx
            .checks
            .get(&self.collection().to_string())
            .cloned()
            .unwrap_or_default();
        let mut checks: Vec<_> = self
            .default_checks(ctx)
            .into_iter()
            .filter(|d| {
                !configured
                    .iter()
                    .any(|c| c.output == d.output && c.name() == d.name())
            })
            .collect();
        checks.extend(configured);
        checks
    }

    /// Hook: which row of an id the snapshot merge keeps. The base rule is
    /// the latest `last_modified`, deletes kept as DELETE rows.
    fn merge_rule(&self) -> MergeRule {
        MergeRule::Latest
    }

    /// Hook: the directory holding the collection's full exports, one
    /// `<YYYY-MM-DD>` directory each (relative to the destination).
    fn exports_dir(&self) -> String {
        format!(
            "{OUTPUT_ROOT}/exports/{}/{}",
            self.collection().db(),
            self.collection().collection()
        )
    }

    /// The snapshot merge for `export_date`, from the hooks: the dailies
    /// and the export in the run's format, in the day's layout.
    fn merge_job(&self, ctx: &RunContext, export_date: NaiveDate) -> MergeJob {
        let layout = self.output_layout(ctx);
        let output = layout(export_date);
        MergeJob {
            collection: self.collection().to_string(),
            export_date,
            run_id: ctx.run_id.clone(),
            dest: ctx.dest.clone(),
            s3: ctx.s3.clone(),
            exports_dir: self.exports_dir(),
            daily_dir: Arc::new(move |date| layout(date).data_dir),
            format: output.format,
            orc_compression: ctx.orc_compression,
            rule: self.merge_rule(),
            id_part_dirs: output.id_part_dirs,
            partitions: ctx.partitions,
            file_bytes: ctx.buffer_bytes,
            start: ctx.merge.clone(),
            checks: self
                .checks(&RunContext {
                    update: true,
                    ..ctx.clone()
                })
                .into_iter()
                .filter(|c| c.output == weir_engine::merge::EXPORT)
                .collect(),
        }
    }

    /// Hook: where each day goes, as a function of its date (the day's run
    /// writes with it, the merge reads earlier days with it). The base
    /// layout is the old job's ([`base_layout`]) in the run's format.
    fn output_layout(
        &self,
        ctx: &RunContext,
    ) -> Arc<dyn Fn(NaiveDate) -> OutputSpec + Send + Sync> {
        let (collection, rules) = (self.collection().clone(), self.rules());
        let format = ctx.format.unwrap_or_else(|| self.default_format());
        let compression = ctx.orc_compression;
        Arc::new(move |date| base_layout(&collection, date, format, rules.clone(), compression))
    }

    /// Hook: the collection's tables (built with `--tables`, in this order,
    /// inside the day's commit). The base run has none.
    fn tables(&self) -> Vec<weir_engine::tables::TableDef> {
        Vec::new()
    }

    /// Where the collection's tables go, one directory each (relative to the
    /// destination).
    fn tables_root(&self) -> String {
        format!(
            "{OUTPUT_ROOT}/tables/{}/{}",
            self.collection().db(),
            self.collection().collection()
        )
    }

    /// Hook: post-processing inside the commit. Runs once the day's rows and
    /// quarantine are staged and before anything is published; `day` gives
    /// a DataFusion session where the staged rows are the table `day_rows`,
    /// and stages what the hook derives from them. Everything publishes
    /// together, or (when this fails) nothing does. The base run derives
    /// nothing.
    async fn post_process(
        &self,
        _ctx: &RunContext,
        _day: &StagedDay<'_>,
    ) -> Result<Vec<DerivedOutput>, StepFailed> {
        Ok(Vec::new())
    }
}

/// A collection's day: take the day (one run at a time) → read → decrypt
/// → transform / validate / sanitise → flag corrupt → write →
/// [`Ingester::post_process`] (and the merge under `--update`) → publish
/// all → record the day's status.
pub async fn run_ingester_day(
    ingester: &dyn Ingester,
    ctx: &RunContext,
    export_date: NaiveDate,
) -> (DayJob, DayReport) {
    let job = ingester.day_job(ctx, export_date);
    let collection = ingester.collection().to_string();
    if ctx.update && !matches!(job.output.format, OutputFormat::Orc | OutputFormat::Parquet) {
        // Refused before the day is read: its merge could not run.
        let error = weir_engine::Error::Config {
            field: "--update".to_owned(),
            detail: format!(
                "{collection} {export_date}: the merge reads and writes ORC or Parquet, not {}; nothing done",
                job.output.format.as_str()
            ),
        };
        return (job, refused(&collection, export_date, &error));
    }
    let guard = match DayGuard::begin(ctx, &collection, export_date, RunKind::Run).await {
        Ok(guard) => guard,
        Err(e) => return (job, refused(&collection, export_date, &e)),
    };
    let hook = Hook {
        ingester,
        ctx,
        lease: &guard.lease,
    };
    let report = run_day_with(&job, ctx.runner.as_ref(), Some(&hook)).await;
    guard.end(&report, output_refs(&job, &report)).await;
    (job, report)
}

/// An ingester's post-processing as the engine calls it.
struct Hook<'a> {
    ingester: &'a dyn Ingester,
    ctx: &'a RunContext,
    lease: &'a Lease,
}

#[async_trait::async_trait]
impl PostProcess for Hook<'_> {
    async fn post_process(&self, day: &StagedDay<'_>) -> Result<Vec<DerivedOutput>, StepFailed> {
        let mut outputs = self.ingester.post_process(self.ctx, day).await?;
        if self.ctx.update {
            let job = self.ingester.merge_job(self.ctx, day.job.export_date);
            let (export, _) = stage_merge(&job, &day.job.staging(), Some(day.data), day.runner)
                .await
                .map_err(|e| StepFailed::new("merge", e))?;
            outputs.push(export);
        }
        let tables =
            crate::tables::stage_day_tables(self.ingester, self.ctx, day, &outputs).await?;
        outputs.extend(tables);
        Ok(outputs)
    }

    async fn before_publish(&self) -> Result<(), String> {
        self.lease.check().await
    }
}

/// A collection's snapshot merge alone, over its published dailies; the
/// export publishes by itself, under the day's lease.
pub async fn run_ingester_merge(
    ingester: &dyn Ingester,
    ctx: &RunContext,
    export_date: NaiveDate,
) -> DayReport {
    let collection = ingester.collection().to_string();
    let guard = match DayGuard::begin(ctx, &collection, export_date, RunKind::Merge).await {
        Ok(guard) => guard,
        Err(e) => return refused(&collection, export_date, &e),
    };
    let check = LeaseCheck(&guard.lease);
    let report = run_merge(
        &ingester.merge_job(ctx, export_date),
        ctx.runner.as_ref(),
        Some(&check),
    )
    .await;
    guard.end(&report, merge_refs(&report)).await;
    report
}

/// Only the lease's check before a merge's commit.
struct LeaseCheck<'a>(&'a Lease);

#[async_trait::async_trait]
impl PostProcess for LeaseCheck<'_> {
    async fn post_process(&self, _day: &StagedDay<'_>) -> Result<Vec<DerivedOutput>, StepFailed> {
        Ok(Vec::new())
    }

    async fn before_publish(&self) -> Result<(), String> {
        self.0.check().await
    }
}

/// The outputs a merge published.
pub fn merge_refs(day: &DayReport) -> Vec<OutputRef> {
    day.derived
        .iter()
        .map(|(name, dir)| OutputRef {
            collection: day.collection.clone(),
            export_date: day.export_date.clone(),
            format: name.clone(),
            path: dir.path.clone(),
            version: dir.version,
            rows: Some(dir.rows),
        })
        .collect()
}

/// The collections whose older exporters removed escaped `\r`, `\n` (and
/// `\|`), as spec §5.1 lists them; decided per record from its message.
pub const ESCAPES_STRIPPED: [&str; 3] = [
    "penalties-and-deductions:sanction",
    "core:healthAndDisabilityDeclaration",
    "accepted-data:healthAndDisabilityCircumstances",
];

/// The base run's record rules: the spec's escape stripping, nothing else.
pub fn base_rules() -> RecordRules {
    RecordRules {
        strip_escapes_in: ESCAPES_STRIPPED
            .iter()
            .filter_map(|name| CollectionName::parse(name).ok())
            .collect(),
        ..RecordRules::default()
    }
}

/// The consumer the old estate's K2HB wrote a collection with: `ucfs_main`,
/// or `ucfs_equalities` for the equalities databases.
pub fn default_consumer(collection: &CollectionName) -> &'static str {
    if collection.db().contains("equalit") {
        "ucfs_equalities"
    } else {
        "ucfs_main"
    }
}

/// The old job's layout for a format, under [`OUTPUT_ROOT`].
pub fn base_layout(
    collection: &CollectionName,
    export_date: NaiveDate,
    format: OutputFormat,
    rules: RecordRules,
    orc_compression: OrcCompression,
) -> OutputSpec {
    let (db, coll) = (collection.db(), collection.collection());
    let data_dir = match format {
        OutputFormat::Orc => format!(
            "{OUTPUT_ROOT}/orc/daily/{db}/{coll}/export_year={}/export_month={:02}/export_day={:02}",
            export_date.year(),
            export_date.month(),
            export_date.day()
        ),
        OutputFormat::Text => format!("{OUTPUT_ROOT}/json/daily/{export_date}/{db}/{coll}"),
        OutputFormat::Parquet => {
            format!("{OUTPUT_ROOT}/parquet/daily/{db}/{coll}/export_date={export_date}")
        }
        OutputFormat::Jsonl => {
            format!("{OUTPUT_ROOT}/jsonl/daily/{db}/{coll}/export_date={export_date}")
        }
    };
    OutputSpec {
        format,
        data_dir,
        quarantine_dir: format!("{OUTPUT_ROOT}/_corrupt/{db}/{coll}/export_date={export_date}"),
        id_part_dirs: rules.id_part && matches!(format, OutputFormat::Orc | OutputFormat::Parquet),
        orc_compression,
    }
}

/// Any collection without particular needs, with the rules given.
#[derive(Debug, Clone)]
pub struct BaseIngester {
    collection: CollectionName,
    rules: RecordRules,
}

impl BaseIngester {
    /// The base ingester of `collection`, with `rules`.
    pub fn new(collection: CollectionName, rules: RecordRules) -> Self {
        Self { collection, rules }
    }
}

impl Ingester for BaseIngester {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn rules(&self) -> RecordRules {
        self.rules.clone()
    }
}
