//! `weir`: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = weir_cluster::cli::Cli::parse();
    match weir_cluster::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weir: {e}");
            ExitCode::from(2)
        }
    }
}
