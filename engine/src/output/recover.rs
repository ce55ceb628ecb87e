//! Crash recovery of a local-disk commit. Before swapping any directory,
//! the commit writes a journal (`<staging>/publish/journal.json`: each
//! published directory, where its new content was assembled and where its
//! previous content goes); after the last swap it writes `committed`
//! beside it. A run killed in between (kill -9, power) leaves some
//! directories swapped, one perhaps moved away, and their previous content
//! in its staging. Whoever takes the day next (its lease expired) rolls
//! such a commit back from the journal, so the day is exactly as it was
//! before the dead run, and only then removes the dead run's staging.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::Location;
use crate::{Error, Result};

/// The journal's file name under `<staging>/publish/`.
pub(crate) const JOURNAL: &str = "journal.json";
/// Written beside it once every directory is swapped in.
pub(crate) const COMMITTED: &str = "committed";

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
pub fn recover_local(dest: &Location, staging: &str) -> Result<Recovery> {
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
    Ok(Recovery::RolledBack { directories })
}
