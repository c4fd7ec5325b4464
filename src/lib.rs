//! spool: an M:N executor of goroutine-like async tasks with Go's execution
//! tracer built in. This crate re-exports the executor and tracer APIs.

pub use spool_tracer as tracer;

// The executor (issue 3): runtime, spawning, joining, timers.
pub use spool_executor::{
    Builder, Handle, JoinError, JoinHandle, MAX_PROCS, PROCS_ENV, Runtime, YieldNow, spawn, time,
    yield_now,
};

/// Tracing: starting and stopping Go-format execution traces.
pub mod trace {
    // Starting and stopping a trace (issue 4), under the runtime's stop-the-world.
    pub use spool_executor::trace_ctl::{
        ENV_VAR, Lost, TraceError, TraceSummary, flush, is_tracing, lost, start, start_file,
        start_on, stop,
    };
}
