//! Runners for conformance vectors in the format of `shared/conformance/`: the
//! old job's own answers for single records ([`records`]) and for decryption
//! ([`crypto`]), and Spark's own for `from_json` ([`from_json`]). Users run them through `weir conformance` on records they
//! captured; the test suite runs them on the shipped vectors.

pub mod crypto;
pub mod from_json;
pub mod records;

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::{Error, Result};

/// One mismatch: which case, which field, what the old job produced, what we did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The case id (or `line N` when the case has none or could not be read).
    pub case: String,
    /// The field that differs.
    pub field: String,
    /// The expected value.
    pub expected: String,
    /// What Weir produced.
    pub got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "case {}: {}\n  expected: {}\n  got:      {}",
            self.case, self.field, self.expected, self.got
        )
    }
}

/// The outcome of a vector file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Cases that matched in every field.
    pub passed: usize,
    /// Cases with at least one mismatch (or that could not be read).
    pub failed: usize,
    /// Every mismatch, in file order (a failed case may have several).
    pub failures: Vec<Failure>,
}

impl Report {
    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }

    fn record(&mut self, failures: Vec<Failure>) {
        if failures.is_empty() {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failures.extend(failures);
        }
    }

    /// The closing line, `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// Reads a vector file's lines, gunzipping when it starts with the gzip magic.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<String>> {
    let err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(err)?;
    let reader: Box<dyn BufRead> = if raw.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(&raw[..])))
    } else {
        Box::new(&raw[..])
    };
    reader
        .lines()
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(err)
}

/// Reads one string field of a case.
pub(crate) fn str_field<'c>(
    case: &'c serde_json::Value,
    name: &str,
) -> std::result::Result<&'c str, String> {
    match case.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(other) => Err(format!("field `{name}` is not a string: {other}")),
        None => Err(format!("field `{name}` is missing")),
    }
}

/// A failure for a line that is not a usable case.
pub(crate) fn unreadable(line_no: usize, detail: String) -> Failure {
    Failure {
        case: format!("line {line_no}"),
        field: "case".to_owned(),
        expected: "a conformance case".to_owned(),
        got: detail,
    }
}
