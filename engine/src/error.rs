//! The engine's error type. Record-level problems are not errors: they are
//! [`crate::record::Corrupt`] values that flow on to quarantine.

use std::path::PathBuf;

/// Errors of the engine crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Environment: a file could not be opened or read (missing, permissions, a
    /// truncated gzip stream).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
