//! A whole run: every collection and export date, days concurrently up to a
//! bound (one after another when each merges into the export the day before
//! published), one report.

use std::time::Instant;

use chrono::NaiveDate;
use futures::stream::{self, StreamExt};
use weir_engine::merge::MergeStart;
use weir_engine::record::CollectionName;
use weir_engine::report::{DayReport, DayStatus, OutputRef, RunReport, RunStatus};
use weir_engine::run::{cleanup_run, output_refs};
use weir_engine::status::{Reprocess, StatusStore};
use weir_engine::storage::Location;

use crate::{Registry, RunContext, merge_refs, run_ingester_day, run_ingester_merge};

/// Runs `collections` × `dates`; a failed day does not stop the others.
/// Under `--update` a collection's days run in date order (each merges into
/// the export the day before published).
pub async fn run_all(
    ctx: &RunContext,
    registry: &Registry,
    collections: &[CollectionName],
    dates: &[NaiveDate],
    max_concurrent_days: usize,
) -> RunReport {
    let started = Instant::now();
    let mut results: Vec<(Vec<OutputRef>, DayReport)> = if ctx.update {
        in_date_order(
            ctx,
            registry,
            collections,
            dates,
            async |ingester, ctx, date| {
                let (job, day) = run_ingester_day(ingester, ctx, date).await;
                (output_refs(&job, &day), day)
            },
        )
        .await
    } else {
        let work: Vec<(CollectionName, NaiveDate)> = collections
            .iter()
            .flat_map(|c| dates.iter().map(move |d| (c.clone(), *d)))
            .collect();
        stream::iter(work)
            .map(|(collection, date)| async move {
                if let Some(done) = already_done(ctx, &collection, date).await {
                    return (Vec::new(), done);
                }
                let ingester = registry.ingester(&collection);
                let (job, day) = run_ingester_day(ingester.as_ref(), ctx, date).await;
                (output_refs(&job, &day), day)
            })
            .buffer_unordered(max_concurrent_days.max(1))
            .collect()
            .await
    };
    results.sort_by(|a, b| {
        (&a.1.collection, &a.1.export_date).cmp(&(&b.1.collection, &b.1.export_date))
    });
    cleanup_run(&ctx.dest, &ctx.s3, &ctx.run_id).await;
    report_of(ctx, results, started)
}

/// `weir merge`: each collection's export for each date, in date order,
/// over the dailies already published; each export publishes by itself.
pub async fn run_all_merges(
    ctx: &RunContext,
    registry: &Registry,
    collections: &[CollectionName],
    dates: &[NaiveDate],
) -> RunReport {
    let started = Instant::now();
    let results = in_date_order(
        ctx,
        registry,
        collections,
        dates,
        async |ingester, ctx, date| {
            let day = run_ingester_merge(ingester, ctx, date).await;
            (merge_refs(&day), day)
        },
    )
    .await;
    cleanup_run(&ctx.dest, &ctx.s3, &ctx.run_id).await;
    report_of(ctx, results, started)
}

/// Each collection's days one after another, in date order (each may
/// read what the day before published), skipping what `--reprocess`
/// leaves alone.
async fn in_date_order(
    ctx: &RunContext,
    registry: &Registry,
    collections: &[CollectionName],
    dates: &[NaiveDate],
    day: impl AsyncFn(&dyn crate::Ingester, &RunContext, NaiveDate) -> (Vec<OutputRef>, DayReport),
) -> Vec<(Vec<OutputRef>, DayReport)> {
    let mut results = Vec::new();
    for collection in collections {
        let ingester = registry.ingester(collection);
        for (i, date) in dates.iter().enumerate() {
            if let Some(done) = already_done(ctx, collection, *date).await {
                results.push((Vec::new(), done));
                continue;
            }
            results.push(day(ingester.as_ref(), &later_dates(ctx, i), *date).await);
        }
    }
    results
}

/// The report of a day `--reprocess` leaves alone, from its status; `None`
/// when the day is to run (a status that cannot be read runs the day: the
/// lease still keeps it to one run).
async fn already_done(
    ctx: &RunContext,
    collection: &CollectionName,
    date: NaiveDate,
) -> Option<DayReport> {
    if ctx.reprocess == Reprocess::All {
        return None;
    }
    let dest = Location::parse(&ctx.dest, &ctx.s3).ok()?;
    let latest = match StatusStore::new(dest)
        .latest_of(&collection.to_string(), date)
        .await
    {
        Ok(latest) => latest,
        Err(e) => {
            tracing::warn!(%collection, %date, error = %e, "could not read the day's status; running it");
            return None;
        }
    };
    if ctx.reprocess.runs(latest.as_ref()) {
        return None;
    }
    let why = latest.map_or_else(
        || "never run".to_owned(),
        |r| {
            format!(
                "{} by run {} at {}",
                r.state,
                r.run_id,
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        },
    );
    Some(DayReport {
        collection: collection.to_string(),
        export_date: date.to_string(),
        landing_date: weir_engine::layout::landing_date(date).to_string(),
        status: DayStatus::Skipped,
        note: Some(format!(
            "{why}; not run again under --reprocess {}",
            ctx.reprocess.as_str()
        )),
        ..DayReport::default()
    })
}

/// The context of a range's `i`-th date: after the first, a merge starts
/// from the export the date before published, not from what the run named.
fn later_dates(ctx: &RunContext, i: usize) -> RunContext {
    let mut ctx = ctx.clone();
    if i > 0 {
        ctx.merge = MergeStart {
            allow_missing_days: ctx.merge.allow_missing_days,
            ..MergeStart::default()
        };
    }
    ctx
}

fn report_of(
    ctx: &RunContext,
    results: Vec<(Vec<OutputRef>, DayReport)>,
    started: Instant,
) -> RunReport {
    let mut report = RunReport {
        run_id: ctx.run_id.clone(),
        source: ctx.source.clone(),
        dest: ctx.dest.clone(),
        ..RunReport::default()
    };
    for (refs, day) in results {
        report.outputs.extend(refs);
        report.days.push(day);
    }
    report.status = if report.succeeded() {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    for day in &report.days {
        report.dks = report.dks.add(&day.dks);
        for (executor, stats) in &day.dks_by_executor {
            let total = report.dks_by_executor.entry(executor.clone()).or_default();
            *total = total.add(stats);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    let records: u64 = report.days.iter().map(|d| d.records_in).sum();
    report.records_per_sec = records as f64 / report.seconds.max(1e-9);
    report
}
