//! Weir's engine.
//!
//! - [`json`]: Python-compatible JSON, the foundation of byte-identical output;
//! - [`record`]: the per-record pipeline (decrypt, transform, validate, sanitise);
//! - [`keys`]: the data key service's client and cache;
//! - [`exec`]: Weir's DataFusion operators and their Ballista codec;
//! - [`from_json`]: Spark's `from_json`, as a DataFusion function;
//! - [`output`], [`run`], [`post`]: formats, a day's run and its commit;
//! - [`tables`]: tables built from the rows in the day's commit.
//!
//! It knows no collection by name: that is the ingesters' (`weir-ingesters`).

pub mod archive;
pub mod checks;
pub mod error;
pub mod exec;
pub mod from_json;
pub mod json;
pub mod keys;
pub mod layout;
pub mod lookup;
pub mod merge;
pub mod output;
pub mod post;
pub mod random;
pub mod record;
pub mod redact;
pub mod report;
pub mod run;
pub mod status;
pub mod storage;
pub mod tables;

pub use error::{Error, Fault, Result};
