//! Which tables a run builds (`--tables`), and building them inside the
//! day's commit: the ingester's defaults ([`Ingester::tables`]) with the
//! run's own definitions (`weir.toml` `[[tables]]`) replacing or adding by
//! name.

use std::collections::BTreeMap;

use weir_engine::merge::EXPORT;
use weir_engine::post::{DerivedOutput, StagedDay, StepFailed};
use weir_engine::tables::{EXPORT_ROWS, TableDef, TableFormat, TableSource, stage_tables};

use crate::ingester::{Ingester, RunContext};

/// A run's tables.
#[derive(Debug, Clone, Default)]
pub struct TableSettings {
    /// Build tables at all (`--tables`).
    pub enabled: bool,
    /// The run's own definitions, per `db:collection`: one replaces the
    /// ingester's table of the same name or adds a table; `None` drops it.
    pub configured: BTreeMap<String, Vec<(String, Option<TableDef>)>>,
    /// How the ingesters' default tables are stored, when the run says
    /// (`--table-format`); a configured table says for itself.
    pub format: Option<TableFormat>,
}

impl TableSettings {
    /// The tables of `ingester` this run builds, in build order.
    pub fn for_ingester(&self, ingester: &dyn Ingester) -> Vec<TableDef> {
        if !self.enabled {
            return Vec::new();
        }
        let mut tables = ingester.tables();
        if let Some(format) = self.format {
            for t in &mut tables {
                t.format = format;
            }
        }
        let collection = ingester.collection().to_string();
        for (name, def) in self.configured.get(&collection).into_iter().flatten() {
            let at = tables.iter().position(|t| &t.name == name);
            match (at, def) {
                (Some(i), Some(def)) => tables[i] = def.clone(),
                (Some(i), None) => {
                    tables.remove(i);
                }
                (None, Some(def)) => tables.push(def.clone()),
                (None, None) => {}
            }
        }
        tables
    }

    /// The collection's table `name` as the run's definitions make it,
    /// whether or not this run builds tables (`weir lookup`, retention);
    /// when there is none, what the collection's tables are.
    pub fn named(&self, ingester: &dyn Ingester, name: &str) -> Result<TableDef, String> {
        let tables = TableSettings {
            enabled: true,
            ..self.clone()
        }
        .for_ingester(ingester);
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        match tables.iter().find(|t| t.name == name) {
            Some(def) => Ok(def.clone()),
            None => Err(format!(
                "no such table {name:?}; the tables of {}: {}",
                ingester.collection(),
                names.join(", ")
            )),
        }
    }
}

/// Stages the day's tables: those of the day's rows, then (when the run
/// merged) those of the export. Export tables wait for a run that merges.
pub(crate) async fn stage_day_tables(
    ingester: &dyn Ingester,
    ctx: &RunContext,
    day: &StagedDay<'_>,
    derived: &[DerivedOutput],
) -> Result<Vec<DerivedOutput>, StepFailed> {
    let tables = ctx.tables.for_ingester(ingester);
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let session = day.session().map_err(|e| StepFailed::new("tables", e))?;
    let export = derived.iter().find(|d| d.name == EXPORT);
    if let Some(export) = export {
        let read =
            weir_engine::merge::export_read_back(&ingester.merge_job(ctx, day.job.export_date));
        let table = day.staged_table(export, read.format, read.schema, read.partition_columns);
        session
            .register_table(EXPORT_ROWS, std::sync::Arc::new(table))
            .map_err(|e| StepFailed::new("tables", e))?;
    }
    let buildable: Vec<TableDef> = tables
        .into_iter()
        .filter(|t| t.source == TableSource::Day || export.is_some())
        .collect();
    stage_tables(day, &session, &buildable, &ingester.tables_root()).await
}
