//! The `Ingester` trait: a collection's daily run, composed from the engine's
//! operators, with hooks collections override.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use weir_engine::exec::IngestSpec;
use weir_engine::output::{OrcCompression, OutputFormat, OutputSpec};
use weir_engine::record::{Cipher, CollectionName, RecordRules};
use weir_engine::report::DayReport;
use weir_engine::run::{DayJob, MissingInput, PlanRunner, run_day};
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
    /// Where plans run (it also carries the key service's settings, which
    /// travel in the session config).
    pub runner: Arc<dyn PlanRunner>,
}

/// The root of everything Weir publishes under the destination.
pub const OUTPUT_ROOT: &str = "corporate_data_ingestion";

/// A collection's ingestion. The provided methods are the base run; a
/// collection overrides the hooks it needs.
#[async_trait::async_trait]
pub trait Ingester: Send + Sync + std::fmt::Debug {
    /// The collection.
    fn collection(&self) -> &CollectionName;

    /// Hook: the record rules (spec §3, §7).
    fn rules(&self) -> RecordRules {
        RecordRules::for_collection(self.collection())
    }

    /// Hook: the format when the run does not force one.
    fn default_format(&self) -> OutputFormat {
        OutputFormat::Parquet
    }

    /// Hook: where a day goes. The base layout follows the old job's.
    fn output(&self, ctx: &RunContext, export_date: NaiveDate) -> OutputSpec {
        let format = ctx.format.unwrap_or_else(|| self.default_format());
        base_layout(
            self.collection(),
            export_date,
            format,
            self.rules(),
            ctx.orc_compression,
        )
    }

    /// The day's job, from the hooks.
    fn day_job(&self, ctx: &RunContext, export_date: NaiveDate) -> DayJob {
        DayJob {
            run_id: ctx.run_id.clone(),
            export_date,
            source: ctx.source.clone(),
            dest: ctx.dest.clone(),
            ingest: IngestSpec {
                collection: self.collection().clone(),
                rules: self.rules(),
                cipher: ctx.cipher,
                // The day's staging prefix; `DayJob::plan` sets it.
                scope: String::new(),
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
        }
    }

    /// The base run of one day: read → decrypt → transform / validate /
    /// sanitise → flag corrupt → write → publish, then [`Ingester::after_publish`].
    async fn run_day(&self, ctx: &RunContext, export_date: NaiveDate) -> (DayJob, DayReport) {
        let job = self.day_job(ctx, export_date);
        let mut report = run_day(&job, ctx.runner.as_ref()).await;
        if report.status == "published"
            && let Err(e) = self.after_publish(ctx, &job, &report).await
        {
            report.status = "failed".to_owned();
            report.error = Some(format!("after publishing: {e}"));
        }
        (job, report)
    }

    /// Hook: work after the day is published (post-processing tables,
    /// snapshot merges). The base run does nothing.
    async fn after_publish(
        &self,
        _ctx: &RunContext,
        _job: &DayJob,
        _report: &DayReport,
    ) -> weir_engine::Result<()> {
        Ok(())
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

/// Any collection without particular needs.
#[derive(Debug, Clone)]
pub struct BaseIngester {
    collection: CollectionName,
    rules: RecordRules,
}

impl BaseIngester {
    /// The base ingester with the given rules.
    pub fn new(collection: CollectionName, rules: RecordRules) -> Self {
        Self { collection, rules }
    }
}

impl Ingester for BaseIngester {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn rules(&self) -> RecordRules {
        self.rules
    }
}

/// `calculator:calculationParts`: daily ORC with `id_part` directories, as
/// the old job wrote. (The snapshot merge will hang off `after_publish`.)
#[derive(Debug, Clone)]
pub struct CalculationPartsIngester {
    collection: CollectionName,
}

impl CalculationPartsIngester {
    /// The calculationParts ingester.
    pub fn new() -> Self {
        Self {
            collection: CollectionName::parse("calculator:calculationParts")
                .unwrap_or_else(|_| unreachable!("a valid literal")),
        }
    }
}

impl Default for CalculationPartsIngester {
    fn default() -> Self {
        Self::new()
    }
}

impl Ingester for CalculationPartsIngester {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn default_format(&self) -> OutputFormat {
        OutputFormat::Orc
    }
}

/// `data:businessAudit`: the `val` text per day, as the old job wrote. (The
/// post-processing SQL will hang off `after_publish`.)
#[derive(Debug, Clone)]
pub struct BusinessAuditIngester {
    collection: CollectionName,
}

impl BusinessAuditIngester {
    /// The businessAudit ingester.
    pub fn new() -> Self {
        Self {
            collection: CollectionName::parse("data:businessAudit")
                .unwrap_or_else(|_| unreachable!("a valid literal")),
        }
    }
}

impl Default for BusinessAuditIngester {
    fn default() -> Self {
        Self::new()
    }
}

impl Ingester for BusinessAuditIngester {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn default_format(&self) -> OutputFormat {
        OutputFormat::Text
    }
}
