//! Weir's engine.
//!
//! - [`json`]: Python-compatible JSON, the foundation of byte-identical output;
//! - [`record`]: the per-record pipeline (decrypt, transform, validate, sanitise);
//! - [`conformance`]: runners for the old job's conformance vectors.

pub mod conformance;
pub mod error;
pub mod exec;
pub mod generate;
pub mod json;
pub mod keys;
pub mod layout;
pub mod output;
pub mod post;
pub mod record;
pub mod redact;
pub mod report;
pub mod run;
pub mod storage;

pub use error::{Error, Result};
