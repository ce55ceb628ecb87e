//! Errors of the `weir` command.

/// What can stop a `weir` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine failed (for example, the input file could not be read).
    #[error(transparent)]
    Engine(#[from] weir_engine::Error),
}
