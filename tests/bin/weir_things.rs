//! A team's own `weir`: Weir's built-in collections plus `team:things`,
//! whose ingester derives two more outputs from the day's rows with SQL (a
//! count per `db_type`, and typed fields read from `val` with `from_json`) —
//! the whole binary a team writes (see the README, "Adding a collection").
//! `WEIR_THINGS_FAIL=1` makes its step fail, as a broken query would.

use std::process::ExitCode;
use std::sync::Arc;

use weir_engine::output::OutputFormat;
use weir_engine::post::{DAY_ROWS, DerivedOutput, DerivedSpec, StagedDay, StepFailed};
use weir_engine::record::CollectionName;
use weir_ingesters::{Ingester, OUTPUT_ROOT, Registry, RunContext};

/// `team:things`: ORC rows, a count per `db_type` beside them, and each
/// person's typed fields.
#[derive(Debug)]
struct Things {
    collection: CollectionName,
}

#[async_trait::async_trait]
impl Ingester for Things {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn default_format(&self) -> OutputFormat {
        OutputFormat::Orc
    }

    async fn post_process(
        &self,
        _ctx: &RunContext,
        day: &StagedDay<'_>,
    ) -> Result<Vec<DerivedOutput>, StepFailed> {
        let step = |e| StepFailed::new("counts", e);
        let session = day.session().map_err(step)?;
        // The failing variant names a column the day's rows do not have.
        let column = if std::env::var("WEIR_THINGS_FAIL").is_ok() {
            "no_such_column"
        } else {
            "last_modified"
        };
        let frame = session
            .sql(&format!(
                "SELECT db_type, COUNT(*) AS n, MAX({column}) AS latest FROM {DAY_ROWS} GROUP BY db_type"
            ))
            .await
            .map_err(step)?;
        let counts = day
            .stage(
                frame,
                DerivedSpec {
                    name: "counts".to_owned(),
                    dir: format!(
                        "{OUTPUT_ROOT}/derived/team/things/counts/export_date={}",
                        day.job.export_date
                    ),
                    format: OutputFormat::Jsonl,
                    partition_by: Vec::new(),
                    sort_by: vec!["db_type".to_owned()],
                },
            )
            .await?;
        let step = |e| StepFailed::new("people", e);
        let frame = session
            .sql(&format!(
                "SELECT id, val, doc['nino'] AS nino, CAST(doc['dateOfBirth'] AS VARCHAR) AS born \
                 FROM (SELECT id, val, from_json(val, '{PERSON}') AS doc FROM {DAY_ROWS})"
            ))
            .await
            .map_err(step)?;
        let people = day
            .stage(
                frame,
                DerivedSpec {
                    name: "people".to_owned(),
                    dir: format!(
                        "{OUTPUT_ROOT}/derived/team/things/people/export_date={}",
                        day.job.export_date
                    ),
                    format: OutputFormat::Jsonl,
                    partition_by: Vec::new(),
                    sort_by: vec!["id".to_owned()],
                },
            )
            .await?;
        Ok(vec![counts, people])
    }
}

/// The typed fields of a generated person (a Spark DDL schema).
const PERSON: &str = "nino STRING, name STRUCT<first: STRING, last: STRING>, dateOfBirth DATE";

fn main() -> ExitCode {
    let things = Things {
        collection: CollectionName::parse("team:things").expect("a valid name"),
    };
    weir_cluster::main_with(Registry::with_builtins().register(Arc::new(things)))
}
