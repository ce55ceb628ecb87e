//! The typed-tables benchmark's measured work: calculationParts' default
//! typed tables (`from_json(val, <schema>)`, fields as columns) built from a
//! full export's ORC files and written as Parquet, in one process, with the
//! session Weir builds tables in.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::SessionConfig;
use weir_engine::exec::{InputFile, export_schema};
use weir_engine::output::OutputFormat;
use weir_engine::post::{OutputTable, weir_session};
use weir_engine::tables::EXPORT_ROWS;

/// Builds the tables from the export under `export_dir` into `out_dir`;
/// rows written per table.
pub fn build_tables(
    export_dir: &Path,
    out_dir: &Path,
    partitions: usize,
) -> Result<Vec<(String, u64)>, String> {
    let mut files = Vec::new();
    walk(export_dir, &mut files).map_err(|e| e.to_string())?;
    let mut fields: Vec<Field> = export_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("id_part", DataType::Utf8, true));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_round_robin_repartition(false);
        let ctx = weir_session(config);
        let table = OutputTable::new(
            "/",
            OutputFormat::Orc,
            Arc::new(Schema::new(fields)),
            vec!["id_part".to_owned()],
            files,
            partitions,
            Default::default(),
        );
        ctx.register_table(EXPORT_ROWS, Arc::new(table))
            .map_err(|e| e.to_string())?;
        let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).expect("a date");
        let mut written = Vec::new();
        for def in weir_ingesters::calculation_parts::tables::default_tables() {
            let frame = def.frame(&ctx, date).await.map_err(|e| e.to_string())?;
            let out = out_dir.join(&def.name);
            let batches = frame
                .write_parquet(
                    out.to_str().unwrap_or_default(),
                    DataFrameWriteOptions::new(),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            let rows = batches
                .iter()
                .filter_map(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                        .map(|c| c.value(0))
                })
                .sum();
            written.push((def.name, rows));
        }
        Ok(written)
    })
}

/// Every ORC file under `dir`, as object paths from the root.
fn walk(dir: &Path, out: &mut Vec<InputFile>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "orc") {
            out.push(InputFile {
                path: path
                    .display()
                    .to_string()
                    .trim_start_matches('/')
                    .to_owned(),
                size: entry.metadata()?.len(),
            });
        }
    }
    Ok(())
}
