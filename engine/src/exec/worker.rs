//! Which process a task ran on, as task summaries and run reports name it.

use std::sync::OnceLock;

static WORKER_ID: OnceLock<String> = OnceLock::new();

/// Names this process (an executor sets its Ballista executor id at start).
/// The first name sticks: a process is one worker for its whole life.
pub fn set_worker_id(id: impl Into<String>) {
    let _ = WORKER_ID.set(id.into());
}

/// This process's name: its executor id, or `local` for an in-process run.
pub fn worker_id() -> String {
    WORKER_ID
        .get()
        .map_or_else(|| "local".to_owned(), Clone::clone)
}
