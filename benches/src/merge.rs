//! Inputs of the merge benchmark: a previous full export and a day's daily
//! of calculationParts, written directly in Weir's layout (ORC, zlib,
//! `id_part=` directories, rows sorted by `id`, manifest and `_SUCCESS`), so
//! that a 4,000,000-row export takes a minute to make instead of an hour of
//! ingestion. The daily updates 60 % of its rows' ids from the export,
//! deletes 10 %, brings 30 % new, and redelivers 2 % (the same row twice).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray, TimestampMillisecondArray};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weir_engine::exec::export_schema;
use weir_engine::output::{OrcCompression, OutputFormat, encode_table, output_schema};

/// The export the merge starts from, and the day it merges.
pub const EXPORT_DATE: &str = "2024-01-01";
/// The day merged (`weir merge --date`).
pub const MERGE_DATE: &str = "2024-01-02";
const ID_PARTS: usize = 256;

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeInputs {
    /// Rows of the previous export.
    pub export_rows: u64,
    /// Rows of the daily.
    pub daily_rows: u64,
    /// Bytes of both.
    pub bytes: u64,
}

struct Row {
    id: String,
    delete: bool,
    last_modified: i64,
    val: String,
}

/// Writes the previous export (`export_rows`) and the daily (`daily_rows`)
/// under `dest`.
pub fn write_merge_inputs(
    dest: &Path,
    export_rows: usize,
    daily_rows: usize,
) -> std::io::Result<MergeInputs> {
    let export_dir = dest.join(format!(
        "corporate_data_ingestion/exports/calculator/calculationParts/{EXPORT_DATE}"
    ));
    let daily_dir = dest.join(
        "corporate_data_ingestion/orc/daily/calculator/calculationParts/export_year=2024/export_month=01/export_day=02",
    );
    let mut inputs = MergeInputs::default();
    let mut export_manifest = Vec::new();
    let mut daily_manifest = Vec::new();
    let day_ms = 1_704_067_200_000_i64; // 2024-01-01T00:00:00Z
    for part in 0..ID_PARTS {
        let mut rng = StdRng::seed_from_u64(part as u64);
        let prefix = format!("{part:02x}");
        let per_part = |total: usize| total / ID_PARTS + usize::from(part < total % ID_PARTS);
        let mut export: Vec<Row> = (0..per_part(export_rows))
            .map(|_| {
                let id = id(&mut rng, &prefix);
                Row {
                    val: crate::calculation_part(&mut rng, inner(&id)),
                    id,
                    delete: false,
                    last_modified: day_ms - rng.gen_range(0..86_400_000 * 365),
                }
            })
            .collect();
        export.sort_by(|a, b| a.id.cmp(&b.id));
        let mut daily: Vec<Row> = Vec::new();
        for _ in 0..per_part(daily_rows) {
            let pick: f64 = rng.gen_range(0.0..1.0);
            let id = if pick < 0.7 && !export.is_empty() {
                export[rng.gen_range(0..export.len())].id.clone()
            } else {
                id(&mut rng, &prefix)
            };
            let row = Row {
                val: crate::calculation_part(&mut rng, inner(&id)),
                id,
                delete: (0.6..0.7).contains(&pick),
                last_modified: day_ms + rng.gen_range(0..86_400_000),
            };
            if rng.gen_bool(0.02) {
                daily.push(Row {
                    id: row.id.clone(),
                    delete: row.delete,
                    last_modified: row.last_modified,
                    val: row.val.clone(),
                });
            }
            daily.push(row);
        }
        daily.sort_by(|a, b| a.id.cmp(&b.id));
        inputs.export_rows += export.len() as u64;
        inputs.daily_rows += daily.len() as u64;
        let name = format!("id_part={prefix}/part-00000-0000-bench.orc");
        for (dir, rows, manifest, is_export) in [
            (&export_dir, &export, &mut export_manifest, true),
            (&daily_dir, &daily, &mut daily_manifest, false),
        ] {
            if rows.is_empty() {
                continue;
            }
            let bytes = encode(rows, is_export)?;
            let path = dir.join(&name);
            std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
            std::fs::write(&path, &bytes)?;
            inputs.bytes += bytes.len() as u64;
            manifest
                .push(serde_json::json!({"path": name, "rows": rows.len(), "bytes": bytes.len()}));
        }
    }
    for (dir, files) in [(&export_dir, export_manifest), (&daily_dir, daily_manifest)] {
        std::fs::create_dir_all(dir)?;
        let manifest = serde_json::json!({"format": "weir output manifest v1", "run_id": "bench", "files": files});
        std::fs::write(dir.join("_manifest.json"), manifest.to_string())?;
        std::fs::write(dir.join("_SUCCESS"), b"")?;
    }
    Ok(inputs)
}

/// The inner `_id.id` of the first row written in `id_part` number `part`
/// of the export (the lookup benchmark asks for it).
pub fn first_export_id(part: usize) -> String {
    let mut rng = StdRng::seed_from_u64(part as u64);
    inner(&id(&mut rng, &format!("{part:02x}"))).to_owned()
}

/// The document's `_id.id` of a row id `{"id":"…"}`.
fn inner(id: &str) -> &str {
    id.trim_start_matches(r#"{"id":""#)
        .trim_end_matches(r#""}"#)
}

fn id(rng: &mut StdRng, prefix: &str) -> String {
    let tail = crate::uuid(rng);
    format!(r#"{{"id":"{prefix}{}"}}"#, &tail[2..])
}

/// One file of rows: the export's columns or the daily's.
fn encode(rows: &[Row], export: bool) -> std::io::Result<Vec<u8>> {
    let schema = if export {
        export_schema()
    } else {
        output_schema(false)
    };
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> datafusion::arrow::array::ArrayRef {
            match f.name().as_str() {
                "id" => Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.id))),
                "db_type" => Arc::new(StringArray::from_iter_values(
                    rows.iter()
                        .map(|r| if r.delete { "DELETE" } else { "INSERT" }),
                )),
                "val" => Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.val))),
                _ => Arc::new(
                    TimestampMillisecondArray::from_iter_values(
                        rows.iter().map(|r| r.last_modified),
                    )
                    .with_timezone("UTC"),
                ),
            }
        })
        .collect();
    let batch =
        RecordBatch::try_new(Arc::clone(&schema), columns).map_err(std::io::Error::other)?;
    encode_table(schema, &[batch], OutputFormat::Orc, OrcCompression::Zlib)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_json_with_the_rows_id() {
        let mut rng = StdRng::seed_from_u64(1);
        let id = id(&mut rng, "0a");
        let doc: serde_json::Value =
            serde_json::from_str(&crate::calculation_part(&mut rng, inner(&id))).unwrap();
        let row_id: serde_json::Value = serde_json::from_str(&id).unwrap();
        assert_eq!(doc["_id"]["id"], row_id["id"]);
    }
}
