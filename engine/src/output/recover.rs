//! Crash recovery of a commit cut short.
//!
//! Local disk: before swapping any directory,
//! the commit writes a journal (`<staging>/publish/journal.json`: each
//! published directory, where its new content was assembled and where its
//! previous content goes); after the last swap it writes `committed`
//! beside it. A run killed in between (kill -9, power) leaves some
//! directories swapped, one perhaps moved away, and their previous content
//! in its staging. Whoever takes the day next (its lease expired) rolls
//! such a commit back from the journal, so the day is exactly as it was
//! before the dead run, and only then removes the dead run's staging.
//!
//! Object stores: before copying anything, the commit writes
//! `<staging>/publish/store-journal.json` (each directory's previous
//! manifest, whether it had `_SUCCESS`, and the copies it will make), and
//! `committed` after the last marker. A run killed between the two can leave
//! copies nobody lists, and some directories on their new manifest and
//! others on the old one; the run that takes the day next puts every marker
//! back as the journal has it and deletes the copies (and the versions it
//! kept), so the day lists exactly as before.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use super::commit::{CommitPaths, delete_all, delete_prefix, restore_marker};
use crate::storage::{Location, raw_join};
use crate::{Error, Result};

/// The journal's file name under `<staging>/publish/`.
pub(crate) const JOURNAL: &str = "journal.json";
/// Written beside it once every directory is swapped in.
pub(crate) const COMMITTED: &str = "committed";
/// An object store commit's journal, under `<staging>/publish/`.
const STORE_JOURNAL: &str = "store-journal.json";

/// One directory of an object store commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoreJournalEntry {
    /// The published directory (an object path).
    pub(crate) dir: String,
    /// Its `_manifest.json` before the commit.
    pub(crate) manifest: Option<String>,
    /// Whether it had `_SUCCESS` before the commit.
    pub(crate) success: bool,
    /// The objects the commit copies into it.
    pub(crate) copies: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StoreJournal {
    /// Where the commit kept the directories it replaces.
    keep: String,
    dirs: Vec<StoreJournalEntry>,
}

fn journal_path(dest: &Location, staging: &str, name: &str) -> ObjectPath {
    dest.child(&format!("{staging}/publish/{name}"))
}

/// Writes an object store commit's journal (before its first copy).
pub(crate) async fn write_store_journal(
    dest: &Location,
    paths: CommitPaths<'_>,
    dirs: &[StoreJournalEntry],
) -> Result<()> {
    let journal = StoreJournal {
        keep: paths.keep.to_owned(),
        dirs: dirs.to_vec(),
    };
    let path = journal_path(dest, paths.staging, STORE_JOURNAL);
    dest.store
        .put(
            &path,
            serde_json::to_vec(&journal).unwrap_or_default().into(),
        )
        .await
        .map_err(|e| Error::storage("write", dest.display(&path), &e))?;
    Ok(())
}

/// Records that an object store commit wrote its last marker.
pub(crate) async fn mark_committed(dest: &Location, staging: &str) -> Result<()> {
    let path = journal_path(dest, staging, COMMITTED);
    dest.store
        .put(&path, bytes::Bytes::new().into())
        .await
        .map_err(|e| Error::storage("write", dest.display(&path), &e))?;
    Ok(())
}

/// Rolls back the unfinished commit of a dead run whose staging prefix
/// (relative to `dest`) is `staging`, if there is one: on local disk from
/// its journal of renames, on object stores from its journal of markers.
pub async fn recover(dest: &Location, staging: &str) -> Result<Recovery> {
    if dest.is_local() {
        let dest = dest.clone();
        let staging = staging.to_owned();
        return tokio::task::spawn_blocking(move || recover_local(&dest, &staging))
            .await
            .map_err(|e| Error::Config {
                field: "recovery".to_owned(),
                detail: format!("recovery thread failed: {e}"),
            })?;
    }
    let path = journal_path(dest, staging, STORE_JOURNAL);
    let bytes = match dest.store.get(&path).await {
        Ok(got) => got
            .bytes()
            .await
            .map_err(|e| Error::storage("read", dest.display(&path), &e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(Recovery::Nothing),
        Err(e) => return Err(Error::storage("read", dest.display(&path), &e)),
    };
    let committed = journal_path(dest, staging, COMMITTED);
    match dest.store.head(&committed).await {
        Ok(_) => return Ok(Recovery::Nothing),
        Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(Error::storage("read", dest.display(&committed), &e)),
    }
    let journal: StoreJournal = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
        field: dest.display(&path),
        detail: crate::redact::json_error(&e),
    })?;
    let parse = |p: &str| {
        ObjectPath::parse(p).map_err(|e| Error::Config {
            field: dest.display(&path),
            detail: format!("a path in the journal: {e}"),
        })
    };
    for entry in journal.dirs.iter().rev() {
        let dir = parse(&entry.dir)?;
        // `_SUCCESS` last when it comes back, first when it goes: readers
        // never see it beside a manifest that is not the previous one.
        let manifest = raw_join(&dir, "_manifest.json");
        let success = raw_join(&dir, "_SUCCESS");
        let steps = [
            (&success, None::<bytes::Bytes>, !entry.success),
            (
                &manifest,
                entry.manifest.clone().map(bytes::Bytes::from),
                true,
            ),
            (&success, Some(bytes::Bytes::new()), entry.success),
        ];
        for (marker, old, act) in steps {
            if act {
                restore_marker(dest.store.as_ref(), marker, old)
                    .await
                    .map_err(|e| Error::storage("restore", dest.display(marker), &e))?;
            }
        }
        let copies = entry
            .copies
            .iter()
            .map(|c| parse(c))
            .collect::<Result<Vec<_>>>()?;
        delete_all(dest.store.as_ref(), dest, copies).await?;
        tracing::warn!(dir = %dest.display(&dir), "rolled back a commit cut short by a dead run");
    }
    delete_prefix(dest, &dest.child(&journal.keep)).await?;
    // Done: a second recovery of this staging must not act again.
    if let Err(e) = dest.store.delete(&path).await {
        return Err(Error::storage("delete", dest.display(&path), &e));
    }
    Ok(Recovery::RolledBack {
        directories: journal.dirs.len(),
    })
}

/// One directory of a local commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalEntry {
    /// The published directory.
    pub(crate) target: PathBuf,
    /// Where its new content was assembled.
    pub(crate) fresh: PathBuf,
    /// Where its previous content is moved during the swap.
    pub(crate) replaced: PathBuf,
}

/// What recovery did to a dead run's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No commit had started (or it had finished): nothing to undo.
    Nothing,
    /// A commit was cut short; its directories are back as they were.
    RolledBack {
        /// Directories put back.
        directories: usize,
    },
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Write {
        path: path.to_owned(),
        source: e,
    }
}

/// Rolls back the unfinished local commit of a dead run whose staging
/// prefix (relative to `dest`) is `staging`, if there is one.
fn recover_local(dest: &Location, staging: &str) -> Result<Recovery> {
    if !dest.is_local() {
        return Ok(Recovery::Nothing);
    }
    let publish = PathBuf::from(dest.display(&dest.child(&format!("{staging}/publish"))));
    let journal = publish.join(JOURNAL);
    if !journal.is_file() || publish.join(COMMITTED).exists() {
        return Ok(Recovery::Nothing);
    }
    let text = std::fs::read(&journal).map_err(|e| io(&journal, e))?;
    let entries: Vec<JournalEntry> = serde_json::from_slice(&text).map_err(|e| Error::Config {
        field: journal.display().to_string(),
        detail: crate::redact::json_error(&e),
    })?;
    let mut directories = 0;
    // Newest swap first, as the commit's own rollback does.
    for entry in entries.iter().rev() {
        let (fresh, target, replaced) = (&entry.fresh, &entry.target, &entry.replaced);
        let mut acted = false;
        if !fresh.exists() && target.exists() {
            // The new content is live: set it aside again.
            std::fs::rename(target, fresh).map_err(|e| io(target, e))?;
            acted = true;
        }
        if replaced.exists() && !target.exists() {
            // The previous content was moved away: back into place.
            std::fs::rename(replaced, target).map_err(|e| io(replaced, e))?;
            acted = true;
        }
        if acted {
            directories += 1;
            tracing::warn!(dir = %target.display(), "rolled back a commit cut short by a dead run");
        }
    }
    // Done: a second recovery of this staging (its removal may fail) must
    // not act again on directories later runs have published.
    std::fs::remove_file(&journal).map_err(|e| io(&journal, e))?;
    Ok(Recovery::RolledBack { directories })
}

/// The staging areas under the destination: (collection key, date) → the
/// runs that staged it (a run's day and its merge's day alike).
pub async fn staged_days(
    dest: &Location,
) -> Result<BTreeMap<(String, chrono::NaiveDate), BTreeSet<String>>> {
    let mut days: BTreeMap<(String, chrono::NaiveDate), BTreeSet<String>> = BTreeMap::new();
    let root = dest.child(crate::run::STAGING_ROOT);
    let children = |p: ObjectPath| async move {
        dest.store
            .list_with_delimiter(Some(&p))
            .await
            .map(|l| l.common_prefixes)
            .map_err(|e| Error::storage("list", dest.display(&p), &e))
    };
    for run in children(root).await? {
        let Some(run_id) = run.filename().map(str::to_owned) else {
            continue;
        };
        for key in children(run).await? {
            let Some(key_name) = key
                .filename()
                .map(|k| k.trim_end_matches(".merge").to_owned())
            else {
                continue;
            };
            for date in children(key).await? {
                if let Some(date) = date
                    .filename()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                {
                    days.entry((key_name.clone(), date))
                        .or_default()
                        .insert(run_id.clone());
                }
            }
        }
    }
    Ok(days)
}
