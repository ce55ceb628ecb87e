//! Publishing a day: only the files of successful task attempts, every
//! output directory of the day together, replacing the previous ones.
//!
//! - Local disk: the listed files are renamed into a fresh directory beside
//!   the staging area, `_manifest.json` and `_SUCCESS` are written into it, then
//!   the previous directory is renamed away and the new one renamed into place
//!   (two renames on one filesystem; readers see the old day or the new one).
//!   Every directory is assembled and synced before any is swapped; a swap
//!   that fails puts back the directories already swapped. The previous
//!   directory is renamed to where the day's replaced versions are kept
//!   (`keep`), so `weir retract` can bring it back; `weir vacuum` deletes it.
//! - Object stores (no rename): the listed files are copied to their final
//!   keys (names are unique per attempt, so nothing published is overwritten),
//!   then `_manifest.json`, then `_SUCCESS` last; objects of earlier runs that
//!   the new manifest does not list are deleted afterwards. Readers trust only
//!   the committed manifest. Before the first copy a journal (the markers'
//!   previous bytes, the copies to come) is written under the staging, so a
//!   run that finds this one dead can roll a commit cut anywhere before its
//!   last marker back (`recover`); before the first marker the previous
//!   directory is copied under `keep`.

use std::path::PathBuf;

use futures::{StreamExt, TryStreamExt};
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
    /// For a Delta table, the version the day made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// For a typed table, rows whose every column is NULL (malformed `val`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_null_rows: Option<u64>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    run_id: &'a str,
    weir_version: &'static str,
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

/// One directory of a day's outputs and the staged files that become it.
#[derive(Debug, Clone, Copy)]
pub struct DirOutput<'a> {
    /// The directory, relative to the destination root.
    pub dir: &'a str,
    /// Its files.
    pub files: &'a [&'a StagedFile],
}

/// A named point of the commit where tests can make it fail
/// (`WEIR_FAULT_AT=<step>:<part of the directory>`), as a crash or a full disk
/// would: the commit must then leave every directory as it was.
fn fault_at(step: &str, dir: &str) -> std::io::Result<()> {
    // Tests kill a run here (`WEIR_TEST_PAUSE_AT=<step>:<part of the
    // directory>` holds the commit at that point for two minutes).
    if let Ok(at) = std::env::var("WEIR_TEST_PAUSE_AT")
        && at
            .split_once(':')
            .is_some_and(|(s, d)| s == step && dir.contains(d))
    {
        tracing::warn!(step, dir, "commit paused for a test");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
    match std::env::var("WEIR_FAULT_AT") {
        Ok(at)
            if at
                .split_once(':')
                .is_some_and(|(s, d)| s == step && dir.contains(d)) =>
        {
            Err(std::io::Error::other(format!(
                "injected fault at {step} of {dir}"
            )))
        }
        _ => Ok(()),
    }
}

/// Where a commit puts a day's outputs, relative to the destination root.
#[derive(Debug, Clone, Copy)]
pub struct CommitPaths<'a> {
    /// The run's staging prefix for the day.
    pub staging: &'a str,
    /// Where the directories it replaces are kept (one folder per directory,
    /// named by [`version_tag`]).
    pub keep: &'a str,
}

/// The folder a replaced directory is kept in under [`CommitPaths::keep`].
pub fn version_tag(dir: &str) -> String {
    dir.trim_matches('/').replace('/', "_")
}

/// Publishes every directory of a day's outputs together: each becomes
/// exactly its `files`, or (on failure) none changes.
pub async fn publish_all(
    dest: &Location,
    paths: CommitPaths<'_>,
    outputs: &[DirOutput<'_>],
    run_id: &str,
) -> Result<Vec<PublishedDir>> {
    let mut manifests = Vec::with_capacity(outputs.len());
    let mut published = Vec::with_capacity(outputs.len());
    for out in outputs {
        let manifest = Manifest {
            format: "weir output manifest v1",
            run_id,
            weir_version: env!("CARGO_PKG_VERSION"),
            files: out
                .files
                .iter()
                .map(|f| ManifestEntry {
                    path: &f.target,
                    rows: f.rows,
                    bytes: f.bytes,
                })
                .collect(),
        };
        manifests.push(serde_json::to_vec_pretty(&manifest).unwrap_or_default());
        let final_dir = dest.child(out.dir);
        published.push(PublishedDir {
            path: dest.display(&final_dir),
            files: out.files.len(),
            rows: out.files.iter().map(|f| f.rows).sum(),
            bytes: out.files.iter().map(|f| f.bytes).sum(),
            version: None,
            all_null_rows: None,
        });
    }
    if dest.is_local() {
        publish_local(dest, paths, outputs, manifests).await?;
    } else {
        publish_object_store(dest, paths, outputs, manifests).await?;
    }
    Ok(published)
}

/// A file a published directory's manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedFile {
    /// Its path relative to the directory.
    pub path: String,
    /// Rows in it.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
}

#[derive(Deserialize)]
pub(crate) struct ManifestRead {
    pub(crate) files: Vec<ListedFile>,
}

/// The files of a directory Weir published, from its manifest (what
/// readers trust: on object stores, objects of an earlier run can still sit
/// beside them for a while). `None` when the directory is not complete: no
/// `_SUCCESS`, or no manifest.
pub async fn published_files(loc: &Location, dir: &ObjectPath) -> Result<Option<Vec<ListedFile>>> {
    let marker = raw_join(dir, "_SUCCESS");
    match loc.store.head(&marker).await {
        Ok(_) => {}
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(storage("read", loc.display(&marker), e)),
    }
    let path = raw_join(dir, "_manifest.json");
    let bytes = match loc.store.get(&path).await {
        Ok(got) => got
            .bytes()
            .await
            .map_err(|e| storage("read", loc.display(&path), e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(storage("read", loc.display(&path), e)),
    };
    let manifest: ManifestRead = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
        field: loc.display(&path),
        detail: crate::redact::json_error(&e),
    })?;
    Ok(Some(manifest.files))
}

/// One directory's paths on local disk during the commit.
struct LocalDir {
    /// Where the new content is assembled.
    fresh: PathBuf,
    /// Where the previous content is moved during the swap.
    replaced: PathBuf,
    /// The published directory.
    target: PathBuf,
    /// Staged file → its place under `fresh`.
    moves: Vec<(PathBuf, PathBuf)>,
    manifest: Vec<u8>,
    dir: String,
}

async fn publish_local(
    dest: &Location,
    paths: CommitPaths<'_>,
    outputs: &[DirOutput<'_>],
    manifests: Vec<Vec<u8>>,
) -> Result<()> {
    let staging = paths.staging;
    let mut dirs = Vec::with_capacity(outputs.len());
    for (out, manifest) in outputs.iter().zip(manifests) {
        let tag = version_tag(out.dir);
        let fresh = local_path(dest, &dest.child(&format!("{staging}/publish/{tag}")));
        let moves = out
            .files
            .iter()
            .map(|f| {
                Ok((
                    local_path(dest, &stored_path(&f.staged)?),
                    fresh.join(&f.target),
                ))
            })
            .collect::<Result<_>>()?;
        dirs.push(LocalDir {
            replaced: local_path(dest, &dest.child(&format!("{}/{tag}", paths.keep))),
            target: local_path(dest, &dest.child(out.dir)),
            fresh,
            moves,
            manifest,
            dir: out.dir.to_owned(),
        });
    }
    let publish = local_path(dest, &dest.child(&format!("{staging}/publish")));
    tokio::task::spawn_blocking(move || -> Result<()> {
        // Every directory complete and on disk before any is swapped in.
        for d in &dirs {
            prepare_local(d)?;
        }
        // What a run that finds this one dead needs to roll it back.
        let journal: Vec<super::recover::JournalEntry> = dirs
            .iter()
            .map(|d| super::recover::JournalEntry {
                target: d.target.clone(),
                fresh: d.fresh.clone(),
                replaced: d.replaced.clone(),
            })
            .collect();
        write_synced(
            &publish.join(super::recover::JOURNAL),
            &serde_json::to_vec_pretty(&journal).unwrap_or_default(),
        )?;
        let mut swapped: Vec<&LocalDir> = Vec::new();
        for d in &dirs {
            if let Err(e) = swap_in(d) {
                // Put back what was already swapped, newest first.
                for done in swapped.iter().rev() {
                    if let Err(undo) = swap_back(done) {
                        tracing::error!(dir = %done.dir, error = %undo, "could not roll back a published directory");
                    }
                }
                return Err(e);
            }
            swapped.push(d);
        }
        write_synced(&publish.join(super::recover::COMMITTED), b"")?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Config {
        field: "publish".to_owned(),
        detail: format!("publishing thread failed: {e}"),
    })?
}

fn write_err(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::Write {
        path: path.to_owned(),
        source: e,
    }
}

/// Moves a directory's files into place under `fresh`, writes its manifest
/// and `_SUCCESS`, and syncs it all: a crash after the swap cannot leave a
/// published directory whose files or markers were still in the page cache.
fn prepare_local(d: &LocalDir) -> Result<()> {
    std::fs::create_dir_all(&d.fresh).map_err(|e| write_err(&d.fresh, e))?;
    let mut dirs = std::collections::BTreeSet::new();
    let mut to_sync = Vec::with_capacity(d.moves.len() + 2);
    for (from, to) in &d.moves {
        if let Some(parent) = to.parent()
            && !dirs.contains(parent)
        {
            std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
            dirs.insert(parent.to_owned());
        }
        std::fs::rename(from, to).map_err(|e| write_err(to, e))?;
        to_sync.push(to.clone());
    }
    for (name, bytes) in [("_manifest.json", &d.manifest[..]), ("_SUCCESS", b"")] {
        let path = d.fresh.join(name);
        std::fs::write(&path, bytes).map_err(|e| write_err(&path, e))?;
        to_sync.push(path);
    }
    dirs.insert(d.fresh.clone());
    to_sync.extend(dirs);
    sync_files(&to_sync)?;
    fault_at("prepare", &d.dir).map_err(|e| write_err(&d.fresh, e))
}

/// Threads [`sync_files`] uses at most.
const SYNC_THREADS: usize = 16;

/// `fsync` of every path, several at once: one after another, a directory
/// per `id_part` and a file in each cost a journal commit apiece (256 ORC
/// files and their directories: ~0.1 s even with the files' bytes already
/// on disk), while concurrent ones share commits. The first failure, in
/// the order given, is returned once all are done.
fn sync_files(paths: &[PathBuf]) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let threads = paths.len().min(SYNC_THREADS);
    let failures = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut failed = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            return failed;
                        };
                        if let Err(e) = sync_file(path) {
                            failed.push((i, e));
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join().unwrap_or_else(|_| {
                    let e = std::io::Error::other("a thread syncing the day's files panicked");
                    vec![(usize::MAX, write_err(std::path::Path::new("publish"), e))]
                })
            })
            .collect::<Vec<_>>()
    });
    match failures.into_iter().min_by_key(|(i, _)| *i) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Writes a small file and makes it and its directory durable.
fn write_synced(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| write_err(path, e))?;
    sync_file(path)?;
    if let Some(parent) = path.parent() {
        sync_file(parent)?;
    }
    Ok(())
}

/// The previous content away, the new one in; on failure the previous one
/// is back.
fn swap_in(d: &LocalDir) -> Result<()> {
    if let Some(parent) = d.target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
    }
    let had_previous = d.target.exists();
    if had_previous {
        if let Some(parent) = d.replaced.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
        }
        std::fs::rename(&d.target, &d.replaced).map_err(|e| write_err(&d.target, e))?;
    }
    let moved_in = fault_at("swap", &d.dir).and_then(|()| std::fs::rename(&d.fresh, &d.target));
    if let Err(e) = moved_in {
        if had_previous && let Err(undo) = std::fs::rename(&d.replaced, &d.target) {
            tracing::error!(dir = %d.dir, error = %undo, "could not put the previous directory back");
        }
        return Err(write_err(&d.target, e));
    }
    if let Some(parent) = d.target.parent() {
        sync_file(parent)?;
    }
    Ok(())
}

/// Undoes [`swap_in`]: the new content aside again, the previous one back.
fn swap_back(d: &LocalDir) -> std::io::Result<()> {
    std::fs::rename(&d.target, &d.fresh)?;
    if d.replaced.exists() {
        std::fs::rename(&d.replaced, &d.target)?;
    }
    Ok(())
}

/// `fsync` of a file or directory.
fn sync_file(path: &std::path::Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| write_err(path, e))
}

/// Object stores: the journal first, then every directory's files copied
/// (new keys, nothing live changes) and the previous directories kept, then
/// the manifests and markers back to back, then `committed`, then what the
/// new manifests do not list is deleted. A failure before the last marker
/// is rolled back here: the markers already written get their previous
/// bytes again and the copies are deleted, so every directory lists as it
/// did. A process killed in between is rolled back from the journal by the
/// run that takes the day next ([`super::recover::recover`]).
async fn publish_object_store(
    dest: &Location,
    paths: CommitPaths<'_>,
    outputs: &[DirOutput<'_>],
    manifests: Vec<Vec<u8>>,
) -> Result<()> {
    let store = &dest.store;
    // What each directory's markers held before, to put back on failure.
    let mut previous = Vec::with_capacity(outputs.len());
    for out in outputs {
        let final_dir = dest.child(out.dir);
        let mut markers = Vec::new();
        for name in ["_manifest.json", "_SUCCESS"] {
            let path = final_dir.clone().join(name);
            let bytes = match store.get(&path).await {
                Ok(got) => Some(
                    got.bytes()
                        .await
                        .map_err(|e| storage("read", dest.display(&path), e))?,
                ),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => return Err(storage("read", dest.display(&path), e)),
            };
            markers.push((path, bytes));
        }
        previous.push(markers);
    }
    let keep_root = dest.child(paths.keep);
    // The journal first: every copy it is about to make, and every marker
    // as it was, so a run that finds this one dead at any later point can
    // put the day back exactly.
    let journal: Vec<super::recover::StoreJournalEntry> = outputs
        .iter()
        .zip(&previous)
        .map(|(out, before)| {
            let final_dir = dest.child(out.dir);
            super::recover::StoreJournalEntry {
                dir: final_dir.to_string(),
                manifest: before[0]
                    .1
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
                success: before[1].1.is_some(),
                copies: out
                    .files
                    .iter()
                    .map(|f| raw_join(&final_dir, &f.target).to_string())
                    .collect(),
            }
        })
        .collect();
    super::recover::write_store_journal(dest, paths, &journal).await?;
    let mut copied = Vec::new();
    let mut written: Vec<&(ObjectPath, Option<bytes::Bytes>)> = Vec::new();
    let committed = async {
        let mut keeps = Vec::with_capacity(outputs.len());
        for out in outputs {
            let final_dir = dest.child(out.dir);
            let mut keep = std::collections::HashSet::new();
            let mut pairs = Vec::with_capacity(out.files.len());
            for f in out.files {
                let to = raw_join(&final_dir, &f.target);
                pairs.push((stored_path(&f.staged)?, to.clone()));
                // Counted as copied before it is made: a failed commit
                // deletes every target it may have written.
                copied.push(to.clone());
                keep.insert(to);
            }
            copy_all(dest, pairs).await?;
            fault_at("prepare", out.dir)
                .map_err(|e| Error::storage("copy", dest.display(&final_dir), &e))?;
            keeps.push((final_dir, keep));
        }
        for (out, before) in outputs.iter().zip(&previous) {
            let final_dir = dest.child(out.dir);
            keep_version(
                dest,
                &final_dir,
                before,
                &raw_join(&keep_root, &version_tag(out.dir)),
            )
            .await?;
        }
        for (((final_dir, keep), manifest), (out, before)) in keeps
            .iter_mut()
            .zip(manifests)
            .zip(outputs.iter().zip(&previous))
        {
            for ((name, bytes), old) in [("_manifest.json", manifest), ("_SUCCESS", Vec::new())]
                .into_iter()
                .zip(before)
            {
                let path = final_dir.clone().join(name);
                written.push(old);
                store
                    .put(&path, bytes.into())
                    .await
                    .map_err(|e| storage("put", dest.display(&path), e))?;
                keep.insert(path);
            }
            fault_at("marker", out.dir)
                .map_err(|e| Error::storage("put", dest.display(final_dir), &e))?;
        }
        super::recover::mark_committed(dest, paths.staging).await?;
        Ok::<_, Error>(keeps)
    }
    .await;
    let keeps = match committed {
        Ok(keeps) => keeps,
        Err(e) => {
            // Markers first (readers go by them), then the copies.
            for (path, old) in written.into_iter().rev() {
                if let Err(undo) = restore_marker(store.as_ref(), path, old.clone()).await {
                    tracing::error!(path = %dest.display(path), error = %crate::redact::secrets(&undo.to_string()), "cannot roll back a marker");
                }
            }
            if let Err(undo) = delete_all(store.as_ref(), dest, copied).await {
                tracing::warn!(error = %undo, "copies of a failed commit left for the next clean-up");
            }
            if let Err(undo) = delete_prefix(dest, &keep_root).await {
                tracing::warn!(error = %undo, "kept versions of a failed commit left for vacuum");
            }
            return Err(e);
        }
    };
    for (final_dir, keep) in &keeps {
        // Objects of earlier runs of this day: gone once the new day is
        // committed (the previous version is kept under `keep`).
        let stale: Vec<ObjectPath> = store
            .list(Some(final_dir))
            .map_ok(|meta| meta.location)
            .try_filter(|p| futures::future::ready(!keep.contains(p)))
            .try_collect()
            .await
            .map_err(|e| storage("list", dest.display(final_dir), e))?;
        delete_all(store.as_ref(), dest, stale).await?;
    }
    Ok(())
}

/// Puts a marker back as it was: its previous bytes, or no object.
pub(crate) async fn restore_marker(
    store: &dyn ObjectStore,
    path: &ObjectPath,
    old: Option<bytes::Bytes>,
) -> object_store::Result<()> {
    match old {
        Some(bytes) => store.put(path, bytes.into()).await.map(|_| ()),
        None => match store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        },
    }
}

/// Copies a complete published directory (its manifest's files, then the
/// manifest, then `_SUCCESS`) to `to`, where a retraction finds it.
/// `markers` are its `_manifest.json` and `_SUCCESS` as read before the
/// commit; a directory without both is not a version and is not kept.
async fn keep_version(
    dest: &Location,
    dir: &ObjectPath,
    markers: &[(ObjectPath, Option<bytes::Bytes>)],
    to: &ObjectPath,
) -> Result<()> {
    let (Some(manifest), Some(_)) = (&markers[0].1, &markers[1].1) else {
        return Ok(());
    };
    let listed: ManifestRead = serde_json::from_slice(manifest).map_err(|e| Error::Config {
        field: dest.display(&markers[0].0),
        detail: crate::redact::json_error(&e),
    })?;
    let pairs = listed
        .files
        .iter()
        .map(|f| (raw_join(dir, &f.path), raw_join(to, &f.path)))
        .collect();
    copy_all(dest, pairs).await?;
    for (name, bytes) in [
        ("_manifest.json", manifest.clone()),
        ("_SUCCESS", bytes::Bytes::new()),
    ] {
        let path = raw_join(to, name);
        dest.store
            .put(&path, bytes.into())
            .await
            .map_err(|e| storage("put", dest.display(&path), e))?;
    }
    Ok(())
}

/// Deletes every object under `prefix`.
pub(crate) async fn delete_prefix(dest: &Location, prefix: &ObjectPath) -> Result<()> {
    let paths: Vec<ObjectPath> = dest
        .store
        .list(Some(prefix))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| storage("list", dest.display(prefix), e))?;
    delete_all(dest.store.as_ref(), dest, paths).await
}

/// Server-side copies, [`Location::concurrency`] at a time; the first
/// failure fails them all (the caller rolls back every target).
pub(crate) async fn copy_all(dest: &Location, pairs: Vec<(ObjectPath, ObjectPath)>) -> Result<()> {
    let store = &dest.store;
    futures::stream::iter(pairs)
        .map(|(from, to)| async move {
            store
                .copy(&from, &to)
                .await
                .map_err(|e| storage("copy", dest.display(&to), e))
        })
        .buffer_unordered(dest.concurrency)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

pub(crate) async fn delete_all(
    store: &dyn ObjectStore,
    dest: &Location,
    paths: Vec<ObjectPath>,
) -> Result<()> {
    futures::stream::iter(paths)
        .map(|path| async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(storage("delete", dest.display(&path), e)),
            }
        })
        .buffer_unordered(dest.concurrency)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

/// Removes a run's staging area for a day (after publishing, or after a
/// failure: what failed attempts left behind goes too).
pub async fn discard_staging(dest: &Location, staging: &str) -> Result<()> {
    let prefix = dest.child(staging);
    // Runs the write tasks held in memory go with the directory they would
    // have been staged in (all of them read, or the day failed first).
    crate::exec::forget_memory_runs(&dest.display(&prefix));
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
    delete_prefix(dest, &prefix).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_synced_and_the_first_failure_in_order_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..3 * SYNC_THREADS {
            let sub = dir.path().join(format!("id_part={i:02x}"));
            std::fs::create_dir_all(&sub).unwrap();
            let file = sub.join("part.orc");
            std::fs::write(&file, [i as u8; 100]).unwrap();
            paths.push(file);
            paths.push(sub);
        }
        sync_files(&paths).unwrap();
        sync_files(&[]).unwrap();

        // Two paths that cannot be opened: whichever thread meets its
        // failure first, the error reported is the one earlier in the list.
        let later = dir.path().join("gone-later");
        let earlier = dir.path().join("gone-earlier");
        paths.insert(40, later);
        paths.insert(3, earlier.clone());
        match sync_files(&paths) {
            Err(Error::Write { path, .. }) => assert_eq!(path, earlier),
            other => panic!("expected a write error, got {other:?}"),
        }
    }
}
