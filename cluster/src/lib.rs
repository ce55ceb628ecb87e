//! The `weir` command's library: everything the binary does, testable.

mod check;
pub mod cli;
mod config;
#[cfg(feature = "dev-tools")]
mod conformance;
mod dates;
#[cfg(feature = "dev-tools")]
mod demo;
#[cfg(feature = "dev-tools")]
mod dks;
mod dry_run;
mod error;
mod executor;
#[cfg(feature = "dev-tools")]
mod generate;
pub mod logging;
mod lookup;
mod memory;
mod metrics;
mod progress;
mod recover;
mod remote;
mod run;
mod scheduler;
mod serve;
mod status;
mod summary;
mod table_config;
mod tables;
mod up;

use std::process::ExitCode;

pub use config::RunSettings;
pub use error::Error;
pub use executor::executor_config;
pub use remote::BallistaRunner;
pub use scheduler::scheduler_config;
pub use weir_ingesters::Registry;

/// Runs a parsed command line with Weir's built-in collections; the exit
/// code reflects the outcome.
pub fn run(cli: cli::Cli) -> Result<ExitCode, Error> {
    run_with(cli, Registry::with_builtins())
}

/// Runs a parsed command line with `registry`'s collections: a team's own
/// binary registers its ingesters and calls this (or [`main_with`]).
pub fn run_with(cli: cli::Cli, registry: Registry) -> Result<ExitCode, Error> {
    let services = match &cli.command {
        cli::Command::Scheduler(_) | cli::Command::Executor(_) => true,
        #[cfg(feature = "dev-tools")]
        cli::Command::Dks(_) => true,
        _ => false,
    };
    logging::init(cli.log_format, if services { "info" } else { "warn" });
    match cli.command {
        #[cfg(feature = "dev-tools")]
        cli::Command::Conformance(command) => conformance::run(command, &registry),
        #[cfg(feature = "dev-tools")]
        cli::Command::Dks(command) => dks::run(command),
        #[cfg(feature = "dev-tools")]
        cli::Command::Generate(args) => generate::run(args),
        #[cfg(feature = "dev-tools")]
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::Run(args) => run::run(&args, &registry),
        cli::Command::Merge(args) => run::merge(&args, &registry),
        cli::Command::Status(args) => status::run(&args, status::View::Latest),
        cli::Command::History(args) => status::run(&args, status::View::History),
        cli::Command::Retract(args) => status::retract(&args),
        cli::Command::Lookup(args) => lookup::run(&args, &registry),
        cli::Command::Recover(args) => recover::run(&args),
        cli::Command::Check(args) => check::run(&args, &registry),
        cli::Command::Vacuum(args) => status::vacuum(&args, &registry),
        cli::Command::Serve(args) => serve::run(&args, registry),
        cli::Command::Tables(args) => tables::run(&args, &registry),
        cli::Command::Scheduler(args) => scheduler::run(&args),
        cli::Command::Executor(args) => executor::run(&args),
        cli::Command::Cluster(cli::ClusterCommand::Up(args)) => up::run(&args),
    }
}

/// The whole `weir` command over `registry`: parses the process's
/// arguments, runs, prints an error, gives the exit code (2 for usage and
/// environment errors). A team's binary is
/// `fn main() -> ExitCode { weir_cluster::main_with(my_registry()) }`.
pub fn main_with(registry: Registry) -> ExitCode {
    use clap::Parser as _;
    memory::no_transparent_huge_pages();
    match run_with(cli::Cli::parse(), registry) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weir: {e}");
            ExitCode::from(2)
        }
    }
}

/// The multi-threaded runtime the commands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })
}

/// Weir's physical codec over Ballista's (its shuffle nodes), as every
/// Ballista process and client of Weir's uses it.
pub(crate) fn ballista_codec() -> weir_engine::exec::WeirPhysicalCodec {
    weir_engine::exec::WeirPhysicalCodec::wrapping(std::sync::Arc::new(
        ballista_core::serde::BallistaPhysicalExtensionCodec::default(),
    ))
}
