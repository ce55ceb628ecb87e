//! The outer K2HB line (spec §1): parsed once, read by every later step.

use crate::json::{Object, Value, parse};

use super::corrupt::{Corrupt, CorruptReason};

/// A parsed input line whose `message` is an object.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// The `message` object; the rest of the line is not needed.
    message: Object<'a>,
}

/// The encryption materials of a record, borrowed from its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptionRef<'e> {
    /// `keyEncryptionKeyId`: the master key the data key is wrapped under.
    pub key_encryption_key_id: &'e str,
    /// `encryptedEncryptionKey`: the wrapped data key, as the key service takes it.
    pub encrypted_encryption_key: &'e str,
    /// `initialisationVector`, base64.
    pub initialisation_vector: &'e str,
}

fn missing(field: &str, detail: &str) -> Corrupt {
    Corrupt::new(CorruptReason::MissingField, field, detail)
}

impl<'a> Envelope<'a> {
    /// Parses a line; anything but a JSON object with a `message` object is corrupt.
    pub fn parse(line: &'a str) -> Result<Self, Corrupt> {
        let root =
            parse(line).map_err(|e| Corrupt::new(CorruptReason::MalformedLine, "line", e))?;
        match root {
            Value::Object(mut o) => match o.remove("message") {
                Some(Value::Object(message)) => Ok(Self { message }),
                Some(other) => Err(missing(
                    "message",
                    &format!("is {}, not an object", other.type_name()),
                )),
                None => Err(missing("message", "absent")),
            },
            other => Err(Corrupt::new(
                CorruptReason::MalformedLine,
                "line",
                format!("is a JSON {}, not an object", other.type_name()),
            )),
        }
    }

    /// The `message` object.
    pub fn message(&self) -> &Object<'a> {
        &self.message
    }

    /// `message._id`, if present and not `null`.
    pub fn id(&self) -> Option<&Value<'a>> {
        self.message()
            .get("_id")
            .filter(|v| !matches!(v, Value::Null))
    }

    /// `message._lastModifiedDateTime`, if present.
    pub fn last_modified(&self) -> Option<&Value<'a>> {
        self.message().get("_lastModifiedDateTime")
    }

    /// The record's `db` and `collection`: the message's own where given, else
    /// the run's. A non-string value is kept as "no name" (it matches nothing).
    pub fn db_and_collection<'r>(
        &'r self,
        run_db: &'r str,
        run_collection: &'r str,
    ) -> (Option<&'r str>, Option<&'r str>) {
        let pick = |key: &str, fallback: &'r str| match self.message().get(key) {
            None => Some(fallback),
            Some(Value::Str(s)) => Some(s.as_ref()),
            Some(_) => None,
        };
        (pick("db", run_db), pick("collection", run_collection))
    }

    /// The encryption block.
    pub fn encryption(&self) -> Result<EncryptionRef<'_>, Corrupt> {
        let block = match self.message().get("encryption") {
            Some(Value::Object(o)) => o,
            Some(other) => {
                return Err(missing(
                    "message.encryption",
                    &format!("is {}, not an object", other.type_name()),
                ));
            }
            None => return Err(missing("message.encryption", "absent")),
        };
        let field = |name: &'static str| -> Result<&str, Corrupt> {
            match block.get(name) {
                Some(Value::Str(s)) => Ok(s.as_ref()),
                Some(other) => Err(missing(
                    &format!("message.encryption.{name}"),
                    &format!("is {}, not a string", other.type_name()),
                )),
                None => Err(missing(&format!("message.encryption.{name}"), "absent")),
            }
        };
        Ok(EncryptionRef {
            key_encryption_key_id: field("keyEncryptionKeyId")?,
            encrypted_encryption_key: field("encryptedEncryptionKey")?,
            initialisation_vector: field("initialisationVector")?,
        })
    }

    /// `message.dbObject`, the base64 ciphertext.
    pub fn db_object(&self) -> Result<&str, Corrupt> {
        match self.message().get("dbObject") {
            Some(Value::Str(s)) => Ok(s),
            Some(other) => Err(missing(
                "message.dbObject",
                &format!("is {}, not a string", other.type_name()),
            )),
            None => Err(missing("message.dbObject", "absent")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_fields() {
        let line = r#"{"message": {"_id": {"id": "ab12"}, "db": "core", "encryption": {"keyEncryptionKeyId": "k", "encryptedEncryptionKey": "e", "initialisationVector": "iv"}, "dbObject": "x"}}"#;
        let e = Envelope::parse(line).unwrap();
        assert_eq!(e.encryption().unwrap().initialisation_vector, "iv");
        assert_eq!(e.db_object().unwrap(), "x");
        assert_eq!(e.db_and_collection("d", "c"), (Some("core"), Some("c")));
    }

    #[test]
    fn envelope_errors_name_the_field() {
        let err = Envelope::parse("{\"message\": {\"_id\": 1").unwrap_err();
        assert_eq!(err.reason, CorruptReason::MalformedLine);
        let err = Envelope::parse("[1]").unwrap_err();
        assert_eq!(err.reason, CorruptReason::MalformedLine);
        let e =
            Envelope::parse(r#"{"message": {"encryption": {"keyEncryptionKeyId": 5}}}"#).unwrap();
        let err = e.encryption().unwrap_err();
        assert_eq!(err.reason, CorruptReason::MissingField);
        assert_eq!(err.field, "message.encryption.keyEncryptionKeyId");
        assert_eq!(e.db_object().unwrap_err().field, "message.dbObject");
        assert_eq!(Envelope::parse("{}").unwrap_err().field, "message");
    }
}
