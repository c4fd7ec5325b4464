//! spool: an M:N executor of goroutine-like async tasks with Go's execution
//! tracer built in. This crate re-exports the executor and tracer APIs.
//!
//! ```
//! let rt = spool::Runtime::new().unwrap();
//! assert_eq!(rt.block_on(async { spool::spawn(async { 6 * 7 }).await.unwrap() }), 42);
//! ```

pub use spool_tracer as tracer;

/// `#[spool::main]`: an `async fn main` run as the main task of a new
/// runtime on a P ([`Runtime::run`]), with `procs = N` optional.
pub use spool_macros::main;

// The executor: runtime, spawning, joining, timers.
pub use spool_executor::{
    BlockedTask, Builder, DEADLOCK_CATEGORY, DEADLOCK_MESSAGE, DEFAULT_BLOCKING_KEEP_ALIVE,
    DEFAULT_LONG_POLL_THRESHOLD, DEFAULT_MAX_BLOCKING_THREADS, Deadlock, Handle, JoinError,
    JoinHandle, LONG_POLL_CATEGORY, LongPoll, MAX_PROCS, PROCS_ENV, Runtime, RuntimeMetrics,
    WeakHandle, YieldNow, block_in_place, spawn, spawn_blocking, time, yield_now,
};

/// Task helpers under Go-flavoured names.
pub mod task {
    /// [`block_in_place`](crate::block_in_place) under the name the
    /// blocking-call docs use: run a blocking call inside a task without
    /// stalling the other tasks of its P.
    ///
    /// ```
    /// let rt = spool::Runtime::new().unwrap();
    /// let v = rt.block_on(rt.spawn(async { spool::task::blocking(|| 2 + 2) }));
    /// assert_eq!(v.unwrap(), 4);
    /// ```
    pub use spool_executor::block_in_place as blocking;
}
// Network I/O on the scheduler's netpoller, signals through it (issue 11).
/// hyper 1.x on spool (feature `hyper`): `Executor` and `Timer` for hyper's
/// builders; spool's streams implement hyper's `rt::{Read, Write}`.
#[cfg(feature = "hyper")]
pub use spool_executor::hyper;
pub use spool_executor::{fs, io, net, signal};

// Channels, select, locks and groups (issue 13), with every wait traced.
pub use spool_executor::{select, sync, task_local};

/// Tracing: starting and stopping Go-format execution traces; user
/// annotations (Go's `runtime/trace` API: tasks, regions, logs, labels,
/// GC-like phases), the counting allocator and the `tracing` layer.
pub mod trace {
    // Starting and stopping a trace, under the runtime's stop-the-world.
    pub use spool_executor::trace_ctl::{
        ENV_VAR, Lost, TraceError, TraceSummary, bytes_written, flush, is_tracing, lost, start,
        start_file, start_on, stop,
    };
    // Always-on tracing: the flight recorder, its dumps and triggers.
    pub use spool_executor::trace_ctl::{
        Cause, FlightRecorder, FlightRecorderConfig, Triggers, flight,
    };
    // User annotations and heap accounting.
    pub use spool_tracer::alloc::CountingAlloc;
    pub use spool_tracer::annotate::{
        GcGuard, InRegion, InTask, MAX_STRING_LEN, RegionGuard, UserTask, clip,
        current_user_task_id, dropped_region_events, gc_begin, gc_end, log, log_fmt, region,
        region_async, region_guard, set_label,
    };
    // Go's names (`runtime/trace.Task`, ...) for the same items: inside
    // `spool::trace` "task" can only mean a user task.
    pub use spool_tracer::annotate::{UserTask as Task, current_user_task_id as current_task_id};
    #[cfg(feature = "tracing")]
    pub use spool_tracer::layer::{LogCategory, SpoolLayer, TASK_FIELD};
}
