//! The local, DKS-compatible data key service for laptops, CI and
//! benchmarks: `GET /datakey`, `POST /datakey/actions/decrypt`, Prometheus
//! text at `/metrics`, mutual TLS, injected latency and failures.

mod master;
mod metrics;
pub mod server;

pub use master::MasterKey;
pub use metrics::{ServiceMetrics, sample_value};
pub use server::{DEFAULT_KEY_ID, RunningDks, ServeConfig, ServerTls, read_keys_file, start};
