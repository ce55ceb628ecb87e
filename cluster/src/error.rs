//! Errors of the `weir` command.

/// What can stop a `weir` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine failed (for example, the input file could not be read).
    #[error(transparent)]
    Engine(#[from] weir_engine::Error),

    /// The dev tooling failed (the local key service, the generator, the
    /// conformance runners).
    #[cfg(feature = "dev-tools")]
    #[error(transparent)]
    Testkit(#[from] weir_testkit::Error),

    /// An option's value is wrong.
    #[error("{option}: {detail}")]
    Usage {
        /// The option, as typed.
        option: String,
        /// What is wrong.
        detail: String,
    },

    /// A cluster process or the cluster itself failed.
    #[error("cannot {what}: {detail}")]
    Cluster {
        /// What was being done.
        what: String,
        /// Why it failed.
        detail: String,
    },

    /// The async runtime could not start.
    #[error("cannot start the runtime: {source}")]
    Runtime {
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn usage(option: &str, detail: impl Into<String>) -> Self {
        Error::Usage {
            option: option.to_owned(),
            detail: detail.into(),
        }
    }
}
