//! calculationParts' default typed tables: `from_json(val, <schema>)` over the
//! full export with the schema's fields as columns (the old job's
//! `--force_export_to_hive`), rebuilt whole when the run merges
//! (`--update`). The schemas are files beside this one, in both forms the
//! old job took: a Spark JSON schema and a DDL string.

use weir_engine::tables::{Replace, TableDef, TableQuery, TableSource};

/// The typed tables of the export.
pub fn default_tables() -> Vec<TableDef> {
    [
        (
            "src_calculator_parts",
            include_str!("tables/src_calculator_parts.json"),
        ),
        (
            "src_calculator_amounts",
            include_str!("tables/src_calculator_amounts.ddl"),
        ),
    ]
    .into_iter()
    .map(|(name, schema)| TableDef {
        source: TableSource::Export,
        replace: Replace::Table,
        ..TableDef::new(name, TableQuery::Schema(schema.trim().to_owned()))
    })
    .collect()
}
