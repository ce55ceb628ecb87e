//! The record pipeline of `shared/spec/record-pipeline.md`, as pure functions:
//! no I/O, no DataFusion. Data keys come in through [`DataKeys`].
//!
//! A line goes: [`Envelope`] (spec §1) → key and decryption (§2) → UTF-8 and JSON
//! → audit transform (§3) → validation (§4) → sanitising (§5) → canonical `val`
//! (§6) → [`Row`] (§7), or a [`Corrupt`] with a stable reason (§8) at any step.

pub mod base64;
mod corrupt;
mod crypto;
mod date;
mod envelope;
mod pipeline;
mod rules;
mod sanitise;
mod transform;
mod validate;

pub use corrupt::{Corrupt, CorruptReason};
pub use crypto::{Cipher, DecryptError, decrypt, encrypt};
pub use date::{DateError, UtcDateTime, looks_like_wrapped_date, parse_py_datetime};
pub use envelope::{EncryptionRef, Envelope};
pub use pipeline::{
    DataKeys, DbType, KeyRejected, RecordPipeline, Row, RowHead, Scratch, StaticKeys,
};
pub use rules::{BadCollectionName, CollectionName, RecordRules};
pub use sanitise::{canonical_val, canonical_val_via_text, sanitise_text};
