//! The process-wide data key cache: one DKS call per distinct key per process,
//! also when many tasks miss the same key at once (single flight).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::client::{DksClient, KeyAnswer};
use super::config::{CacheConfig, DksConfig};
use crate::record::StaticKeys;
use crate::{Error, Result};

/// (`keyEncryptionKeyId`, `encryptedEncryptionKey`): the same wrapped bytes
/// under another master key id are another question for DKS.
type CacheKey = (String, String);

/// Counters of a cache, as reports and metrics read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that found no entry (they waited for a call, theirs or another's).
    pub misses: u64,
    /// Decrypt calls made to DKS (one per distinct key, retries not counted).
    pub calls: u64,
    /// Keys DKS refused (400): their records are corrupt.
    pub rejected: u64,
    /// Calls that failed after every retry.
    pub errors: u64,
}

impl CacheStats {
    /// Each counter the larger of the two.
    pub fn max_each(&self, other: &Self) -> Self {
        Self {
            hits: self.hits.max(other.hits),
            misses: self.misses.max(other.misses),
            calls: self.calls.max(other.calls),
            rejected: self.rejected.max(other.rejected),
            errors: self.errors.max(other.errors),
        }
    }

    /// Each counter summed.
    pub fn add(&self, other: &Self) -> Self {
        Self {
            hits: self.hits + other.hits,
            misses: self.misses + other.misses,
            calls: self.calls + other.calls,
            rejected: self.rejected + other.rejected,
            errors: self.errors + other.errors,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    calls: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
}

/// A key cache in front of one DKS. Shared by every task of a process through
/// [`KeyCache::shared`].
#[derive(Debug)]
pub struct KeyCache {
    client: DksClient,
    entries: moka::future::Cache<CacheKey, Arc<KeyAnswer>>,
    counters: Counters,
}

/// How many distinct keys one batch resolves at once.
const RESOLVE_CONCURRENCY: usize = 16;

impl KeyCache {
    /// A cache of its own (tests; most callers want [`KeyCache::shared`]).
    pub fn new(client: DksClient, config: CacheConfig) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(Duration::from_secs(config.ttl_secs.max(1)))
            .build();
        Self {
            client,
            entries,
            counters: Counters::default(),
        }
    }

    /// The process's cache for this DKS and these bounds, created on first use.
    /// Every partition and task of a process gets the same one, so a key is
    /// fetched once per process whatever the parallelism.
    pub fn shared(dks: &DksConfig, cache: CacheConfig) -> Result<Arc<Self>> {
        type Caches = HashMap<(DksConfig, CacheConfig), Arc<KeyCache>>;
        static CACHES: OnceLock<Mutex<Caches>> = OnceLock::new();
        let mut caches = CACHES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = caches.get(&(dks.clone(), cache)) {
            return Ok(Arc::clone(existing));
        }
        let client = DksClient::new(dks, correlation_id())?;
        let created = Arc::new(Self::new(client, cache));
        caches.insert((dks.clone(), cache), Arc::clone(&created));
        Ok(created)
    }

    /// The DKS this cache asks.
    pub fn client(&self) -> &DksClient {
        &self.client
    }

    /// The data key for one wrapped key: from the cache, or from one DKS call
    /// shared by every concurrent asker. A refusal (400) is cached too: DKS will
    /// give the same answer next time. Transient failures are not cached.
    pub async fn get(
        &self,
        key_encryption_key_id: &str,
        encrypted_key: &str,
    ) -> Result<Arc<KeyAnswer>> {
        self.get_counted(key_encryption_key_id, encrypted_key, None)
            .await
    }

    /// [`Self::get`], also counting under `scope` (see [`scope_stats`]).
    async fn get_counted(
        &self,
        key_encryption_key_id: &str,
        encrypted_key: &str,
        scope: Option<&Counters>,
    ) -> Result<Arc<KeyAnswer>> {
        let count = |pick: fn(&Counters) -> &AtomicU64| {
            pick(&self.counters).fetch_add(1, Ordering::Relaxed);
            if let Some(scope) = scope {
                pick(scope).fetch_add(1, Ordering::Relaxed);
            }
        };
        let key = (key_encryption_key_id.to_owned(), encrypted_key.to_owned());
        if let Some(found) = self.entries.get(&key).await {
            count(|c| &c.hits);
            return Ok(found);
        }
        count(|c| &c.misses);
        let answer = self
            .entries
            .try_get_with(key, async {
                // Only the asker whose future runs here makes the call, so the
                // call is counted once, under that asker's scope.
                count(|c| &c.calls);
                match self
                    .client
                    .decrypt(key_encryption_key_id, encrypted_key)
                    .await
                {
                    Ok(answer) => {
                        if answer.is_err() {
                            count(|c| &c.rejected);
                        }
                        Ok(Arc::new(answer))
                    }
                    Err(e) => {
                        count(|c| &c.errors);
                        Err(e)
                    }
                }
            })
            .await;
        answer.map_err(|shared: Arc<Error>| clone_error(&shared))
    }

    /// Resolves a batch's distinct keys concurrently into in-memory keys for the
    /// record pipeline. Fails only if DKS is unavailable.
    pub async fn resolve<I, K, W>(&self, wanted: I) -> Result<StaticKeys>
    where
        I: IntoIterator<Item = (K, W)>,
        K: Into<String>,
        W: Into<String>,
    {
        self.resolve_in(None, wanted).await
    }

    /// [`Self::resolve`], counting this process's work under `scope` too (a
    /// day of a run: what its tasks report as their executor's DKS work).
    pub async fn resolve_in<I, K, W>(&self, scope: Option<&str>, wanted: I) -> Result<StaticKeys>
    where
        I: IntoIterator<Item = (K, W)>,
        K: Into<String>,
        W: Into<String>,
    {
        // Owned pairs: the futures below must not borrow from the caller's
        // batch (they are polled across an await inside DataFusion streams).
        let wanted: Vec<(String, String)> = wanted
            .into_iter()
            .map(|(k, w)| (k.into(), w.into()))
            .collect();
        let scope = scope.map(scope_counters);
        let scope = scope.as_deref();
        let answers: Vec<(String, String, Arc<KeyAnswer>)> = stream::iter(wanted)
            .map(|(kek, wrapped)| async move {
                let answer = self.get_counted(&kek, &wrapped, scope).await?;
                Ok::<_, Error>((kek, wrapped, answer))
            })
            .buffer_unordered(RESOLVE_CONCURRENCY)
            .try_collect()
            .await?;
        let mut keys = StaticKeys::new();
        for (kek, wrapped, answer) in answers {
            let answer = match answer.as_ref() {
                Ok(key) => Ok(key.bytes().to_vec()),
                Err(rejected) => Err(rejected.clone()),
            };
            keys.answer(kek, wrapped, answer);
        }
        Ok(keys)
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }
}

impl Counters {
    fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// Scopes kept at most; the oldest goes first. A long-lived executor meets one
/// scope per collection and day, so this bounds memory over months without
/// forgetting a day that is still running.
const MAX_SCOPES: usize = 4_096;

#[derive(Default)]
struct Scopes {
    counters: HashMap<String, Arc<Counters>>,
    order: std::collections::VecDeque<String>,
}

fn scope_counters(scope: &str) -> Arc<Counters> {
    static SCOPES: OnceLock<Mutex<Scopes>> = OnceLock::new();
    let mut scopes = SCOPES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = scopes.counters.get(scope) {
        return Arc::clone(found);
    }
    if scopes.order.len() >= MAX_SCOPES
        && let Some(oldest) = scopes.order.pop_front()
    {
        scopes.counters.remove(&oldest);
    }
    let created = Arc::new(Counters::default());
    scopes
        .counters
        .insert(scope.to_owned(), Arc::clone(&created));
    scopes.order.push_back(scope.to_owned());
    created
}

/// This process's key-cache work under `scope` so far, across its caches. A
/// task reports it at its end; the last task of a process to end reports all
/// of that process's work for the scope.
pub fn scope_stats(scope: &str) -> CacheStats {
    scope_counters(scope).snapshot()
}

/// moka hands every waiter the same `Arc<Error>`; errors are not `Clone`
/// (they hold I/O sources), so rebuild the variant a DKS call can produce.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::DksUnavailable {
            url,
            attempts,
            elapsed_ms,
            cause,
        } => Error::DksUnavailable {
            url: url.clone(),
            attempts: *attempts,
            elapsed_ms: *elapsed_ms,
            cause: cause.clone(),
        },
        Error::DksResponse {
            url,
            status,
            detail,
        } => Error::DksResponse {
            url: url.clone(),
            status: *status,
            detail: detail.clone(),
        },
        other => Error::Config {
            field: "dks".to_owned(),
            detail: other.to_string(),
        },
    }
}

/// A correlation id for this process's DKS requests: pid and start time, so
/// the service's logs can be matched to a run without a UUID dependency.
pub fn correlation_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("weir-{}-{:x}", std::process::id(), nanos)
}
