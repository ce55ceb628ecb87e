//! K2HB V4 lines: the one place that writes the envelope Kafka-to-HBase
//! (and its S3 dumps) wraps each MongoDB change in. The generator, the
//! integration tests' [`LineBuilder`] and the benchmarks all build lines
//! here, so a change to the envelope is made once.

use std::fmt::Write as _;

use weir_engine::record::{Cipher, StaticKeys, base64, encrypt};

/// The `encryption` object of a line.
#[derive(Debug, Clone, Copy)]
pub struct Encryption<'a> {
    /// `encryptionKeyId` and `keyEncryptionKeyId`.
    pub key_id: &'a str,
    /// `encryptedEncryptionKey`: the wrapped data key.
    pub wrapped: &'a str,
    /// `initialisationVector`, base64.
    pub iv: &'a str,
}

/// The fields of one line, written by [`K2hbLine::write`] in the order and
/// with the compact separators K2HB uses.
#[derive(Debug, Clone, Copy)]
pub struct K2hbLine<'a> {
    /// `traceId`.
    pub trace_id: &'a str,
    /// `unitOfWorkId`.
    pub unit_of_work_id: &'a str,
    /// The outer `timestamp`.
    pub timestamp: &'a str,
    /// `message.@type` (`MONGO_INSERT`, `MONGO_UPDATE`, `MONGO_DELETE`, …).
    pub message_type: &'a str,
    /// `message.db` (`None` leaves it out).
    pub db: Option<&'a str>,
    /// `message.collection`.
    pub collection: &'a str,
    /// `message._id`, as JSON text.
    pub id_json: &'a str,
    /// `message._lastModifiedDateTime`, as JSON text (`None` leaves it out).
    pub last_modified_json: Option<&'a str>,
    /// `message.encryption` (`None` leaves it out).
    pub encryption: Option<Encryption<'a>>,
    /// `message.dbObject`, base64 of the sealed document.
    pub db_object: &'a str,
}

impl K2hbLine<'_> {
    /// Appends the line (without a newline) to `out`.
    pub fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            r#"{{"traceId":"{}","unitOfWorkId":"{}","@type":"V4","version":"core-4.release_147.3","timestamp":"{}","message":{{"@type":"{}","#,
            self.trace_id, self.unit_of_work_id, self.timestamp, self.message_type
        );
        if let Some(db) = self.db {
            let _ = write!(out, r#""db":"{db}","#);
        }
        let _ = write!(
            out,
            r#""collection":"{}","_id":{},"#,
            self.collection, self.id_json
        );
        if let Some(lm) = self.last_modified_json {
            let _ = write!(out, r#""_lastModifiedDateTime":{lm},"#);
        }
        if let Some(e) = self.encryption {
            let _ = write!(
                out,
                r#""encryption":{{"encryptionKeyId":"{0}","encryptedEncryptionKey":"{1}","initialisationVector":"{2}","keyEncryptionKeyId":"{0}"}},"#,
                e.key_id, e.wrapped, e.iv
            );
        }
        let _ = write!(
            out,
            r#""dbObject":"{}","timestamp_created_from":"_lastModifiedDateTime"}}}}"#,
            self.db_object
        );
    }

    /// The line as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }
}

/// Builds lines around documents encrypted under one data key (tests).
#[derive(Debug, Clone)]
pub struct LineBuilder {
    /// `db` of the message (`None` leaves it out).
    pub db: Option<String>,
    /// `collection` of the message.
    pub collection: String,
    /// `_id` as JSON text.
    pub id_json: String,
    /// Outer `_lastModifiedDateTime` as JSON text, if any.
    pub last_modified_json: Option<String>,
    /// The cipher.
    pub cipher: Cipher,
    /// The plaintext data key.
    pub key: Vec<u8>,
    /// The wrapped key name the line carries.
    pub wrapped_key: String,
}

impl LineBuilder {
    /// A line of `db:collection` with a 16-byte key.
    pub fn new(db: &str, collection: &str) -> Self {
        Self {
            db: Some(db.to_owned()),
            collection: collection.to_owned(),
            id_json: r#"{"id": "ab12-cd34"}"#.to_owned(),
            last_modified_json: Some(r#""2023-06-01T10:00:00.000+0000""#.to_owned()),
            cipher: Cipher::Ctr,
            key: (0u8..16).collect(),
            wrapped_key: "wrapped-key-1".to_owned(),
        }
    }

    /// The IV used (fixed, so lines are reproducible).
    pub fn iv(&self) -> Vec<u8> {
        (100u8..100 + self.cipher.iv_len() as u8).collect()
    }

    /// The line for `plaintext` bytes, with optional overrides of raw fields.
    pub fn line_with(
        &self,
        plaintext: &[u8],
        iv_b64: Option<&str>,
        db_object_b64: Option<&str>,
    ) -> Vec<u8> {
        let sealed =
            encrypt(self.cipher, &self.key, &self.iv(), plaintext.to_vec()).expect("encrypt");
        let iv = iv_b64.map_or_else(|| base64::encode(&self.iv()), str::to_owned);
        let db_object = db_object_b64.map_or_else(|| base64::encode(&sealed), str::to_owned);
        K2hbLine {
            trace_id: "t",
            unit_of_work_id: "u",
            timestamp: "2023-06-01T10:00:00.000+0000",
            message_type: "MONGO_UPDATE",
            db: self.db.as_deref(),
            collection: &self.collection,
            id_json: &self.id_json,
            last_modified_json: self.last_modified_json.as_deref(),
            encryption: Some(Encryption {
                key_id: "cloudhsm:1,2",
                wrapped: &self.wrapped_key,
                iv: &iv,
            }),
            db_object: &db_object,
        }
        .to_bytes()
    }

    /// The line for `plaintext`.
    pub fn line(&self, plaintext: &[u8]) -> Vec<u8> {
        self.line_with(plaintext, None, None)
    }

    /// Keys that resolve this builder's wrapped key.
    pub fn keys(&self) -> StaticKeys {
        let mut keys = StaticKeys::new();
        keys.insert(self.wrapped_key.clone(), self.key.clone());
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_the_pipeline_reads_them() {
        let builder = LineBuilder::new("calculator", "calculationParts");
        let line = builder.line(br#"{"_id": {"id": "ab12-cd34"}}"#);
        let envelope =
            weir_engine::record::Envelope::parse(std::str::from_utf8(&line).unwrap()).unwrap();
        let _ = envelope;
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["message"]["db"], "calculator");
        assert_eq!(value["message"]["_id"]["id"], "ab12-cd34");
        assert_eq!(
            value["message"]["encryption"]["encryptedEncryptionKey"],
            "wrapped-key-1"
        );
        let mut no_db = builder.clone();
        no_db.db = None;
        no_db.last_modified_json = None;
        let value: serde_json::Value = serde_json::from_slice(&no_db.line(b"{}")).unwrap();
        assert!(value["message"].get("db").is_none());
        assert!(value["message"].get("_lastModifiedDateTime").is_none());
    }
}
