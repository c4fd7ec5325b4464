//! The executor → tracer seam: one function per trace event the scheduler causes.
//!
//! Invariants and who may call what:
//! - Every hook first does one relaxed load of the global "tracing on" flag
//!   ([`enabled`]) and returns at once when it is off; the enabled path is cold.
//! - Hooks named `go_*` that need a running task (`go_stop`, `go_block`,
//!   `go_destroy`, `go_create` from a task) are called by the M (OS thread) that
//!   is polling that task, between `go_start` and the matching stop/block/destroy.
//! - `go_unblock` may be called from any thread, including threads the runtime
//!   does not own.
//! - `proc_start`/`proc_stop` are called by the M that takes/releases the P.
//! - Per-task and per-P tracer state lives in [`GoTraceState`] / [`ProcTraceState`]
//!   slots that the executor embeds in its task header and P; only the tracer
//!   reads or writes them.
//! - Ordering rules (Go's runtime follows the same ones; "acquire before
//!   changing the state the event describes"). Breaking them never makes the
//!   tracer unsound (it keeps no pointer to a task or P past the hook call),
//!   but can make the file inconsistent around a generation boundary:
//!   1. The tracer keeps no reference to the `GoTraceState`/`ProcTraceState`
//!      passed in; they only need to live for the call.
//!   2. `go_create` is called before the new task can be seen by another
//!      thread (before it is queued).
//!   3. `go_block` is called before the task can be woken, i.e. before the
//!      state transition that lets a `wake` reschedule it. If that transition
//!      then finds the task was woken during its poll, the executor calls
//!      `go_unblock` itself. `go_unblock` is only called for a task whose
//!      last run ended with `go_block` (never for a running or queued task).
//!   4. `proc_stop` is called before another M can take the P.
//!   5. `proc_start`/`proc_stop` are called whether or not tracing is on
//!      (they record which P the thread holds, so a trace started later knows;
//!      this costs a thread-local write on a path that parks or unparks a thread).

use crate::record;
pub use crate::vocab::{BlockReason, GoTraceState, ProcTraceState, SpawnSite, StopReason};

/// Whether a trace is being recorded: one relaxed atomic load.
///
/// Built with `--cfg spool_no_trace` it is the constant `false` instead, so
/// the compiler deletes every hook and its argument set-up. That build is
/// the "without hooks" baseline for measuring what the compiled-in but
/// disabled hooks cost (docs/benchmarks.md, "Tracer hooks with tracing off"):
///
/// ```text
/// RUSTFLAGS="--cfg spool_no_trace" CARGO_TARGET_DIR=target/notrace \
///     cargo build --release --example workload
/// ```
///
/// In such a build no hook records anything: it is for measurement only.
#[inline(always)]
pub fn enabled() -> bool {
    #[cfg(not(spool_no_trace))]
    {
        crate::publish::ENABLED.load(std::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(spool_no_trace)]
    {
        false
    }
}

// ---------------------------------------------------------------------------
// The hooks. Signatures are the seam the executor builds against; keep them
// stable (extend rather than change). Each body is `if enabled() { cold path }`.
// ---------------------------------------------------------------------------

/// A task was created (GoCreate). Called on the spawning thread, before the
/// task is made runnable. `site` is the new task's spawn site.
#[inline(always)]
pub fn go_create(id: u64, state: &GoTraceState, site: SpawnSite) {
    if enabled() {
        record::go_create(id, state, site);
    }
}

/// The calling M is about to poll task `id` (GoStart). Called with a P held.
#[inline(always)]
pub fn go_start(id: u64, state: &GoTraceState, site: SpawnSite) {
    if enabled() {
        record::go_start(id, state, site);
    }
}

/// [`go_start`] for a task the calling M took straight from its own P's
/// queues right after the previous task's run ended (`go_stop`, `go_block`
/// or `go_destroy` on this M), with no park, steal or search in between.
///
/// The `GoStart` then reuses the timestamp of that end event instead of
/// reading the clock (one clock read per task switch instead of two; the
/// two events are at most a queue pop apart, below one clock tick). If any
/// other event was written on this M since the end event, or a generation
/// ended, the clock is read as usual.
#[inline(always)]
pub fn go_start_next(id: u64, state: &GoTraceState, site: SpawnSite) {
    if enabled() {
        record::go_start_next(id, state, site);
    }
}

/// The running task's poll returned `Pending` but it is still runnable (GoStop).
#[inline(always)]
pub fn go_stop(reason: StopReason) {
    if enabled() {
        record::go_stop(reason);
    }
}

/// The running task's poll returned `Pending` and it waits for a wake (GoBlock).
#[inline(always)]
pub fn go_block(reason: BlockReason) {
    if enabled() {
        record::go_block(reason);
    }
}

/// Task `id` was woken (GoUnblock). Any thread, runtime-owned or not.
#[inline(always)]
pub fn go_unblock(id: u64, state: &GoTraceState) {
    if enabled() {
        record::go_unblock(id, state);
    }
}

/// The running task completed, panicked or was cancelled while polled (GoDestroy).
#[inline(always)]
pub fn go_destroy() {
    if enabled() {
        record::go_destroy();
    }
}

/// The calling M took P number `p` (ProcStart). Called whether or not
/// tracing is on (seam rule 5).
#[inline]
pub fn proc_start(p: u32, state: &ProcTraceState) {
    record::proc_start(p, state, enabled());
}

/// The calling M released its P (ProcStop). Called whether or not tracing is
/// on (seam rule 5), before another M can take the P.
#[inline]
pub fn proc_stop() {
    record::proc_stop(enabled());
}

/// The running task enters a blocking call on the calling M, which keeps
/// its P (`state`) for now (GoSyscallBegin). Called with a P held and a
/// task running, before the P can be seen as in a call (seam rule 3's
/// order: the event first, then the state change that lets sysmon take it).
#[inline(always)]
pub fn go_syscall_begin(state: &ProcTraceState) {
    if enabled() {
        record::go_syscall_begin(state);
    }
}

/// The blocking call [`go_syscall_begin`] opened returned and the M still
/// holds its P `state` (GoSyscallEnd: Go's fast path).
#[inline(always)]
pub fn go_syscall_end(state: &ProcTraceState) {
    if enabled() {
        record::go_syscall_end(state);
    }
}

/// The blocking call returned but its P was taken by another M meanwhile
/// ([`proc_steal`]): the task is runnable again and the calling M holds
/// neither P nor task (GoSyscallEndBlocked). The M records `proc_start`
/// when it gets a P, then, if this returned true, `go_start` of the task
/// (the trace saw it enter the call; otherwise the rest of its poll is not
/// in the trace, as for a poll that began before the trace did). Called
/// whether or not tracing is on (like `proc_stop`: it forgets the M's P).
#[inline]
#[must_use = "true: the task must be restarted with go_start once the M holds a P"]
pub fn go_syscall_end_blocked() -> bool {
    record::go_syscall_end_blocked(enabled())
}

/// The calling thread (sysmon) took P number `p` from the M blocked in a
/// call on it (ProcSteal). Called after the taker won the P and before the
/// blocked M can see it lost it, so the steal always precedes that M's
/// `go_syscall_end_blocked`.
#[inline(always)]
pub fn proc_steal(p: u32, state: &ProcTraceState) {
    if enabled() {
        record::proc_steal(p, state);
    }
}

/// The runtime now has `procs` Ps (ProcsChange).
#[inline(always)]
pub fn procs_change(procs: u32) {
    if enabled() {
        record::procs_change(procs);
    }
}

/// A stop-the-world of the given kind begins (STWBegin); every P is parked.
#[inline(always)]
pub fn stw_begin(kind: &'static str) {
    if enabled() {
        record::stw_begin(kind);
    }
}

/// The stop-the-world that `stw_begin` opened ends (STWEnd).
#[inline(always)]
pub fn stw_end() {
    if enabled() {
        record::stw_end();
    }
}

// --- GC-like phases and heap accounting (applications, counting allocator) ---

/// An application-defined GC-like phase begins on the running task (GCBegin).
#[inline(always)]
pub fn gc_begin() {
    if enabled() {
        record::gc_begin();
    }
}

/// The phase `gc_begin` opened ends (GCEnd).
#[inline(always)]
pub fn gc_end() {
    if enabled() {
        record::gc_end();
    }
}

/// The live heap is now `bytes` bytes (HeapAlloc); from spool's optional
/// counting global allocator. Needs the calling M to hold a P.
#[inline(always)]
pub fn heap_alloc(bytes: u64) {
    if enabled() {
        record::heap_alloc(bytes);
    }
}

// --- User annotations. They need a running task on the calling M;
// --- calls without one are dropped and counted (never written: the format forbids them).

/// A user task begins (UserTaskBegin). `id` is never 0; `parent` is 0 for none.
#[inline(always)]
pub fn user_task_begin(id: u64, parent: u64, name: &str) {
    if enabled() {
        record::user_task_begin(id, parent, name);
    }
}

/// A user task ends (UserTaskEnd).
#[inline(always)]
pub fn user_task_end(id: u64) {
    if enabled() {
        record::user_task_end(id);
    }
}

/// A region begins on the running task (UserRegionBegin); `task` 0 = background.
#[inline(always)]
pub fn user_region_begin(task: u64, name: &str) {
    if enabled() {
        record::user_region_begin(task, name);
    }
}

/// The innermost region of that name ends on the running task (UserRegionEnd).
#[inline(always)]
pub fn user_region_end(task: u64, name: &str) {
    if enabled() {
        record::user_region_end(task, name);
    }
}

/// A user log record (UserLog): `category` is Go's key, `message` its value.
#[inline(always)]
pub fn user_log(task: u64, category: &str, message: &str) {
    if enabled() {
        record::user_log(task, category, message);
    }
}

/// A log record the runtime itself writes (UserLog with Go's background
/// user task 0): on the running task, or on the runtime pseudo-task when
/// the calling thread runs none (an M between polls, a thread outside the
/// runtime). The executor reports the panics it catches this way
/// (category `spool.panic`).
#[inline(always)]
pub fn runtime_log(category: &str, message: &str) {
    if enabled() {
        record::runtime_log(category, message);
    }
}

/// Sets the running task's label (GoLabel).
#[inline(always)]
pub fn go_label(label: &str) {
    if enabled() {
        record::go_label(label);
    }
}

/// The ID of the task the calling thread is running, as the current trace
/// recorded it (`None` with tracing off, outside a task, or for a task the
/// trace cannot attribute). Annotations use it to decide attribution.
pub fn running_task() -> Option<u64> {
    if enabled() {
        record::running_task()
    } else {
        None
    }
}
