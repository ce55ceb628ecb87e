//! `weir check`: the collections' data checks on the days as published
//! (`weir_ingesters::check_published`), printed as a table or JSON; exit 1
//! when a check of severity `error` fails.

use std::process::ExitCode;

use weir_engine::checks::{CheckResult, Verdict};
use weir_ingesters::Registry;

use crate::cli::StatusArgs;
use crate::config::RunSettings;
use crate::error::Error;

#[derive(serde::Serialize)]
struct DayChecks {
    collection: String,
    export_date: String,
    checks: Vec<CheckResult>,
}

pub(crate) fn run(args: &StatusArgs, registry: &Registry) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve_merge(&args.run)?;
    let days = crate::runtime()?.block_on(async {
        let runner = crate::run::runner(&settings).await?;
        let ctx = crate::run::context(&settings, runner)?;
        let mut days = Vec::new();
        for collection in &settings.collections {
            let ingester = registry.ingester(collection);
            for date in &settings.dates {
                let checks = weir_ingesters::check_published(ingester.as_ref(), &ctx, *date)
                    .await
                    .map_err(Error::Engine)?;
                days.push(DayChecks {
                    collection: collection.to_string(),
                    export_date: date.to_string(),
                    checks,
                });
            }
        }
        Ok::<_, Error>(days)
    })?;
    let blocked = days.iter().flat_map(|d| &d.checks).any(CheckResult::blocks);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&days).unwrap_or_default()
        );
    } else {
        for day in &days {
            println!("{} {}", day.collection, day.export_date);
            if day.checks.is_empty() {
                println!("  no checks configured");
            }
            for c in &day.checks {
                let verdict = match c.verdict {
                    Verdict::Passed => "passed",
                    Verdict::Failed => "FAILED",
                    Verdict::Skipped => "skipped",
                };
                println!("  {verdict:<8} {:?}: {}", c.severity, c.summary());
            }
        }
    }
    Ok(if blocked {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
