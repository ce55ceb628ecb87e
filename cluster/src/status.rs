//! `weir status` and `weir history`: what ran on each day, from the status
//! objects under the destination (see `weir_engine::status`).

use std::process::ExitCode;

use weir_engine::status::{DayRun, StatusStore};
use weir_engine::storage::Location;

use crate::cli::{RetractArgs, StatusArgs, VacuumArgs};
use crate::config::RunSettings;
use crate::error::Error;

/// Which runs to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// The latest of each day.
    Latest,
    /// All of them.
    History,
}

/// Days shown when no date is given.
const DEFAULT_DAYS: i64 = 7;

pub(crate) fn run(args: &StatusArgs, view: View) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve_merge(&args.run)?;
    let dated = args.run.date.is_some() || args.run.start_date.is_some();
    let (from, to) = match (dated, settings.dates.first(), settings.dates.last()) {
        (true, Some(first), Some(last)) => (*first, *last),
        _ => {
            let today = chrono::Utc::now().date_naive();
            (today - chrono::Duration::days(DEFAULT_DAYS - 1), today)
        }
    };
    let dest = Location::parse(&settings.dest, &settings.s3).map_err(Error::Engine)?;
    let store = StatusStore::new(dest);
    let runs: Vec<DayRun> = crate::runtime()?
        .block_on(async {
            let mut runs = Vec::new();
            for collection in &settings.collections {
                let name = collection.to_string();
                match view {
                    View::Latest => runs.extend(store.latest(&name, from, to).await?),
                    View::History => {
                        let mut date = from;
                        while date <= to {
                            runs.extend(store.history(&name, date).await?);
                            match date.succ_opt() {
                                Some(next) => date = next,
                                None => break,
                            }
                        }
                    }
                }
            }
            Ok::<_, weir_engine::Error>(runs)
        })
        .map_err(Error::Engine)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32} {:<10} {:<11} {:<27} {:<20} {:>8} {:>10} {:>10} {:>8}",
        "collection",
        "export",
        "status",
        "run",
        "started (UTC)",
        "seconds",
        "records",
        "rows",
        "corrupt"
    );
    for r in &runs {
        let seconds = r
            .ended_at
            .map(|end| {
                format!(
                    "{:.1}",
                    (end - r.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{:<32} {:<10} {:<11} {:<27} {:<20} {:>8} {:>10} {:>10} {:>8}",
            r.collection,
            r.export_date,
            r.state.to_string(),
            r.run_id,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            seconds,
            r.records_in,
            r.records_out,
            r.corrupt
        );
        if let Some(e) = &r.error {
            println!("    error: {e}");
        }
        if let Some(note) = &r.note {
            println!("    {note}");
        }
        if let Some(dead) = &r.took_over_from {
            println!("    took the day over from run {dead}, which died holding it");
        }
    }
    if runs.is_empty() {
        println!("no runs recorded for {from}..{to}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `weir retract`: each day under its lease; exit 1 when one could not be
/// retracted.
pub(crate) fn retract(args: &RetractArgs) -> Result<ExitCode, Error> {
    use weir_engine::status::{Lease, host_name};
    let settings = RunSettings::resolve_merge(&args.run)?;
    if args.reason.trim().is_empty() {
        return Err(Error::usage("--reason", "say why the day is taken back"));
    }
    let run_id = settings
        .run_id
        .clone()
        .unwrap_or_else(crate::run::new_run_id);
    let who = format!(
        "{}@{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()),
        host_name()
    );
    let dest = Location::parse(&settings.dest, &settings.s3).map_err(Error::Engine)?;
    let mut failed = false;
    crate::runtime()?.block_on(async {
        for collection in &settings.collections {
            let name = collection.to_string();
            for date in &settings.dates {
                let lease =
                    match Lease::take(&dest, &name, *date, &run_id, settings.lease_ttl).await {
                        Ok(lease) => lease,
                        Err(e) => {
                            println!("{name} {date}: not retracted: {e}");
                            failed = true;
                            continue;
                        }
                    };
                if let Some(dead) = &lease.took_over
                    && let Err(e) =
                        weir_ingesters::recover_dead_run(&dest, &name, *date, &dead.run_id, &run_id)
                            .await
                {
                    println!(
                        "{name} {date}: not retracted: recovering dead run {}: {e}",
                        dead.run_id
                    );
                    failed = true;
                    lease.release().await;
                    continue;
                }
                match weir_engine::status::retract::retract(
                    &dest,
                    &name,
                    *date,
                    &run_id,
                    &who,
                    &args.reason,
                )
                .await
                {
                    Ok(done) => {
                        println!("{name} {date}: run {}'s output retracted", done.run.run_id);
                        for (from, to) in &done.moved {
                            println!("  {from} -> {to}");
                        }
                        for (path, by) in &done.restored {
                            println!("  {path}: run {by}'s version restored");
                        }
                        for (table, version) in &done.undone {
                            println!("  {table}: the run's commit taken back (version {version})");
                        }
                    }
                    Err(e) => {
                        println!("{name} {date}: not retracted: {e}");
                        failed = true;
                    }
                }
                lease.release().await;
            }
        }
    });
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `weir vacuum`: deletes retracted output older than `--older-than`.
pub(crate) fn vacuum(
    args: &VacuumArgs,
    registry: &weir_ingesters::Registry,
) -> Result<ExitCode, Error> {
    let text = args.older_than.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: i64 = number.parse().map_err(|_| {
        Error::usage(
            "--older-than",
            format!("{text:?}: a number of days (7d) or hours (36h)"),
        )
    })?;
    let older_than = match unit {
        "d" => chrono::Duration::days(number),
        "h" => chrono::Duration::hours(number),
        _ => {
            return Err(Error::usage(
                "--older-than",
                format!("{text:?}: a number of days (7d) or hours (36h)"),
            ));
        }
    };
    let s3 = crate::config::s3_settings(args.config.as_deref())?;
    let dest = Location::parse(&args.dest, &s3).map_err(Error::Engine)?;
    let retention = crate::config::retention(args.config.as_deref())?;
    let runtime = crate::runtime()?;
    let deleted = runtime
        .block_on(weir_engine::status::retract::vacuum(&dest, older_than))
        .map_err(Error::Engine)?;
    println!("vacuum: {deleted} retracted or replaced files older than {text} deleted");
    let (days, tables): (Vec<_>, Vec<_>) = retention.into_iter().partition(|r| r.table.is_none());
    let mut failed = runtime.block_on(expire_days(&dest, &days))?;
    for rule in &tables {
        failed |= runtime.block_on(expire_table(args, registry, &dest, rule))?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Retention: each collection's days older than its `expire_after_days`
/// lose their output, each under its lease; `true` when one could not.
async fn expire_days(
    dest: &Location,
    retention: &[crate::config::Retention],
) -> Result<bool, Error> {
    use weir_engine::status::Lease;
    use weir_engine::status::retention::{due, expire};
    let run_id = crate::run::new_run_id();
    let ttl = std::time::Duration::from_secs(crate::config::DEFAULT_LEASE_TTL_SECS);
    let mut failed = false;
    for rule in retention {
        let (collection, days) = (&rule.collection, &rule.expire_after_days);
        let name = collection.to_string();
        for latest in due(dest, &name, *days).await.map_err(Error::Engine)? {
            let date = &latest.export_date;
            let Ok(export_date) = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
                continue;
            };
            let lease = match Lease::take(dest, &name, export_date, &run_id, ttl).await {
                Ok(lease) => lease,
                Err(e) => {
                    println!("{name} {date}: not expired: {e}");
                    failed = true;
                    continue;
                }
            };
            match expire(dest, &latest, *days, &run_id).await {
                Ok(done) => println!(
                    "{name} {date}: expired (older than {days} days), {} directories deleted",
                    done.deleted.len()
                ),
                Err(e) => {
                    println!("{name} {date}: not expired: {e}");
                    failed = true;
                }
            }
            lease.release().await;
        }
    }
    Ok(failed)
}

/// A table's retention: its day partitions past the rule's days removed
/// (`weir_engine::status::retention::expire_table`). The table is the
/// collection's, with the config's `[[tables]]`; one rebuilt whole has no
/// days and is refused.
async fn expire_table(
    args: &VacuumArgs,
    registry: &weir_ingesters::Registry,
    dest: &Location,
    rule: &crate::config::Retention,
) -> Result<bool, Error> {
    let name = rule.table.clone().unwrap_or_default();
    let run_args = crate::cli::RunArgs {
        config: args.config.clone(),
        dest: Some(args.dest.clone()),
        collections: vec![rule.collection.to_string()],
        date: Some(chrono::Utc::now().date_naive().to_string()),
        ..crate::cli::RunArgs::default()
    };
    let settings = crate::config::RunSettings::resolve_merge(&run_args)?;
    let ingester = registry.ingester(&rule.collection);
    let def = settings
        .tables
        .named(ingester.as_ref(), &name)
        .map_err(|detail| Error::usage("[[retention]] table", detail))?;
    if def.replace != weir_engine::tables::Replace::Day {
        return Err(Error::usage(
            "[[retention]] table",
            format!("{name} is rebuilt whole (replace = \"table\"): it has no days to expire"),
        ));
    }
    let table_dir = def.dir(&ingester.tables_root());
    let run_id = crate::run::new_run_id();
    match weir_engine::status::retention::expire_table(
        dest,
        &table_dir,
        &def.day_column,
        rule.expire_after_days,
        &run_id,
    )
    .await
    {
        Ok(days) => {
            println!(
                "{} table {name}: {} day partitions older than {} days removed{}",
                rule.collection,
                days.len(),
                rule.expire_after_days,
                if days.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", days.join(", "))
                }
            );
            Ok(false)
        }
        Err(e) => {
            println!("{} table {name}: not expired: {e}", rule.collection);
            Ok(true)
        }
    }
}
