//! A table's schema, enforced: its columns (names and types) are recorded
//! beside the collection's tables in `_weir_schema/<table>/schema.json` (a
//! directory readers skip, as they skip every `_` name, and outside the
//! table's own directory, which a whole-table rebuild replaces), published
//! with the day that set them. A day whose
//! rows do not have the recorded columns fails before anything is
//! published, naming them; a table rebuilt whole ([`Replace::Table`]) may
//! change its columns, and records the new ones.

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use datafusion::arrow::datatypes::{DataType, Schema};

use super::{Replace, TableDef};
use crate::output::{FileKind, StagedFile};
use crate::post::DerivedOutput;
use crate::storage::Location;

/// The directory of a table's recorded schema.
pub const SCHEMA_DIR: &str = "_weir_schema";
const SCHEMA_FILE: &str = "schema.json";

/// One recorded column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its Arrow type, as Arrow prints it (what is compared).
    #[serde(rename = "type")]
    pub ty: String,
    /// Its Hive / Athena type, for `CREATE EXTERNAL TABLE`.
    pub hive: String,
}

/// The columns a day records for a table, checked again under the
/// collection's publish lease ([`crate::status::Lease::take_publish`]):
/// another day of the collection may have recorded the table's first
/// columns after this one read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRecord {
    /// The table.
    pub table: String,
    /// The collection's tables, relative to the destination.
    pub tables_root: String,
    /// What a run of the table replaces (a whole table may change columns).
    pub replace: Replace,
    /// The day's columns.
    pub columns: Vec<Column>,
}

impl SchemaRecord {
    /// Whether the day's columns still fit the table's recorded ones.
    pub async fn recheck(&self, dest: &Location) -> Result<(), String> {
        if self.replace == Replace::Table {
            return Ok(());
        }
        match recorded_columns(dest, &self.tables_root, &self.table).await? {
            Some(recorded) if recorded != self.columns => Err(format!(
                "table {}: another day recorded its columns while this one ran, and the day's \
                 rows do not fit them: {}; nothing published",
                self.table,
                differences(&recorded, &self.columns).join("; ")
            )),
            _ => Ok(()),
        }
    }
}

/// The columns of rows of `schema`.
pub(crate) fn columns_of(schema: &Schema) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            ty: f.data_type().to_string(),
            hive: hive_type(f.data_type()),
        })
        .collect()
}

/// The Hive type of an Arrow type (what Spark and Athena read Parquet as).
pub fn hive_type(ty: &DataType) -> String {
    match ty {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(..) => "TIMESTAMP".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BINARY".into(),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("ARRAY<{}>", hive_type(f.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{},{}>",
                hive_type(kv[0].data_type()),
                hive_type(kv[1].data_type())
            ),
            _ => "STRING".into(),
        },
        DataType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!(
                    "`{}`:{}",
                    f.name().replace('`', "``"),
                    hive_type(f.data_type())
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => "STRING".into(),
    }
}

/// A table's recorded columns, if it has been published.
pub async fn recorded_columns(
    dest: &Location,
    tables_root: &str,
    table: &str,
) -> Result<Option<Vec<Column>>, String> {
    let path = dest.child(&format!("{tables_root}/{SCHEMA_DIR}/{table}/{SCHEMA_FILE}"));
    match dest.store.get(&path).await {
        Ok(got) => {
            let bytes = got.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is not a recorded schema: {e}", dest.display(&path)))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(crate::redact::secrets(&e.to_string())),
    }
}

/// What differs between the recorded columns and the day's, column by column.
fn differences(recorded: &[Column], day: &[Column]) -> Vec<String> {
    let mut out = Vec::new();
    for r in recorded {
        match day.iter().find(|d| d.name == r.name) {
            None => out.push(format!("`{}` ({}) is missing", r.name, r.ty)),
            Some(d) if d.ty != r.ty => out.push(format!(
                "`{}` is {} where the table has {}",
                r.name, d.ty, r.ty
            )),
            Some(_) => {}
        }
    }
    for d in day {
        if !recorded.iter().any(|r| r.name == d.name) {
            out.push(format!("`{}` ({}) is new", d.name, d.ty));
        }
    }
    if out.is_empty() && recorded != day {
        out.push("the columns are in another order".to_owned());
    }
    out
}

/// Checks the day's columns against the table's recorded ones; the schema
/// output to publish with the day when there is something to record.
pub(crate) async fn enforce(
    dest: &Location,
    staging: &str,
    table: &TableDef,
    tables_root: &str,
    columns: &[Column],
) -> Result<Option<DerivedOutput>, String> {
    let dir = format!("{tables_root}/{SCHEMA_DIR}/{}", table.name);
    let recorded = recorded_columns(dest, tables_root, &table.name).await?;
    match recorded {
        Some(recorded) if recorded == columns => return Ok(None),
        Some(recorded) if table.replace == Replace::Day => {
            return Err(format!(
                "the day's rows do not fit the table's columns: {}; nothing published \
                 (a table rebuilt whole, replace = \"table\", may change them)",
                differences(&recorded, columns).join("; ")
            ));
        }
        _ => {}
    }
    let bytes = serde_json::to_vec_pretty(columns).map_err(|e| e.to_string())?;
    let staged = dest.child(&format!("{staging}/tables/{}/{SCHEMA_FILE}", table.name));
    let size = bytes.len() as u64;
    dest.store
        .put(&staged, PutPayload::from(bytes))
        .await
        .map_err(|e| crate::redact::secrets(&e.to_string()))?;
    Ok(Some(DerivedOutput {
        name: format!("table:{}:schema", table.name),
        dir,
        files: vec![StagedFile {
            kind: FileKind::Data,
            staged: staged.to_string(),
            target: SCHEMA_FILE.to_owned(),
            rows: 0,
            bytes: size,
        }],
        merge: None,
        delta: None,
        all_null_rows: None,
        read_back: None,
        schema_record: Some(SchemaRecord {
            table: table.name.clone(),
            tables_root: tables_root.to_owned(),
            replace: table.replace,
            columns: columns.to_vec(),
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
            hive: String::new(),
        }
    }

    #[test]
    fn hive_types_of_nested_columns() {
        use datafusion::arrow::datatypes::{Field, Fields};
        let ty = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Decimal128(12, 2), true),
            Field::new_list("b", Field::new_list_field(DataType::Utf8, true), true),
        ]));
        assert_eq!(
            hive_type(&ty),
            "STRUCT<`a`:DECIMAL(12,2),`b`:ARRAY<STRING>>"
        );
    }

    /// A day that staged a table's first columns fails at the commit when
    /// another day recorded different ones meanwhile; the same columns, or
    /// a table rebuilt whole, pass.
    #[tokio::test]
    async fn the_recheck_fails_a_day_whose_columns_another_day_recorded_otherwise() {
        let dest = Location {
            store: std::sync::Arc::new(object_store::memory::InMemory::new()),
            prefix: "out".into(),
            url: "memory:///out".to_owned(),
            store_url: "memory://".to_owned(),
            concurrency: 1,
        };
        let record = |replace, columns: Vec<Column>| SchemaRecord {
            table: "t".into(),
            tables_root: "tables".into(),
            replace,
            columns,
        };
        let day = vec![col("a", "Int32"), col("b", "Utf8")];
        // Nothing recorded yet: the day records its own.
        record(Replace::Day, day.clone())
            .recheck(&dest)
            .await
            .unwrap();
        let recorded = vec![col("a", "Int64")];
        dest.store
            .put(
                &dest.child(&format!("tables/{SCHEMA_DIR}/t/{SCHEMA_FILE}")),
                PutPayload::from(serde_json::to_vec(&recorded).unwrap()),
            )
            .await
            .unwrap();
        let err = record(Replace::Day, day.clone())
            .recheck(&dest)
            .await
            .unwrap_err();
        assert!(
            err.contains("table t") && err.contains("`a` is Int32 where the table has Int64"),
            "{err}"
        );
        assert!(err.contains("`b` (Utf8) is new"), "{err}");
        record(Replace::Day, recorded.clone())
            .recheck(&dest)
            .await
            .unwrap();
        record(Replace::Table, day).recheck(&dest).await.unwrap();
    }

    #[test]
    fn differences_name_the_columns() {
        let recorded = [col("a", "Int32"), col("b", "Utf8")];
        let day = [col("a", "Utf8"), col("c", "Int64")];
        assert_eq!(
            differences(&recorded, &day),
            [
                "`a` is Utf8 where the table has Int32",
                "`b` (Utf8) is missing",
                "`c` (Int64) is new"
            ]
        );
    }
}
