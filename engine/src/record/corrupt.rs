//! Corrupt records: what went wrong with one record, as a stable code plus the
//! field involved. Never the plaintext: details name paths and kinds of problem.

use std::fmt;

/// Stable reason codes for quarantined records (spec §8). The string forms are
/// part of Weir's output (quarantine files, run reports): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CorruptReason {
    /// The input line is not a JSON object (truncated, garbled).
    MalformedLine,
    /// A required envelope field is missing or of the wrong type.
    MissingField,
    /// `dbObject`, the IV or the data key is not valid base64.
    BadBase64,
    /// The IV has the wrong length for the cipher.
    BadIv,
    /// The data key has a length AES cannot use.
    BadKey,
    /// The key service answered that this data key can never be decrypted (400).
    KeyUnavailable,
    /// AES-GCM authentication failed.
    DecryptFailed,
    /// The plaintext is not UTF-8.
    InvalidUtf8,
    /// The plaintext is not a JSON object, or the sanitised text no longer parses.
    InvalidDocument,
    /// A date that must parse does not.
    BadDate,
    /// The audit reshape found no truthy `context` object or `auditType`.
    AuditShape,
    /// The record id lacks what the collection needs (`_id.id` under `id_part`).
    BadId,
    /// The line is longer than `--max-line-bytes`; only its beginning, length
    /// and SHA-256 are kept.
    LineTooLong,
}

impl CorruptReason {
    /// Every reason, in a stable order (for reports).
    pub const ALL: [CorruptReason; 13] = [
        CorruptReason::MalformedLine,
        CorruptReason::MissingField,
        CorruptReason::BadBase64,
        CorruptReason::BadIv,
        CorruptReason::BadKey,
        CorruptReason::KeyUnavailable,
        CorruptReason::DecryptFailed,
        CorruptReason::InvalidUtf8,
        CorruptReason::InvalidDocument,
        CorruptReason::BadDate,
        CorruptReason::AuditShape,
        CorruptReason::BadId,
        CorruptReason::LineTooLong,
    ];

    /// The stable code, e.g. `bad_base64`.
    pub fn code(self) -> &'static str {
        match self {
            CorruptReason::MalformedLine => "malformed_line",
            CorruptReason::MissingField => "missing_field",
            CorruptReason::BadBase64 => "bad_base64",
            CorruptReason::BadIv => "bad_iv",
            CorruptReason::BadKey => "bad_key",
            CorruptReason::KeyUnavailable => "key_unavailable",
            CorruptReason::DecryptFailed => "decrypt_failed",
            CorruptReason::InvalidUtf8 => "invalid_utf8",
            CorruptReason::InvalidDocument => "invalid_document",
            CorruptReason::BadDate => "bad_date",
            CorruptReason::AuditShape => "audit_shape",
            CorruptReason::BadId => "bad_id",
            CorruptReason::LineTooLong => "line_too_long",
        }
    }

    /// The reason for a stable code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl serde::Serialize for CorruptReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for CorruptReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("{code:?} is not a corrupt reason")))
    }
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One corrupt record: the reason, the field (a dotted path such as
/// `message.encryption.initialisationVector` or `dbObject.items[2].$date`) and a
/// detail that never contains the record's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt {
    /// The stable reason code.
    pub reason: CorruptReason,
    /// Where in the record.
    pub field: String,
    /// What was wrong, without values.
    pub detail: String,
}

impl Corrupt {
    pub(crate) fn new(
        reason: CorruptReason,
        field: impl Into<String>,
        detail: impl fmt::Display,
    ) -> Self {
        Self {
            reason,
            field: field.into(),
            detail: detail.to_string(),
        }
    }
}

impl Corrupt {
    /// A line over the length cap; `detail` gives its length and SHA-256.
    pub fn line_too_long(detail: &str) -> Self {
        Self::new(CorruptReason::LineTooLong, "line", detail)
    }
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.reason, self.field, self.detail)
    }
}

impl std::error::Error for Corrupt {}

/// One step of a path into a document, collected only once a record turns out
/// corrupt (while the error unwinds), so the good path pays nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSeg {
    Key(String),
    Index(usize),
}

/// Renders `root` plus segments (outermost first) as `root.key[3].other`.
pub(crate) fn render_path(root: &str, segs: &[PathSeg]) -> String {
    let mut s = String::from(root);
    for seg in segs {
        match seg {
            PathSeg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            PathSeg::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}
