//! `weir tables` and `weir tables ddl`: each collection's tables as published
//! under the destination (partitions, rows, files, last change, columns),
//! and the statements that register them in a Hive metastore, Glue or
//! Athena.

use std::process::ExitCode;

use datafusion::object_store::{self as object_store, ObjectStoreExt};
use futures::TryStreamExt;
use serde::Serialize;
use weir_engine::output::OutputFormat;
use weir_engine::storage::Location;
use weir_engine::tables::delta::{LOG_DIR, snapshot};
use weir_engine::tables::{Column, Replace, TableDef, TableFormat, recorded_columns};
use weir_ingesters::{Registry, TableSettings};

use crate::cli::{TablesArgs, TablesView};
use crate::config::RunSettings;
use crate::error::Error;

/// One table as published.
#[derive(Debug, Serialize)]
struct TableInfo {
    collection: String,
    name: String,
    location: String,
    format: &'static str,
    /// `day` (one partition per export date) or `table` (rebuilt whole).
    replace: &'static str,
    /// The day partition's column, for `day` tables.
    day_column: Option<String>,
    /// Published day partitions (values of the day column), oldest first.
    partitions: Vec<String>,
    rows: u64,
    files: usize,
    /// When its newest published directory (or Delta commit) was written
    /// (UTC, RFC 3339).
    last_change: Option<String>,
    /// A Delta table's latest version.
    version: Option<u64>,
    /// Its recorded columns (none until first published).
    columns: Option<Vec<Column>>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    files: Vec<ManifestFile>,
}

#[derive(serde::Deserialize)]
struct ManifestFile {
    rows: u64,
}

pub(crate) fn run(args: &TablesArgs, registry: &Registry) -> Result<ExitCode, Error> {
    let settings = RunSettings::resolve_merge(&args.run)?;
    let dest = Location::parse(&settings.dest, &settings.s3).map_err(Error::Engine)?;
    let tables = TableSettings {
        enabled: true,
        ..settings.tables.clone()
    };
    let infos = crate::runtime()?.block_on(async {
        let mut infos = Vec::new();
        for collection in &settings.collections {
            let ingester = registry.ingester(collection);
            let root = ingester.tables_root();
            for def in tables.for_ingester(ingester.as_ref()) {
                infos.push(inspect(&dest, &collection.to_string(), &root, &def).await?);
            }
        }
        Ok::<_, String>(infos)
    });
    let infos = infos.map_err(|e| Error::usage("--dest", e))?;
    match args.view {
        TablesView::List if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&infos).unwrap_or_default()
            )
        }
        TablesView::List => print_list(&infos),
        TablesView::Ddl => print!("{}", ddl(&infos)),
    }
    Ok(ExitCode::SUCCESS)
}

async fn inspect(
    dest: &Location,
    collection: &str,
    root: &str,
    def: &TableDef,
) -> Result<TableInfo, String> {
    let table_dir = def.dir(root);
    let prefix = dest.child(&table_dir);
    let listed: Vec<object_store::ObjectMeta> = dest
        .store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| weir_engine::redact::secrets(&e.to_string()))?;
    let mut info = TableInfo {
        collection: collection.to_owned(),
        name: def.name.clone(),
        location: dest.display(&prefix),
        format: def.format.as_str(),
        replace: match def.replace {
            Replace::Day => "day",
            Replace::Table => "table",
        },
        day_column: (def.replace == Replace::Day).then(|| def.day_column.clone()),
        partitions: Vec::new(),
        rows: 0,
        files: 0,
        last_change: None,
        version: None,
        columns: recorded_columns(dest, root, &def.name).await?,
    };
    // A table with a log is a Delta table, whatever this run would make.
    let has_log = listed
        .iter()
        .any(|m| m.location.as_ref().contains(&format!("/{LOG_DIR}/")));
    if has_log || def.format == TableFormat::Delta {
        info.format = TableFormat::Delta.as_str();
        let snap = snapshot(dest, &table_dir).await?;
        info.version = snap.version;
        info.files = snap.files.len();
        info.rows = snap.files.values().filter_map(|f| f.num_records).sum();
        let mut days = std::collections::BTreeSet::new();
        for f in snap.files.values() {
            if let Some(Some(v)) = f.partition_values.get(&def.day_column) {
                days.insert(v.clone());
            }
        }
        info.partitions = days.into_iter().collect();
        info.last_change = listed
            .iter()
            .filter(|m| m.location.as_ref().contains(&format!("/{LOG_DIR}/")))
            .map(|m| m.last_modified)
            .max()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        return Ok(info);
    }
    let mut newest = None;
    for meta in listed {
        let rel = meta.location.as_ref()[prefix.as_ref().len()..].trim_start_matches('/');
        let Some(dir) = rel.strip_suffix("_manifest.json") else {
            continue;
        };
        let dir = dir.trim_end_matches('/');
        let partition = match def.replace {
            Replace::Day => match dir.strip_prefix(&format!("{}=", def.day_column)) {
                Some(value) if !value.contains('/') => Some(value.to_owned()),
                _ => continue,
            },
            Replace::Table if dir.is_empty() => None,
            Replace::Table => continue,
        };
        let bytes = dest
            .store
            .get(&meta.location)
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: {e}", dest.display(&meta.location)))?;
        info.rows += manifest.files.iter().map(|f| f.rows).sum::<u64>();
        info.files += manifest.files.len();
        info.partitions.extend(partition);
        newest = newest.max(Some(meta.last_modified));
    }
    info.partitions.sort();
    info.last_change = newest.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(info)
}

fn print_list(infos: &[TableInfo]) {
    println!(
        "{:<28} {:<22} {:>8} {:>8} {:>8} {:>10} {:>6} {:>10}  last change",
        "collection", "table", "format", "version", "layout", "rows", "files", "partitions"
    );
    for t in infos {
        println!(
            "{:<28} {:<22} {:>8} {:>8} {:>8} {:>10} {:>6} {:>10}  {}",
            t.collection,
            t.name,
            t.format,
            t.version.map_or("-".to_owned(), |v| v.to_string()),
            t.replace,
            t.rows,
            t.files,
            t.partitions.len(),
            t.last_change.as_deref().unwrap_or("never published")
        );
    }
}

/// `CREATE EXTERNAL TABLE` for each published table, and its partitions.
fn ddl(infos: &[TableInfo]) -> String {
    let mut out = String::new();
    for t in infos {
        let Some(columns) = &t.columns else {
            out.push_str(&format!(
                "-- {} {}: not published yet, no columns to declare\n\n",
                t.collection, t.name
            ));
            continue;
        };
        let quote = |s: &str| format!("`{}`", s.replace('`', "``"));
        if t.format == TableFormat::Delta.as_str() {
            // The log holds the schema and the partitions.
            out.push_str(&format!(
                "-- {} {} (Delta Lake, version {})\n\
                 -- Athena / Glue:\n\
                 CREATE EXTERNAL TABLE IF NOT EXISTS {} LOCATION '{}' TBLPROPERTIES ('table_type' = 'DELTA');\n\
                 -- Spark with delta-spark: CREATE TABLE IF NOT EXISTS {} USING DELTA LOCATION '{}';\n\n",
                t.collection,
                t.name,
                t.version.map_or("none".to_owned(), |v| v.to_string()),
                quote(&t.name),
                t.location.replace('\'', "''"),
                quote(&t.name),
                t.location.replace('\'', "''"),
            ));
            continue;
        }
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("  {} {}", quote(&c.name), c.hive))
            .collect();
        out.push_str(&format!(
            "-- {} {}\nCREATE EXTERNAL TABLE IF NOT EXISTS {} (\n{}\n)\n",
            t.collection,
            t.name,
            quote(&t.name),
            cols.join(",\n")
        ));
        if let Some(day) = &t.day_column {
            out.push_str(&format!("PARTITIONED BY ({} STRING)\n", quote(day)));
        }
        let stored = if t.format == OutputFormat::Orc.as_str() {
            "ORC"
        } else {
            "PARQUET"
        };
        out.push_str(&format!(
            "STORED AS {stored}\nLOCATION '{}';\n",
            t.location.replace('\'', "''")
        ));
        if let Some(day) = &t.day_column {
            for p in &t.partitions {
                out.push_str(&format!(
                    "ALTER TABLE {} ADD IF NOT EXISTS PARTITION ({}='{}') LOCATION '{}/{}={}';\n",
                    quote(&t.name),
                    quote(day),
                    p.replace('\'', "''"),
                    t.location.replace('\'', "''"),
                    day,
                    p
                ));
            }
        }
        out.push('\n');
    }
    out
}
