//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Weir: batch ingestion of corporate storage, on DataFusion.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// Log lines on stderr as text or JSON (one object per event); the
    /// level is `RUST_LOG`'s.
    #[arg(long, global = true, value_enum, default_value_t = crate::logging::LogFormat::Text, env = "WEIR_LOG_FORMAT")]
    pub log_format: crate::logging::LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Weir's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check Weir against the old job's answers.
    #[cfg(feature = "dev-tools")]
    #[command(subcommand)]
    Conformance(ConformanceCommand),
    /// Generate sample collections under ./weir-data (first time), start a local
    /// key service and run the daily job on them.
    #[cfg(feature = "dev-tools")]
    Demo(DemoArgs),
    /// Ingest collections for a day or a date range.
    Run(Box<RunArgs>),
    /// Merge the published dailies into each date's full export (the
    /// snapshot merge alone; `weir run --update` does it with the day).
    Merge(Box<RunArgs>),
    /// The latest run of each day (default: the last 7 export dates), from
    /// the status kept under --dest.
    Status(Box<StatusArgs>),
    /// Every run of the days given.
    History(Box<StatusArgs>),
    /// Take a published day back: its output is moved under
    /// `_weir/retracted/` (kept until `weir vacuum`), the version it
    /// replaced comes back, its Delta commits are undone, its status
    /// RETRACTED.
    Retract(Box<RetractArgs>),
    /// Run the collections' data checks on the days as published (exit 1
    /// when a check of severity error fails).
    Check(Box<StatusArgs>),
    /// Rows of a published day, export or table by id, as JSON lines: ids
    /// as arguments or, for personal data, one per line on standard input
    /// (never logged). Reads only the files and stripes that can hold them.
    Lookup(Box<LookupArgs>),
    /// Finish what dead runs left (commits cut short, staging), for the
    /// collections and dates given (all dates with staging by default).
    Recover(Box<StatusArgs>),
    /// Delete retracted output and replaced versions older than a bound,
    /// and the days of collections past their `[[retention]]`.
    Vacuum(VacuumArgs),
    /// The run status as a web page (a grid of collections × days, each
    /// day's report and history) and the JSON it is drawn from; read-only.
    Serve(ServeArgs),
    /// Each collection's tables as published (`weir tables`), or the
    /// statements registering them in Hive, Glue or Athena (`weir tables ddl`).
    Tables(Box<TablesArgs>),
    /// The local, DKS-compatible data key service.
    #[cfg(feature = "dev-tools")]
    #[command(subcommand)]
    Dks(DksCommand),
    /// Generate realistic corporate-storage input (K2HB layout) and a manifest.
    #[cfg(feature = "dev-tools")]
    Generate(GenerateArgs),
    /// A Ballista scheduler with Weir's codecs (`weir run --cluster` submits to it).
    Scheduler(SchedulerArgs),
    /// A Ballista executor with Weir's codecs and operators.
    Executor(ExecutorArgs),
    /// Local cluster helpers.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// Options of `weir scheduler`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerArgs {
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0", env = "WEIR_SCHEDULER_BIND")]
    pub bind: String,
    /// Port of the scheduler's gRPC service (what df:// URLs name).
    #[arg(long, default_value_t = 50050, env = "WEIR_SCHEDULER_PORT")]
    pub port: u16,
    /// Host name executors and clients reach this scheduler by.
    #[arg(
        long,
        default_value = "localhost",
        env = "WEIR_SCHEDULER_EXTERNAL_HOST"
    )]
    pub external_host: String,
    /// An executor silent this long is lost; its tasks run again elsewhere.
    #[arg(long, default_value_t = 30, env = "WEIR_EXECUTOR_TIMEOUT_SECS")]
    pub executor_timeout_secs: u64,
    /// How often lost executors are looked for.
    #[arg(long, default_value_t = 5, env = "WEIR_EXPIRE_INTERVAL_SECS")]
    pub expire_interval_secs: u64,
    /// Attempts of one task before its job fails.
    #[arg(long, default_value_t = 4, env = "WEIR_TASK_MAX_FAILURES")]
    pub task_max_failures: usize,
    /// Attempts of one stage before its job fails.
    #[arg(long, default_value_t = 4, env = "WEIR_STAGE_MAX_FAILURES")]
    pub stage_max_failures: usize,
}

/// Options of `weir executor`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecutorArgs {
    /// The scheduler, as host:port.
    #[arg(long, default_value = "localhost:50050", env = "WEIR_SCHEDULER")]
    pub scheduler: String,
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0", env = "WEIR_EXECUTOR_BIND")]
    pub bind: String,
    /// Host name the scheduler, clients and other executors reach this one by
    /// (default: the bind address).
    #[arg(long, env = "WEIR_EXECUTOR_EXTERNAL_HOST")]
    pub external_host: Option<String>,
    /// Port of the Arrow Flight service (task results).
    #[arg(long, default_value_t = 50051, env = "WEIR_EXECUTOR_PORT")]
    pub port: u16,
    /// Port of the gRPC service the scheduler launches tasks on.
    #[arg(long, default_value_t = 50052, env = "WEIR_EXECUTOR_GRPC_PORT")]
    pub grpc_port: u16,
    /// Tasks run at once (default: the cores).
    #[arg(long, env = "WEIR_CONCURRENT_TASKS")]
    pub concurrent_tasks: Option<usize>,
    /// Where task results are kept until the job's client fetched them.
    #[arg(long, env = "WEIR_EXECUTOR_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Heartbeat period: the scheduler declares the executor lost after its
    /// executor timeout without one.
    #[arg(long, default_value_t = 5, env = "WEIR_HEARTBEAT_SECS")]
    pub heartbeat_secs: u64,
    /// This executor's id in the cluster and in run reports (default: generated).
    #[arg(long, env = "WEIR_EXECUTOR_ID")]
    pub executor_id: Option<String>,
    /// Input may only be read under these prefixes (paths or
    /// s3://bucket/prefix; repeatable, or comma-separated in the variable).
    /// Plans naming anything else are refused.
    #[arg(long = "allow-read", env = "WEIR_ALLOW_READ", value_delimiter = ',')]
    pub allow_read: Vec<String>,
    /// Output (staging and runs included) may only be written under these.
    #[arg(long = "allow-write", env = "WEIR_ALLOW_WRITE", value_delimiter = ',')]
    pub allow_write: Vec<String>,
    /// Run plans for any location (only where nothing but trusted clients
    /// reach the executor's ports): without it, --allow-read and
    /// --allow-write are required.
    #[arg(long, env = "WEIR_ALLOW_ANY_LOCATION", conflicts_with_all = ["allow_read", "allow_write"])]
    pub allow_any_location: bool,
    /// Memory the executor may use, e.g. 8G: task buffers are reserved from
    /// a pool of 60% of it, split across the task slots (default: Ballista's,
    /// a share of the host's or cgroup's memory).
    #[arg(long, env = "WEIR_EXECUTOR_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
}

/// `weir cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a scheduler and N executors on 127.0.0.1 (for trying cluster mode
    /// out); Ctrl-C stops them all.
    Up(ClusterUpArgs),
}

/// Options of `weir cluster up`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterUpArgs {
    /// Executors to start.
    #[arg(long, default_value_t = 2)]
    pub executors: usize,
    /// Scheduler port (executors take the ports after it).
    #[arg(long, default_value_t = 50050)]
    pub port: u16,
    /// Tasks each executor runs at once.
    #[arg(long, default_value_t = 2)]
    pub concurrent_tasks: usize,
    /// Working directory for the executors' task results.
    #[arg(long, default_value = "weir-data/cluster")]
    pub dir: PathBuf,
    /// Prefixes the executors may read (default: any location; the
    /// processes listen on 127.0.0.1 only).
    #[arg(long = "allow-read", value_delimiter = ',')]
    pub allow_read: Vec<String>,
    /// Prefixes the executors may write.
    #[arg(long = "allow-write", value_delimiter = ',', requires = "allow_read")]
    pub allow_write: Vec<String>,
}

/// `weir dks ...`.
#[derive(Debug, Subcommand)]
pub enum DksCommand {
    /// Serve `GET /datakey`, `POST /datakey/actions/decrypt` and `GET /metrics`.
    Serve(DksServeArgs),
}

/// Options of `weir dks serve`.
#[derive(Debug, clap::Args)]
pub struct DksServeArgs {
    /// Address to listen on (port 0: a free port, printed on start).
    #[arg(long, default_value = "127.0.0.1:8091", env = "WEIR_DKS_BIND")]
    pub bind: std::net::SocketAddr,
    /// The master secret; created with mode 0600 on first start, never printed.
    #[arg(
        long,
        default_value = "weir-data/dks-master.key",
        env = "WEIR_DKS_MASTER_KEY_FILE"
    )]
    pub master_key_file: PathBuf,
    /// Captured keys to serve as well (`keys.json` format of the sample).
    #[arg(long)]
    pub keys_file: Option<PathBuf>,
    /// Master key ids held (repeatable); the first wraps new data keys.
    #[arg(long = "key-id", default_value = "cloudhsm:1,2")]
    pub key_ids: Vec<String>,
    /// Serve HTTPS with this certificate (PEM); needs --tls-key and --tls-client-ca.
    #[arg(long, requires_all = ["tls_key", "tls_client_ca"])]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA bundle client certificates must chain to; clients without one are refused.
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Answer this share of key requests with 503 (fault injection).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Add this delay to every key request (fault injection).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Serve plain HTTP on an address other than loopback (refused without).
    #[arg(long)]
    pub insecure_http: bool,
}

/// Options of `weir generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Root to write under (a path or s3://bucket/prefix).
    #[arg(long, default_value = "weir-data/source")]
    pub dest: String,
    /// Collection as db:collection (repeatable).
    #[arg(long = "collection", required = true)]
    pub collections: Vec<String>,
    /// Export date (YYYY-MM-DD); the landing day before it is written.
    #[arg(long, conflicts_with_all = ["start_date", "end_date"])]
    pub date: Option<String>,
    /// First export date of a range.
    #[arg(long, requires = "end_date")]
    pub start_date: Option<String>,
    /// Last export date of a range (inclusive).
    #[arg(long, requires = "start_date")]
    pub end_date: Option<String>,
    /// Records per collection per day.
    #[arg(long, default_value_t = 10_000)]
    pub records: u64,
    /// Files per collection per day.
    #[arg(long, default_value_t = 2)]
    pub files_per_day: u32,
    /// Records encrypted under one data key.
    #[arg(long, default_value_t = 1_000)]
    pub records_per_key: u64,
    /// Cipher of dbObject.
    #[arg(long, value_enum, default_value_t = CipherArg::Ctr)]
    pub cipher: CipherArg,
    /// Same seed, same output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of records planted corrupt (0 to 1), spread over the corrupt kinds.
    #[arg(long, default_value_t = 0.0)]
    pub corrupt_rate: f64,
    /// Master key ids to wrap data keys under, in turn (repeatable).
    #[arg(long = "key-id", default_value = "cloudhsm:1,2")]
    pub key_ids: Vec<String>,
    /// Get data keys from this key service (GET /datakey) ...
    #[arg(long, conflicts_with = "master_key_file")]
    pub dks_url: Option<String>,
    /// ... or wrap them locally under this master secret (the one `weir dks serve` uses).
    #[arg(long, default_value = "weir-data/dks-master.key")]
    pub master_key_file: PathBuf,
}

/// A dbObject cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CipherArg {
    /// AES-CTR, as K2HB writes.
    Ctr,
    /// AES-GCM (12-byte nonce, tag appended).
    Gcm,
}

/// `weir conformance ...`.
#[derive(Debug, Subcommand)]
pub enum ConformanceCommand {
    /// Run record vectors (`record-vectors.jsonl[.gz]`): one K2HB message and its
    /// decrypted dbObject per line, with the old job's row or `{"corrupt": true}`.
    Records(VectorArgs),
    /// Run decryption vectors (`crypto-vectors.jsonl[.gz]`).
    Crypto(VectorArgs),
    /// Run `from_json` vectors (`from-json-vectors.jsonl[.gz]`): Spark 3.5's
    /// own answers for a schema and a JSON text.
    FromJson(VectorArgs),
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

/// Options of `weir demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Working directory for the demo's data, keys and output.
    #[arg(long, default_value = "weir-data")]
    pub dir: PathBuf,
    /// calculationParts records per day when generating.
    #[arg(long, default_value_t = 50_000)]
    pub records: u64,
}

/// Options of `weir run`. Every option can also come from `--config` (a TOML
/// file) and from `WEIR_*` environment variables; the command line wins, then
/// the environment, then the file.
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// TOML file with any of these options (unknown keys are refused).
    #[arg(long, env = "WEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Collection as db:collection (repeatable; comma-separated in WEIR_COLLECTION).
    #[arg(long = "collection", env = "WEIR_COLLECTION", value_delimiter = ',')]
    pub collections: Vec<String>,
    /// Export date (YYYY-MM-DD); the run reads the day before. Default: today.
    #[arg(long, env = "WEIR_DATE", conflicts_with_all = ["start_date", "end_date"])]
    pub date: Option<String>,
    /// First export date of a backfill.
    #[arg(long, env = "WEIR_START_DATE", requires = "end_date")]
    pub start_date: Option<String>,
    /// Last export date of a backfill (inclusive).
    #[arg(long, env = "WEIR_END_DATE", requires = "start_date")]
    pub end_date: Option<String>,
    /// Source root: a path or s3://bucket/prefix.
    #[arg(long, env = "WEIR_SOURCE")]
    pub source: Option<String>,
    /// Destination root: a path or s3://bucket/prefix.
    #[arg(long, env = "WEIR_DEST")]
    pub dest: Option<String>,
    /// Data key service URL.
    #[arg(long, env = "WEIR_DKS_URL")]
    pub dks_url: Option<String>,
    /// Client certificate (PEM) for mutual TLS with the key service.
    #[arg(long, env = "WEIR_DKS_CERT", requires_all = ["dks_key", "dks_ca"])]
    pub dks_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "WEIR_DKS_KEY", requires = "dks_cert")]
    pub dks_key: Option<PathBuf>,
    /// CA bundle (PEM) of the key service's certificate.
    #[arg(long, env = "WEIR_DKS_CA", requires = "dks_cert")]
    pub dks_ca: Option<PathBuf>,
    /// Output format for every collection (default: each collection's own).
    #[arg(long, env = "WEIR_FORMAT", value_parser = parse_format)]
    pub format: Option<weir_engine::output::OutputFormat>,
    /// Cipher of dbObject.
    #[arg(long, env = "WEIR_CIPHER", value_enum)]
    pub cipher: Option<CipherArg>,
    /// Above this share of corrupt records a day fails and publishes nothing.
    #[arg(long, env = "WEIR_MAX_CORRUPT_RATIO")]
    pub max_corrupt_ratio: Option<f64>,
    /// Above this many corrupt records a day fails; a task that alone passes
    /// it stops the day at once (so does any corrupt record under a share of 0).
    #[arg(long, env = "WEIR_MAX_CORRUPT")]
    pub max_corrupt: Option<u64>,
    /// Memory the run may use, e.g. 512M or 4G (in-process runs): buffers
    /// are reserved from a pool of 60% of it and files are written early
    /// when it is full.
    #[arg(long, env = "WEIR_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
    /// Write the JSON run report here.
    #[arg(long, env = "WEIR_REPORT")]
    pub report: Option<PathBuf>,
    /// Parallel partitions per day (default: twice the cores).
    #[arg(long, env = "WEIR_PARTITIONS")]
    pub partitions: Option<usize>,
    /// Days of a backfill run at once.
    #[arg(long, env = "WEIR_MAX_CONCURRENT_DAYS")]
    pub max_concurrent_days: Option<usize>,
    /// A listed input file gone when read: fail the day, or list again once.
    #[arg(long, env = "WEIR_ON_MISSING_INPUT", value_parser = parse_missing)]
    pub on_missing_input: Option<weir_engine::run::MissingInput>,
    /// Run on this Ballista scheduler (df://host:port) instead of in-process.
    #[arg(long, env = "WEIR_CLUSTER")]
    pub cluster: Option<String>,
    /// Lines longer than this are quarantined as `line_too_long` (their
    /// first 4 KiB, length and SHA-256) without being held in memory.
    #[arg(long, env = "WEIR_MAX_LINE_BYTES")]
    pub max_line_bytes: Option<usize>,
    /// Publish a day whose input files hold no lines (by default it fails,
    /// so an empty export never replaces a good day unnoticed).
    #[arg(long, env = "WEIR_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// Copy each day's input files, byte for byte and never overwriting,
    /// to this prefix (path or s3://) with a checksum manifest before
    /// processing, and read the day from there:
    /// `<prefix>/<consumer>/<db>/<collection>/file_land_timestamp=<s>/`.
    #[arg(long, env = "WEIR_ARCHIVE_INPUT")]
    pub archive_input: Option<String>,
    /// Rebuild the days from the archive alone (--archive-input), each
    /// file's checksum verified, without reading --source.
    #[arg(long, env = "WEIR_SOURCE_ARCHIVE")]
    pub source_archive: bool,
    /// Merge each day into the collection's full export in the day's own
    /// commit (the old job's --force_collection_update); days of a range
    /// then run in date order.
    #[arg(long, env = "WEIR_UPDATE")]
    pub update: bool,
    /// Build the collections' tables in each day's commit (businessAudit's
    /// four, calculationParts' typed tables of the export under --update),
    /// with weir.toml's [[tables]] over the defaults.
    #[arg(long, env = "WEIR_TABLES")]
    pub tables: bool,
    /// How the default tables are stored: parquet or orc (Hive directories)
    /// or delta (Delta Lake tables).
    #[arg(long, env = "WEIR_TABLE_FORMAT", value_parser = parse_table_format)]
    pub table_format: Option<weir_engine::tables::TableFormat>,
    /// Where the snapshot merge starts.
    #[command(flatten)]
    pub merge: MergeArgs,
    /// Which days of the range to run: all (default), missing (not
    /// COMPLETED: catch-up after an outage) or failed.
    #[arg(long, env = "WEIR_REPROCESS", value_parser = parse_reprocess)]
    pub reprocess: Option<weir_engine::status::Reprocess>,
    /// Run under this run id (a rerun under the same id takes its own days
    /// back at once); default: a new one.
    #[arg(long, env = "WEIR_RUN_ID")]
    pub run_id: Option<String>,
    /// Say what each day would read and replace, and its status; write
    /// nothing, take no day.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the run's figures here for node_exporter's textfile collector
    /// (Prometheus text, replaced atomically).
    #[arg(long, env = "WEIR_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

fn parse_reprocess(text: &str) -> Result<weir_engine::status::Reprocess, String> {
    use weir_engine::status::Reprocess;
    match text {
        "all" => Ok(Reprocess::All),
        "missing" => Ok(Reprocess::Missing),
        "failed" => Ok(Reprocess::Failed),
        other => Err(format!("{other:?}: all, missing or failed")),
    }
}

/// Options of `weir status` and `weir history`: the run options that say
/// where (`--dest`, `--config` for S3) and which days.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Collections, dates and destination, as for `weir run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Print JSON (one array of runs) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `weir lookup`.
#[derive(Debug, clap::Args)]
pub struct LookupArgs {
    /// The collection, its date and the destination, as for `weir run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Read the day's full export instead of its daily.
    #[arg(long, conflicts_with = "table")]
    pub export: bool,
    /// Read one of the collection's tables instead of its daily.
    #[arg(long)]
    pub table: Option<String>,
    /// The column the ids are in (default `id`).
    #[arg(long)]
    pub key_column: Option<String>,
    /// The ids; with none, one per line from standard input (so personal
    /// data stays out of the process list and the shell's history).
    pub ids: Vec<String>,
}

/// Options of `weir tables`.
#[derive(Debug, clap::Args)]
pub struct TablesArgs {
    /// What to print: the tables, or their DDL.
    #[arg(value_enum, default_value = "list")]
    pub view: TablesView,
    /// Collections and destination (and `--config` for its `[[tables]]`),
    /// as for `weir run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Print JSON (one array of tables) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What `weir tables` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TablesView {
    /// Each table: layout, rows, files, partitions, last change.
    List,
    /// `CREATE EXTERNAL TABLE … LOCATION` and its partitions.
    Ddl,
}

/// Options of `weir retract`.
#[derive(Debug, clap::Args)]
pub struct RetractArgs {
    /// Collections, dates and destination, as for `weir run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Why (recorded in the day's status with who retracted it).
    #[arg(long)]
    pub reason: String,
}

/// Options of `weir vacuum`.
#[derive(Debug, Clone, clap::Args)]
pub struct VacuumArgs {
    /// Destination root: a path or s3://bucket/prefix.
    #[arg(long, env = "WEIR_DEST")]
    pub dest: String,
    /// TOML file (its `[s3]` settings and `[[retention]]` are used).
    #[arg(long, env = "WEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Delete what was retracted or replaced longer ago than this: `7d`,
    /// `36h`, `0d`.
    #[arg(long, default_value = "7d")]
    pub older_than: String,
}

/// Options of `weir serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Destination root whose status is shown: a path or s3://bucket/prefix.
    #[arg(long, env = "WEIR_DEST")]
    pub dest: String,
    /// TOML file (its `[s3]` settings are used).
    #[arg(long, env = "WEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8180", env = "WEIR_SERVE_BIND")]
    pub bind: std::net::SocketAddr,
    /// Export dates the page shows when its address names none, up to today.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
}

/// Where the snapshot merge starts (`weir run --update`, `weir merge`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MergeArgs {
    /// The export to merge into, Weir's or the old job's (path or URL),
    /// instead of the newest complete one before the date under --dest
    /// (for the first date of a range).
    #[arg(long, env = "WEIR_PREVIOUS_EXPORT")]
    pub previous_export: Option<String>,
    /// Its export date, when its path does not end in one (YYYY-MM-DD).
    #[arg(long, env = "WEIR_PREVIOUS_EXPORT_DATE", requires = "previous_export")]
    pub previous_export_date: Option<String>,
    /// With no previous export: merge the dailies from this export date on
    /// (YYYY-MM-DD). Without it, a missing previous export fails the merge.
    #[arg(long, env = "WEIR_SINCE")]
    pub since: Option<String>,
    /// Merge without the dailies missing in the range (the report lists
    /// them); by default a missing daily fails the merge.
    #[arg(long, env = "WEIR_ALLOW_MISSING_DAYS")]
    pub allow_missing_days: bool,
}

fn parse_missing(text: &str) -> Result<weir_engine::run::MissingInput, String> {
    match text {
        "fail" => Ok(weir_engine::run::MissingInput::Fail),
        "retry" => Ok(weir_engine::run::MissingInput::Retry),
        other => Err(format!("{other:?} is not fail or retry")),
    }
}

fn parse_format(text: &str) -> Result<weir_engine::output::OutputFormat, String> {
    text.parse()
}

fn parse_table_format(text: &str) -> Result<weir_engine::tables::TableFormat, String> {
    use weir_engine::tables::TableFormat;
    match text {
        "parquet" => Ok(TableFormat::Parquet),
        "orc" => Ok(TableFormat::Orc),
        "delta" => Ok(TableFormat::Delta),
        other => Err(format!("{other:?}: parquet, orc or delta")),
    }
}
