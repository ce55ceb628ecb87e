//! Publishing a day: only the files of successful task attempts, all at once,
//! replacing the previous output of that day.
//!
//! - Local disk: the listed files are renamed into a fresh directory beside
//!   the staging area, `_manifest.json` and `_SUCCESS` are written into it, then
//!   the previous directory is renamed away and the new one renamed into place
//!   (two renames on one filesystem; readers see the old day or the new one).
//! - Object stores (no rename): the listed files are copied to their final
//!   keys (names are unique per attempt, so nothing published is overwritten),
//!   then `_manifest.json`, then `_SUCCESS` last; objects of earlier runs that
//!   the new manifest does not list are deleted afterwards. Readers trust only
//!   the committed manifest.

use std::path::PathBuf;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use super::StagedFile;
use crate::storage::{Location, raw_join, stored_path};
use crate::{Error, Result};

/// A published directory and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedDir {
    /// Its path or URL.
    pub path: String,
    /// Files in it (data files, not the markers).
    pub files: usize,
    /// Rows in them.
    pub rows: u64,
    /// Their bytes.
    pub bytes: u64,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    run_id: &'a str,
    files: Vec<ManifestEntry<'a>>,
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    path: &'a str,
    rows: u64,
    bytes: u64,
}

fn storage(op: &'static str, location: String, source: object_store::Error) -> Error {
    Error::storage(op, location, &source)
}

fn local_path(dest: &Location, path: &ObjectPath) -> PathBuf {
    PathBuf::from(dest.display(path))
}

/// Publishes `files` as the whole content of `dir` (relative to `dest`).
/// `staging` is the run's staging prefix for this day (relative to `dest`).
pub async fn publish(
    dest: &Location,
    staging: &str,
    dir: &str,
    files: &[&StagedFile],
    run_id: &str,
) -> Result<PublishedDir> {
    let manifest = Manifest {
        format: "weir output manifest v1",
        run_id,
        files: files
            .iter()
            .map(|f| ManifestEntry {
                path: &f.target,
                rows: f.rows,
                bytes: f.bytes,
            })
            .collect(),
    };
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let final_dir = dest.child(dir);
    let published = PublishedDir {
        path: dest.display(&final_dir),
        files: files.len(),
        rows: files.iter().map(|f| f.rows).sum(),
        bytes: files.iter().map(|f| f.bytes).sum(),
    };
    if dest.is_local() {
        publish_local(dest, staging, dir, files, &manifest).await?;
    } else {
        publish_object_store(dest, &final_dir, files, manifest).await?;
    }
    Ok(published)
}

async fn publish_local(
    dest: &Location,
    staging: &str,
    dir: &str,
    files: &[&StagedFile],
    manifest: &[u8],
) -> Result<()> {
    let tag = dir.replace('/', "_");
    let fresh = local_path(dest, &dest.child(&format!("{staging}/publish/{tag}")));
    let replaced = local_path(dest, &dest.child(&format!("{staging}/replaced/{tag}")));
    let target = local_path(dest, &dest.child(dir));
    let files: Vec<(PathBuf, PathBuf)> = files
        .iter()
        .map(|f| {
            Ok((
                local_path(dest, &stored_path(&f.staged)?),
                fresh.join(&f.target),
            ))
        })
        .collect::<Result<_>>()?;
    let manifest = manifest.to_vec();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let write_err = |path: &std::path::Path, e: std::io::Error| Error::Write {
            path: path.to_owned(),
            source: e,
        };
        std::fs::create_dir_all(&fresh).map_err(|e| write_err(&fresh, e))?;
        for (from, to) in &files {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
            }
            std::fs::rename(from, to).map_err(|e| write_err(to, e))?;
        }
        let put = |name: &str, bytes: &[u8]| {
            let path = fresh.join(name);
            std::fs::write(&path, bytes).map_err(|e| write_err(&path, e))
        };
        put("_manifest.json", &manifest)?;
        put("_SUCCESS", b"")?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
        }
        if target.exists() {
            if let Some(parent) = replaced.parent() {
                std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
            }
            std::fs::rename(&target, &replaced).map_err(|e| write_err(&target, e))?;
        }
        std::fs::rename(&fresh, &target).map_err(|e| write_err(&target, e))?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Config {
        field: "publish".to_owned(),
        detail: format!("publishing thread failed: {e}"),
    })?
}

async fn publish_object_store(
    dest: &Location,
    final_dir: &ObjectPath,
    files: &[&StagedFile],
    manifest: Vec<u8>,
) -> Result<()> {
    let store = &dest.store;
    let mut keep = std::collections::HashSet::new();
    for f in files {
        let to = raw_join(final_dir, &f.target);
        store
            .copy(&stored_path(&f.staged)?, &to)
            .await
            .map_err(|e| storage("copy", dest.display(&to), e))?;
        keep.insert(to);
    }
    for (name, bytes) in [("_manifest.json", manifest), ("_SUCCESS", Vec::new())] {
        let path = final_dir.clone().join(name);
        store
            .put(&path, bytes.into())
            .await
            .map_err(|e| storage("put", dest.display(&path), e))?;
        keep.insert(path);
    }
    // Objects of earlier runs of this day: gone once the new day is committed.
    let stale: Vec<ObjectPath> = store
        .list(Some(final_dir))
        .map_ok(|meta| meta.location)
        .try_filter(|p| futures::future::ready(!keep.contains(p)))
        .try_collect()
        .await
        .map_err(|e| storage("list", dest.display(final_dir), e))?;
    delete_all(store.as_ref(), dest, stale).await
}

async fn delete_all(
    store: &dyn ObjectStore,
    dest: &Location,
    paths: Vec<ObjectPath>,
) -> Result<()> {
    for path in paths {
        match store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage("delete", dest.display(&path), e)),
        }
    }
    Ok(())
}

/// Removes a run's staging area for a day (after publishing, or after a
/// failure: what failed attempts left behind goes too).
pub async fn discard_staging(dest: &Location, staging: &str) -> Result<()> {
    let prefix = dest.child(staging);
    if dest.is_local() {
        let path = local_path(dest, &prefix);
        return tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Write { path, source: e }),
        })
        .await
        .map_err(|e| Error::Config {
            field: "cleanup".to_owned(),
            detail: e.to_string(),
        })?;
    }
    let paths: Vec<ObjectPath> = dest
        .store
        .list(Some(&prefix))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| storage("list", dest.display(&prefix), e))?;
    delete_all(dest.store.as_ref(), dest, paths).await
}
