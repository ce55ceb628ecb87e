//! The corrupt kinds the generator plants (spec §8; the vocabulary of the
//! sample's manifest) and the reason the record pipeline must give each.

use serde::{Deserialize, Serialize};

/// A way a generated record is spoilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorruptKind {
    /// The line is cut short (not JSON).
    TruncatedLine,
    /// The decrypted document is not JSON.
    InvalidJson,
    /// The message has no `encryption` block.
    MissingEncryption,
    /// `dbObject` is not base64 (a leftover single character).
    BadBase64,
    /// The IV is 8 bytes.
    BadIvLength,
    /// The data key is wrapped under a master key id DKS does not hold (400).
    UnknownKek,
    /// The decrypted document is not UTF-8.
    InvalidUtf8,
    /// `_lastModifiedDateTime` does not parse.
    BadDate,
    /// A businessAudit document without `context`.
    AuditNoContext,
    /// A GCM tag that does not verify.
    TagMismatch,
}

/// The master key id that `UnknownKek` records claim; no key service holds it.
pub const UNKNOWN_KEY_ID: &str = "cloudhsm:99,99";

impl CorruptKind {
    /// Every kind.
    pub const ALL: [CorruptKind; 10] = [
        CorruptKind::TruncatedLine,
        CorruptKind::InvalidJson,
        CorruptKind::MissingEncryption,
        CorruptKind::BadBase64,
        CorruptKind::BadIvLength,
        CorruptKind::UnknownKek,
        CorruptKind::InvalidUtf8,
        CorruptKind::BadDate,
        CorruptKind::AuditNoContext,
        CorruptKind::TagMismatch,
    ];

    /// The manifest's name (`truncated_line`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CorruptKind::TruncatedLine => "truncated_line",
            CorruptKind::InvalidJson => "invalid_json",
            CorruptKind::MissingEncryption => "missing_encryption",
            CorruptKind::BadBase64 => "bad_base64",
            CorruptKind::BadIvLength => "bad_iv_length",
            CorruptKind::UnknownKek => "unknown_kek",
            CorruptKind::InvalidUtf8 => "invalid_utf8",
            CorruptKind::BadDate => "bad_date",
            CorruptKind::AuditNoContext => "audit_no_context",
            CorruptKind::TagMismatch => "tag_mismatch",
        }
    }

    /// The kind for a manifest name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The reason code ([`crate::record::CorruptReason`]) the pipeline gives it.
    pub fn reason(self) -> &'static str {
        match self {
            CorruptKind::TruncatedLine => "malformed_line",
            CorruptKind::InvalidJson => "invalid_document",
            CorruptKind::MissingEncryption => "missing_field",
            CorruptKind::BadBase64 => "bad_base64",
            CorruptKind::BadIvLength => "bad_iv",
            CorruptKind::UnknownKek => "key_unavailable",
            CorruptKind::InvalidUtf8 => "invalid_utf8",
            CorruptKind::BadDate => "bad_date",
            CorruptKind::AuditNoContext => "audit_shape",
            CorruptKind::TagMismatch => "decrypt_failed",
        }
    }

    /// Whether the kind can be planted in this collection under this cipher.
    pub fn applies(self, is_audit: bool, gcm: bool) -> bool {
        match self {
            CorruptKind::AuditNoContext => is_audit,
            CorruptKind::TagMismatch => gcm,
            _ => true,
        }
    }
}
