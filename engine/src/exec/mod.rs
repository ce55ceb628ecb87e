//! Weir's DataFusion operators, one per file: the gzip lines scan, the ingest
//! operator and the partition-parallel writer. Each is described by a plain
//! serde spec so the extension codec can ship it to Ballista executors.

mod codec;
mod error;
mod ingest;
mod progress;
mod scan;
pub mod schema;
mod write;

pub use codec::{WeirNode, decode, encode};
pub use error::{INPUT_CHANGED, engine_error, io_error, storage_error};
pub use ingest::{IngestExec, IngestSpec};
pub use progress::Progress;
pub use scan::{GzipLinesScanExec, InputFile, ScanSpec};
pub use write::{WriteExec, WriteSpec};
