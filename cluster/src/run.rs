//! `weir run`: the daily job and backfills, in-process on DataFusion.

use std::process::ExitCode;
use std::sync::Arc;

use weir_engine::keys::correlation_id;
use weir_engine::report::RunReport;
use weir_engine::run::{LocalRunner, PlanRunner};
use weir_ingesters::{Registry, RunContext, run_all, run_all_merges};

use crate::cli::RunArgs;
use crate::config::RunSettings;
use crate::error::Error;
use crate::progress::ProgressDisplay;
use crate::remote::BallistaRunner;
use crate::summary::print_summary;

pub(crate) fn run(args: &RunArgs, registry: &Registry) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve(args)?;
    crate::runtime()?.block_on(async {
        if settings.dry_run {
            return crate::dry_run::run(&settings, registry).await;
        }
        let report = execute(&settings, registry, Command::Run).await?;
        finish(&settings, &report)
    })
}

/// `weir merge`: the snapshot merge alone, over published dailies.
pub(crate) fn merge(args: &RunArgs, registry: &Registry) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve_merge(args)?;
    crate::runtime()?.block_on(async {
        let report = execute(&settings, registry, Command::Merge).await?;
        finish(&settings, &report)
    })
}

/// What [`execute`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// The days (and their merges under `--update`).
    Run,
    /// The merges alone.
    Merge,
}

/// The run's id: time-ordered and unique enough for staging paths.
pub(crate) fn new_run_id() -> String {
    format!(
        "{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand_u32()
    )
}

fn rand_u32() -> u32 {
    // The correlation id already mixes pid and time; hash it down.
    correlation_id().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Runs the settings (in-process, or on the cluster they name) and returns
/// the report. Only a cluster that cannot be reached stops the run before
/// its days.
pub(crate) async fn execute(
    settings: &RunSettings,
    registry: &Registry,
    command: Command,
) -> Result<RunReport, Error> {
    if settings.memory_limit.is_some() {
        crate::memory::return_memory_promptly();
    }
    let runner = runner(settings).await?;
    let ctx = context(settings, runner)?;
    if command == Command::Merge {
        return Ok(run_all_merges(&ctx, registry, &settings.collections, &settings.dates).await);
    }
    // Executors count their progress in their own processes; a cluster run
    // reports per day as days finish.
    let display = settings.cluster.is_none().then(ProgressDisplay::start);
    let report = run_all(
        &ctx,
        registry,
        &settings.collections,
        &settings.dates,
        settings.max_concurrent_days,
    )
    .await;
    if let Some(display) = display {
        display.stop().await;
    }
    Ok(report)
}

/// Where the settings' plans run: the cluster they name, or this process.
pub(crate) async fn runner(settings: &RunSettings) -> Result<Arc<dyn PlanRunner>, Error> {
    Ok(match &settings.cluster {
        Some(url) => Arc::new(
            BallistaRunner::connect(url, settings.partitions, &settings.dks, settings.cache)
                .await?,
        ),
        None => Arc::new(
            LocalRunner::new(
                settings.partitions,
                &settings.dks,
                settings.cache,
                settings.memory_limit,
            )
            .map_err(Error::Engine)?,
        ),
    })
}

/// The run's context from its settings.
pub(crate) fn context(
    settings: &RunSettings,
    runner: Arc<dyn PlanRunner>,
) -> Result<RunContext, Error> {
    let dynamodb = settings
        .dynamodb
        .as_ref()
        .map(weir_engine::status::DynamoStatus::new)
        .transpose()
        .map_err(Error::Engine)?;
    Ok(RunContext {
        run_id: settings.run_id.clone().unwrap_or_else(new_run_id),
        source: settings.source.clone(),
        dest: settings.dest.clone(),
        cipher: settings.cipher,
        format: settings.format,
        orc_compression: settings.orc_compression,
        max_corrupt_ratio: settings.max_corrupt_ratio,
        max_corrupt: settings.max_corrupt,
        partitions: settings.partitions,
        batch_lines: settings.batch_lines,
        max_line_bytes: settings.max_line_bytes,
        batch_bytes: settings.batch_bytes(),
        buffer_bytes: settings.buffer_bytes,
        s3: settings.s3.clone(),
        on_missing_input: settings.on_missing_input,
        allow_empty: settings.allow_empty,
        archive_input: settings.archive_input.clone(),
        source_archive: settings.source_archive,
        update: settings.update,
        tables: settings.tables.clone(),
        checks: settings.checks.clone(),
        merge: settings.merge.clone(),
        lease_ttl: settings.lease_ttl,
        reprocess: settings.reprocess,
        dynamodb,
        runner,
    })
}

/// Prints the summary, writes the report, and gives the exit code.
pub(crate) fn finish(settings: &RunSettings, report: &RunReport) -> Result<ExitCode, Error> {
    print_summary(report);
    if let Some(path) = &settings.metrics_file {
        crate::metrics::write(path, report)?;
    }
    if let Some(path) = &settings.report {
        let json = serde_json::to_vec_pretty(report).unwrap_or_default();
        std::fs::write(path, json)
            .map_err(|e| Error::usage("--report", format!("{}: {e}", path.display())))?;
        println!("report: {}", path.display());
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
