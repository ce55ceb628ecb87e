//! How operators fail. Ballista retries a task only on
//! `DataFusionError::IoError`, so transient causes (storage, key service after
//! its own retries) are reported as I/O errors; everything else is final.

use datafusion::error::DataFusionError;

/// What a read of a listed-but-vanished input file says (and what
/// `--on-missing-input retry` looks for).
pub const INPUT_CHANGED: &str = "the input changed during the run";

/// A transient failure worth a task retry, with a message naming what failed.
pub fn io_error(message: String) -> DataFusionError {
    DataFusionError::IoError(std::io::Error::other(message))
}

/// A storage failure on `location`: a vanished object is final (the input
/// changed under the run), anything else may pass on retry.
pub fn storage_error(op: &str, location: &str, e: object_store::Error) -> DataFusionError {
    match e {
        object_store::Error::NotFound { .. } => DataFusionError::Execution(format!(
            "{location} was listed but is gone ({op}): {INPUT_CHANGED}"
        )),
        other => io_error(format!(
            "cannot {op} {location}: {}",
            crate::redact::secrets(&other.to_string())
        )),
    }
}

/// An engine error inside an operator: key-service and storage failures are
/// transient, the rest final.
pub fn engine_error(e: crate::Error) -> DataFusionError {
    match e {
        crate::Error::DksUnavailable { .. } | crate::Error::Storage { .. } => {
            io_error(e.to_string())
        }
        other => DataFusionError::External(Box::new(other)),
    }
}
