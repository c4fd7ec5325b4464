//! GC-like phases: the depth count all threads share, and the one phase
//! Go's format has.
//!
//! Go's trace has one global GC state: a `GCBegin` must be followed by its
//! `GCEnd` before the next `GCBegin` (the tracer drops events that break
//! this, `record::gc_begin`). User phases nest and overlap across threads,
//! so [`GcPhases`] counts open phases and writes `GCBegin` when the count
//! leaves 0 and `GCEnd` when it returns to 0. The depth change and the
//! event it decides happen under one lock: otherwise the last `gc_end` (1 →
//! 0) and a new `gc_begin` (0 → 1) on another thread could write their
//! events in the other order, and the tracer would drop the new phase
//! (the loom model `gc_last_end_racing_a_new_begin` in `tests/loom.rs`
//! finds that interleaving in a lock-free count). Phases are rare (an
//! application's collections), so the lock costs nothing that matters.
//!
//! The depth is counted with tracing off too, so a phase open when tracing
//! starts is not mistaken for closed; its end is then dropped by the tracer
//! (its begin was never written), keeping the file valid.

use crate::loom::{Mutex, lock};

/// The open phases of the process (see the module doc).
pub struct GcPhases {
    /// `gc_begin`s not yet matched by a `gc_end`, over all threads.
    depth: Mutex<usize>,
}

impl GcPhases {
    /// No phase open.
    #[cfg(not(loom))]
    pub const fn new() -> GcPhases {
        GcPhases {
            depth: Mutex::new(0),
        }
    }

    /// No phase open.
    #[cfg(loom)]
    pub fn new() -> GcPhases {
        GcPhases {
            depth: Mutex::new(0),
        }
    }

    /// Opens a phase; `emit_begin` (the `GCBegin`) runs when it is the
    /// first open one.
    pub fn begin(&self, emit_begin: impl FnOnce()) {
        let mut d = lock(&self.depth);
        *d += 1;
        if *d == 1 {
            emit_begin();
        }
    }

    /// Closes a phase; `emit_end` (the `GCEnd`) runs when it was the last
    /// open one. An end with no phase open is ignored.
    pub fn end(&self, emit_end: impl FnOnce()) {
        let mut d = lock(&self.depth);
        match *d {
            0 => {}
            1 => {
                *d = 0;
                emit_end();
            }
            _ => *d -= 1,
        }
    }

    /// Phases open now.
    #[cfg(any(test, loom))]
    pub fn depth(&self) -> usize {
        *lock(&self.depth)
    }
}

impl Default for GcPhases {
    fn default() -> GcPhases {
        GcPhases::new()
    }
}

/// The process's phases, behind `annotate::gc_begin`/`gc_end`.
#[cfg(not(loom))]
pub(crate) static GC: GcPhases = GcPhases::new();

#[cfg(loom)]
::loom::lazy_static! {
    pub(crate) static ref GC: GcPhases = GcPhases::new();
}
