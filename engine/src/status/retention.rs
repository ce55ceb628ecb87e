//! Retention: a collection kept `expire_after_days` loses the output of
//! every day older than that (`weir vacuum`). A day is expired under its
//! lease, so no run is publishing it meanwhile: its published directories
//! are deleted (`_SUCCESS` first, so readers refuse each one from the first
//! delete), and the day's status becomes EXPIRED, which `--reprocess
//! missing` leaves alone. Delta tables keep their history in their log and
//! are not touched here.

use chrono::{Duration, NaiveDate, Utc};
use futures::TryStreamExt;

use super::{DayRun, DayState, RunKind, StatusStore};
use crate::storage::Location;
use crate::{Error, Result};

/// A day retention took, and the directories it deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Expired {
    /// The export date.
    pub export_date: NaiveDate,
    /// The directories deleted.
    pub deleted: Vec<String>,
}

/// The export dates of `collection` older than `expire_after_days` (before
/// today minus that many days) whose latest run published something:
/// COMPLETED, or RETRACTED with a previous version back.
pub async fn due(dest: &Location, collection: &str, expire_after_days: u32) -> Result<Vec<DayRun>> {
    let cutoff = Utc::now().date_naive() - Duration::days(i64::from(expire_after_days));
    let Some(before) = cutoff.pred_opt() else {
        return Ok(Vec::new());
    };
    let runs = StatusStore::new(dest.clone())
        .latest(collection, NaiveDate::MIN, before)
        .await?;
    Ok(runs
        .into_iter()
        .filter(|r| matches!(r.state, DayState::Completed | DayState::Retracted))
        .collect())
}

/// Deletes the day's published directories (`latest`'s outputs; for a
/// retraction, the versions it restored) and records it EXPIRED under
/// `run_id`. The caller holds the day's lease.
pub async fn expire(
    dest: &Location,
    latest: &DayRun,
    expire_after_days: u32,
    run_id: &str,
) -> Result<Expired> {
    let export_date =
        NaiveDate::parse_from_str(&latest.export_date, "%Y-%m-%d").map_err(|e| Error::Config {
            field: "export_date".to_owned(),
            detail: format!("{}: {e}", latest.export_date),
        })?;
    let mut deleted = Vec::new();
    for output in &latest.outputs {
        // Delta tables (versioned) and retracted copies (vacuum's own
        // business) are left alone; what readers find is deleted.
        if output.version.is_some() || output.format == "retracted" {
            continue;
        }
        let Some(rel) = super::retract::under_dest(dest, &output.path) else {
            tracing::warn!(path = %output.path, "an output outside the destination is not expired");
            continue;
        };
        delete_dir(dest, rel).await?;
        deleted.push(output.path.clone());
    }
    let mut record = DayRun::started(&latest.collection, export_date, run_id, RunKind::Expire);
    record.state = DayState::Expired;
    record.ended_at = Some(Utc::now());
    record.note = Some(format!(
        "output older than {expire_after_days} days deleted by vacuum ({} directories of run {})",
        deleted.len(),
        latest.run_id
    ));
    StatusStore::new(dest.clone()).record(&record).await?;
    Ok(Expired {
        export_date,
        deleted,
    })
}

/// Deletes a published directory: `_SUCCESS`, then the manifest, then the
/// rest.
async fn delete_dir(dest: &Location, rel: &str) -> Result<()> {
    let dir = dest.child(rel);
    let listed: Vec<object_store::ObjectMeta> = dest
        .store
        .list(Some(&dir))
        .try_collect()
        .await
        .map_err(|e| Error::storage("list", dest.display(&dir), &e))?;
    super::retract::delete_listed(dest, listed, &dir).await
}
