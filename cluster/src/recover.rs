//! `weir recover`: finishes what dead runs left, without running anything.
//! Every day with a staging area under the destination (of the collections
//! and dates given) is taken under its lease; a day whose holder died (its
//! lease expired) is recovered as a run taking it over would do it
//! (`weir_ingesters::recover_dead_run`: its commit rolled back if cut
//! short, its Delta commits taken back, its staging removed, its status
//! FAILED). A day a live run holds is left alone and named.

use std::collections::BTreeMap;
use std::process::ExitCode;

use weir_engine::status::{Lease, day_key};
use weir_engine::storage::Location;

use crate::cli::StatusArgs;
use crate::config::RunSettings;
use crate::error::Error;

pub(crate) fn run(args: &StatusArgs) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve_merge(&args.run)?;
    let dated = args.run.date.is_some() || args.run.start_date.is_some();
    let run_id = settings
        .run_id
        .clone()
        .unwrap_or_else(crate::run::new_run_id);
    let dest = Location::parse(&settings.dest, &settings.s3).map_err(Error::Engine)?;
    let names: BTreeMap<String, String> = settings
        .collections
        .iter()
        .map(|c| (day_key(&c.to_string()), c.to_string()))
        .collect();
    let mut failed = false;
    crate::runtime()?
        .block_on(async {
            let days = weir_engine::output::staged_days(&dest).await?;
            let mut seen = 0;
            for ((key, date), runs) in days {
                let Some(name) = names.get(&key) else {
                    continue;
                };
                if dated && !settings.dates.contains(&date) {
                    continue;
                }
                seen += 1;
                let lease = match Lease::take(&dest, name, date, &run_id, settings.lease_ttl).await
                {
                    Ok(lease) => lease,
                    Err(e) => {
                        println!("{name} {date}: left alone: {e}");
                        continue;
                    }
                };
                // The lease is ours: every run that staged this day is dead
                // (the one whose expired lease we took, and any older one
                // whose clean-up did not finish).
                let mut outcome = Ok(());
                for dead in runs.iter().filter(|r| **r != run_id) {
                    outcome =
                        weir_ingesters::recover_dead_run(&dest, name, date, dead, &run_id).await;
                    match &outcome {
                        Ok(()) => println!("{name} {date}: recovered what run {dead} left"),
                        Err(e) => {
                            println!("{name} {date}: run {dead} not recovered: {e}");
                            break;
                        }
                    }
                }
                failed |= outcome.is_err();
                lease.release().await;
            }
            if seen == 0 {
                println!("nothing to recover: no staging of the collections and dates given");
            }
            Ok::<_, weir_engine::Error>(())
        })
        .map_err(Error::Engine)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
