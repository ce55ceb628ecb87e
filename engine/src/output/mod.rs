//! Output: formats and layouts, what a write task staged, and the commit that
//! publishes a day atomically.

mod commit;
mod encode;
pub mod orc;
mod recover;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use commit::{
    CommitPaths, DirOutput, ListedFile, PublishedDir, discard_staging, publish_all,
    published_files, version_tag,
};
pub use encode::{encode_batches, encode_lines_at, encode_table, hive_escape, output_schema};
pub use recover::{Recovery, recover, staged_days};

/// A file format for good rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Parquet, zstd.
    Parquet,
    /// ORC (zlib by default, as the old job wrote it).
    Orc,
    /// gzip JSON lines of the row columns.
    Jsonl,
    /// gzip text: `val` alone, one per line (the old audit layout).
    Text,
}

impl OutputFormat {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Orc => "orc",
            OutputFormat::Jsonl => "jsonl.gz",
            OutputFormat::Text => "txt.gz",
        }
    }

    /// The name used in config and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Orc => "orc",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Text => "text",
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "parquet" => Ok(OutputFormat::Parquet),
            "orc" => Ok(OutputFormat::Orc),
            "jsonl" => Ok(OutputFormat::Jsonl),
            "text" => Ok(OutputFormat::Text),
            other => Err(format!("{other:?} is not parquet, orc, jsonl or text")),
        }
    }
}

/// ORC's compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrcCompression {
    /// zlib, as the old job wrote.
    Zlib,
    /// zstd: faster to write, read by ORC ≥ 1.6 (Hive 3, Spark 3).
    Zstd,
    /// snappy.
    Snappy,
    /// No compression.
    None,
}

/// Where and how one collection's day is written, relative to the
/// destination root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// The format of good rows.
    pub format: OutputFormat,
    /// The day's directory for good rows (replaced as a whole on publish).
    pub data_dir: String,
    /// The day's quarantine directory (replaced as a whole on publish).
    pub quarantine_dir: String,
    /// Hive `id_part=` directories under `data_dir`.
    pub id_part_dirs: bool,
    /// ORC codec.
    pub orc_compression: OrcCompression,
}

/// Which published directory a staged file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Good rows.
    Data,
    /// Corrupt records.
    Quarantine,
    /// A sorted run of good rows, merged into data files before the commit
    /// (never published).
    Run,
}

/// A file a write task attempt staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Data or quarantine.
    pub kind: FileKind,
    /// Its object path in the destination store.
    pub staged: String,
    /// Its path relative to the published directory of its kind.
    pub target: String,
    /// Rows (or corrupt records) in it.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
}

/// What one write task attempt did; the write operator's output, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// The partition.
    pub partition: usize,
    /// The attempt's token (in its file names).
    pub attempt: String,
    /// Records read.
    pub records: u64,
    /// Good rows written.
    pub rows: u64,
    /// Of which inserts.
    pub inserts: u64,
    /// Of which deletes.
    pub deletes: u64,
    /// Corrupt records by reason.
    pub corrupt: BTreeMap<crate::record::CorruptReason, u64>,
    /// The files it staged.
    pub files: Vec<StagedFile>,
    /// The input files it read records from.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The process that ran it ([`crate::exec::worker_id`]).
    #[serde(default)]
    pub executor: String,
    /// That process's key-cache work for this day when the task ended (see
    /// [`crate::keys::scope_stats`]).
    #[serde(default)]
    pub dks: crate::keys::CacheStats,
    /// Lines the task's scan read (every one must be a row or a corrupt
    /// record: the driver checks `records` against it).
    #[serde(default)]
    pub lines_scanned: u64,
    /// Input bytes the task's scan read (the driver checks them against the
    /// sizes listed).
    #[serde(default)]
    pub bytes_scanned: u64,
    /// A merge task's rows read per source (in the merge's source order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows_by_source: Vec<u64>,
}
