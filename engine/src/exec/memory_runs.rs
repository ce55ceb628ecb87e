//! Sorted runs held in memory between the write tasks that make them and the
//! compaction that merges them, when both run in this process.
//!
//! With the local runner the compaction reads its runs in the same process
//! that wrote them moments before, so the trip through the staging directory
//! buys nothing: writing a run into the page cache and reading it back was
//! about 5 % of an ORC day's CPU (measured with `perf`: the kernel's copies
//! alone, 230 MB of runs for 200,000 records). Runs are held up to a byte
//! budget; past it they are staged on disk as before, so memory stays
//! bounded whatever the day's size. On a cluster the budget is 0: the
//! compaction of a group may run in another executor.
//!
//! Only the runs of a task's last flush are held: that flush frees the
//! task's buffer as its runs are kept, so they take the buffer's place. A
//! flush midway through the input would be held beside a buffer filling
//! again, and peak memory would grow with the day until the budget is full.
//!
//! A run is keyed by the path it would have been staged at (as users read
//! it), so the compaction finds it under the name its plan lists, and a
//! day's runs are dropped with its staging directory however the day ends.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

#[derive(Default)]
struct Held {
    runs: HashMap<String, Bytes>,
    bytes: usize,
}

static HELD: LazyLock<Mutex<Held>> = LazyLock::new(Mutex::default);

fn held() -> MutexGuard<'static, Held> {
    // A panic elsewhere while the lock was held leaves the map consistent
    // (every update is one insert or remove with its byte count).
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds `run` under `key` when the runs held, with it, stay within
/// `budget` bytes; otherwise gives it back for the caller to stage.
pub(super) fn keep(key: String, run: Vec<u8>, budget: usize) -> Result<(), Vec<u8>> {
    let mut held = held();
    if held.bytes.saturating_add(run.len()) > budget || held.runs.contains_key(&key) {
        return Err(run);
    }
    held.bytes += run.len();
    held.runs.insert(key, Bytes::from(run));
    Ok(())
}

/// Takes the run held under `key`, if any: it is read once.
pub(super) fn take(key: &str) -> Option<Bytes> {
    let mut held = held();
    let run = held.runs.remove(key)?;
    held.bytes -= run.len();
    Some(run)
}

/// Drops every run held under `prefix` (a day's staging directory, as
/// users read it) and says how many there were.
pub fn forget_under(prefix: &str) -> usize {
    let mut held = held();
    let keys: Vec<String> = held.runs.keys().filter(under(prefix)).cloned().collect();
    for key in &keys {
        if let Some(run) = held.runs.remove(key) {
            held.bytes -= run.len();
        }
    }
    keys.len()
}

/// Bytes of runs held now, in this process.
pub fn held_bytes() -> usize {
    held().bytes
}

/// How many runs are held under `prefix` now.
pub fn held_under(prefix: &str) -> usize {
    held().runs.keys().filter(under(prefix)).count()
}

/// Whether a key is inside the directory `prefix`.
fn under(prefix: &str) -> impl Fn(&&String) -> bool {
    let dir = format!("{}/", prefix.trim_end_matches('/'));
    move |key| key.starts_with(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The store is one per process and tests run in parallel: each test
    // uses keys under its own prefix and checks only what it can own.

    #[test]
    fn a_run_is_held_within_the_budget_and_read_once() {
        let key = "/t-once/staging/a/runs/00000/part.arrows".to_owned();
        keep(key.clone(), vec![7; 100], usize::MAX).unwrap();
        assert_eq!(take(&key).as_deref(), Some(&[7u8; 100][..]));
        assert_eq!(take(&key), None, "a run is read once");
    }

    #[test]
    fn a_run_past_the_budget_is_given_back_to_be_staged() {
        let key = "/t-budget/staging/a/runs/00000/part.arrows".to_owned();
        let back = keep(key.clone(), vec![1; 64], 63).unwrap_err();
        assert_eq!(back.len(), 64, "the bytes come back whole");
        assert_eq!(take(&key), None);
        // The same key twice: the second is staged, never swapped in.
        keep(key.clone(), vec![2; 8], usize::MAX).unwrap();
        assert!(keep(key.clone(), vec![3; 8], usize::MAX).is_err());
        assert_eq!(take(&key).as_deref(), Some(&[2u8; 8][..]));
    }

    #[test]
    fn forgetting_a_day_drops_its_runs_and_no_one_elses() {
        let day = "/t-forget/_staging/run-1/db.coll/2024-01-02";
        let other = "/t-forget/_staging/run-1/db.coll/2024-01-03";
        keep(
            format!("{day}/a/runs/00000/p.arrows"),
            vec![0; 10],
            usize::MAX,
        )
        .unwrap();
        keep(
            format!("{day}/b/runs/00001/p.arrows"),
            vec![0; 10],
            usize::MAX,
        )
        .unwrap();
        keep(
            format!("{other}/a/runs/00000/p.arrows"),
            vec![0; 10],
            usize::MAX,
        )
        .unwrap();
        assert_eq!(held_under(day), 2);
        assert_eq!(forget_under(day), 2);
        assert_eq!(held_under(day), 0);
        assert_eq!(take(&format!("{day}/a/runs/00000/p.arrows")), None);
        assert!(take(&format!("{other}/a/runs/00000/p.arrows")).is_some());
    }

    #[test]
    fn held_bytes_count_what_is_held() {
        // Other tests hold and take concurrently: only a lower bound holds.
        let key = "/t-bytes/staging/a/runs/00000/part.arrows".to_owned();
        keep(key.clone(), vec![0; 1 << 20], usize::MAX).unwrap();
        assert!(held_bytes() >= 1 << 20);
        take(&key);
    }
}
