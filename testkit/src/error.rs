//! The testkit's error type: its own files and sockets, and the engine's
//! errors from what it calls there.

use std::path::PathBuf;

/// Errors of the dev tooling.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Environment: a file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// Environment: a file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// Configuration: an option's value is wrong.
    #[error("invalid {field}: {detail}")]
    Config {
        /// The option, as the user spells it.
        field: String,
        /// What is wrong.
        detail: String,
    },

    /// Configuration: the service's certificate, key or CA bundle is unusable.
    #[error("TLS {what} {path}: {detail}")]
    Tls {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// Configuration: the local key service's master key file is unusable.
    #[error("master key file {path}: {detail}")]
    MasterKey {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the key).
        detail: String,
    },

    /// Configuration: a captured keys file (`keys.json` format) is unusable.
    #[error("keys file {path}: {detail}")]
    KeysFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never key material).
        detail: String,
    },

    /// Environment: the service could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },

    /// The engine failed under the tooling (storage, the key service client).
    #[error(transparent)]
    Engine(#[from] weir_engine::Error),
}

/// The testkit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
