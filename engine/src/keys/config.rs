//! Typed configuration of the DKS client and the key cache. It is plain data
//! (serde) so it can travel in a session config to executors and be read from
//! `weir.toml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Client certificate, its key and the CA bundle that signs the service's
/// certificate: production DKS requires mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTls {
    /// PEM client certificate (chain).
    pub cert: PathBuf,
    /// PEM private key of the client certificate.
    pub key: PathBuf,
    /// PEM CA bundle trusted for the service's certificate.
    pub ca: PathBuf,
}

/// Retries with exponential backoff and jitter, for connect errors, timeouts,
/// 429 and 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// Backoff before the first retry; doubled for each further one.
    pub initial_backoff_ms: u64,
    /// Cap of one backoff.
    pub max_backoff_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // The old job: 3 retries, backoff factor 0.1 s. One more attempt here,
        // because a run that gives up costs a page, a retry costs a second.
        Self {
            attempts: 5,
            initial_backoff_ms: 100,
            max_backoff_ms: 5_000,
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry `n` (1-based): half fixed, half random, so a
    /// fleet of executors does not retry in lockstep.
    pub fn backoff(&self, retry: u32, unit_random: f64) -> Duration {
        let exp = self
            .initial_backoff_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(20))
            .min(self.max_backoff_ms);
        let half = exp / 2;
        Duration::from_millis(half + (unit_random.clamp(0.0, 1.0) * (exp - half) as f64) as u64)
    }
}

/// Where the data key service is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DksConfig {
    /// Base URL, e.g. `https://dks.internal:8443` (in `weir.toml` it may be
    /// left to `--dks-url`).
    #[serde(default)]
    pub url: String,
    /// Mutual TLS files; `None` for plain HTTP (local service, tests).
    #[serde(default)]
    pub tls: Option<ClientTls>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Timeout of one request, connect included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Timeout of establishing a connection.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_connect_timeout_ms() -> u64 {
    3_000
}

impl DksConfig {
    /// A configuration with defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            tls: None,
            retry: RetryPolicy::default(),
            timeout_ms: default_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
        }
    }
}

/// Bounds of the process-wide key cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Entries (distinct data keys) kept at most.
    pub max_entries: u64,
    /// How long a resolved key is kept.
    pub ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        // A day of corporate storage uses thousands of data keys, not millions.
        Self {
            max_entries: 100_000,
            ttl_secs: 3_600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_half() {
        let p = RetryPolicy {
            attempts: 10,
            initial_backoff_ms: 100,
            max_backoff_ms: 1_000,
        };
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(9, 1.0), Duration::from_millis(1_000));
        assert_eq!(p.backoff(60, 0.5), Duration::from_millis(750));
    }
}
