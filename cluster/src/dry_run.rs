//! `weir run --dry-run`: per day, what the run would read (input files and
//! bytes), what it would replace, and where the day stands; it writes
//! nothing, takes no day and calls no key service.

use std::process::ExitCode;
use std::sync::Arc;

use weir_engine::output::published_files;
use weir_engine::run::LocalRunner;
use weir_engine::status::StatusStore;
use weir_engine::storage::Location;
use weir_ingesters::Registry;

use crate::config::RunSettings;
use crate::error::Error;

pub(crate) async fn run(settings: &RunSettings, registry: &Registry) -> Result<ExitCode, Error> {
    let runner =
        Arc::new(LocalRunner::new(1, &settings.dks, settings.cache, None).map_err(Error::Engine)?);
    let ctx = crate::run::context(settings, runner)?;
    let dest = Location::parse(&settings.dest, &settings.s3).map_err(Error::Engine)?;
    let store = StatusStore::new(dest.clone());
    println!("dry run: nothing is written, no day is taken");
    for collection in &settings.collections {
        let ingester = registry.ingester(collection);
        let name = collection.to_string();
        for date in &settings.dates {
            let job = ingester.day_job(&ctx, *date);
            println!("{name} {date} (landing {}):", job.landing_date());
            match job.list_input().await {
                Ok((source, files, skipped)) => {
                    let bytes: u64 = files.iter().map(|f| f.size).sum();
                    println!(
                        "  reads {} files, {:.1} MB, under {}{}",
                        files.len(),
                        bytes as f64 / 1e6,
                        source.display(&source.child(&job.input_prefix)),
                        if skipped.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} other files not read)", skipped.len())
                        }
                    );
                }
                Err(e) => println!("  cannot list its input: {e}"),
            }
            let mut dirs = vec![
                job.output.data_dir.clone(),
                job.output.quarantine_dir.clone(),
            ];
            if settings.update {
                dirs.push(ingester.merge_job(&ctx, *date).export_dir(*date));
            }
            for dir in dirs {
                let path = dest.child(&dir);
                let now = match published_files(&dest, &path).await {
                    Ok(Some(files)) => format!("replaces {} published files", files.len()),
                    Ok(None) => "new".to_owned(),
                    Err(e) => format!("cannot tell: {e}"),
                };
                println!("  writes {} ({now})", dest.display(&path));
            }
            let latest = store.latest_of(&name, *date).await;
            let status = match &latest {
                Ok(Some(r)) => format!(
                    "{} by run {} at {}",
                    r.state,
                    r.run_id,
                    r.started_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                Ok(None) => "never run".to_owned(),
                Err(e) => format!("cannot tell: {e}"),
            };
            let runs = ctx.reprocess.runs(latest.ok().flatten().as_ref());
            println!(
                "  status: {status}; --reprocess {} {}",
                ctx.reprocess.as_str(),
                if runs { "runs it" } else { "skips it" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
