//! Where data lives: a local path or an object-store URL, resolved once to an
//! object store and a prefix. One client per bucket per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How to reach S3 (or an S3-compatible server). Credentials are not here:
/// they come from each process's own environment (variables, profile,
/// IMDS / IRSA), so they are never in configs, plans, reports or logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Allow `http://` endpoints.
    pub allow_http: Option<bool>,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual hosts.
    pub path_style: Option<bool>,
    /// Server-side encryption of what Weir writes.
    pub sse: Option<Sse>,
    /// The KMS key of `sse = "kms"`.
    pub sse_kms_key_id: Option<String>,
    /// Retries of one request.
    pub max_retries: Option<usize>,
    /// Give up retrying a request after this long.
    pub retry_timeout_secs: Option<u64>,
    /// Timeout of one request.
    pub timeout_secs: Option<u64>,
    /// Requests a commit keeps in flight (copies, deletes); default
    /// [`DEFAULT_CONCURRENT_REQUESTS`].
    pub concurrent_requests: Option<usize>,
}

/// Object-store requests a commit keeps in flight by default: S3 answers a
/// copy in tens of milliseconds, so one at a time makes a day of 10,000
/// files minutes of copying; a bound keeps one day from flooding the
/// bucket (S3 takes about 3,500 writes a second per prefix).
pub const DEFAULT_CONCURRENT_REQUESTS: usize = 32;

/// Server-side encryption of written objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sse {
    /// SSE-S3 (AES256).
    S3,
    /// SSE-KMS with `sse_kms_key_id`.
    Kms,
}

/// A root (input or output) as an object store and a prefix in it.
#[derive(Debug, Clone)]
pub struct Location {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The prefix of the root inside the store.
    pub prefix: ObjectPath,
    /// The root as the user wrote it, normalised (for messages and reports).
    pub url: String,
    /// The scheme and authority (`file://`, `s3://bucket`), for DataFusion's
    /// object store registry.
    pub store_url: String,
    /// Requests a commit keeps in flight at once (at least 1).
    pub concurrency: usize,
}

impl Location {
    /// `s3://bucket/prefix`, `file:///abs/path` or a local path (relative paths
    /// are taken from the current directory; nothing is created).
    pub fn parse(text: &str, s3: &S3Settings) -> Result<Self> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config {
                    field: "location".to_owned(),
                    detail: format!("{text:?} names no bucket"),
                });
            }
            return Ok(Self {
                store: s3_store(bucket, s3)?,
                prefix: ObjectPath::from(prefix.trim_matches('/')),
                url: format!("s3://{bucket}/{}", prefix.trim_matches('/')),
                store_url: format!("s3://{bucket}"),
                concurrency: s3
                    .concurrent_requests
                    .unwrap_or(DEFAULT_CONCURRENT_REQUESTS)
                    .max(1),
            });
        }
        if text.contains("://") && !text.starts_with("file://") {
            return Err(Error::Config {
                field: "location".to_owned(),
                detail: format!("{text:?}: only local paths, file:// and s3:// are supported"),
            });
        }
        let path = std::path::PathBuf::from(text.strip_prefix("file://").unwrap_or(text));
        // Canonical when it exists (object paths cannot hold `..`).
        let abs = std::fs::canonicalize(&path)
            .or_else(|_| std::path::absolute(&path))
            .map_err(|e| Error::Read {
                path: path.clone(),
                source: e,
            })?;
        let prefix = ObjectPath::from_absolute_path(&abs).map_err(|e| Error::Config {
            field: "location".to_owned(),
            detail: format!("{}: {e}", abs.display()),
        })?;
        Ok(Self {
            store: local_store(),
            prefix,
            url: abs.display().to_string(),
            store_url: "file://".to_owned(),
            concurrency: s3
                .concurrent_requests
                .unwrap_or(DEFAULT_CONCURRENT_REQUESTS)
                .max(1),
        })
    }

    /// A path under the root (`rel` uses `/`, and is already in the form the
    /// store's keys take: see [`raw_join`]).
    pub fn child(&self, rel: &str) -> ObjectPath {
        raw_join(&self.prefix, rel)
    }

    /// A path of this store as users read it (`/abs/file`, `s3://bucket/key`).
    pub fn display(&self, path: &ObjectPath) -> String {
        if self.store_url == "file://" {
            format!("/{path}")
        } else {
            format!("{}/{path}", self.store_url)
        }
    }

    /// Whether this is local disk (where rename is atomic).
    pub fn is_local(&self) -> bool {
        self.store_url == "file://"
    }
}

/// `base/rel`, each segment of `rel` taken as it is: a Hive partition
/// directory is already escaped (`id_part=%238`), and object_store's
/// `join` would escape its `%` again (`%25238`), so the key written, the key
/// listed and the directory on disk would all differ. Only a segment the
/// store cannot hold as it is (`.`, `..`, control characters) is escaped.
pub fn raw_join(base: &ObjectPath, rel: &str) -> ObjectPath {
    rel.split('/')
        .filter(|p| !p.is_empty())
        .fold(base.clone(), |path, part| {
            let joined = if path.as_ref().is_empty() {
                part.to_owned()
            } else {
                format!("{path}/{part}")
            };
            ObjectPath::parse(&joined).unwrap_or_else(|_| path.join(part))
        })
}

/// An object path stored as text (in a task summary, a manifest, a listing),
/// back as the same path: never re-escaped.
pub fn stored_path(text: &str) -> Result<ObjectPath> {
    ObjectPath::parse(text).map_err(|e| Error::Config {
        field: "object path".to_owned(),
        detail: format!("{text:?}: {e}"),
    })
}

fn local_store() -> Arc<dyn ObjectStore> {
    static LOCAL: OnceLock<Arc<dyn ObjectStore>> = OnceLock::new();
    Arc::clone(LOCAL.get_or_init(|| Arc::new(LocalFileSystem::new())))
}

/// One S3 client per bucket (and settings), configured from this process's
/// environment (`AWS_*`: region, endpoint, credentials chain) and `settings`.
fn s3_store(bucket: &str, settings: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    type Clients = HashMap<(String, S3Settings), Arc<dyn ObjectStore>>;
    static BUCKETS: OnceLock<Mutex<Clients>> = OnceLock::new();
    let mut buckets = BUCKETS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (bucket.to_owned(), settings.clone());
    if let Some(store) = buckets.get(&key) {
        return Ok(Arc::clone(store));
    }
    let bad = |e: object_store::Error| Error::storage("configure", format!("s3://{bucket}"), &e);
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(allow) = settings.allow_http {
        builder = builder.with_allow_http(allow);
    }
    if let Some(path_style) = settings.path_style {
        builder = builder.with_virtual_hosted_style_request(!path_style);
    }
    match (settings.sse, &settings.sse_kms_key_id) {
        (Some(Sse::Kms), Some(key)) => builder = builder.with_sse_kms_encryption(key),
        (Some(Sse::Kms), None) => {
            return Err(Error::Config {
                field: "s3.sse_kms_key_id".to_owned(),
                detail: "sse = \"kms\" needs the KMS key id".to_owned(),
            });
        }
        (Some(Sse::S3), _) => {
            let key: AmazonS3ConfigKey = "aws_server_side_encryption".parse().map_err(bad)?;
            builder = builder.with_config(key, "AES256");
        }
        (None, _) => {}
    }
    let mut retry = RetryConfig {
        backoff: BackoffConfig::default(),
        ..RetryConfig::default()
    };
    if let Some(n) = settings.max_retries {
        retry.max_retries = n;
    }
    if let Some(secs) = settings.retry_timeout_secs {
        retry.retry_timeout = std::time::Duration::from_secs(secs);
    }
    builder = builder.with_retry(retry);
    if let Some(secs) = settings.timeout_secs {
        builder = builder.with_client_options(
            ClientOptions::new().with_timeout(std::time::Duration::from_secs(secs)),
        );
    }
    let store: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(bad)?);
    buckets.insert(key, Arc::clone(&store));
    Ok(store)
}
