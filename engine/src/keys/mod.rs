//! Data keys (spec §2): the DKS client with retries and mutual TLS, the
//! process-wide single-flight cache in front of it, and a DKS-compatible local
//! service for laptops, CI and benchmarks.

mod cache;
mod client;
mod config;
mod material;
mod metrics;
pub mod server;

pub use cache::{CacheStats, KeyCache, correlation_id, scope_stats};
pub use client::{DksClient, KeyAnswer, NewDataKey};
pub use config::{CacheConfig, ClientTls, DksConfig, RetryPolicy};
pub use material::{DataKey, MasterKey};
pub use metrics::{ServiceMetrics, sample_value};
pub use server::{DEFAULT_KEY_ID, RunningDks, ServeConfig, ServerTls};
