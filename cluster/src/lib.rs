//! The `weir` command's library: everything the binary does, testable.

pub mod cli;
mod config;
mod conformance;
mod dates;
mod demo;
mod dks;
mod error;
mod executor;
mod generate;
mod logging;
mod progress;
mod remote;
mod run;
mod scheduler;
mod summary;
mod up;

use std::process::ExitCode;

pub use error::Error;
pub use executor::executor_config;
pub use remote::BallistaRunner;
pub use scheduler::scheduler_config;

/// Runs a parsed command line; the exit code reflects the outcome.
pub fn run(cli: cli::Cli) -> Result<ExitCode, Error> {
    match cli.command {
        cli::Command::Conformance(command) => conformance::run(command),
        cli::Command::Dks(command) => dks::run(command),
        cli::Command::Generate(args) => generate::run(args),
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Scheduler(args) => scheduler::run(&args),
        cli::Command::Executor(args) => executor::run(&args),
        cli::Command::Cluster(cli::ClusterCommand::Up(args)) => up::run(&args),
    }
}

/// The multi-threaded runtime the commands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })
}
