//! Shared helpers for the `annotations_*` round-trip tests: record a workload
//! into a trace file, read the user-annotation events back with spool's
//! reader, and check the file with Go's own parser.
//!
//! Tracing is process-global, so every traced section of a test binary runs
//! under [`TRACE_LOCK`]. Go is found through `SPOOL_GO` (exported by
//! `.ci/test`); a missing Go fails the test, it never skips it.

#![allow(dead_code)] // each test binary uses a subset

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use spool_trace::read::{self, EventKind, NONE};

/// Serialises traced sections within one test binary.
pub static TRACE_LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    TRACE_LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A recorded trace: its file and bytes.
pub struct Recorded {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Builds a two-P runtime and runs `f` on it with tracing on, into
/// `<target tmp>/annotations-<name>.trace`. The trace starts under the
/// runtime's stop-the-world (`start_on`), so every P and task gets a
/// consistent status. The runtime lives only inside the lock: P numbers are
/// per runtime, so two runtimes alive while tracing would both write "P 0".
pub fn traced<R>(name: &str, f: impl FnOnce(&spool::Runtime) -> R) -> (R, Recorded) {
    let _serial = lock();
    let rt = spool::Builder::new().procs(2).build().expect("runtime");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("annotations-{name}.trace"));
    let file = std::fs::File::create(&path).expect("create the trace file");
    spool::trace::start_on(rt.handle(), file).expect("start tracing");
    // Stop even if `f` panics, so the next test can start its own trace.
    struct StopOnUnwind;
    impl Drop for StopOnUnwind {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let _ = spool::trace::stop();
            }
        }
    }
    let unwind = StopOnUnwind;
    let out = f(&rt);
    std::mem::forget(unwind);
    spool::trace::stop().expect("stop tracing");
    drop(rt);
    let bytes = std::fs::read(&path).expect("read the trace back");
    (out, Recorded { path, bytes })
}

#[path = "../../tracer/tests/common/go.rs"]
mod go;
/// `go tool trace -d=parsed` must accept the file at `path`.
pub use go::go_parse as go_parses;

/// One user-annotation event, strings resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum U {
    TaskBegin {
        task: u64,
        parent: u64,
        name: String,
    },
    TaskEnd {
        task: u64,
    },
    RegionBegin {
        task: u64,
        name: String,
    },
    RegionEnd {
        task: u64,
        name: String,
    },
    Log {
        task: u64,
        key: String,
        value: String,
    },
    Label(String),
    GcBegin,
    GcEnd,
    HeapAlloc(u64),
}

/// A user event and the spool task (G) and thread (M) it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UEv {
    pub g: u64,
    pub m: u64,
    pub ev: U,
}

/// The user-annotation events of a trace in timeline order (spool's reader
/// and its Go-style ordering), with the G and M each one belongs to.
pub fn user_events(rec: &Recorded) -> Vec<UEv> {
    let trace = read::read(&rec.bytes).expect("spool's reader decodes the trace");
    assert!(trace.stop.is_none(), "trace incomplete: {:?}", trace.stop);
    let problems: Vec<_> = trace.problems().collect();
    assert!(problems.is_empty(), "reader problems: {problems:?}");
    let timeline = read::order::order(&trace).expect("spool's reader orders the trace");
    let mut out = Vec::new();
    for e in timeline {
        let generation = &trace.generations[e.generation as usize];
        let s = |id| generation.string(id).to_owned();
        let ev = match e.kind {
            EventKind::UserTaskBegin {
                task, parent, name, ..
            } => U::TaskBegin {
                task,
                parent: if parent == NONE { 0 } else { parent },
                name: s(name),
            },
            EventKind::UserTaskEnd { task, .. } => U::TaskEnd { task },
            EventKind::UserRegionBegin { task, name, .. } => U::RegionBegin {
                task,
                name: s(name),
            },
            EventKind::UserRegionEnd { task, name, .. } => U::RegionEnd {
                task,
                name: s(name),
            },
            // The runtime's own diagnostics (`spool.long_poll` from sysmon
            // when a debug build's long loop passes the threshold,
            // `spool.panic`) are logs too, but not annotations under test.
            EventKind::UserLog { key, .. } if s(key).starts_with("spool.") => continue,
            EventKind::UserLog {
                task, key, value, ..
            } => U::Log {
                task,
                key: s(key),
                value: s(value),
            },
            EventKind::GoLabel { label } => U::Label(s(label)),
            EventKind::GcBegin { .. } => U::GcBegin,
            EventKind::GcEnd { .. } => U::GcEnd,
            EventKind::HeapAlloc { bytes } => U::HeapAlloc(bytes),
            _ => continue,
        };
        out.push(UEv {
            g: e.ctx.g,
            m: e.ctx.m,
            ev,
        });
    }
    out
}

/// Just the events, for exact sequence checks.
pub fn kinds(evs: &[UEv]) -> Vec<U> {
    evs.iter().map(|e| e.ev.clone()).collect()
}

pub fn rb(task: u64, name: &str) -> U {
    U::RegionBegin {
        task,
        name: name.into(),
    }
}

pub fn re(task: u64, name: &str) -> U {
    U::RegionEnd {
        task,
        name: name.into(),
    }
}

pub fn log(task: u64, key: &str, value: &str) -> U {
    U::Log {
        task,
        key: key.into(),
        value: value.into(),
    }
}

pub fn tb(task: u64, parent: u64, name: &str) -> U {
    U::TaskBegin {
        task,
        parent,
        name: name.into(),
    }
}

pub fn te(task: u64) -> U {
    U::TaskEnd { task }
}
