//! `weir check`: a collection's checks run again on what is published — the
//! day's rows and its full export, read back from their manifests — as the
//! day's own run would have run them on what it staged.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::prelude::SessionConfig;
use weir_engine::checks::{CheckResult, DAILY, check_tables, counts_of, earlier_days};
use weir_engine::exec::InputFile;
use weir_engine::merge::{EXPORT, export_read_back};
use weir_engine::output::published_files;
use weir_engine::post::{OutputTable, day_schema, weir_session};
use weir_engine::storage::{Location, raw_join};

use crate::{Ingester, RunContext};

/// A published directory's files (from its manifest) as a table.
async fn published_table(
    ctx: &RunContext,
    dest: &Location,
    dir: &str,
    read: weir_engine::post::ReadBack,
) -> weir_engine::Result<Option<OutputTable>> {
    let dir = dest.child(dir);
    let Some(files) = published_files(dest, &dir).await? else {
        return Ok(None);
    };
    let files = files
        .into_iter()
        .map(|f| InputFile {
            path: raw_join(&dir, &f.path).to_string(),
            size: f.bytes,
        })
        .collect();
    Ok(Some(OutputTable::new(
        &ctx.dest,
        read.format,
        read.schema,
        read.partition_columns,
        files,
        ctx.partitions,
        ctx.s3.clone(),
    )))
}

/// The collection's checks (its defaults as under `--update`, and the
/// run's own) on `export_date` as published. An output not published is
/// skipped.
pub async fn check_published(
    ingester: &dyn Ingester,
    ctx: &RunContext,
    export_date: NaiveDate,
) -> weir_engine::Result<Vec<CheckResult>> {
    let dest = Location::parse(&ctx.dest, &ctx.s3)?;
    let with_export = RunContext {
        update: true,
        ..ctx.clone()
    };
    let checks = ingester.checks(&with_export);
    let output = ingester.output(ctx, export_date);
    let mut tables = BTreeMap::new();
    let (schema, partition_columns) = day_schema(output.format, output.id_part_dirs);
    let daily = weir_engine::post::ReadBack {
        format: output.format,
        schema,
        partition_columns,
    };
    if let Some(table) = published_table(ctx, &dest, &output.data_dir, daily).await? {
        tables.insert(DAILY.to_owned(), table);
    }
    let merge = ingester.merge_job(ctx, export_date);
    let export = export_read_back(&merge);
    if let Some(table) = published_table(ctx, &dest, &merge.export_dir(export_date), export).await?
    {
        tables.insert(EXPORT.to_owned(), table);
    }
    let collection = ingester.collection().to_string();
    let earlier = earlier_days(&dest, &collection, export_date, &checks).await?;
    let history = |output: &str| counts_of(&earlier, output);
    let session = || {
        Ok(weir_session(
            SessionConfig::new()
                .with_target_partitions(ctx.partitions.max(1))
                .with_round_robin_repartition(false),
        ))
    };
    check_tables(
        &session,
        ctx.runner.as_ref(),
        &|output| tables.get(output).cloned(),
        &checks,
        export_date,
        &history,
    )
    .await
    .map_err(|e| weir_engine::Error::Execution {
        collection,
        export_date: export_date.to_string(),
        source: e.context("data checks of the published day"),
    })
}
