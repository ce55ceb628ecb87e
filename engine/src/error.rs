//! The engine's error type. Record-level problems are not errors: they are
//! [`crate::record::Corrupt`] values that flow on to quarantine. What is here
//! fails a run (or, in the key service, a request).

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

    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A TLS certificate, key or CA bundle is unusable.
    #[error("TLS {what} {path}: {detail}")]
    Tls {
        /// Which file: "certificate", "private key" or "CA bundle".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// The key service could not be reached or kept failing after every retry.
    #[error(
        "data key service {url} unavailable after {attempts} attempts in {elapsed_ms} ms: {cause}"
    )]
    DksUnavailable {
        /// The service's base URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent, including backoff.
        elapsed_ms: u64,
        /// The last failure (status or transport error), without key material.
        cause: String,
    },

    /// The key service answered something that is not its API.
    #[error("data key service {url} answered {status} with an unexpected body: {detail}")]
    DksResponse {
        /// The service's base URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong (never the body's key fields).
        detail: String,
    },

    /// A configuration value is wrong.
    #[error("invalid {field}: {detail}")]
    Config {
        /// The option or key, as the user spells it.
        field: String,
        /// What is wrong.
        detail: String,
    },

    /// A day's plan failed (the first failing task's error, kept whole:
    /// [`Error::fault`] looks inside it).
    #[error("{collection} {export_date}: {source}")]
    Execution {
        /// `db:collection`.
        collection: String,
        /// The export date.
        export_date: String,
        /// DataFusion's (or Ballista's) error, naming the operator and cause.
        source: datafusion::error::DataFusionError,
    },

    /// A day's check before publishing failed: nothing was published.
    #[error("{collection} {export_date}: {detail}")]
    DayCheck {
        /// `db:collection`.
        collection: String,
        /// The export date.
        export_date: String,
        /// What the check found.
        detail: String,
        /// Whose fault it is.
        fault: Fault,
    },

    /// More corrupt records than the run allows: the day is not published.
    #[error(
        "{collection} {export_date}: {corrupt} of {records} records corrupt, above {limit}; nothing published"
    )]
    TooManyCorrupt {
        /// `db:collection`.
        collection: String,
        /// The export date.
        export_date: String,
        /// Corrupt records.
        corrupt: u64,
        /// Records read.
        records: u64,
        /// The limit passed.
        limit: CorruptLimit,
    },

    /// A collection's post-processing step failed: nothing of the day was
    /// published.
    #[error("{collection} {export_date}: post-processing {source}; nothing published")]
    PostProcessing {
        /// `db:collection`.
        collection: String,
        /// The export date.
        export_date: String,
        /// The step and its cause.
        source: crate::post::StepFailed,
    },

    /// A published file does not decode as the format Weir wrote it in
    /// (changed outside Weir, or a bug of Weir's writer).
    #[error("published file {file} cannot be read: {detail}")]
    Published {
        /// The file (URL form).
        file: String,
        /// What the reader said.
        detail: String,
    },

    /// Environment: object storage failed (list, get, put, copy, delete).
    #[error("storage {op} {location}: {detail}")]
    Storage {
        /// The operation.
        op: &'static str,
        /// The object or prefix (URL form, without credentials).
        location: String,
        /// The object store's error, with credentials redacted
        /// ([`crate::redact::secrets`]): the raw error is not kept, since its
        /// S3 body can hold the access key id and the security token.
        detail: String,
    },
}

/// Whose fault an error is: where the person paged looks first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The data: corrupt beyond the limit, empty, changed under the run.
    Input,
    /// Storage, the key service, the network, the cluster, memory.
    Environment,
    /// An option, a file, a certificate or a collection's own step.
    Configuration,
    /// Weir's own: an invariant broke (please report it).
    Bug,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::Input => "input",
            Fault::Environment => "environment",
            Fault::Configuration => "configuration",
            Fault::Bug => "bug",
        })
    }
}

/// The corrupt records a day may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CorruptLimit {
    /// At most this share of the records read.
    Share(f64),
    /// At most this many.
    Count(u64),
}

impl std::fmt::Display for CorruptLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorruptLimit::Share(r) => write!(f, "the allowed share {r}"),
            CorruptLimit::Count(n) => write!(f, "the allowed count {n}"),
        }
    }
}

impl Error {
    /// Whose fault this is.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Read { .. }
            | Error::Write { .. }
            | Error::DksUnavailable { .. }
            | Error::DksResponse { .. }
            | Error::Storage { .. } => Fault::Environment,
            Error::Tls { .. } | Error::Config { .. } => Fault::Configuration,
            Error::TooManyCorrupt { .. } => Fault::Input,
            Error::Published { .. } => Fault::Bug,
            Error::DayCheck { fault, .. } => *fault,
            Error::Execution { source, .. } => datafusion_fault(source),
            // A collection's step is its team's code or SQL, unless what
            // broke under it was the environment.
            Error::PostProcessing { source, .. } => {
                match source
                    .source
                    .downcast_ref::<datafusion::error::DataFusionError>()
                {
                    Some(e) if datafusion_fault(e) == Fault::Environment => Fault::Environment,
                    _ => Fault::Configuration,
                }
            }
        }
    }

    /// A storage failure, its text cleared of credentials.
    pub fn storage(op: &'static str, location: String, source: &dyn std::fmt::Display) -> Self {
        Error::Storage {
            op,
            location,
            detail: crate::redact::secrets(&source.to_string()),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whose fault a plan's error is: transient kinds (what Ballista retries)
/// are the environment's, an input that changed or a refused location is
/// the input's or the configuration's, an engine error inside says itself,
/// the rest is a bug.
///
/// Execution errors are told apart by the messages Weir's operators write:
/// on a cluster every task error reaches the client only as Ballista's text
/// (`cluster job on … failed: …`), so a typed error could not survive there.
fn datafusion_fault(e: &datafusion::error::DataFusionError) -> Fault {
    use datafusion::error::DataFusionError as D;
    match e {
        D::IoError(_) | D::ResourcesExhausted(_) | D::ObjectStore(_) => Fault::Environment,
        D::Context(_, inner) => datafusion_fault(inner),
        D::Shared(inner) => datafusion_fault(inner),
        D::External(inner) => match inner.downcast_ref::<Error>() {
            Some(engine) => engine.fault(),
            None => match inner.downcast_ref::<D>() {
                Some(df) => datafusion_fault(df),
                None => Fault::Bug,
            },
        },
        D::Execution(text) => {
            if text.contains(crate::exec::INPUT_CHANGED)
                || text.contains("corrupt records")
                || text.contains("not a gzip file")
            {
                Fault::Input
            } else if text.contains("refuses to") {
                Fault::Configuration
            } else if text.contains("cluster job on") || text.contains("cannot ") {
                Fault::Environment
            } else {
                Fault::Bug
            }
        }
        D::Configuration(_) | D::Plan(_) | D::SchemaError(..) | D::SQL(..) => Fault::Configuration,
        _ => Fault::Bug,
    }
}
