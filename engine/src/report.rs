//! Run reports: what a run did, per collection and day, as the human summary
//! and the JSON report show it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keys::CacheStats;
use crate::output::PublishedDir;

/// A published output, as downstream jobs look it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRef {
    /// `db:collection`.
    pub collection: String,
    /// `YYYY-MM-DD`.
    pub export_date: String,
    /// `parquet`, `orc`, `jsonl`, `text` or `quarantine`.
    pub format: String,
    /// Directory path or URL.
    pub path: String,
    /// For a Delta table, the version the run committed (a retraction
    /// takes that commit back instead of moving the table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Rows it holds (what `row_count_change` checks compare against).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// How a day ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayStatus {
    /// Its outputs are published.
    Published,
    /// Nothing of it was published (see the error).
    #[default]
    Failed,
    /// Not run: `--reprocess` found it done already (see the error field
    /// for the run that did it).
    Skipped,
}

impl std::fmt::Display for DayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DayStatus::Published => "published",
            DayStatus::Failed => "failed",
            DayStatus::Skipped => "skipped",
        })
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every day published.
    Succeeded,
    /// A day failed.
    #[default]
    Failed,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        })
    }
}

/// One collection's day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayReport {
    /// `db:collection`.
    pub collection: String,
    /// The export date.
    pub export_date: String,
    /// The landing date read.
    pub landing_date: String,
    /// How it ended.
    pub status: DayStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whose fault the failure is (input, environment, configuration, bug).
    #[serde(default)]
    pub fault: Option<crate::error::Fault>,
    /// Input files.
    pub files: usize,
    /// Files under the day's prefix that were not read because their names
    /// do not end in `.jsonl.gz` or `.json.gz` (so nobody has to wonder
    /// where their records went).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_files: Vec<String>,
    /// Where the day's input was archived and read from (`--archive-input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<crate::archive::ArchiveReport>,
    /// Compressed input bytes.
    pub bytes_read: u64,
    /// Records read.
    pub records_in: u64,
    /// Rows published.
    pub records_out: u64,
    /// Of which inserts.
    pub inserts: u64,
    /// Of which deletes.
    pub deletes: u64,
    /// Corrupt records.
    pub corrupt: u64,
    /// Corrupt records by reason.
    pub corrupt_by_reason: BTreeMap<crate::record::CorruptReason, u64>,
    /// Key-service work for this day, summed over the processes that ran
    /// its successful tasks.
    pub dks: CacheStats,
    /// The same per process: `local`, or each Ballista executor's id.
    #[serde(default)]
    pub dks_by_executor: BTreeMap<String, CacheStats>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// The successful task attempts: which process read which files.
    #[serde(default)]
    pub tasks: Vec<TaskReport>,
    /// The published good rows.
    pub output: Option<PublishedDir>,
    /// The published quarantine.
    pub quarantine: Option<PublishedDir>,
    /// The derived outputs published with the day, by name.
    #[serde(default)]
    pub derived: std::collections::BTreeMap<String, PublishedDir>,
    /// The snapshot merge published with the day (or alone), when there
    /// was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<crate::merge::MergeReport>,
    /// The data checks of the staged outputs, before the commit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::checks::CheckResult>,
}

/// One successful task attempt of a day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Its partition.
    pub partition: usize,
    /// Its attempt token (in its file names).
    pub attempt: String,
    /// The process that ran it.
    pub executor: String,
    /// Records it read.
    pub records: u64,
    /// The input files it read.
    pub inputs: Vec<String>,
}

/// A whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run's id (in staging paths and manifests).
    pub run_id: String,
    /// `succeeded` when every day published, else `failed`.
    pub status: RunStatus,
    /// Source root.
    pub source: String,
    /// Destination root.
    pub dest: String,
    /// Per collection and day.
    pub days: Vec<DayReport>,
    /// Published outputs.
    pub outputs: Vec<OutputRef>,
    /// Key-service work of the run, summed over its days.
    pub dks: CacheStats,
    /// The same per process.
    #[serde(default)]
    pub dks_by_executor: BTreeMap<String, CacheStats>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Records per second over the run.
    pub records_per_sec: f64,
}

impl RunReport {
    /// Whether every day published.
    pub fn succeeded(&self) -> bool {
        self.days.iter().all(|d| d.status != DayStatus::Failed)
    }
}
