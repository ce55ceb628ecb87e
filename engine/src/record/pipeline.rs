//! One line in, one row or one corrupt record out.

use std::collections::HashMap;

use crate::json::{Value, canonical_string};

use super::base64;
use super::corrupt::{Corrupt, CorruptReason};
use super::crypto::{Cipher, DecryptError, decrypt};
use super::date::UtcDateTime;
use super::envelope::Envelope;
use super::rules::{CollectionName, RecordRules};
use super::sanitise::canonical_val_from;
use super::transform::audit_transform;
use super::validate::validate;

/// `INSERT` or `DELETE` (spec §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbType {
    /// The document had no `_removedDateTime`.
    Insert,
    /// The document had a `_removedDateTime` (whatever its value).
    Delete,
}

impl DbType {
    /// `INSERT` / `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            DbType::Insert => "INSERT",
            DbType::Delete => "DELETE",
        }
    }
}

/// A good record's output (spec §7); partition columns are added by writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `message._id`: objects in canonical JSON, primitives as Python `str`;
    /// `None` when the message has none.
    pub id: Option<String>,
    /// First two characters of `message._id.id`, for collections keyed that way.
    pub id_part: Option<String>,
    /// Insert or delete.
    pub db_type: DbType,
    /// Last-modified instant (UTC).
    pub last_modified: UtcDateTime,
    /// The canonical, sanitised document.
    pub val: String,
}

/// A good record's output without its `val`, which the batch path leaves in
/// its [`Scratch`] ([`RecordPipeline::process_envelope_into`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowHead {
    /// As [`Row::id`].
    pub id: Option<String>,
    /// As [`Row::id_part`].
    pub id_part: Option<String>,
    /// Insert or delete.
    pub db_type: DbType,
    /// Last-modified instant (UTC).
    pub last_modified: UtcDateTime,
}

impl RowHead {
    fn with_val(self, val: String) -> Row {
        Row {
            id: self.id,
            id_part: self.id_part,
            db_type: self.db_type,
            last_modified: self.last_modified,
            val,
        }
    }
}

/// A data key the key service refused for good (HTTP 400): the records under it
/// are corrupt, the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key service cannot decrypt data key under {key_encryption_key_id}: {detail}")]
pub struct KeyRejected {
    /// The master key id the data key was wrapped under.
    pub key_encryption_key_id: String,
    /// The service's explanation (never key material).
    pub detail: String,
}

/// Resolved data keys, as the pipeline reads them: synchronous, because keys are
/// fetched (once per distinct key) before a batch of records is processed.
pub trait DataKeys {
    /// The plaintext data key for a wrapped key, or the service's refusal.
    fn data_key(
        &self,
        key_encryption_key_id: &str,
        encrypted_key: &str,
    ) -> Result<&[u8], KeyRejected>;
}

/// Data keys held in memory: for tests, captured data and per-batch resolution.
/// An entry is for one wrapped key, either under any master key id or under a
/// given one (the same wrapped bytes under another id are another question to
/// the key service, which may refuse it).
///
/// Keys are wiped from memory when dropped, and `Debug` shows only how many
/// there are.
#[derive(Default, Clone)]
pub struct StaticKeys {
    keys: HashMap<String, Vec<KeyEntry>>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeys")
            .field("wrapped_keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// One answer for a wrapped key: for a given master key id, or any (`None`).
type KeyEntry = (
    Option<String>,
    Result<zeroize::Zeroizing<Vec<u8>>, KeyRejected>,
);

impl StaticKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a resolved key, whatever master key id a record names with it.
    pub fn insert(&mut self, encrypted_key: impl Into<String>, data_key: Vec<u8>) {
        self.put(None, encrypted_key.into(), Ok(data_key));
    }

    /// Records a refusal, whatever master key id a record names with it.
    pub fn reject(&mut self, encrypted_key: impl Into<String>, rejected: KeyRejected) {
        self.put(None, encrypted_key.into(), Err(rejected));
    }

    /// Adds the key service's answer for one (master key id, wrapped key).
    pub fn answer(
        &mut self,
        key_encryption_key_id: impl Into<String>,
        encrypted_key: impl Into<String>,
        answer: Result<Vec<u8>, KeyRejected>,
    ) {
        self.put(
            Some(key_encryption_key_id.into()),
            encrypted_key.into(),
            answer,
        );
    }

    fn put(&mut self, kek: Option<String>, wrapped: String, answer: Result<Vec<u8>, KeyRejected>) {
        let entries = self.keys.entry(wrapped).or_default();
        entries.retain(|(k, _)| *k != kek);
        entries.push((kek, answer.map(zeroize::Zeroizing::new)));
    }

    /// Whether a wrapped key has an entry (resolved or refused).
    pub fn contains(&self, encrypted_key: &str) -> bool {
        self.keys.contains_key(encrypted_key)
    }
}

impl DataKeys for StaticKeys {
    fn data_key(
        &self,
        key_encryption_key_id: &str,
        encrypted_key: &str,
    ) -> Result<&[u8], KeyRejected> {
        let entries = self
            .keys
            .get(encrypted_key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let exact = entries
            .iter()
            .find(|(k, _)| k.as_deref() == Some(key_encryption_key_id));
        let any = || entries.iter().find(|(k, _)| k.is_none());
        match exact.or_else(any) {
            Some((_, Ok(key))) => Ok(key.as_slice()),
            Some((_, Err(rejected))) => Err(rejected.clone()),
            None => Err(KeyRejected {
                key_encryption_key_id: key_encryption_key_id.to_owned(),
                detail: "unknown data key".to_owned(),
            }),
        }
    }
}

/// Reusable buffers, one per worker, so the hot path does not reallocate.
#[derive(Debug, Default)]
pub struct Scratch {
    ciphertext: Vec<u8>,
    iv: Vec<u8>,
    val: Vec<u8>,
}

impl Scratch {
    /// The last record's `val`. canonical_val writes UTF-8 (strings came
    /// from `&str`, the rest is ASCII); checked all the same.
    fn val_text(&self) -> Result<&str, Corrupt> {
        std::str::from_utf8(&self.val).map_err(|_| {
            Corrupt::new(
                CorruptReason::InvalidDocument,
                "dbObject",
                "canonical text not UTF-8",
            )
        })
    }
}

/// The per-record behaviour of one run: a collection, its rules and a cipher.
#[derive(Debug, Clone)]
pub struct RecordPipeline {
    collection: CollectionName,
    rules: RecordRules,
    cipher: Cipher,
}

impl RecordPipeline {
    /// A pipeline with explicit rules.
    pub fn new(collection: CollectionName, rules: RecordRules, cipher: Cipher) -> Self {
        Self {
            collection,
            rules,
            cipher,
        }
    }

    /// The collection this pipeline was built for.
    pub fn collection(&self) -> &CollectionName {
        &self.collection
    }

    /// The whole record: envelope, key, decryption, then [`Self::process_plaintext`].
    pub fn process_line(
        &self,
        line: &[u8],
        keys: &dyn DataKeys,
        scratch: &mut Scratch,
    ) -> Result<Row, Corrupt> {
        let envelope = Self::parse_line(line)?;
        self.process_envelope(&envelope, keys, scratch)
    }

    /// The first step alone: the line as a K2HB envelope. Batch callers parse
    /// every line first, fetch the distinct data keys, then finish each with
    /// [`Self::process_envelope`].
    pub fn parse_line(line: &[u8]) -> Result<Envelope<'_>, Corrupt> {
        let text = std::str::from_utf8(line).map_err(|e| {
            Corrupt::new(
                CorruptReason::MalformedLine,
                "line",
                format!("not UTF-8 at byte {}", e.valid_up_to()),
            )
        })?;
        Envelope::parse(text)
    }

    /// The rest of the record after [`Self::parse_line`].
    pub fn process_envelope(
        &self,
        envelope: &Envelope<'_>,
        keys: &dyn DataKeys,
        scratch: &mut Scratch,
    ) -> Result<Row, Corrupt> {
        let (head, val) = self.process_envelope_into(envelope, keys, scratch)?;
        let val = val.to_owned();
        Ok(head.with_val(val))
    }

    /// As [`Self::process_envelope`], with `val` left in `scratch` (valid
    /// until its next use): a batch copies it straight into its column, so
    /// no record allocates and grows a `val` of its own.
    pub fn process_envelope_into<'s>(
        &self,
        envelope: &Envelope<'_>,
        keys: &dyn DataKeys,
        scratch: &'s mut Scratch,
    ) -> Result<(RowHead, &'s str), Corrupt> {
        // Checked before decrypting: a record without its id costs no AES.
        let id_part = self.id_part(envelope)?;
        let plaintext = self.decrypt(envelope, keys, scratch)?;
        let head = self.finish(envelope, id_part, &plaintext, scratch);
        // Give the buffer back so the next record decodes into it.
        scratch.ciphertext = plaintext;
        Ok((head?, scratch.val_text()?))
    }

    /// Decrypts `dbObject` with the record's data key.
    pub fn decrypt(
        &self,
        envelope: &Envelope<'_>,
        keys: &dyn DataKeys,
        scratch: &mut Scratch,
    ) -> Result<Vec<u8>, Corrupt> {
        let enc = envelope.encryption()?;
        let db_object = envelope.db_object()?;
        base64::decode_into(enc.initialisation_vector, &mut scratch.iv).map_err(|e| {
            Corrupt::new(
                CorruptReason::BadBase64,
                "message.encryption.initialisationVector",
                e,
            )
        })?;
        if scratch.iv.len() != self.cipher.iv_len() {
            return Err(Corrupt::new(
                CorruptReason::BadIv,
                "message.encryption.initialisationVector",
                format!(
                    "{} bytes, {} needs {}",
                    scratch.iv.len(),
                    self.cipher.name(),
                    self.cipher.iv_len()
                ),
            ));
        }
        base64::decode_into(db_object, &mut scratch.ciphertext)
            .map_err(|e| Corrupt::new(CorruptReason::BadBase64, "message.dbObject", e))?;
        let key = keys
            .data_key(enc.key_encryption_key_id, enc.encrypted_encryption_key)
            .map_err(|e| {
                Corrupt::new(
                    CorruptReason::KeyUnavailable,
                    "message.encryption.encryptedEncryptionKey",
                    e,
                )
            })?;
        let ciphertext = std::mem::take(&mut scratch.ciphertext);
        decrypt(self.cipher, key, &scratch.iv, ciphertext).map_err(|e| match e {
            DecryptError::KeyLength(_) => Corrupt::new(
                CorruptReason::BadKey,
                "message.encryption.encryptedEncryptionKey",
                e,
            ),
            DecryptError::IvLength(_) => Corrupt::new(
                CorruptReason::BadIv,
                "message.encryption.initialisationVector",
                e,
            ),
            DecryptError::TagMismatch => {
                Corrupt::new(CorruptReason::DecryptFailed, "message.dbObject", e)
            }
        })
    }

    /// `id_part` needs `message._id.id` (spec §7).
    fn id_part(&self, envelope: &Envelope<'_>) -> Result<Option<String>, Corrupt> {
        if !self.rules.id_part {
            return Ok(None);
        }
        let bad = |detail: &str| Corrupt::new(CorruptReason::BadId, "message._id.id", detail);
        match envelope.id() {
            Some(Value::Object(o)) => match o.get("id") {
                // The first two characters (of a shorter id, all of it).
                Some(Value::Str(s)) => {
                    let end = s.char_indices().nth(2).map_or(s.len(), |(at, _)| at);
                    Ok(Some(s[..end].to_owned()))
                }
                Some(other) => Err(bad(&format!("is {}, not a string", other.type_name()))),
                None => Err(bad("absent")),
            },
            Some(other) => Err(bad(&format!(
                "message._id is {}, not an object",
                other.type_name()
            ))),
            None => Err(bad("message._id absent")),
        }
    }

    /// From the decrypted bytes: UTF-8, JSON, transform, validate, sanitise, row.
    pub fn process_plaintext(
        &self,
        envelope: &Envelope<'_>,
        plaintext: &[u8],
        scratch: &mut Scratch,
    ) -> Result<Row, Corrupt> {
        let id_part = self.id_part(envelope)?;
        let head = self.finish(envelope, id_part, plaintext, scratch)?;
        let val = scratch.val_text()?.to_owned();
        Ok(head.with_val(val))
    }

    fn finish(
        &self,
        envelope: &Envelope<'_>,
        id_part: Option<String>,
        plaintext: &[u8],
        scratch: &mut Scratch,
    ) -> Result<RowHead, Corrupt> {
        let text = std::str::from_utf8(plaintext).map_err(|e| {
            Corrupt::new(
                CorruptReason::InvalidUtf8,
                "dbObject",
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )
        })?;
        let doc = crate::json::parse(text)
            .map_err(|e| Corrupt::new(CorruptReason::InvalidDocument, "dbObject", e))?;
        let doc = match doc {
            Value::Object(o) => o,
            other => {
                return Err(Corrupt::new(
                    CorruptReason::InvalidDocument,
                    "dbObject",
                    format!("is a JSON {}, not an object", other.type_name()),
                ));
            }
        };
        let mut doc = if self.rules.audit_transform {
            audit_transform(envelope, doc)?
        } else {
            doc
        };
        let validated = validate(&mut doc)?;
        let strip =
            match envelope.db_and_collection(self.collection.db(), self.collection.collection()) {
                (Some(db), Some(coll)) => self.rules.strips_escapes(db, coll),
                _ => false,
            };
        // Only a string holding a backslash can need the text path, and a
        // parsed string holds one only if the plaintext has one (every JSON
        // escape starts with it). The audit reshape adds the envelope's
        // timestamp, so it always looks.
        let may_hold_backslash =
            self.rules.audit_transform || memchr::memchr(b'\\', plaintext).is_some();
        canonical_val_from(
            Value::Object(doc),
            strip,
            may_hold_backslash,
            &mut scratch.val,
        )?;
        let id = envelope.id().map(|v| match v {
            Value::Object(_) | Value::Array(_) => canonical_string(v),
            primitive => primitive
                .py_str()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default(),
        });
        Ok(RowHead {
            id,
            id_part,
            db_type: if validated.is_delete {
                DbType::Delete
            } else {
                DbType::Insert
            },
            last_modified: validated.last_modified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening: a key map in a log line or panic message shows no key.
    #[test]
    fn static_keys_never_show_their_bytes() {
        let mut keys = StaticKeys::new();
        keys.insert("wrapped-1", vec![171; 16]);
        let shown = format!("{keys:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("wrapped_keys: 1"), "{shown}");
        assert_eq!(keys.data_key("any", "wrapped-1").unwrap(), &[171; 16]);
    }
}
