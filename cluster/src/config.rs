//! `weir run`'s settings: defaults, then `--config` (TOML), then `WEIR_*`
//! environment variables and the command line (clap gives those two, the
//! command line first).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use weir_engine::keys::{CacheConfig, ClientTls, DksConfig};
use weir_engine::output::{OrcCompression, OutputFormat};
use weir_engine::record::{Cipher, CollectionName};
use weir_engine::run::MissingInput;
use weir_engine::storage::S3Settings;

use crate::cli::{CipherArg, RunArgs};
use crate::dates::export_dates;
use crate::error::Error;

/// The TOML file: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    collections: Option<Vec<String>>,
    date: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    source: Option<String>,
    dest: Option<String>,
    format: Option<OutputFormat>,
    cipher: Option<Cipher>,
    max_corrupt_ratio: Option<f64>,
    max_corrupt: Option<u64>,
    memory_limit: Option<String>,
    report: Option<PathBuf>,
    partitions: Option<usize>,
    max_concurrent_days: Option<usize>,
    orc_compression: Option<OrcCompression>,
    batch_lines: Option<usize>,
    buffer_mb: Option<usize>,
    max_line_bytes: Option<usize>,
    on_missing_input: Option<MissingInput>,
    allow_empty: Option<bool>,
    archive_input: Option<String>,
    source_archive: Option<bool>,
    lease_ttl_secs: Option<u64>,
    status: Option<StatusFileConfig>,
    build_tables: Option<bool>,
    table_format: Option<weir_engine::tables::TableFormat>,
    tables: Option<Vec<crate::table_config::TableFileConfig>>,
    checks: Option<Vec<CheckFileConfig>>,
    retention: Option<Vec<RetentionFileConfig>>,
    dks: Option<DksConfig>,
    cache: Option<CacheConfig>,
    s3: Option<S3Settings>,
    cluster: Option<String>,
}

/// `[[checks]]`: a data check of one collection's output, before publishing.
/// Its keys are checked against its kind first: serde cannot refuse unknown
/// keys beside a flattened enum, and a misspelt threshold must not pass
/// silently.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct CheckFileConfig {
    /// `db:collection`.
    collection: String,
    /// The check (`output`, `kind`, its settings, `severity`, `key`).
    #[serde(flatten)]
    check: weir_engine::checks::CheckDef,
}

#[derive(Deserialize)]
struct CheckFileFields {
    collection: String,
    #[serde(flatten)]
    check: weir_engine::checks::CheckDef,
}

impl TryFrom<toml::Table> for CheckFileConfig {
    type Error = String;

    fn try_from(table: toml::Table) -> Result<Self, Self::Error> {
        const COMMON: [&str; 5] = ["collection", "output", "kind", "severity", "key"];
        let kind = table
            .get("kind")
            .and_then(toml::Value::as_str)
            .unwrap_or("");
        let own: &[&str] = match kind {
            "unique" | "not_blank" | "schema" => &["columns"],
            "row_count" => &["min", "max"],
            "row_count_change" => &["max_change", "days"],
            "completeness" => &["column", "min_ratio"],
            "freshness" => &["column", "max_age_days"],
            // serde names the unknown kind and the ones it takes.
            _ => &[],
        };
        if let Some(unknown) = table
            .keys()
            .find(|k| !COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()))
        {
            return Err(format!(
                "[[checks]] of kind {kind:?}: unknown key `{unknown}` (it takes {})",
                COMMON
                    .iter()
                    .chain(own)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let fields: CheckFileFields = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())?;
        Ok(Self {
            collection: fields.collection,
            check: fields.check,
        })
    }
}

/// `[[retention]]`: how long a collection's days, or one of its tables'
/// day partitions, are kept (`weir vacuum`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFileConfig {
    /// `db:collection`.
    collection: String,
    /// One of its tables (partitioned by day) instead of its days.
    table: Option<String>,
    /// Days older than this (by export date) lose their output.
    expire_after_days: u32,
}

/// One `[[retention]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Retention {
    pub(crate) collection: CollectionName,
    /// A table of the collection: only its day partitions expire.
    pub(crate) table: Option<String>,
    pub(crate) expire_after_days: u32,
}

/// The `[[retention]]` entries of a config file.
pub(crate) fn retention(config: Option<&Path>) -> Result<Vec<Retention>, Error> {
    let Some(path) = config else {
        return Ok(Vec::new());
    };
    read_file(path)?
        .retention
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let name = CollectionName::parse(&r.collection)
                .map_err(|e| Error::usage("[[retention]] collection", e.to_string()))?;
            Ok(Retention {
                collection: name,
                table: r.table,
                expire_after_days: r.expire_after_days,
            })
        })
        .collect()
}

/// `[status]`: where run status goes besides the destination.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusFileConfig {
    /// `[status.dynamodb]`: the old job's table.
    dynamodb: Option<weir_engine::status::DynamoSettings>,
}

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Collections.
    pub collections: Vec<CollectionName>,
    /// Export dates.
    pub dates: Vec<chrono::NaiveDate>,
    /// Source root.
    pub source: String,
    /// Destination root.
    pub dest: String,
    /// Forced format.
    pub format: Option<OutputFormat>,
    /// Cipher.
    pub cipher: Cipher,
    /// Corrupt share allowed.
    pub max_corrupt_ratio: f64,
    /// Corrupt records allowed per day (a task past it stops the day).
    pub max_corrupt: Option<u64>,
    /// Bytes the process may use (in-process runs).
    pub memory_limit: Option<usize>,
    /// JSON report path.
    pub report: Option<PathBuf>,
    /// Partitions per day.
    pub partitions: usize,
    /// Days at once.
    pub max_concurrent_days: usize,
    /// ORC codec.
    pub orc_compression: OrcCompression,
    /// Lines per batch.
    pub batch_lines: usize,
    /// Buffered bytes per task before writing a file.
    pub buffer_bytes: usize,
    /// Key service.
    pub dks: DksConfig,
    /// Key cache.
    pub cache: CacheConfig,
    /// S3 settings (credentials come from the environment).
    pub s3: S3Settings,
    /// What to do when a listed input file is gone when read.
    pub on_missing_input: MissingInput,
    /// Publish days whose input files hold no lines.
    pub allow_empty: bool,
    /// The input archive's root (`--archive-input`).
    pub archive_input: Option<String>,
    /// Read the days from the archive alone (`--source-archive`).
    pub source_archive: bool,
    /// Longer lines are quarantined as `line_too_long` without being held.
    pub max_line_bytes: usize,
    /// A Ballista scheduler (`df://host:port`) to run on; `None`: in-process.
    pub cluster: Option<String>,
    /// Merge each day into its collection's export (`--update`).
    pub update: bool,
    /// Tables to build (`--tables`, `build_tables`, `[[tables]]`).
    pub tables: weir_ingesters::TableSettings,
    /// `[[checks]]`, by collection (`db:collection`).
    pub checks: std::collections::BTreeMap<String, Vec<weir_engine::checks::CheckDef>>,
    /// How long a run holds a day without renewing its lease.
    pub lease_ttl: std::time::Duration,
    /// Which days of the range run.
    pub reprocess: weir_engine::status::Reprocess,
    /// The run id, when given.
    pub run_id: Option<String>,
    /// Only say what would run.
    pub dry_run: bool,
    /// Prometheus textfile of the run's figures.
    pub metrics_file: Option<PathBuf>,
    /// The old job's DynamoDB status table.
    pub dynamodb: Option<weir_engine::status::DynamoSettings>,
    /// Where merges start.
    pub merge: weir_engine::merge::MergeStart,
}

/// The `[s3]` settings of a config file (commands that only reach the
/// destination).
pub(crate) fn s3_settings(config: Option<&Path>) -> Result<S3Settings, Error> {
    Ok(match config {
        Some(path) => read_file(path)?.s3.unwrap_or_default(),
        None => S3Settings::default(),
    })
}

fn read_file(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage("--config", format!("{}: {e}", path.display())))?;
    // toml's message names the line, column and key.
    toml::from_str(&text).map_err(|e| Error::usage("--config", format!("{}: {e}", path.display())))
}

/// The share of corrupt records a day may have by default.
const DEFAULT_MAX_CORRUPT_RATIO: f64 = 0.01;
/// Largest write buffer a task may take (64 GiB; `<< 20` must not wrap).
const MAX_BUFFER_MB: usize = 64 << 10;
/// Line caps a run accepts: above a K2HB line's envelope, below what one
/// batch of arrow strings can hold.
const MIN_LINE_BYTES: usize = 4096;
const MAX_LINE_BYTES: usize = 1 << 30;
/// How long a run holds a day without renewing its lease: a run that dies
/// frees its days after this (renewed every third of it).
pub(crate) const DEFAULT_LEASE_TTL_SECS: u64 = 300;
/// Longest a data key may stay cached.
const MAX_CACHE_TTL_SECS: u64 = 366 * 24 * 3600;

impl RunSettings {
    /// Settings with every default, for what the user gives.
    pub(crate) fn with_defaults(
        collections: Vec<CollectionName>,
        dates: Vec<chrono::NaiveDate>,
        source: String,
        dest: String,
        dks: DksConfig,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            collections,
            dates,
            source,
            dest,
            format: None,
            cipher: Cipher::default(),
            max_corrupt_ratio: DEFAULT_MAX_CORRUPT_RATIO,
            max_corrupt: None,
            memory_limit: None,
            report: None,
            // Twice the cores: a partition alternates CPU work with waits (reads,
            // key calls, a flush on a blocking thread); two per core keep both busy.
            partitions: 2 * cores,
            max_concurrent_days: 2,
            orc_compression: OrcCompression::Zlib,
            batch_lines: 4096,
            buffer_bytes: 64 << 20,
            dks,
            cache: CacheConfig::default(),
            s3: S3Settings::default(),
            on_missing_input: MissingInput::default(),
            allow_empty: false,
            archive_input: None,
            source_archive: false,
            max_line_bytes: weir_engine::exec::DEFAULT_MAX_LINE_BYTES,
            cluster: None,
            update: false,
            tables: weir_ingesters::TableSettings::default(),
            checks: std::collections::BTreeMap::new(),
            merge: weir_engine::merge::MergeStart::default(),
            lease_ttl: std::time::Duration::from_secs(DEFAULT_LEASE_TTL_SECS),
            reprocess: weir_engine::status::Reprocess::All,
            run_id: None,
            dry_run: false,
            metrics_file: None,
            dynamodb: None,
        }
    }

    /// Resolves the settings of `weir run`.
    pub fn resolve(args: &RunArgs) -> Result<Self, Error> {
        Self::resolve_with(args, true)
    }

    /// Resolves the settings of `weir merge`, which reads no input and
    /// calls no key service.
    pub fn resolve_merge(args: &RunArgs) -> Result<Self, Error> {
        Self::resolve_with(args, false)
    }

    fn resolve_with(args: &RunArgs, reads_input: bool) -> Result<Self, Error> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let names = if args.collections.is_empty() {
            file.collections.clone().unwrap_or_default()
        } else {
            args.collections.clone()
        };
        if names.is_empty() {
            return Err(Error::usage(
                "--collection",
                "give at least one db:collection",
            ));
        }
        let collections = names
            .iter()
            .map(|c| {
                CollectionName::parse(c).map_err(|e| Error::usage("--collection", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (date, start, end) = if args.date.is_some() || args.start_date.is_some() {
            (
                args.date.clone(),
                args.start_date.clone(),
                args.end_date.clone(),
            )
        } else {
            (
                file.date.clone(),
                file.start_date.clone(),
                file.end_date.clone(),
            )
        };
        let dates = export_dates(date.as_deref(), start.as_deref(), end.as_deref())?;
        let dest = args.dest.clone().or(file.dest.clone()).ok_or_else(|| {
            Error::usage("--dest", "give the destination root (path or s3:// URL)")
        })?;
        // A replay from the archive reads no source.
        let replays = args.source_archive || file.source_archive.unwrap_or(false);
        let source = match args.source.clone().or(file.source.clone()) {
            Some(source) => source,
            None if !reads_input || replays => dest.clone(),
            None => {
                return Err(Error::usage(
                    "--source",
                    "give the source root (path or s3:// URL)",
                ));
            }
        };
        // One typed set of settings: `[dks]` of the file is a `DksConfig`
        // (the URL may come from the command line instead), and the command
        // line's URL and certificates win over it.
        let mut dks = file.dks.unwrap_or_else(|| DksConfig::new(""));
        if let Some(url) = &args.dks_url {
            dks.url = url.clone();
        }
        if dks.url.is_empty() && reads_input {
            return Err(Error::usage("--dks-url", "give the data key service URL"));
        }
        if let (Some(cert), Some(key), Some(ca)) = (&args.dks_cert, &args.dks_key, &args.dks_ca) {
            dks.tls = Some(ClientTls {
                cert: cert.clone(),
                key: key.clone(),
                ca: ca.clone(),
            });
        }
        let max_corrupt_ratio = args
            .max_corrupt_ratio
            .or(file.max_corrupt_ratio)
            .unwrap_or(DEFAULT_MAX_CORRUPT_RATIO);
        if !(0.0..=1.0).contains(&max_corrupt_ratio) {
            return Err(Error::usage(
                "--max-corrupt-ratio",
                "must be between 0 and 1",
            ));
        }
        let mut settings = Self::with_defaults(collections, dates, source, dest, dks);
        settings.format = args.format.or(file.format);
        settings.cipher = match args.cipher {
            Some(CipherArg::Ctr) => Cipher::Ctr,
            Some(CipherArg::Gcm) => Cipher::Gcm,
            None => file.cipher.unwrap_or_default(),
        };
        settings.max_corrupt_ratio = max_corrupt_ratio;
        settings.max_corrupt = args.max_corrupt.or(file.max_corrupt);
        if let Some(text) = args.memory_limit.as_ref().or(file.memory_limit.as_ref()) {
            settings.memory_limit = Some(memory_limit(text)?);
        }
        settings.report = args.report.clone().or(file.report);
        if let Some(n) = args.partitions.or(file.partitions) {
            settings.partitions = n.max(1);
        }
        if let Some(n) = args.max_concurrent_days.or(file.max_concurrent_days) {
            settings.max_concurrent_days = n.max(1);
        }
        if let Some(codec) = file.orc_compression {
            settings.orc_compression = codec;
        }
        if let Some(n) = file.batch_lines {
            settings.batch_lines = n.max(1);
        }
        if let Some(mb) = file.buffer_mb {
            if !(1..=MAX_BUFFER_MB).contains(&mb) {
                return Err(Error::usage(
                    "buffer_mb",
                    format!("{mb} is not between 1 and {MAX_BUFFER_MB} (MiB per task)"),
                ));
            }
            settings.buffer_bytes = mb << 20;
        }
        settings.cache = file.cache.unwrap_or_default();
        // moka panics on a time-to-live past 1,000 years; a key kept past a
        // year is a mistake anyway.
        if !(1..=MAX_CACHE_TTL_SECS).contains(&settings.cache.ttl_secs) {
            return Err(Error::usage(
                "cache.ttl_secs",
                format!(
                    "{} is not between 1 and {MAX_CACHE_TTL_SECS} seconds",
                    settings.cache.ttl_secs
                ),
            ));
        }
        settings.s3 = file.s3.unwrap_or_default();
        settings.on_missing_input = args
            .on_missing_input
            .or(file.on_missing_input)
            .unwrap_or_default();
        settings.allow_empty = args.allow_empty || file.allow_empty.unwrap_or(false);
        settings.archive_input = args.archive_input.clone().or(file.archive_input);
        settings.source_archive = args.source_archive || file.source_archive.unwrap_or(false);
        if settings.source_archive && settings.archive_input.is_none() {
            return Err(Error::usage(
                "--source-archive",
                "give the archive with --archive-input",
            ));
        }
        if let Some(n) = args.max_line_bytes.or(file.max_line_bytes) {
            if !(MIN_LINE_BYTES..=MAX_LINE_BYTES).contains(&n) {
                return Err(Error::usage(
                    "--max-line-bytes",
                    format!("{n} is not between {MIN_LINE_BYTES} and {MAX_LINE_BYTES}"),
                ));
            }
            settings.max_line_bytes = n;
        }
        settings.cluster = args.cluster.clone().or(file.cluster);
        settings.update = args.update;
        let config_dir = args
            .config
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."));
        for c in file.checks.iter().flatten() {
            let name = CollectionName::parse(&c.collection)
                .map_err(|e| Error::usage("[[checks]] collection", e.to_string()))?;
            settings
                .checks
                .entry(name.to_string())
                .or_default()
                .push(c.check.clone());
        }
        settings.tables = crate::table_config::resolve(
            args.tables || file.build_tables.unwrap_or(false),
            args.table_format.or(file.table_format),
            file.tables.as_deref().unwrap_or_default(),
            config_dir,
        )?;
        settings.reprocess = args.reprocess.unwrap_or_default();
        settings.dry_run = args.dry_run;
        settings.metrics_file = args.metrics_file.clone();
        settings.dynamodb = file.status.and_then(|s| s.dynamodb);
        if let Some(id) = &args.run_id {
            let fits = !id.is_empty()
                && id.len() <= 100
                && !id.starts_with('.')
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !fits {
                return Err(Error::usage(
                    "--run-id",
                    "1 to 100 of A-Z a-z 0-9 - _ . (it names staging directories), not starting with .",
                ));
            }
            settings.run_id = Some(id.clone());
        }
        if let Some(secs) = file.lease_ttl_secs {
            if !(3..=86_400).contains(&secs) {
                return Err(Error::usage(
                    "lease_ttl_secs",
                    format!("{secs} is not between 3 and 86400 seconds"),
                ));
            }
            settings.lease_ttl = std::time::Duration::from_secs(secs);
        }
        let date = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                        .map_err(|e| Error::usage(flag, format!("{t:?}: {e} (YYYY-MM-DD)")))
                })
                .transpose()
        };
        settings.merge = weir_engine::merge::MergeStart {
            previous_export: args.merge.previous_export.clone(),
            previous_export_date: date("--previous-export-date", &args.merge.previous_export_date)?,
            since: date("--since", &args.merge.since)?,
            allow_missing_days: args.merge.allow_missing_days,
        };
        Ok(settings)
    }
}

impl RunSettings {
    /// Line bytes per scanned batch: under a memory limit, a share of what
    /// the pool leaves (batches in flight, about four copies each through
    /// scan, ingest, filter and projection, are not in the pool).
    pub fn batch_bytes(&self) -> usize {
        match self.memory_limit {
            None => weir_engine::exec::BATCH_BYTES,
            Some(limit) => {
                let untracked =
                    (limit as f64 * (1.0 - weir_engine::run::MEMORY_POOL_SHARE)) as usize;
                (untracked / self.partitions.max(1) / 8)
                    .clamp(1 << 20, weir_engine::exec::BATCH_BYTES)
            }
        }
    }
}

/// Below this a run's code, runtime and one batch per partition do not fit
/// (measured: about 200 MiB for a 4-partition ORC day).
const MIN_MEMORY_LIMIT: usize = 256 << 20;

/// A `--memory-limit` value in bytes: a size (see [`parse_bytes`]) of at
/// least [`MIN_MEMORY_LIMIT`].
pub(crate) fn memory_limit(text: &str) -> Result<usize, Error> {
    let bytes = parse_bytes(text).ok_or_else(|| {
        Error::usage(
            "--memory-limit",
            format!("{text:?} is not a size such as 512M or 4G"),
        )
    })?;
    if bytes < MIN_MEMORY_LIMIT {
        return Err(Error::usage(
            "--memory-limit",
            format!(
                "{text} is below the {} MiB a run needs",
                MIN_MEMORY_LIMIT >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// `512M`, `4G`, `1048576`, `64K` (binary units, optional `i`/`B`).
fn parse_bytes(text: &str) -> Option<usize> {
    let t = text.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let t = t.strip_suffix(['i', 'I']).unwrap_or(t);
    let (digits, shift) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 10),
        'M' | 'm' => (&t[..t.len() - 1], 20),
        'G' | 'g' => (&t[..t.len() - 1], 30),
        'T' | 't' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: usize = digits.trim().parse().ok()?;
    n.checked_mul(1usize.checked_shl(shift)?)
}

#[cfg(test)]
mod tests {
    use super::{RunSettings, parse_bytes};
    use clap::Parser as _;

    fn resolve(file: &str, extra: &[&str]) -> Result<RunSettings, crate::Error> {
        // A folder of this call's own, removed when it returns: tests run in
        // parallel and nothing is left behind in the system's temp folder.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv = vec!["weir", "run", "--config", path.to_str().unwrap()];
        argv.extend([
            "--collection",
            "a:b",
            "--source",
            "s",
            "--dest",
            "d",
            "--date",
            "2024-01-02",
        ]);
        argv.extend(extra);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::Command::Run(args) = cli.command else {
            unreachable!("a run")
        };
        RunSettings::resolve(&args)
    }

    #[test]
    fn the_dks_table_is_the_client_settings_and_the_command_line_wins() {
        let file = "[dks]\nurl = \"https://dks.file:8443\"\ntimeout_ms = 1234\n[dks.retry]\nattempts = 9\n";
        let settings = resolve(file, &[]).unwrap();
        assert_eq!(settings.dks.url, "https://dks.file:8443");
        assert_eq!(settings.dks.timeout_ms, 1234);
        assert_eq!(settings.dks.retry.attempts, 9);
        let settings = resolve(file, &["--dks-url", "https://dks.cli:8443"]).unwrap();
        assert_eq!(settings.dks.url, "https://dks.cli:8443");
        assert_eq!(
            settings.dks.retry.attempts, 9,
            "the rest still from the file"
        );
        let err = resolve("[dks]\ntimeout_ms = 5\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--dks-url"), "{err}");
        let err = resolve("[dks]\nurl = \"x\"\nbogus = 1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "unknown keys are refused: {err}");
    }

    #[test]
    fn memory_sizes_parse_in_binary_units() {
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes("4G"), Some(4 << 30));
        assert_eq!(parse_bytes("4GiB"), Some(4 << 30));
        assert_eq!(parse_bytes("64k"), Some(64 << 10));
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("99999999999T"), None, "overflow is refused");
        for bad in ["", "M", "-1G", "1.5G", "lots"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_check_with_a_misspelt_key_is_refused_naming_it_and_the_file() {
        let ok = resolve(
            "[[checks]]\ncollection = \"a:b\"\noutput = \"daily\"\nkind = \"completeness\"\ncolumn = \"id\"\nmin_ratio = 0.9\n",
            &["--dks-url", "http://127.0.0.1:1"],
        )
        .unwrap();
        assert_eq!(ok.checks["a:b"].len(), 1);
        let err = resolve(
            "[[checks]]\ncollection = \"a:b\"\noutput = \"daily\"\nkind = \"completeness\"\ncolumn = \"id\"\nmin_ration = 0.9\n",
            &["--dks-url", "http://127.0.0.1:1", "--partitions", "2"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("unknown key `min_ration`") && err.contains(".toml"),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
    }
}
