//! Where data lives: a local path or an object-store URL, resolved once to an
//! object store and a prefix. One client per bucket per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

use crate::{Error, Result};

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
}

impl Location {
    /// `s3://bucket/prefix`, `file:///abs/path` or a local path (relative paths
    /// are taken from the current directory; nothing is created).
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config {
                    field: "location".to_owned(),
                    detail: format!("{text:?} names no bucket"),
                });
            }
            return Ok(Self {
                store: s3_store(bucket)?,
                prefix: ObjectPath::from(prefix.trim_matches('/')),
                url: format!("s3://{bucket}/{}", prefix.trim_matches('/')),
                store_url: format!("s3://{bucket}"),
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
        })
    }

    /// A path under the root (`rel` uses `/`).
    pub fn child(&self, rel: &str) -> ObjectPath {
        let mut path = self.prefix.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        path
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

fn local_store() -> Arc<dyn ObjectStore> {
    static LOCAL: OnceLock<Arc<dyn ObjectStore>> = OnceLock::new();
    Arc::clone(LOCAL.get_or_init(|| Arc::new(LocalFileSystem::new())))
}

/// One S3 client per bucket, configured from this process's environment
/// (`AWS_*`: region, endpoint, credentials chain).
fn s3_store(bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let mut buckets = BUCKETS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(store) = buckets.get(bucket) {
        return Ok(Arc::clone(store));
    }
    let store: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| Error::Storage {
                op: "configure",
                location: format!("s3://{bucket}"),
                source: e,
            })?,
    );
    buckets.insert(bucket.to_owned(), Arc::clone(&store));
    Ok(store)
}
