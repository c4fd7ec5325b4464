//! Shared helpers for the tracer's integration tests: a simulated scheduler
//! that drives the hooks from real threads, and Go's parser as the judge.

#![allow(dead_code)] // Each test file uses a subset.

use std::panic::Location;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use spool_tracer::hooks::{GoTraceState, SpawnSite};

/// Tests in one binary share the process-wide tracer: one trace at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the serialisation lock, ignoring poison from a failed test.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[path = "../common/go.rs"]
mod go;
#[allow(unused_imports)] // file_errors.rs only
pub use go::go_binary;
pub use go::go_parse;

/// A unique path for a trace file of this test run.
pub fn trace_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    dir.join(format!("{name}-{}.trace", std::process::id()))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A simulated task: what the executor keeps in a task header.
#[derive(Debug)]
pub struct SimTask {
    pub id: u64,
    pub trace: GoTraceState,
    pub site: SpawnSite,
}

impl SimTask {
    #[track_caller]
    pub fn new(type_name: &'static str) -> SimTask {
        SimTask {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            trace: GoTraceState::new(),
            site: SpawnSite {
                location: Location::caller(),
                type_name,
            },
        }
    }
}

/// Counts dump lines whose event kind is `kind` (e.g. "GoCreate"), as
/// printed by `go tool trace -d=parsed`.
pub fn count(dump: &str, needle: &str) -> usize {
    dump.lines().filter(|l| l.contains(needle)).count()
}
