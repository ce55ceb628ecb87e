//! The versions a commit replaces are kept, not deleted: each commit puts
//! the directories it replaces under
//! `_weir/replaced/<db>.<collection>/<date>/<when>-<run id>/<directory tag>/`
//! (the run id is the replacing run's), so a retraction of that run brings
//! them back, and `weir vacuum` deletes them once they are older than its
//! bound.

use chrono::Utc;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use super::day_key;
use crate::storage::{Location, raw_join};
use crate::{Error, Result};

/// Where replaced versions go under the destination.
pub const REPLACED_ROOT: &str = "_weir/replaced";

/// The time stamp that names a retraction's or a replacement's folder.
pub(crate) const WHEN_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Where a commit of `run_id` keeps the directories of `collection` on
/// `export_date` that it replaces (relative to the destination root).
pub fn keep_prefix(collection: &str, export_date: &str, run_id: &str) -> String {
    format!(
        "{REPLACED_ROOT}/{}/{export_date}/{}-{run_id}",
        day_key(collection),
        Utc::now().format(WHEN_FORMAT)
    )
}

/// The folder holding what `run_id`'s newest commit of that day replaced,
/// if it replaced anything.
pub async fn kept_by(
    dest: &Location,
    collection: &str,
    export_date: &str,
    run_id: &str,
) -> Result<Option<ObjectPath>> {
    let day = dest.child(&format!(
        "{REPLACED_ROOT}/{}/{export_date}",
        day_key(collection)
    ));
    let listed = dest
        .store
        .list_with_delimiter(Some(&day))
        .await
        .map_err(|e| Error::storage("list", dest.display(&day), &e))?;
    let suffix = format!("-{run_id}");
    Ok(listed
        .common_prefixes
        .into_iter()
        .filter(|p| {
            p.filename().is_some_and(|name| {
                name.strip_suffix(&suffix).is_some_and(|when| {
                    chrono::NaiveDateTime::parse_from_str(when, WHEN_FORMAT).is_ok()
                })
            })
        })
        .max())
}

/// Whether `dir` is a complete kept version (its `_SUCCESS` is there).
pub async fn is_complete(dest: &Location, dir: &ObjectPath) -> Result<bool> {
    let marker = raw_join(dir, "_SUCCESS");
    match dest.store.head(&marker).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(Error::storage("read", dest.display(&marker), &e)),
    }
}

/// The run id a published (or kept) directory's manifest names.
pub async fn manifest_run(dest: &Location, dir: &ObjectPath) -> Option<String> {
    let path = raw_join(dir, "_manifest.json");
    let bytes = dest.store.get(&path).await.ok()?.bytes().await.ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    manifest["run_id"].as_str().map(str::to_owned)
}
