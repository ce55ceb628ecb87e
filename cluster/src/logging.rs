//! Log output of every command: to stderr, filtered by `RUST_LOG` (default
//! `info` for the long-running services, `warn` for the others, whose
//! progress and summary go to stdout), as text or one JSON object per line
//! (`--log-format json`, for log shippers). Ballista logs through `log`; the
//! subscriber picks those records up too.

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// Installs the subscriber once; later calls do nothing.
pub(crate) fn init(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
