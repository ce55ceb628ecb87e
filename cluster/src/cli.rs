//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Weir: batch ingestion of corporate storage, on DataFusion.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Weir's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check Weir against the old job's answers.
    #[command(subcommand)]
    Conformance(ConformanceCommand),
    /// Run the daily job on generated sample data (arrives with the local engine).
    Demo,
}

/// `weir conformance ...`.
#[derive(Debug, Subcommand)]
pub enum ConformanceCommand {
    /// Run record vectors (`record-vectors.jsonl[.gz]`): one K2HB message and its
    /// decrypted dbObject per line, with the old job's row or `{"corrupt": true}`.
    Records(VectorArgs),
    /// Run decryption vectors (`crypto-vectors.jsonl[.gz]`).
    Crypto(VectorArgs),
}

/// Arguments of the conformance commands.
#[derive(Debug, clap::Args)]
pub struct VectorArgs {
    /// The vector file (JSON lines, optionally gzip-compressed).
    pub file: PathBuf,
    /// How many failures to print in full.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
}
