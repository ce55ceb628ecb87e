//! The generator's manifest, in the shape of `shared/conformance/sample/manifest.json`:
//! per collection and landing day, per file, counts and every corrupt record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `"weir generate manifest"`.
    pub format: String,
    /// 1.
    pub version: u32,
    /// `db:collection` → landing date → day.
    pub collections: BTreeMap<String, BTreeMap<String, DayManifest>>,
}

/// One collection's landing day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayManifest {
    /// The export date whose daily run reads this day.
    pub export_date: String,
    /// The prefix under the root.
    pub prefix: String,
    /// Records written.
    pub records: u64,
    /// Records that must come out as rows.
    pub valid: u64,
    /// Records planted corrupt.
    pub corrupt: u64,
    /// `INSERT` / `DELETE` counts of the valid records.
    pub db_types: BTreeMap<String, u64>,
    /// Corrupt counts by kind.
    pub corrupt_kinds: BTreeMap<String, u64>,
    /// Distinct data keys used.
    pub distinct_data_keys: u64,
    /// The files.
    pub files: Vec<FileManifest>,
}

/// One file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileManifest {
    /// Path under the root.
    pub path: String,
    /// Records (lines).
    pub records: u64,
    /// Records that must come out as rows.
    pub valid: u64,
    /// `INSERT` / `DELETE` counts of the valid records.
    pub db_types: BTreeMap<String, u64>,
    /// Corrupt counts by kind.
    pub corrupt_kinds: BTreeMap<String, u64>,
    /// Compressed size.
    pub bytes_compressed: u64,
    /// Uncompressed size.
    pub bytes_uncompressed: u64,
    /// Every corrupt record.
    pub corrupt: Vec<CorruptRecord>,
}

/// One planted corrupt record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptRecord {
    /// 1-based line number in the file.
    pub line: u64,
    /// The record's `_id` (canonical JSON for objects).
    pub id: String,
    /// `INSERT` or `DELETE`, as the record would have been.
    pub db_type: String,
    /// The kind ([`super::CorruptKind::as_str`]).
    pub kind: String,
}

impl DayManifest {
    /// Adds a file's figures to the day's.
    pub(super) fn add(&mut self, file: FileManifest) {
        self.records += file.records;
        self.valid += file.valid;
        self.corrupt += file.records - file.valid;
        for (k, v) in &file.db_types {
            *self.db_types.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &file.corrupt_kinds {
            *self.corrupt_kinds.entry(k.clone()).or_default() += v;
        }
        self.files.push(file);
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
}
