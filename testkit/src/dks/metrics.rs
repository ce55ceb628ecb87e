//! The local key service's counters, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Counters of one running service.
#[derive(Debug, Default)]
pub struct ServiceMetrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    decrypts: AtomicU64,
    datakeys: AtomicU64,
    rejected: AtomicU64,
    injected_failures: AtomicU64,
    tls_refused: AtomicU64,
    latency: Mutex<Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl ServiceMetrics {
    pub(super) fn request(&self, endpoint: &'static str, status: u16, took: Duration) {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *requests.entry((endpoint, status)).or_default() += 1;
        drop(requests);
        let secs = took.as_secs_f64();
        let mut h = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub(super) fn decrypted(&self) {
        self.decrypts.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn data_key_issued(&self) {
        self.datakeys.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn injected_failure(&self) {
        self.injected_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn tls_refused(&self) {
        self.tls_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Successful decrypts so far (200 answers of the decrypt endpoint).
    pub fn decrypts(&self) -> u64 {
        self.decrypts.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP weir_dks_requests_total Requests by endpoint and HTTP status.\n");
        out.push_str("# TYPE weir_dks_requests_total counter\n");
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for ((endpoint, status), n) in requests {
            let _ = writeln!(
                out,
                "weir_dks_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        let counters = [
            (
                "weir_dks_decrypts_total",
                "Data keys decrypted (200 answers).",
                &self.decrypts,
            ),
            (
                "weir_dks_datakeys_total",
                "Data keys issued (201 answers).",
                &self.datakeys,
            ),
            (
                "weir_dks_rejected_total",
                "Requests refused with 400.",
                &self.rejected,
            ),
            (
                "weir_dks_injected_failures_total",
                "Failures injected by --fail-rate.",
                &self.injected_failures,
            ),
            (
                "weir_dks_tls_refused_total",
                "TLS handshakes refused (no or bad client certificate).",
                &self.tls_refused,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let h = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.push_str("# HELP weir_dks_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE weir_dks_request_duration_seconds histogram\n");
        for (le, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(
                out,
                "weir_dks_request_duration_seconds_bucket{{le=\"{le}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "weir_dks_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "weir_dks_request_duration_seconds_sum {}", h.sum);
        let _ = writeln!(out, "weir_dks_request_duration_seconds_count {}", h.count);
        out
    }
}

/// The value of one sample in a Prometheus text exposition (`name` with its
/// labels exactly as written, e.g. `weir_dks_decrypts_total`), for tests and
/// tools that read `/metrics`.
pub fn sample_value(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}
