//! A whole run: every collection and export date, days concurrently up to a
//! bound, one report.

use std::time::Instant;

use chrono::NaiveDate;
use futures::stream::{self, StreamExt};
use weir_engine::record::CollectionName;
use weir_engine::report::{RunReport, RunStatus};
use weir_engine::run::{cleanup_run, output_refs};

use crate::{Registry, RunContext, run_ingester_day};

/// Runs `collections` × `dates`; a failed day does not stop the others.
pub async fn run_all(
    ctx: &RunContext,
    registry: &Registry,
    collections: &[CollectionName],
    dates: &[NaiveDate],
    max_concurrent_days: usize,
) -> RunReport {
    let started = Instant::now();
    let work: Vec<(CollectionName, NaiveDate)> = collections
        .iter()
        .flat_map(|c| dates.iter().map(move |d| (c.clone(), *d)))
        .collect();
    let mut results: Vec<_> = stream::iter(work)
        .map(|(collection, date)| async move {
            let ingester = registry.ingester(&collection);
            run_ingester_day(ingester.as_ref(), ctx, date).await
        })
        .buffer_unordered(max_concurrent_days.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| {
        (&a.1.collection, &a.1.export_date).cmp(&(&b.1.collection, &b.1.export_date))
    });
    cleanup_run(&ctx.dest, &ctx.s3, &ctx.run_id).await;
    let mut report = RunReport {
        run_id: ctx.run_id.clone(),
        source: ctx.source.clone(),
        dest: ctx.dest.clone(),
        ..RunReport::default()
    };
    for (job, day) in results {
        report.outputs.extend(output_refs(&job, &day));
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
