//! Process-wide progress counters the command's progress bar reads. Operators
//! add to them as they go; in a cluster each executor has its own.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of work done in this process.
#[derive(Debug, Default)]
pub struct Progress {
    lines: AtomicU64,
    files_done: AtomicU64,
    bytes_read: AtomicU64,
    files_expected: AtomicU64,
    bytes_expected: AtomicU64,
}

impl Progress {
    /// The process's counters.
    pub fn global() -> &'static Progress {
        static GLOBAL: OnceLock<Progress> = OnceLock::new();
        GLOBAL.get_or_init(Progress::default)
    }

    pub(crate) fn lines(&self, n: u64) {
        self.lines.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bytes(&self, n: u64) {
        self.bytes_read.fetch_add(n, Ordering::Relaxed);
    }

    /// A day's listing: so many files and compressed bytes are coming.
    pub fn expect(&self, files: u64, bytes: u64) {
        self.files_expected.fetch_add(files, Ordering::Relaxed);
        self.bytes_expected.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Compressed bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Files listed so far.
    pub fn files_expected(&self) -> u64 {
        self.files_expected.load(Ordering::Relaxed)
    }

    /// Compressed bytes listed so far.
    pub fn bytes_expected(&self) -> u64 {
        self.bytes_expected.load(Ordering::Relaxed)
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    /// Files read to the end so far.
    pub fn files_read(&self) -> u64 {
        self.files_done.load(Ordering::Relaxed)
    }
}
