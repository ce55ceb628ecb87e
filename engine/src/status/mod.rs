//! Run status, embedded under the destination: every run of every
//! (collection, export date) as an object
//! `_weir/status/<db>.<collection>/<date>/<started>-<run id>.json`, written
//! IN_PROGRESS when the run takes the day and rewritten COMPLETED or FAILED
//! when it ends, so "is this collection's 2024-01-16 done?" and "what ran
//! on that day?" are answered from the destination alone. Each object is
//! written only by its own run, so no two writers ever race on one.
//!
//! [`lease`] keeps one run per day at a time.

pub mod dynamodb;
pub mod lease;
pub mod retention;
pub mod retract;
pub mod versions;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

pub use dynamodb::{DynamoSettings, DynamoStatus};
pub use lease::{DayHeld, Holder, LEASE_ROOT, Lease, host_name};

use crate::error::Fault;
use crate::keys::CacheStats;
use crate::record::CorruptReason;
use crate::report::{DayReport, DayStatus, OutputRef};
use crate::storage::{Location, raw_join};
use crate::{Error, Result};

/// Where run status lives under the destination.
pub const STATUS_ROOT: &str = "_weir/status";

/// Where a day stands after a run (the old job's status words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DayState {
    /// A run holds the day now (or died holding it: see its lease).
    InProgress,
    /// The run published the day.
    Completed,
    /// The run published nothing.
    Failed,
    /// `weir retract` de-referenced the day's published output.
    Retracted,
    /// `weir vacuum` removed the day's output: it was older than its
    /// collection's `expire_after_days`.
    Expired,
}

impl std::fmt::Display for DayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DayState::InProgress => "IN_PROGRESS",
            DayState::Completed => "COMPLETED",
            DayState::Failed => "FAILED",
            DayState::Retracted => "RETRACTED",
            DayState::Expired => "EXPIRED",
        })
    }
}

/// Which days of a range a run takes on (`--reprocess`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reprocess {
    /// Every day given (the default).
    #[default]
    All,
    /// Days not COMPLETED: never run, failed, retracted, or left by a dead
    /// run (catch-up after an outage); an EXPIRED day is not brought back.
    Missing,
    /// Days whose latest run FAILED.
    Failed,
}

impl Reprocess {
    /// Its name, as the option takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reprocess::All => "all",
            Reprocess::Missing => "missing",
            Reprocess::Failed => "failed",
        }
    }

    /// Whether a day whose latest run is `latest` is run again.
    pub fn runs(self, latest: Option<&DayRun>) -> bool {
        match self {
            Reprocess::All => true,
            Reprocess::Missing => {
                latest.is_none_or(|r| !matches!(r.state, DayState::Completed | DayState::Expired))
            }
            Reprocess::Failed => latest.is_some_and(|r| r.state == DayState::Failed),
        }
    }
}

/// What a run command did with a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `weir run` (with its merge under `--update`).
    Run,
    /// `weir merge`.
    Merge,
    /// `weir retract`.
    Retract,
    /// `weir vacuum`'s retention.
    Expire,
}

/// One run of one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRun {
    /// `db:collection`.
    pub collection: String,
    /// The export date.
    pub export_date: String,
    /// The run's id.
    pub run_id: String,
    /// What ran.
    pub kind: RunKind,
    /// Where it ran.
    pub host: String,
    /// Where the day stands.
    pub state: DayState,
    /// When the run took the day.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Records read.
    pub records_in: u64,
    /// Rows published.
    pub records_out: u64,
    /// Corrupt records.
    pub corrupt: u64,
    /// Corrupt records by reason.
    #[serde(default)]
    pub corrupt_by_reason: BTreeMap<CorruptReason, u64>,
    /// Input files read.
    #[serde(default)]
    pub files: usize,
    /// Their compressed bytes.
    #[serde(default)]
    pub bytes_read: u64,
    /// Key-service work (calls, cache hits, refusals, errors).
    #[serde(default)]
    pub dks: CacheStats,
    /// What it published.
    #[serde(default)]
    pub outputs: Vec<OutputRef>,
    /// Its data checks: value, threshold and verdict of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::checks::CheckResult>,
    /// The Weir version that ran.
    #[serde(default)]
    pub weir_version: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Whose fault that was.
    pub fault: Option<Fault>,
    /// The run whose expired lease it took over (a run that died).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<String>,
    /// A retraction's who and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DayRun {
    /// A run that has just taken the day.
    pub fn started(collection: &str, export_date: NaiveDate, run_id: &str, kind: RunKind) -> Self {
        Self {
            collection: collection.to_owned(),
            export_date: export_date.to_string(),
            run_id: run_id.to_owned(),
            kind,
            host: host_name(),
            state: DayState::InProgress,
            started_at: Utc::now(),
            ended_at: None,
            records_in: 0,
            records_out: 0,
            corrupt: 0,
            corrupt_by_reason: BTreeMap::new(),
            files: 0,
            bytes_read: 0,
            dks: CacheStats::default(),
            outputs: Vec::new(),
            checks: Vec::new(),
            weir_version: env!("CARGO_PKG_VERSION").to_owned(),
            error: None,
            fault: None,
            took_over_from: None,
            note: None,
        }
    }

    /// The run as its day's report ended it.
    pub fn ended(mut self, report: &DayReport, outputs: Vec<OutputRef>) -> Self {
        self.state = match report.status {
            DayStatus::Published | DayStatus::Skipped => DayState::Completed,
            DayStatus::Failed => DayState::Failed,
        };
        self.ended_at = Some(Utc::now());
        self.records_in = report.records_in;
        self.records_out = report.records_out;
        self.corrupt = report.corrupt;
        self.corrupt_by_reason = report.corrupt_by_reason.clone();
        self.files = report.files;
        self.bytes_read = report.bytes_read;
        self.dks = report.dks;
        self.checks = report.checks.clone();
        self.outputs = outputs;
        self.error = report.error.clone();
        self.fault = report.fault;
        self
    }
}

/// The status objects under a destination.
#[derive(Debug, Clone)]
pub struct StatusStore {
    dest: Location,
}

/// A collection's key in status and lease paths: `db.collection`.
pub fn day_key(collection: &str) -> String {
    collection.replace(':', ".")
}

impl StatusStore {
    /// The store under `dest`.
    pub fn new(dest: Location) -> Self {
        Self { dest }
    }

    fn dir(&self, collection: &str) -> ObjectPath {
        self.dest
            .child(&format!("{STATUS_ROOT}/{}", day_key(collection)))
    }

    /// Writes (or rewrites) a run's object.
    pub async fn record(&self, run: &DayRun) -> Result<()> {
        let path = raw_join(
            &self.dir(&run.collection),
            &format!(
                "{}/{}-{}.json",
                run.export_date,
                run.started_at.format("%Y%m%dT%H%M%S%.6fZ"),
                run.run_id
            ),
        );
        let body = serde_json::to_vec_pretty(run).unwrap_or_default();
        self.dest
            .store
            .put(&path, PutPayload::from(body))
            .await
            .map_err(|e| Error::storage("write", self.dest.display(&path), &e))?;
        Ok(())
    }

    /// The latest run of one day.
    pub async fn latest_of(
        &self,
        collection: &str,
        export_date: NaiveDate,
    ) -> Result<Option<DayRun>> {
        Ok(self.history(collection, export_date).await?.pop())
    }

    /// Every run of a day, oldest first.
    pub async fn history(&self, collection: &str, export_date: NaiveDate) -> Result<Vec<DayRun>> {
        let dir = raw_join(&self.dir(collection), &export_date.to_string());
        let mut listed: Vec<object_store::ObjectMeta> = self
            .dest
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| Error::storage("list", self.dest.display(&dir), &e))?;
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        let mut runs = Vec::with_capacity(listed.len());
        for m in listed {
            let bytes = self
                .dest
                .store
                .get(&m.location)
                .await
                .map_err(|e| Error::storage("read", self.dest.display(&m.location), &e))?
                .bytes()
                .await
                .map_err(|e| Error::storage("read", self.dest.display(&m.location), &e))?;
            match serde_json::from_slice::<DayRun>(&bytes) {
                Ok(run) => runs.push(run),
                Err(e) => {
                    tracing::warn!(object = %self.dest.display(&m.location), error = %crate::redact::json_error(&e), "unreadable status object skipped")
                }
            }
        }
        Ok(runs)
    }

    /// The collections with recorded runs, by their key (`db.collection`,
    /// which the other calls take as well as `db:collection`).
    pub async fn collections(&self) -> Result<Vec<String>> {
        let root = self.dest.child(STATUS_ROOT);
        let listed = self
            .dest
            .store
            .list_with_delimiter(Some(&root))
            .await
            .map_err(|e| Error::storage("list", self.dest.display(&root), &e))?;
        let mut keys: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The latest run of each day from `from` to `to` that has one.
    pub async fn latest(
        &self,
        collection: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayRun>> {
        let dir = self.dir(collection);
        let listed = self
            .dest
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| Error::storage("list", self.dest.display(&dir), &e))?;
        let mut dates: Vec<NaiveDate> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .filter_map(|n| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok())
            .filter(|d| (from..=to).contains(d))
            .collect();
        dates.sort_unstable();
        let mut out = Vec::with_capacity(dates.len());
        for date in dates {
            if let Some(run) = self.history(collection, date).await?.pop() {
                out.push(run);
            }
        }
        Ok(out)
    }
}
