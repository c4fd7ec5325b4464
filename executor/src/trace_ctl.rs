//! Turning spool's tracer on and off for a runtime: `spool::trace::start`,
//! `stop`, and the `SPOOL_TRACE` variable.
//!
//! Invariants:
//! - A trace started inside a runtime starts under that runtime's
//!   stop-the-world: while every P is parked, the tracer is enabled, the
//!   status of every live task that is not running is written (Go's format
//!   lets a pre-existing task appear without a `GoCreate` only in a trace's
//!   first generation), and a `STWBegin("start trace")` opens the range the
//!   world's restart closes.
//! - `SPOOL_TRACE` is read when a runtime is built; the runtime that started
//!   the trace stops it when it shuts down (also when `main` panics out of
//!   `block_on`: the runtime is dropped while unwinding), so the file is
//!   complete. Only that runtime stops it.
//! - Stopping needs no stop-the-world for consistency (the tracer cuts every
//!   M's stream at a generation boundary); inside a runtime it still takes
//!   one so the trace ends with a `stop trace` range like Go's.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use spool_tracer::control::{self, StatusAtStart};
use spool_tracer::hooks;

pub use crate::flight::FlightRecorder;
pub use spool_tracer::TraceSummary;
pub use spool_tracer::control::{
    ENV_VAR, Lost, TraceError, bytes_written, flush, is_tracing, lost,
};
pub use spool_tracer::flight::{Cause, FlightRecorderConfig, Triggers};

/// Flight-recorder triggers and constants (`spool::trace::flight`): the
/// entry points the runtime's reports call, and the SLO hook.
pub mod flight {
    pub use spool_tracer::flight::{
        Cause, DEFAULT_MAX_BYTES, DEFAULT_MIN_AGE, ENV_BYTES, ENV_DIR, ENV_MIN_AGE, ENV_TRIGGERS,
        MIN_MAX_BYTES, Triggers, active, dump_if, trigger,
    };
}

use crate::runtime::Handle;
use crate::task::TaskStatus;

/// The runtime that started the `SPOOL_TRACE` trace (its `Shared` address).
static ENV_OWNER: Mutex<Option<usize>> = Mutex::new(None);

pub(crate) fn runtime_key(handle: &Handle) -> usize {
    Arc::as_ptr(&handle.shared) as usize
}

/// Starts recording a trace into `writer`.
///
/// Inside a runtime (a task or `block_on`), the start happens under that
/// runtime's stop-the-world so every live task gets a consistent status.
/// Outside one, it starts at once; tasks of runtimes already running then
/// appear when they are next started.
///
/// # Errors
/// [`TraceError::AlreadyStarted`] if a trace is being recorded (including
/// one started by `SPOOL_TRACE`).
///
/// # Example
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let path = std::env::temp_dir().join(format!("spool-doc-{}.trace", std::process::id()));
/// rt.block_on(async {
///     spool_executor::trace_ctl::start(std::fs::File::create(&path).unwrap()).unwrap();
///     spool_executor::spawn(async { 1 + 1 }).await.unwrap();
///     spool_executor::trace_ctl::stop().unwrap();
/// });
/// assert!(std::fs::metadata(&path).unwrap().len() > 16);
/// # std::fs::remove_file(&path).ok();
/// ```
pub fn start(writer: impl Write + Send + 'static) -> Result<(), TraceError> {
    match Handle::try_current() {
        Some(h) => start_on(&h, writer),
        None => switched(control::start(writer)),
    }
}

/// Starts recording a trace into a new file at `path`; after a write error
/// the file is cut back to its last complete generation.
///
/// # Errors
/// [`TraceError::Open`] naming the path, and the errors of [`start`].
pub fn start_file(path: impl AsRef<Path>) -> Result<(), TraceError> {
    let path = path.as_ref();
    match Handle::try_current() {
        Some(h) => h.stop_the_world("start trace", || {
            switched(control::start_file_with(path, || after_start(&h)))
        }),
        None => switched(control::start_file(path)),
    }
}

/// Starts recording into `writer` under `handle`'s stop-the-world (from any
/// thread, including one outside the runtime).
///
/// # Errors
/// As [`start`].
pub fn start_on(handle: &Handle, writer: impl Write + Send + 'static) -> Result<(), TraceError> {
    handle.stop_the_world("start trace", || {
        switched(control::start_with(writer, || after_start(handle)))
    })
}

/// Passes `r` through after telling every runtime's Ms to re-read the
/// tracing flag, which `r`'s call may just have changed: they run a
/// scheduling loop compiled for tracing on or off (`sched/worker.rs`).
pub(crate) fn switched<T>(r: T) -> T {
    crate::sched::table::trace_switched();
    r
}

/// With the world stopped and tracing just enabled (or a trace joining a
/// flight recorder's recording): statuses of the live tasks, the number of
/// Ps, and the opening of the `start trace` range.
pub(crate) fn after_start(handle: &Handle) {
    handle.for_each_task(|t| {
        let status = match t.status {
            TaskStatus::Runnable => StatusAtStart::Runnable,
            TaskStatus::Waiting => StatusAtStart::Waiting,
            // Being polled (the caller's own task): its M writes its status
            // when it next writes an event.
            TaskStatus::Running => return,
        };
        control::task_status(t.id, t.trace, status);
    });
    hooks::stw_begin("start trace");
    hooks::procs_change(crate::sched::trace_ids::live_procs());
}

/// Stops the trace and waits until everything is written. Inside a runtime
/// it runs under a `stop trace` stop-the-world.
///
/// # Errors
/// [`TraceError::NotStarted`] if no trace is being recorded;
/// [`TraceError::Write`] with the first write error (tracing had stopped
/// there; the file holds every generation completed before it).
pub fn stop() -> Result<TraceSummary, TraceError> {
    let r = match Handle::try_current() {
        Some(h) => h.stop_the_world("stop trace", || switched(control::stop())),
        None => switched(control::stop()),
    };
    *ENV_OWNER.lock().unwrap_or_else(PoisonError::into_inner) = None;
    r
}

/// Called at the end of `Builder::build`: starts the `SPOOL_TRACE` trace.
pub(crate) fn on_build(handle: &Handle) {
    if switched(control::start_from_env()) {
        *ENV_OWNER.lock().unwrap_or_else(PoisonError::into_inner) = Some(runtime_key(handle));
        hooks::procs_change(crate::sched::trace_ids::live_procs());
    }
}

/// Called when a runtime has shut down: stops the `SPOOL_TRACE` trace if
/// this runtime started it. A write error was already reported on stderr by
/// the tracer when it happened, so only other failures are printed here.
pub(crate) fn on_shutdown(handle: &Handle) {
    let mut owner = ENV_OWNER.lock().unwrap_or_else(PoisonError::into_inner);
    if *owner != Some(runtime_key(handle)) {
        return;
    }
    *owner = None;
    drop(owner);
    match switched(control::stop()) {
        Ok(_) | Err(TraceError::Write { .. }) | Err(TraceError::NotStarted) => {}
        Err(e) => eprintln!("spool: {ENV_VAR}: {e}"),
    }
}
