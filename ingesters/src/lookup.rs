//! `weir lookup` and `weir serve`'s rows: which files of a collection's
//! published day, export or table a lookup reads ([`weir_engine::lookup`]
//! reads only the parts of them that can hold the ids).

use chrono::NaiveDate;
use weir_engine::lookup::{ID_COLUMN, Lookup, LookupFile, LookupKey, lookup};
use weir_engine::output::published_files;
use weir_engine::record::RecordRules;
use weir_engine::storage::{Location, raw_join};
use weir_engine::tables::{Replace, TableFormat, delta};
use weir_engine::{Error, Result};

use crate::{Ingester, RunContext};

/// Which of a collection's datasets a lookup reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataset {
    /// The day's rows (the daily).
    Daily,
    /// The full export of the day (`--update`, `weir merge`).
    Export,
    /// One of its tables, by name.
    Table(String),
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dataset::Daily => f.write_str("daily"),
            Dataset::Export => f.write_str("export"),
            Dataset::Table(t) => write!(f, "table {t}"),
        }
    }
}

/// The rows of `ids` in `dataset` of `export_date` as published, keyed by
/// `key_column` (`id` by default). An id of the daily or the export may be
/// given as the `id` column holds it or, for collections keyed like
/// calculationParts, as the inner `_id.id`. A dataset not published is an
/// error naming it.
pub async fn lookup_published(
    ingester: &dyn Ingester,
    ctx: &RunContext,
    export_date: NaiveDate,
    dataset: &Dataset,
    key_column: Option<&str>,
    ids: &[String],
) -> Result<Lookup> {
    let dest = Location::parse(&ctx.dest, &ctx.s3)?;
    let collection = ingester.collection().to_string();
    let missing = |what: String| Error::Config {
        field: format!("{collection} {export_date} {dataset}"),
        detail: what,
    };
    let (files, format, rules) = match dataset {
        Dataset::Daily => {
            let output = ingester.output(ctx, export_date);
            let files = manifest_files(&dest, &output.data_dir, "").await?;
            (files, output.format, ingester.rules())
        }
        Dataset::Export => {
            let merge = ingester.merge_job(ctx, export_date);
            let files = manifest_files(&dest, &merge.export_dir(export_date), "").await?;
            (files, merge.format, ingester.rules())
        }
        Dataset::Table(name) => {
            let def = ctx.tables.named(ingester, name).map_err(missing)?;
            let root = ingester.tables_root();
            // A table with a Delta log is read through it, whatever the
            // configuration says (the format is chosen per run).
            let table_dir = def.dir(&root);
            let snap = delta::snapshot(&dest, &table_dir)
                .await
                .map_err(|detail| Error::storage("read", table_dir.clone(), &detail))?;
            let files = if snap.version.is_some() {
                let day = (def.replace == Replace::Day).then(|| export_date.to_string());
                let dir = dest.child(&table_dir);
                Some(
                    snap.files
                        .values()
                        .filter(|f| match &day {
                            Some(day) => {
                                f.partition_values.get(&def.day_column).cloned().flatten()
                                    == Some(day.clone())
                            }
                            None => true,
                        })
                        .map(|f| LookupFile {
                            path: raw_join(&dir, &f.path),
                            relative: f.path.clone(),
                            bytes: f.size,
                        })
                        .collect(),
                )
            } else {
                // The day's partition directory is published on its own;
                // its `name=value` becomes a column as in the table.
                let dir = def.spec(&root, export_date).dir;
                let partition = dir
                    .strip_prefix(&format!("{table_dir}/"))
                    .map(|p| format!("{p}/"))
                    .unwrap_or_default();
                manifest_files(&dest, &dir, &partition).await?
            };
            let format = if snap.version.is_some() {
                TableFormat::Delta.files()
            } else {
                def.format.files()
            };
            // A table's key is its own column, taken as given.
            (files, format, RecordRules::default())
        }
    };
    let files = files.ok_or_else(|| missing("not published".to_owned()))?;
    let keys: Vec<LookupKey> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| LookupKey::new(&rules, id, i))
        .collect();
    lookup(
        &dest,
        &files,
        format,
        key_column.unwrap_or(ID_COLUMN),
        &keys,
    )
    .await
}

/// A published directory's files, from its manifest (`None`: not
/// published), their relative paths after `partition`.
async fn manifest_files(
    dest: &Location,
    dir: &str,
    partition: &str,
) -> Result<Option<Vec<LookupFile>>> {
    let dir = dest.child(dir);
    Ok(published_files(dest, &dir).await?.map(|files| {
        files
            .into_iter()
            .map(|f| LookupFile {
                path: raw_join(&dir, &f.path),
                relative: format!("{partition}{}", f.path),
                bytes: f.bytes,
            })
            .collect()
    }))
}
