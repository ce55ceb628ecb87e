//! Retention: a collection kept `expire_after_days` loses the output of
//! every day older than that (`weir vacuum`). A day is expired under its
//! lease, so no run is publishing it meanwhile: its published directories
//! are deleted (`_SUCCESS` first, so readers refuse each one from the first
//! delete), and the day's status becomes EXPIRED, which `--reprocess
//! missing` leaves alone. Delta tables keep their history in their log and
//! are not touched by a collection's retention.
//!
//! A table can be kept for its own number of days ([`expire_table`]): its
//! day partitions before the cutoff are deleted (Hive directories,
//! `_SUCCESS` first), or removed from a Delta table by one `DELETE` version
//! whose files are then deleted ([`crate::tables::delta::expire_before`]).

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

/// A table's day partitions (`<day_column>=YYYY-MM-DD`) older than
/// `expire_after_days` (before today minus that many days) removed; the
/// days removed. A table with a Delta log is expired through it, whatever
/// the configuration says (the format is chosen per run).
pub async fn expire_table(
    dest: &Location,
    table_dir: &str,
    day_column: &str,
    expire_after_days: u32,
    run_id: &str,
) -> Result<Vec<String>> {
    let cutoff = Utc::now().date_naive() - Duration::days(i64::from(expire_after_days));
    let log = crate::tables::delta::snapshot(dest, table_dir)
        .await
        .map_err(|detail| Error::storage("read", dest.display(&dest.child(table_dir)), &detail))?;
    if log.version.is_some() {
        let days = crate::tables::delta::expire_before(dest, table_dir, day_column, cutoff, run_id)
            .await
            .map_err(|detail| {
                Error::storage("expire", dest.display(&dest.child(table_dir)), &detail)
            })?;
        return Ok(days.into_iter().collect());
    }
    let dir = dest.child(table_dir);
    let listed = dest
        .store
        .list_with_delimiter(Some(&dir))
        .await
        .map_err(|e| Error::storage("list", dest.display(&dir), &e))?;
    let prefix = format!("{day_column}=");
    let cutoff = cutoff.to_string();
    let mut days = Vec::new();
    for partition in listed.common_prefixes {
        let Some(day) = partition
            .filename()
            .and_then(|name| name.strip_prefix(prefix.as_str()))
            .map(crate::exec::hive_unescape)
        else {
            continue;
        };
        // Only dates: a partition named otherwise is not a day to expire.
        if NaiveDate::parse_from_str(&day, "%Y-%m-%d").is_err() || day >= cutoff {
            continue;
        }
        let Some(name) = partition.filename() else {
            continue;
        };
        delete_dir(dest, &format!("{table_dir}/{name}")).await?;
        days.push(day);
    }
    Ok(days)
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
