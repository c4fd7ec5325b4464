//! Helpers for the executor-level trace tests: Go's parser as an external
//! judge, and exact checks on the timeline decoded by `spool_trace::read`.

#![allow(dead_code)] // Each test file uses a subset.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use spool::tracer::control::RUNTIME_TASK_ID;
use spool_trace::read::order::OrderedEvent;
use spool_trace::read::{self, EventKind, GoState, ProcState};

/// Tests in one binary share the process-wide tracer: one trace at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the serialisation lock, ignoring poison from a failed test.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A unique path for a trace file of this test run.
pub fn trace_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.trace", std::process::id()))
}

#[path = "../../tracer/tests/common/go.rs"]
mod go;
pub use go::go_parse;
#[allow(unused_imports)] // Used by some test files only.
pub use go::{go_binary, go_pprof_total};

/// A trace read back with spool's reader, ordered into one timeline.
pub struct Timeline {
    pub events: Vec<OrderedEvent>,
    pub generations: usize,
}

/// Reads, checks completeness and orders the trace at `path`.
pub fn read_timeline(path: &Path) -> Timeline {
    let bytes = std::fs::read(path).unwrap();
    let trace = read::read(&bytes).unwrap();
    assert!(
        trace.stop.is_none(),
        "reader stopped early: {:?}",
        trace.stop
    );
    assert!(
        trace.generations.iter().all(|g| g.problems.is_empty()),
        "reader found problems"
    );
    let events = read::order::order(&trace).unwrap();
    Timeline {
        events,
        generations: trace.generations.len(),
    }
}

/// Event counts and structural checks over a timeline, ignoring the runtime
/// pseudo-task.
#[derive(Debug, Default)]
pub struct Counts {
    pub creates: usize,
    pub destroys: usize,
    pub starts: usize,
    pub blocks: usize,
    pub unblocks: usize,
    pub stops: usize,
    pub stw_begins: usize,
    /// `GoStatus(Runnable)`: tasks that existed before the trace or the
    /// generation and were first seen queued.
    pub runnable_statuses: usize,
    /// Times a task became runnable (not runnable before -> runnable).
    pub runnable_edges: usize,
    /// Tasks still runnable when the trace ended.
    pub runnable_at_end: usize,
    pub block_reasons: HashMap<u64, usize>,
}

impl Timeline {
    /// Counts task events and checks the rules every trace must satisfy:
    /// every `GoStart` of a task follows its creation, unblock, stop or a
    /// Runnable status; `ProcStart`/`ProcStop` alternate on each M.
    pub fn check(&self) -> Counts {
        let mut c = Counts::default();
        let mut runnable: HashMap<u64, bool> = HashMap::new();
        let mut m_has_p: HashMap<u64, bool> = HashMap::new();
        for e in &self.events {
            let g = e.ctx.g;
            match e.kind {
                EventKind::GoCreate { g: new, .. } if new != RUNTIME_TASK_ID => {
                    c.creates += 1;
                    edge(&mut runnable, new, &mut c);
                }
                EventKind::GoStatus { g, status, .. } if g != RUNTIME_TASK_ID => {
                    if status == GoState::Runnable {
                        c.runnable_statuses += 1;
                        edge(&mut runnable, g, &mut c);
                    } else {
                        runnable.insert(g, false);
                    }
                }
                EventKind::GoStart { g, .. } if g != RUNTIME_TASK_ID => {
                    c.starts += 1;
                    assert_eq!(
                        runnable.insert(g, false),
                        Some(true),
                        "GoStart of G{g} at {} without a creation, unblock or stop before it",
                        e.offset
                    );
                }
                EventKind::GoUnblock { g, .. } if g != RUNTIME_TASK_ID => {
                    c.unblocks += 1;
                    edge(&mut runnable, g, &mut c);
                }
                EventKind::GoStop { .. } if g != RUNTIME_TASK_ID => {
                    c.stops += 1;
                    edge(&mut runnable, g, &mut c);
                }
                EventKind::GoBlock { reason, .. } if g != RUNTIME_TASK_ID => {
                    c.blocks += 1;
                    *c.block_reasons.entry(reason).or_default() += 1;
                }
                EventKind::GoDestroy if g != RUNTIME_TASK_ID => c.destroys += 1,
                EventKind::StwBegin { .. } => c.stw_begins += 1,
                EventKind::ProcStart { .. } => {
                    let had = m_has_p.insert(e.ctx.m, true).unwrap_or(false);
                    assert!(
                        !had,
                        "M{} started a P while holding one (offset {})",
                        e.ctx.m, e.offset
                    );
                }
                EventKind::ProcStatus {
                    status: ProcState::Running,
                    ..
                } => {
                    m_has_p.insert(e.ctx.m, true);
                }
                EventKind::ProcStop => {
                    let had = m_has_p.insert(e.ctx.m, false).unwrap_or(true);
                    assert!(
                        had,
                        "M{} stopped a P it did not hold (offset {})",
                        e.ctx.m, e.offset
                    );
                }
                _ => {}
            }
        }
        c.runnable_at_end = runnable.values().filter(|r| **r).count();
        c
    }
}

/// Marks `g` runnable, counting a not-runnable -> runnable edge.
fn edge(runnable: &mut HashMap<u64, bool>, g: u64, c: &mut Counts) {
    if runnable.insert(g, true) != Some(true) {
        c.runnable_edges += 1;
    }
}
