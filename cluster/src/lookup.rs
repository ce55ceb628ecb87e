//! `weir lookup`: rows by id from a published day, export or table
//! (`weir_ingesters::lookup_published`), printed as JSON lines on standard
//! output; what it read on standard error. Ids are never printed back: a
//! missing one is named by its position. Exit 1 when an id has no row.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use weir_ingesters::{Dataset, Registry};

use crate::cli::LookupArgs;
use crate::config::RunSettings;
use crate::error::Error;

pub(crate) fn run(args: &LookupArgs, registry: &Registry) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve_merge(&args.run)?;
    let ([collection], [date]) = (&settings.collections[..], &settings.dates[..]) else {
        return Err(Error::usage(
            "--collection",
            "a lookup reads one collection on one --date",
        ));
    };
    let from_stdin = args.ids.is_empty();
    let ids: Vec<String> = if from_stdin {
        std::io::stdin()
            .lock()
            .lines()
            .map(|l| l.map(|l| l.trim_end_matches('\r').to_owned()))
            .filter(|l| !matches!(l, Ok(l) if l.is_empty()))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::usage("standard input", e.to_string()))?
    } else {
        args.ids.clone()
    };
    if ids.is_empty() {
        return Err(Error::usage(
            "ids",
            "give ids as arguments or one per line on standard input",
        ));
    }
    let dataset = match (&args.table, args.export) {
        (Some(t), _) => Dataset::Table(t.clone()),
        (None, true) => Dataset::Export,
        (None, false) => Dataset::Daily,
    };
    let started = std::time::Instant::now();
    let found = crate::runtime()?.block_on(async {
        let runner = crate::run::runner(&settings).await?;
        let ctx = crate::run::context(&settings, runner)?;
        let ingester = registry.ingester(collection);
        weir_ingesters::lookup_published(
            ingester.as_ref(),
            &ctx,
            *date,
            &dataset,
            args.key_column.as_deref(),
            &ids,
        )
        .await
        .map_err(Error::Engine)
    })?;
    let lines = found.json_lines().map_err(Error::Engine)?;
    std::io::stdout()
        .write_all(&lines)
        .map_err(|e| Error::usage("standard output", e.to_string()))?;
    let where_from = if from_stdin { "line" } else { "argument" };
    let missing: Vec<String> = found
        .found
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == 0)
        .map(|(i, _)| format!("{where_from} {}", i + 1))
        .collect();
    let rows: usize = found.rows.iter().map(|b| b.num_rows()).sum();
    eprintln!(
        "weir lookup: {collection} {date} {dataset}: {rows} row(s) for {} of {} id(s){}; read {} of {} bytes ({:.3} %), {} of {} files, in {} ms",
        ids.len() - missing.len(),
        ids.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!(" (none for {})", missing.join(", "))
        },
        found.bytes_read,
        found.dataset_bytes,
        100.0 * found.bytes_read as f64 / found.dataset_bytes.max(1) as f64,
        found.files_opened,
        found.files,
        started.elapsed().as_millis(),
    );
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
