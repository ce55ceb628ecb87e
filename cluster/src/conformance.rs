//! `weir conformance records|crypto|from-json <file>`.

use std::process::ExitCode;

use weir_ingesters::Registry;
use weir_testkit::conformance::{Report, crypto, from_json, records};

use crate::cli::{ConformanceCommand, VectorArgs};
use crate::error::Error;

pub(crate) fn run(command: ConformanceCommand, registry: &Registry) -> Result<ExitCode, Error> {
    let (report, args) = match command {
        ConformanceCommand::Records(args) => (
            records::run_file(&args.file, &|c| registry.rules_for(c))?,
            args,
        ),
        ConformanceCommand::Crypto(args) => (crypto::run_file(&args.file)?, args),
        ConformanceCommand::FromJson(args) => (from_json::run_file(&args.file)?, args),
    };
    print_report(&report, &args);
    Ok(if report.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(report: &Report, args: &VectorArgs) {
    for failure in report.failures.iter().take(args.show) {
        println!("{failure}");
    }
    if report.failures.len() > args.show {
        println!(
            "... {} more mismatches (--show N to see more)",
            report.failures.len() - args.show
        );
    }
    println!("{}", report.summary());
}
