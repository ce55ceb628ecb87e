//! The `weir` command's library: everything the binary does, testable.

pub mod cli;
mod conformance;
mod error;

use std::process::ExitCode;

pub use error::Error;

/// Runs a parsed command line; the exit code reflects the outcome.
pub fn run(cli: cli::Cli) -> Result<ExitCode, Error> {
    match cli.command {
        cli::Command::Conformance(command) => conformance::run(command),
        cli::Command::Demo => {
            // Honest placeholder: the demo needs the local engine (issue 4).
            eprintln!(
                "weir demo: not available yet. It arrives with the local engine \
                 (issue #4: `weir run` on DataFusion). What works today: \
                 `weir conformance records|crypto <file>`."
            );
            Ok(ExitCode::from(2))
        }
    }
}
