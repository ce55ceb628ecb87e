//! `weir status` and `weir history`: what ran on each day, from the status
//! objects under the destination (see `weir_engine::status`).

use std::process::ExitCode;

use weir_engine::status::{DayRun, StatusStore};
use weir_engine::storage::Location;

use crate::cli::StatusArgs;
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
        if let Some(dead) = &r.took_over_from {
            println!("    took the day over from run {dead}, which died holding it");
        }
    }
    if runs.is_empty() {
        println!("no runs recorded for {from}..{to}");
    }
    Ok(ExitCode::SUCCESS)
}
