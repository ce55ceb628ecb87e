//! A day's guard: its lease (one run per collection and day at a time) and
//! its status record, from the moment the run takes the day to its end.

use chrono::NaiveDate;
use weir_engine::output::{Recovery, discard_staging, recover};
use weir_engine::report::{DayReport, DayStatus, OutputRef};
use weir_engine::run::STAGING_ROOT;
use weir_engine::status::{DayRun, DayState, DynamoStatus, Lease, RunKind, StatusStore, day_key};
use weir_engine::storage::Location;

use crate::RunContext;

/// A day taken by this run.
pub(crate) struct DayGuard {
    pub(crate) lease: Lease,
    store: StatusStore,
    run: DayRun,
    /// The old status table and this run's attempt number there.
    dynamodb: Option<(DynamoStatus, usize)>,
}

impl DayGuard {
    /// Takes the day (or fails at once naming the run that holds it),
    /// removes the staging of a dead run it takes over from, and records
    /// the run IN_PROGRESS.
    pub(crate) async fn begin(
        ctx: &RunContext,
        collection: &str,
        export_date: NaiveDate,
        kind: RunKind,
    ) -> weir_engine::Result<Self> {
        let dest = Location::parse(&ctx.dest, &ctx.s3)?;
        let lease = Lease::take(&dest, collection, export_date, &ctx.run_id, ctx.lease_ttl).await?;
        let mut run = DayRun::started(collection, export_date, &ctx.run_id, kind);
        if let Some(dead) = &lease.took_over {
            run.took_over_from = Some(dead.run_id.clone());
            tracing::warn!(collection, %export_date, dead_run = %dead.run_id, host = %dead.host, "took over the day from a run whose lease expired");
            recover_dead_run(&dest, collection, export_date, &dead.run_id, &ctx.run_id).await?;
        }
        let store = StatusStore::new(dest);
        store.record(&run).await?;
        let attempt = match &ctx.dynamodb {
            Some(table) => {
                // The old item's `Run_Id`: the how-many-th run of the day.
                let attempt = store.history(collection, export_date).await?.len();
                table.record(&run, attempt, None).await?;
                attempt
            }
            None => 0,
        };
        // Tests hold a day for a while to race a second run against it.
        if let Some(ms) = std::env::var("WEIR_TEST_HOLD_DAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok(Self {
            lease,
            store,
            run,
            dynamodb: ctx.dynamodb.clone().map(|t| (t, attempt)),
        })
    }

    /// Records how the day ended and gives it up.
    pub(crate) async fn end(self, report: &DayReport, outputs: Vec<OutputRef>) {
        let export = outputs
            .iter()
            .find(|o| o.format == weir_engine::merge::EXPORT)
            .map(|o| o.path.clone());
        let run = self.run.ended(report, outputs);
        if let Err(e) = self.store.record(&run).await {
            tracing::warn!(error = %e, "could not record the day's status");
        }
        if let Some((table, attempt)) = &self.dynamodb
            && let Err(e) = table.record(&run, *attempt, export.as_deref()).await
        {
            tracing::error!(error = %e, collection = %run.collection, export_date = %run.export_date, status = %run.state, "could not write the day's status to the DynamoDB table; its pollers do not see it");
        }
        self.lease.release().await;
    }
}

/// What a run that took a day over from a dead one (`dead`, whose lease
/// run id; its lease
/// expired) does before anything else: rolls back the dead run's commit if
/// it was cut short (the day as it was before it), takes back its Delta
/// commits if the rest of its day never published, removes its staging,
/// and records its run FAILED. `by` is the run doing it. Used by every run
/// that takes a day and by `weir recover`.
pub async fn recover_dead_run(
    dest: &Location,
    collection: &str,
    export_date: NaiveDate,
    dead: &str,
    by: &str,
) -> weir_engine::Result<()> {
    let key = day_key(collection);
    // A run's day and a merge's day stage apart.
    for staging in [
        format!("{STAGING_ROOT}/{}/{key}/{export_date}", dead),
        format!("{STAGING_ROOT}/{}/{key}.merge/{export_date}", dead),
    ] {
        // Its commit may have been cut short: the day as it was first (a
        // failure here leaves its staging, which may hold the previous
        // output, untouched).
        let recovered = recover(dest, &staging).await?;
        if recovered != Recovery::Nothing {
            tracing::warn!(collection, %export_date, dead_run = %dead, ?recovered, "the dead run's commit was rolled back");
        }
        // And its Delta commits, if the rest of its day never published.
        let undone = weir_engine::tables::delta::recover(dest, &staging)
            .await
            .map_err(|detail| weir_engine::Error::Config {
                field: "tables".to_owned(),
                detail: format!(
                    "{collection} {export_date}: taking back the Delta commits of dead run {}: {detail}",
                    dead
                ),
            })?;
        if undone > 0 {
            tracing::warn!(collection, %export_date, dead_run = %dead, undone, "the dead run's Delta commits were taken back");
        }
        if let Err(e) = discard_staging(dest, &staging).await {
            tracing::warn!(error = %e, "could not remove the dead run's staging");
        }
    }
    if dest.is_local() {
        // Its directories, once empty (other days of it may still wait
        // for their own takeover).
        let run_dir = format!("{STAGING_ROOT}/{}", dead);
        for dir in [
            format!("{run_dir}/{key}"),
            format!("{run_dir}/{key}.merge"),
            run_dir,
        ] {
            let _ = std::fs::remove_dir(dest.display(&dest.child(&dir)));
        }
    }
    // Its status still says IN_PROGRESS: it is not, and never will be.
    let store = StatusStore::new(dest.clone());
    let history = store.history(collection, export_date).await?;
    if let Some(mut run) = history
        .into_iter()
        .rev()
        .find(|r| r.run_id == dead && r.state == DayState::InProgress)
    {
        run.state = DayState::Failed;
        run.ended_at = Some(chrono::Utc::now());
        run.fault = Some(weir_engine::Fault::Environment);
        run.error = Some(format!(
            "the run died holding the day (its lease expired); run {by} recovered the day"
        ));
        store.record(&run).await?;
    }
    Ok(())
}

/// The report of a day the run could not take.
pub(crate) fn refused(
    collection: &str,
    export_date: NaiveDate,
    error: &weir_engine::Error,
) -> DayReport {
    DayReport {
        collection: collection.to_owned(),
        export_date: export_date.to_string(),
        landing_date: weir_engine::layout::landing_date(export_date).to_string(),
        status: DayStatus::Failed,
        error: Some(error.to_string()),
        fault: Some(error.fault()),
        ..DayReport::default()
    }
}
