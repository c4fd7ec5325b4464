//! Events not written although tracing was on, counted by reason
//! (`control::lost` reports them).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a hook call wrote nothing although tracing was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Lost {
    /// The event needs a running task on the calling thread and there is none.
    NoTask = 0,
    /// The event needs a P on the calling thread and there is none.
    NoProc,
    /// Called from inside the tracer (e.g. the counting allocator while the
    /// tracer allocates) or from the writer thread.
    Reentrant,
    /// The task was running or created before the trace started and the
    /// format has no way to introduce it in a later generation.
    Untraced,
    /// `gc_begin` while a phase is open, or `gc_end` with none open.
    GcMisuse,
    /// No memory for a batch buffer.
    NoMemory,
}

pub(crate) static DROPPED: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

/// Counts one event that was not written.
#[cold]
pub(crate) fn lost(why: Lost) {
    DROPPED[why as usize].fetch_add(1, Ordering::Relaxed);
}
