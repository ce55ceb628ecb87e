//! `weir.*` session options: how a process reaches the data key service.
//!
//! They travel in the `SessionConfig` (a DataFusion config extension), so a
//! Ballista client's settings reach the scheduler and every executor with the
//! job, and each process builds its own DKS client and key cache from them.
//! File paths (mutual TLS) are read on the process that uses them: deploy the
//! same paths on every node. What differs per collection in one run (format,
//! layout) travels in the plan's nodes instead.

use std::path::PathBuf;

use std::any::Any;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::extensions_options;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionConfig;

use crate::keys::{CacheConfig, ClientTls, DksConfig, RetryPolicy};

extensions_options! {
    /// The keys of [`WeirOptions`], without their `weir.` prefix.
    pub struct WeirKeys {
        /// DKS base URL; empty means "not configured".
        pub dks_url: String, default = String::new()
        /// PEM client certificate for mutual TLS.
        pub dks_client_cert: Option<String>, default = None
        /// PEM key of the client certificate.
        pub dks_client_key: Option<String>, default = None
        /// PEM CA bundle trusted for the service's certificate.
        pub dks_ca: Option<String>, default = None
        /// DKS attempts in all, the first included.
        pub dks_attempts: u32, default = RetryPolicy::default().attempts
        /// Backoff before the first DKS retry.
        pub dks_initial_backoff_ms: u64, default = RetryPolicy::default().initial_backoff_ms
        /// Cap of one DKS backoff.
        pub dks_max_backoff_ms: u64, default = RetryPolicy::default().max_backoff_ms
        /// Timeout of one DKS request.
        pub dks_timeout_ms: u64, default = DksConfig::new("").timeout_ms
        /// Timeout of connecting to DKS.
        pub dks_connect_timeout_ms: u64, default = DksConfig::new("").connect_timeout_ms
        /// Distinct data keys a process keeps at most.
        pub cache_max_keys: u64, default = CacheConfig::default().max_entries
        /// How long a process keeps a data key.
        pub cache_ttl_secs: u64, default = CacheConfig::default().ttl_secs
    }
}

/// Weir's session options: `weir.dks_url`, ….
///
/// A wrapper rather than `extensions_options!` alone: the macro lists an
/// extension's entries without its prefix (`dks_url`), and Ballista ships a
/// session's settings as those entries, so the receiving side could not put
/// them back and silently dropped them.
#[derive(Debug, Clone, Default)]
pub struct WeirOptions {
    /// The values.
    pub keys: WeirKeys,
}

impl ConfigExtension for WeirOptions {
    const PREFIX: &'static str = "weir";
}

impl ExtensionOptions for WeirOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        ExtensionOptions::set(&mut self.keys, key, value)
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.keys
            .entries()
            .into_iter()
            .map(|e| ConfigEntry {
                key: format!("{}.{}", Self::PREFIX, e.key),
                ..e
            })
            .collect()
    }
}

impl WeirOptions {
    /// The options describing `dks` and `cache`.
    pub fn new(dks: &DksConfig, cache: CacheConfig) -> Self {
        let path = |p: &PathBuf| Some(p.display().to_string());
        let keys = WeirKeys {
            dks_url: dks.url.clone(),
            dks_client_cert: dks.tls.as_ref().and_then(|t| path(&t.cert)),
            dks_client_key: dks.tls.as_ref().and_then(|t| path(&t.key)),
            dks_ca: dks.tls.as_ref().and_then(|t| path(&t.ca)),
            dks_attempts: dks.retry.attempts,
            dks_initial_backoff_ms: dks.retry.initial_backoff_ms,
            dks_max_backoff_ms: dks.retry.max_backoff_ms,
            dks_timeout_ms: dks.timeout_ms,
            dks_connect_timeout_ms: dks.connect_timeout_ms,
            cache_max_keys: cache.max_entries,
            cache_ttl_secs: cache.ttl_secs,
        };
        Self { keys }
    }

    /// The options in `config`, if Weir's extension is registered there.
    pub fn from_config(config: &SessionConfig) -> Option<&Self> {
        config.options().extensions.get::<Self>()
    }

    /// The DKS client and cache settings these options describe.
    pub fn dks(&self) -> Result<(DksConfig, CacheConfig)> {
        let k = &self.keys;
        if k.dks_url.is_empty() {
            return Err(DataFusionError::Configuration(
                "weir.dks_url is not set in the session config: the client did not send \
                 Weir's options (is this process running Weir's codecs and config?)"
                    .to_owned(),
            ));
        }
        let tls = match (&k.dks_client_cert, &k.dks_client_key, &k.dks_ca) {
            (None, None, None) => None,
            (Some(cert), Some(key), Some(ca)) => Some(ClientTls {
                cert: cert.into(),
                key: key.into(),
                ca: ca.into(),
            }),
            _ => {
                return Err(DataFusionError::Configuration(
                    "weir.dks_client_cert, weir.dks_client_key and weir.dks_ca go together"
                        .to_owned(),
                ));
            }
        };
        let mut dks = DksConfig::new(&k.dks_url);
        dks.tls = tls;
        dks.retry = RetryPolicy {
            attempts: k.dks_attempts,
            initial_backoff_ms: k.dks_initial_backoff_ms,
            max_backoff_ms: k.dks_max_backoff_ms,
        };
        dks.timeout_ms = k.dks_timeout_ms;
        dks.connect_timeout_ms = k.dks_connect_timeout_ms;
        let cache = CacheConfig {
            max_entries: k.cache_max_keys,
            ttl_secs: k.cache_ttl_secs,
        };
        Ok((dks, cache))
    }
}

/// `config` with Weir's options registered (unset): what schedulers and
/// executors start each session from, so the client's `weir.*` settings parse.
pub fn with_weir_options(config: SessionConfig) -> SessionConfig {
    config.with_option_extension(WeirOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_survive_the_key_value_trip_a_cluster_makes() {
        let mut dks = DksConfig::new("https://dks.internal:8443");
        dks.tls = Some(ClientTls {
            cert: "/etc/weir/client.pem".into(),
            key: "/etc/weir/client.key".into(),
            ca: "/etc/weir/ca.pem".into(),
        });
        dks.retry.attempts = 7;
        let cache = CacheConfig {
            max_entries: 42,
            ttl_secs: 60,
        };
        let sent = SessionConfig::new().with_option_extension(WeirOptions::new(&dks, cache));
        assert!(
            sent.options()
                .entries()
                .iter()
                .any(|e| e.key == "weir.dks_url"),
            "entries carry the prefix"
        );
        // Ballista ships settings as key/value pairs; the receiver starts from
        // a config with the extension registered and sets each pair.
        let mut received = with_weir_options(SessionConfig::new());
        for entry in sent.options().entries() {
            if let Some(value) = entry.value {
                received.options_mut().set(&entry.key, &value).unwrap();
            }
        }
        let options = WeirOptions::from_config(&received).unwrap();
        assert_eq!(options.dks().unwrap(), (dks, cache));
        // Unset: a clear error, not a request to "".
        let unset = WeirOptions::default();
        let err = unset.dks().unwrap_err().to_string();
        assert!(err.contains("weir.dks_url"), "{err}");
        // A half-configured TLS setup is refused.
        let mut half = WeirOptions::default();
        ExtensionOptions::set(&mut half, "dks_url", "https://x").unwrap();
        ExtensionOptions::set(&mut half, "dks_ca", "/ca.pem").unwrap();
        assert!(half.dks().unwrap_err().to_string().contains("go together"));
    }
}
