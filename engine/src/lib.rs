//! Weir's engine.
//!
//! - [`json`]: Python-compatible JSON, the foundation of byte-identical output;
//! - [`record`]: the per-record pipeline (decrypt, transform, validate, sanitise);
//! - [`conformance`]: runners for the old job's conformance vectors.

pub mod conformance;
pub mod error;
pub mod json;
pub mod record;

pub use error::{Error, Result};
