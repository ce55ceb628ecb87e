//! A day's commit, once everything is staged and checked: the Delta
//! commits, then the quarantine, the data and every derived output swapped
//! in as one, under the collection's publish lease when the day has
//! derived outputs.

use crate::error::Fault;
use crate::output::{DirOutput, PublishedDir, StagedFile, publish_all};
use crate::post::{DerivedOutput, PostProcess};
use crate::report::DayReport;
use crate::status::Lease;
use crate::status::lease::{PUBLISH_LEASE_TTL, PUBLISH_PATIENCE};
use crate::storage::Location;
use crate::tables::delta::{DeltaCommitted, DeltaPlan};
use crate::{Error, Result};

use super::DayJob;

/// What a checked day has staged, and where it goes.
#[derive(Clone, Copy)]
pub(super) struct Staged<'a> {
    pub job: &'a DayJob,
    pub dest: &'a Location,
    /// The data files (compacted, when the day wrote runs).
    pub data: &'a [StagedFile],
    /// The quarantine's files.
    pub quarantine: &'a [&'a StagedFile],
    /// The collection's post-processing, told just before the publish.
    pub post: Option<&'a dyn PostProcess>,
}

/// Publishes the staged day and fills the report's published directories.
///
/// What days of a collection publish outside their own day (a table's
/// recorded columns, a table rebuilt whole, a Delta log) two days must not
/// swap at once: a day with derived outputs commits under the collection's
/// publish lease, and checks the tables' columns again under it. The lease
/// is released however the commit ends.
pub(super) async fn commit_day(
    day: Staged<'_>,
    derived: Vec<DerivedOutput>,
    report: &mut DayReport,
) -> Result<()> {
    let Staged { job, dest, .. } = day;
    let publishing = if derived.is_empty() {
        None
    } else {
        Some(
            Lease::take_publish(
                dest,
                &job.ingest.collection.to_string(),
                job.export_date,
                &job.run_id,
                job.lease_ttl.min(PUBLISH_LEASE_TTL),
                PUBLISH_PATIENCE,
            )
            .await?,
        )
    };
    let committed = publish(day, derived, report).await;
    if let Some(lease) = publishing {
        lease.release().await;
    }
    committed
}

/// The day's check failing for `fault`.
fn failed(job: &DayJob, fault: Fault) -> impl Fn(String) -> Error + '_ {
    move |detail| Error::DayCheck {
        collection: job.ingest.collection.to_string(),
        export_date: job.export_date.to_string(),
        detail,
        fault,
    }
}

/// The commit itself: the tables' columns checked again, the Delta
/// commits, then one swap of every directory (the Delta commits are taken
/// back if it fails).
async fn publish(
    day: Staged<'_>,
    derived: Vec<DerivedOutput>,
    report: &mut DayReport,
) -> Result<()> {
    let Staged {
        job,
        dest,
        data,
        quarantine,
        post,
    } = day;
    for record in derived.iter().filter_map(|d| d.schema_record.as_ref()) {
        record
            .recheck(dest)
            .await
            .map_err(failed(job, Fault::Input))?;
    }
    // Delta tables publish through their logs, the rest by directory.
    let (delta, derived): (Vec<DerivedOutput>, Vec<DerivedOutput>) =
        derived.into_iter().partition(|d| d.delta.is_some());
    // The quarantine, the data and every derived output are one commit.
    let data: Vec<&StagedFile> = data.iter().collect();
    let derived_files: Vec<Vec<&StagedFile>> =
        derived.iter().map(|d| d.files.iter().collect()).collect();
    let mut outputs = vec![
        DirOutput {
            dir: &job.output.quarantine_dir,
            files: quarantine,
        },
        DirOutput {
            dir: &job.output.data_dir,
            files: &data,
        },
    ];
    for (d, files) in derived.iter().zip(&derived_files) {
        outputs.push(DirOutput { dir: &d.dir, files });
    }
    if let Some(step) = post {
        step.before_publish()
            .await
            .map_err(failed(job, Fault::Environment))?;
    }
    // The Delta commits first: each is atomic by itself, and one the rest of
    // the day cannot follow is taken back by a commit that undoes it.
    if !delta.is_empty() {
        let plans: Vec<&DeltaPlan> = delta.iter().filter_map(|d| d.delta.as_deref()).collect();
        crate::tables::delta::write_journal(dest, &job.staging(), &plans)
            .await
            .map_err(failed(job, Fault::Environment))?;
    }
    let delta_done = commit_delta_tables(dest, &delta)
        .await
        .map_err(failed(job, Fault::Environment))?;
    let keep = crate::status::versions::keep_prefix(
        &job.ingest.collection.to_string(),
        &job.export_date.to_string(),
        &job.run_id,
    );
    let paths = crate::output::CommitPaths {
        staging: &job.staging(),
        keep: &keep,
    };
    let published = match publish_all(dest, paths, &outputs, &job.run_id).await {
        Ok(published) => published,
        Err(e) => {
            undo_delta_tables(dest, &delta, &delta_done).await;
            return Err(e);
        }
    };
    if !delta.is_empty()
        && let Err(e) = crate::tables::delta::mark_done(dest, &job.staging()).await
    {
        // The day is published; only a takeover's recovery would read this.
        tracing::warn!(error = %e, "could not mark the day's Delta commits done");
    }
    let mut published = published.into_iter();
    report.quarantine = published.next();
    report.output = published.next();
    report.merge = derived.iter().find_map(|d| d.merge.clone());
    report.derived = derived
        .iter()
        .zip(published)
        .map(|(d, dir)| {
            let all_null_rows = d.all_null_rows;
            (
                d.name.clone(),
                PublishedDir {
                    all_null_rows,
                    ..dir
                },
            )
        })
        .collect();
    for (d, done) in delta.iter().zip(&delta_done) {
        let table = dest.child(&d.dir);
        report.derived.insert(
            d.name.clone(),
            PublishedDir {
                path: dest.display(&table),
                files: d.files.len(),
                rows: d.files.iter().map(|f| f.rows).sum(),
                bytes: d.files.iter().map(|f| f.bytes).sum(),
                version: Some(done.version),
                all_null_rows: d.all_null_rows,
            },
        );
    }
    Ok(())
}

/// Commits each Delta table's day; on a failure, takes back the ones made.
async fn commit_delta_tables(
    dest: &Location,
    delta: &[DerivedOutput],
) -> std::result::Result<Vec<DeltaCommitted>, String> {
    let mut done = Vec::with_capacity(delta.len());
    for d in delta {
        let Some(plan) = &d.delta else { continue };
        let files: Vec<&StagedFile> = d.files.iter().collect();
        match crate::tables::delta::publish(dest, plan, &files).await {
            Ok(c) => done.push(c),
            Err(detail) => {
                undo_delta_tables(dest, delta, &done).await;
                return Err(format!(
                    "committing Delta table {}: {detail}; nothing published",
                    d.name
                ));
            }
        }
    }
    Ok(done)
}

async fn undo_delta_tables(dest: &Location, delta: &[DerivedOutput], done: &[DeltaCommitted]) {
    for (d, committed) in delta.iter().zip(done) {
        if let Some(plan) = &d.delta
            && let Err(e) = crate::tables::delta::undo(dest, plan, committed).await
        {
            tracing::error!(table = %d.name, error = %e, "could not undo a Delta commit");
        }
    }
}
