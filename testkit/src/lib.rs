//! Weir's dev tooling, kept out of the engine so executors do not link a web
//! server or a generator:
//!
//! - [`dks`]: the local, DKS-compatible data key service (and its
//!   Prometheus text);
//! - [`generate`]: realistic corporate-storage input with a manifest of what
//!   it holds;
//! - [`conformance`]: runners for the old job's conformance vectors;
//! - [`k2hb`]: the one K2HB line builder (generator, tests, benchmarks).

pub mod conformance;
pub mod dks;
mod error;
pub mod generate;
pub mod k2hb;

pub use error::{Error, Result};
