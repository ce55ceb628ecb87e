//! `weir.toml`'s `[[tables]]`: a collection's table definitions. Each entry
//! replaces the collection's default table of the same name or adds one;
//! `enabled = false` drops a default. SQL and schema files are read relative
//! to the config file.
//!
//! ```toml
//! build_tables = true
//!
//! [[tables]]
//! collection = "data:businessAudit"
//! name = "auditlog_hashed"
//! sql_file = "tables/auditlog_hashed.sql"   # or schema_file = "x.json"
//! partition_by = []
//! sort_by = ["audit_id"]
//! replace = "day"                            # or "table"
//! source = "day"                             # or "export"
//! format = "parquet"                         # or "orc", "delta"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use weir_engine::record::CollectionName;
use weir_engine::tables::{Replace, TableDef, TableFormat, TableQuery, TableSource};
use weir_ingesters::TableSettings;

use crate::error::Error;

/// One `[[tables]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFileConfig {
    collection: String,
    name: String,
    #[serde(default)]
    source: TableSource,
    sql_file: Option<PathBuf>,
    schema_file: Option<PathBuf>,
    #[serde(default)]
    partition_by: Vec<String>,
    #[serde(default)]
    sort_by: Vec<String>,
    #[serde(default)]
    replace: Replace,
    day_column: Option<String>,
    format: Option<TableFormat>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// The run's tables: built when `enabled`, with `entries` over the defaults.
pub(crate) fn resolve(
    enabled: bool,
    format: Option<TableFormat>,
    entries: &[TableFileConfig],
    config_dir: &Path,
) -> Result<TableSettings, Error> {
    let mut settings = TableSettings {
        enabled,
        format,
        ..TableSettings::default()
    };
    for entry in entries {
        let field = format!("tables `{}`", entry.name);
        let collection = CollectionName::parse(&entry.collection)
            .map_err(|e| Error::usage(&field, e.to_string()))?
            .to_string();
        let def = if entry.enabled {
            let read = |file: &PathBuf| {
                let path = config_dir.join(file);
                std::fs::read_to_string(&path)
                    .map_err(|e| Error::usage(&field, format!("{}: {e}", path.display())))
            };
            let query = match (&entry.sql_file, &entry.schema_file) {
                (Some(sql), None) => TableQuery::Sql(read(sql)?),
                (None, Some(schema)) => TableQuery::Schema(read(schema)?.trim().to_owned()),
                _ => {
                    return Err(Error::usage(
                        &field,
                        "give one of sql_file (DataFusion SQL) or schema_file (a Spark schema)",
                    ));
                }
            };
            let mut def = TableDef::new(entry.name.clone(), query);
            def.source = entry.source;
            def.partition_by = entry.partition_by.clone();
            def.sort_by = entry.sort_by.clone();
            def.replace = entry.replace;
            if let Some(column) = &entry.day_column {
                def.day_column = column.clone();
            }
            if let Some(format) = entry.format {
                def.format = format;
            }
            def.validate()
                .map_err(|e| Error::usage(&field, e.to_string()))?;
            Some(def)
        } else {
            None
        };
        settings
            .configured
            .entry(collection)
            .or_default()
            .push((entry.name.clone(), def));
    }
    Ok(settings)
}
