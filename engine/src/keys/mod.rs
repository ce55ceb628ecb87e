//! Data keys (spec §2): the DKS client with retries and mutual TLS and the
//! process-wide single-flight cache in front of it. (The local key service
//! is in the `weir-testkit` crate: executors do not link a server.)

mod cache;
mod client;
mod config;
mod material;

pub use cache::{CacheStats, KeyCache, correlation_id, scope_stats};
pub use client::{DksClient, KeyAnswer, NewDataKey};
pub use config::{CacheConfig, ClientTls, DksConfig, RetryPolicy};
pub use material::DataKey;
