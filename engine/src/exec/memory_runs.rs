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
//! A run is held as the Arrow batches the write task gathered, not as the
//! IPC stream it would have been staged as: encoding a run and decoding it
//! again copied every byte twice and validated every string's UTF-8, for
//! rows that never left the process.
//!
//! A run is keyed by the path it would have been staged at (as users read
//! it), so the compaction finds it under the name its plan lists, and a
//! day's runs are dropped with its staging directory however the day ends.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use datafusion::arrow::array::RecordBatch;

#[derive(Default)]
struct Held {
    runs: HashMap<String, (Vec<RecordBatch>, usize)>,
    /// Bytes of the runs held and of the room reserved for runs being
    /// gathered.
    bytes: usize,
}

static HELD: LazyLock<Mutex<Held>> = LazyLock::new(Mutex::default);

fn held() -> MutexGuard<'static, Held> {
    // A panic elsewhere while the lock was held leaves the map consistent
    // (every update is one insert or remove with its byte count).
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Room reserved for one run while its rows are gathered: given back when
/// dropped unfilled, so a task that fails midway leaves the budget whole.
#[must_use = "room not filled is given back"]
pub(super) struct Room {
    key: String,
    bytes: usize,
}

/// Reserves about `bytes` for a run to be held under `key`, when the runs
/// held, with it, stay within `budget` bytes and `key` is not held yet.
/// Reserved before the rows are gathered: a run that does not fit is
/// encoded and staged instead, and never sits in memory twice.
pub(super) fn room(key: String, bytes: usize, budget: usize) -> Option<Room> {
    let mut held = held();
    if held.bytes.saturating_add(bytes) > budget || held.runs.contains_key(&key) {
        return None;
    }
    held.bytes += bytes;
    Some(Room { key, bytes })
}

impl Room {
    /// Holds `run` in the room, counted at its own size from now on,
    /// and says that size.
    pub(super) fn hold(mut self, run: Vec<RecordBatch>) -> usize {
        let size: usize = run.iter().map(RecordBatch::get_array_memory_size).sum();
        let key = std::mem::take(&mut self.key);
        let mut held = held();
        held.bytes = held.bytes - self.bytes + size;
        held.runs.insert(key, (run, size));
        // Now counted with the run.
        self.bytes = 0;
        size
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        if self.bytes > 0 {
            held().bytes -= self.bytes;
        }
    }
}

/// Takes the run held under `key`, if any: it is read once.
pub(super) fn take(key: &str) -> Option<Vec<RecordBatch>> {
    let mut held = held();
    let (run, size) = held.runs.remove(key)?;
    held.bytes -= size;
    Some(run)
}

/// Drops every run held under `prefix` (a day's staging directory, as
/// users read it) and says how many there were.
pub fn forget_under(prefix: &str) -> usize {
    let mut held = held();
    let keys: Vec<String> = held.runs.keys().filter(under(prefix)).cloned().collect();
    for key in &keys {
        if let Some((_, size)) = held.runs.remove(key) {
            held.bytes -= size;
        }
    }
    keys.len()
}

/// Bytes of runs held (and room reserved) now, in this process.
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
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    // The store is one per process and tests run in parallel: each test
    // uses keys under its own prefix and checks only what it can own.

    fn run(values: std::ops::Range<i64>) -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        vec![
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(values))])
                .unwrap(),
        ]
    }

    fn hold(key: &str, values: std::ops::Range<i64>) {
        room(key.to_owned(), 8, usize::MAX)
            .unwrap()
            .hold(run(values));
    }

    #[test]
    fn a_run_is_held_within_the_budget_and_read_once() {
        let key = "/t-once/staging/a/runs/00000/part.arrows";
        hold(key, 0..100);
        assert_eq!(take(key), Some(run(0..100)));
        assert_eq!(take(key), None, "a run is read once");
    }

    #[test]
    fn a_run_past_the_budget_gets_no_room() {
        let key = "/t-budget/staging/a/runs/00000/part.arrows".to_owned();
        assert!(room(key.clone(), 64, 63).is_none());
        // The same key twice: the second is staged, never swapped in.
        hold(&key, 0..2);
        assert!(room(key.clone(), 8, usize::MAX).is_none());
        assert_eq!(take(&key), Some(run(0..2)));
    }

    #[test]
    fn room_not_filled_is_given_back() {
        // Sizes far beyond what other tests hold, so they cannot tip it.
        let big = 1usize << 40;
        let first = room("/t-room/a".to_owned(), big, usize::MAX).unwrap();
        assert!(
            room("/t-room/b".to_owned(), big, 2 * big - 1).is_none(),
            "the first reservation counts"
        );
        drop(first);
        let second = room("/t-room/b".to_owned(), big, 2 * big - 1);
        assert!(second.is_some(), "a dropped reservation is given back");
    }

    #[test]
    fn forgetting_a_day_drops_its_runs_and_no_one_elses() {
        let day = "/t-forget/_staging/run-1/db.coll/2024-01-02";
        let other = "/t-forget/_staging/run-1/db.coll/2024-01-03";
        hold(&format!("{day}/a/runs/00000/p.arrows"), 0..10);
        hold(&format!("{day}/b/runs/00001/p.arrows"), 0..10);
        hold(&format!("{other}/a/runs/00000/p.arrows"), 0..10);
        assert_eq!(held_under(day), 2);
        assert_eq!(forget_under(day), 2);
        assert_eq!(held_under(day), 0);
        assert_eq!(take(&format!("{day}/a/runs/00000/p.arrows")), None);
        assert!(take(&format!("{other}/a/runs/00000/p.arrows")).is_some());
    }

    #[test]
    fn held_bytes_count_the_runs_own_size() {
        // Other tests hold and take concurrently: only a lower bound holds.
        let key = "/t-bytes/staging/a/runs/00000/part.arrows";
        // Reserved as 8 bytes, held as the 1 MiB it is.
        hold(key, 0..(1 << 17));
        assert!(held_bytes() >= 1 << 20);
        take(key);
    }
}
