//! What an executor may read and write. Ballista's scheduler and executors
//! take plans from anyone who reaches their ports, and a Weir plan names its
//! own source and destination: without a list, a plan from any host could
//! read any bucket the executor's role reads, unwrap its keys and write the
//! plaintext anywhere. An executor started with `--allow-read` and
//! `--allow-write` prefixes refuses every operator, file and staging
//! directory outside them where each is opened, before any byte moves. (Not
//! at decode: Ballista reports a plan refused there only as "rejected by
//! executor", without the reason.)
//!
//! The list is the process's own (set once at start, never from a plan); a
//! process that sets none (the in-process `weir run`, which runs the user's
//! own plans with the user's own credentials) checks nothing.

use std::sync::OnceLock;

use datafusion::error::{DataFusionError, Result};

use crate::storage::{Location, S3Settings};

static ALLOWED: OnceLock<AllowList> = OnceLock::new();

/// Read and write prefixes, each a local path or `s3://bucket/prefix`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    read: Vec<String>,
    write: Vec<String>,
}

/// Reading input or writing output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Input files.
    Read,
    /// Staging, runs and published files.
    Write,
}

impl AllowList {
    /// A list from the prefixes as users write them. Local paths are taken
    /// absolute and canonical, as operators see them, so `..` cannot leave.
    pub fn new(read: &[String], write: &[String]) -> crate::Result<Self> {
        let normal = |prefixes: &[String]| {
            prefixes
                .iter()
                .map(|p| Location::parse(p, &S3Settings::default()).map(|l| l.url))
                .collect::<crate::Result<Vec<_>>>()
        };
        Ok(Self {
            read: normal(read)?,
            write: normal(write)?,
        })
    }

    /// Whether `location` (a path or URL as [`Location::display`] gives it)
    /// is under one of the prefixes for `access`.
    pub fn allows(&self, access: Access, location: &str) -> bool {
        let prefixes = match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        };
        prefixes.iter().any(|p| {
            let p = p.trim_end_matches('/');
            location == p
                || location
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        }) && !location.split('/').any(|segment| segment == "..")
    }
}

/// Sets this process's list; the first one stays.
pub fn set_allow_list(list: AllowList) {
    let _ = ALLOWED.set(list);
}

/// Refuses `location` when this process has a list that does not hold it:
/// a final error (another attempt would be refused too).
pub(crate) fn check(access: Access, location: &str) -> Result<()> {
    match ALLOWED.get() {
        Some(list) if !list.allows(access, location) => Err(DataFusionError::Execution(format!(
            "executor {} refuses to {} {location}: outside its --allow-{} prefixes",
            super::worker_id(),
            match access {
                Access::Read => "read",
                Access::Write => "write",
            },
            match access {
                Access::Read => "read",
                Access::Write => "write",
            },
        ))),
        _ => Ok(()),
    }
}

/// A writer's destination, once this process may write its staging there
/// (the writers' first step on an executor).
pub(super) fn staging_dest(dest: &str, s3: &S3Settings, staging: &str) -> Result<Location> {
    let location = Location::parse(dest, s3).map_err(|e| DataFusionError::External(Box::new(e)))?;
    check(Access::Write, &location.display(&location.child(staging)))?;
    Ok(location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments_only() {
        let list = AllowList {
            read: vec!["s3://corporate/ucfs".into(), "/data/in/".into()],
            write: vec!["s3://published".into()],
        };
        assert!(list.allows(Access::Read, "s3://corporate/ucfs"));
        assert!(list.allows(Access::Read, "s3://corporate/ucfs/2024/01/x.jsonl.gz"));
        assert!(list.allows(Access::Read, "/data/in/a.gz"));
        assert!(!list.allows(Access::Read, "s3://corporate/ucfs-other/x"));
        assert!(!list.allows(Access::Read, "s3://corporate/ucfs/../secrets/x"));
        assert!(!list.allows(Access::Read, "s3://published/x"), "write only");
        assert!(list.allows(Access::Write, "s3://published/_weir_staging/r/x"));
        assert!(
            !list.allows(Access::Write, "s3://corporate/ucfs/x"),
            "read only"
        );
        assert!(!AllowList::default().allows(Access::Read, "/anything"));
    }
}
