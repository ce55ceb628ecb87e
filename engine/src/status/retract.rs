//! Taking a bad day back: "deletion means de-referenced, not removed". The
//! directories the day's latest completed run published are moved, whole,
//! under `_weir/retracted/<db>.<collection>/<date>/<when>-<run id>/`, so
//! readers no longer find them and nothing is lost; the versions that run's
//! commit replaced (kept under `_weir/replaced/`, see [`super::versions`])
//! are moved back into place, so the day is as it was before that run (or
//! empty, when that run published it first). A Delta table is not moved:
//! the run's commit to it is taken back by a new version. `weir vacuum`
//! deletes retracted and replaced files once they are older than a bound.
//!
//! A move is: every object copied to its retracted place, then the
//! directory's `_SUCCESS` and manifest deleted (readers stop trusting it
//! from that moment), then its other objects. A retraction cut short leaves
//! a directory without `_SUCCESS` (which readers already refuse) and is
//! finished by running it again.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use super::versions::{REPLACED_ROOT, WHEN_FORMAT, is_complete, kept_by, manifest_run};
use super::{DayRun, DayState, StatusStore, day_key};
use crate::report::OutputRef;
use crate::storage::{Location, raw_join};
use crate::{Error, Fault, Result};

/// Where retracted directories go under the destination.
pub const RETRACTED_ROOT: &str = "_weir/retracted";

/// What a retraction did.
#[derive(Debug, Clone, PartialEq)]
pub struct Retracted {
    /// The run whose output was taken back.
    pub run: DayRun,
    /// Each directory and where it went.
    pub moved: Vec<(String, String)>,
    /// Each directory whose previous version came back, and the run that
    /// had published that version.
    pub restored: Vec<(String, String)>,
    /// Each Delta table whose commit was taken back, and the new version.
    pub undone: Vec<(String, u64)>,
}

/// De-references the output of the latest completed run of `collection`
/// on `export_date` and records the retraction (`who`, `why`) as the day's
/// latest status, under `run_id`. The caller holds the day's lease.
pub async fn retract(
    dest: &Location,
    collection: &str,
    export_date: NaiveDate,
    run_id: &str,
    who: &str,
    why: &str,
) -> Result<Retracted> {
    let store = StatusStore::new(dest.clone());
    let failed = |detail: String| Error::DayCheck {
        collection: collection.to_owned(),
        export_date: export_date.to_string(),
        detail,
        fault: Fault::Configuration,
    };
    let latest = store.latest_of(collection, export_date).await?;
    let published = match latest {
        Some(run) if run.state == DayState::Completed && !run.outputs.is_empty() => run,
        Some(run) => {
            return Err(failed(format!(
                "its latest run {} is {}, with nothing published to retract",
                run.run_id, run.state
            )));
        }
        None => {
            return Err(failed(
                "no run of it is recorded; nothing to retract".to_owned(),
            ));
        }
    };
    let now = Utc::now();
    let base = format!(
        "{RETRACTED_ROOT}/{}/{export_date}/{}-{}",
        day_key(collection),
        now.format(WHEN_FORMAT),
        published.run_id
    );
    let date = export_date.to_string();
    let kept = kept_by(dest, collection, &date, &published.run_id).await?;
    let root = dest.display(&dest.prefix);
    let mut moved = Vec::new();
    let mut restored = Vec::new();
    let mut undone = Vec::new();
    for (n, output) in published.outputs.iter().enumerate() {
        let rel = under_dest(dest, &output.path).ok_or_else(|| {
            failed(format!(
                "its output {} is not under the destination {root}",
                output.path
            ))
        })?;
        if output.version.is_some() {
            // A Delta table: its log is the history; a new version takes
            // the run's commit back.
            let app_prefix = format!("weir:{}:{collection}:{date}:", published.run_id);
            let version = crate::tables::delta::undo_run(dest, rel, &app_prefix, run_id)
                .await
                .map_err(|detail| Error::DayCheck {
                    collection: collection.to_owned(),
                    export_date: date.clone(),
                    detail: format!("taking back its commit to the Delta table {rel}: {detail}"),
                    fault: Fault::Environment,
                })?;
            if let Some(version) = version {
                undone.push((output.path.clone(), version));
            }
            continue;
        }
        let to = format!("{base}/{n}-{}", output.format);
        move_dir(dest, &dest.child(rel), &dest.child(&to)).await?;
        moved.push((output.path.clone(), dest.display(&dest.child(&to))));
        if let Some(kept) = &kept {
            let version = raw_join(kept, &crate::output::version_tag(rel));
            if is_complete(dest, &version).await? {
                let by = manifest_run(dest, &version)
                    .await
                    .unwrap_or_else(|| "an unknown run".to_owned());
                move_dir(dest, &version, &dest.child(rel)).await?;
                restored.push((output.path.clone(), by));
            }
        }
    }
    let mut record = DayRun::started(collection, export_date, run_id, super::RunKind::Retract);
    record.state = DayState::Retracted;
    record.ended_at = Some(Utc::now());
    let back = match restored.first() {
        Some((_, by)) => format!("; the version run {by} had published is back"),
        None if undone.is_empty() => "; the day is empty".to_owned(),
        None => String::new(),
    };
    record.note = Some(format!(
        "{who} retracted run {}'s output: {why}{back}",
        published.run_id
    ));
    let reference = |format: &str, path: &str, version: Option<u64>| OutputRef {
        collection: collection.to_owned(),
        export_date: date.clone(),
        format: format.to_owned(),
        path: path.to_owned(),
        version,
        rows: None,
    };
    record.outputs = moved
        .iter()
        .map(|(_, to)| reference("retracted", to, None))
        .chain(
            restored
                .iter()
                .map(|(path, _)| reference("restored", path, None)),
        )
        .chain(
            undone
                .iter()
                .map(|(path, v)| reference("delta_undone", path, Some(*v))),
        )
        .collect();
    store.record(&record).await?;
    Ok(Retracted {
        run: published,
        moved,
        restored,
        undone,
    })
}

/// Copies `from`'s objects under `to`, then deletes the markers, then the
/// rest.
async fn move_dir(dest: &Location, from: &ObjectPath, to: &ObjectPath) -> Result<()> {
    let listed: Vec<object_store::ObjectMeta> = dest
        .store
        .list(Some(from))
        .try_collect()
        .await
        .map_err(|e| Error::storage("list", dest.display(from), &e))?;
    let prefix = format!("{from}/");
    // Markers copied last (`_SUCCESS` after the manifest): a directory that
    // is restored is not trusted before all its files are there.
    let mut listed = listed;
    listed.sort_by_key(|m| match m.location.filename() {
        Some("_manifest.json") => 1,
        Some("_SUCCESS") => 2,
        _ => 0,
    });
    for m in &listed {
        let rel = m
            .location
            .as_ref()
            .strip_prefix(&prefix)
            .unwrap_or_default();
        let target = raw_join(to, rel);
        dest.store
            .copy(&m.location, &target)
            .await
            .map_err(|e| Error::storage("copy", dest.display(&m.location), &e))?;
    }
    delete_listed(dest, listed, from).await
}

/// Deletes a directory's `listed` objects, `_SUCCESS` first (from then on
/// readers refuse it), then its manifest, then the rest; then, on local
/// disk, the directories left empty.
pub(crate) async fn delete_listed(
    dest: &Location,
    mut listed: Vec<object_store::ObjectMeta>,
    dir: &ObjectPath,
) -> Result<()> {
    listed.sort_by_key(|m| match m.location.filename() {
        Some("_SUCCESS") => 0,
        Some("_manifest.json") => 1,
        _ => 2,
    });
    for m in &listed {
        match dest.store.delete(&m.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::storage("delete", dest.display(&m.location), &e)),
        }
    }
    remove_empty_dirs(dest, &listed, dir);
    Ok(())
}

/// A published path (as status records it) relative to the destination
/// root; `None` when it is not under it.
pub(crate) fn under_dest<'a>(dest: &Location, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(&dest.display(&dest.prefix))
        .map(|r| r.trim_start_matches('/'))
        .filter(|r| !r.is_empty())
}

/// On local disk, the directories `listed` objects were in and `dir`
/// itself, once empty (deepest first); object stores have none.
pub(crate) fn remove_empty_dirs(
    dest: &Location,
    listed: &[object_store::ObjectMeta],
    dir: &ObjectPath,
) {
    if !dest.is_local() {
        return;
    }
    let mut dirs: Vec<std::path::PathBuf> = listed
        .iter()
        .filter_map(|m| {
            std::path::PathBuf::from(dest.display(&m.location))
                .parent()
                .map(|p| p.to_owned())
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
    let _ = std::fs::remove_dir(dest.display(dir));
}

/// Deletes retracted files and replaced versions whose retraction or
/// replacement is older than `older_than`; returns how many objects went.
/// Nothing published is touched: those roots hold only de-referenced files.
pub async fn vacuum(dest: &Location, older_than: Duration) -> Result<usize> {
    let cutoff = Utc::now() - older_than;
    let mut deleted = 0;
    for root in [RETRACTED_ROOT, REPLACED_ROOT] {
        let root = dest.child(root);
        let listed: Vec<object_store::ObjectMeta> = dest
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(|e| Error::storage("list", dest.display(&root), &e))?;
        let prefix = format!("{root}/");
        for m in listed {
            // <key>/<date>/<when>-<run id>/…: the time names the folder.
            let when = m
                .location
                .as_ref()
                .strip_prefix(&prefix)
                .and_then(|rel| rel.split('/').nth(2))
                .and_then(|dir| dir.split('-').next())
                .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, WHEN_FORMAT).ok())
                .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc));
            if when.is_some_and(|w| w <= cutoff) {
                dest.store
                    .delete(&m.location)
                    .await
                    .map_err(|e| Error::storage("delete", dest.display(&m.location), &e))?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
