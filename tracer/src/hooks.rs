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

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// True while a trace is being recorded. Relaxed: a hook that races with
/// start/stop may miss or add one event; start/stop run under stop-the-world,
/// which is what makes the set of recorded events consistent.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether a trace is being recorded: one relaxed atomic load.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Tracer-owned per-task state, embedded in the executor's task header.
/// The executor only creates it with [`GoTraceState::new`] and passes `&` it to hooks.
#[derive(Debug, Default)]
pub struct GoTraceState(pub(crate) AtomicU64);

impl GoTraceState {
    /// A fresh slot for a task that has not been traced yet.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }
}

/// Tracer-owned per-P state, embedded in the executor's P.
#[derive(Debug, Default)]
pub struct ProcTraceState(pub(crate) AtomicU64);

impl ProcTraceState {
    /// A fresh slot for a P that has not been traced yet.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }
}

/// Where a task was spawned: the `#[track_caller]` location of the `spawn`
/// call and the future's type name. Becomes the task's one-frame start stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpawnSite {
    /// File and line of the `spawn` call.
    pub location: &'static Location<'static>,
    /// `std::any::type_name` of the spawned future.
    pub type_name: &'static str,
}

/// Why a running task stopped while still runnable (Go's GoStop reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The task called `yield_now`.
    Yield,
    /// The task used up its cooperative poll budget.
    Budget,
    /// The task was preempted because the world is being stopped.
    StopTheWorld,
}

/// Why a task's poll returned `Pending` (Go's GoBlock reason), as reported by
/// the primitive that returned `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// A spool timer (`sleep`, `sleep_until`, `timeout`).
    Sleep,
    /// Awaiting a `JoinHandle`.
    Join,
    /// A channel send or receive.
    Chan,
    /// Waiting on a synchronisation primitive.
    Sync,
    /// Waiting for a stop-the-world to finish.
    StopTheWorld,
    /// A future spool does not know returned `Pending`.
    Pending,
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
        let _ = (id, state, site);
    }
}

/// The calling M is about to poll task `id` (GoStart). Called with a P held.
#[inline(always)]
pub fn go_start(id: u64, state: &GoTraceState, site: SpawnSite) {
    if enabled() {
        let _ = (id, state, site);
    }
}

/// The running task's poll returned `Pending` but it is still runnable (GoStop).
#[inline(always)]
pub fn go_stop(reason: StopReason) {
    if enabled() {
        let _ = reason;
    }
}

/// The running task's poll returned `Pending` and it waits for a wake (GoBlock).
#[inline(always)]
pub fn go_block(reason: BlockReason) {
    if enabled() {
        let _ = reason;
    }
}

/// Task `id` was woken (GoUnblock). Any thread, runtime-owned or not.
#[inline(always)]
pub fn go_unblock(id: u64, state: &GoTraceState) {
    if enabled() {
        let _ = (id, state);
    }
}

/// The running task completed, panicked or was cancelled while polled (GoDestroy).
#[inline(always)]
pub fn go_destroy() {
    if enabled() {}
}

/// The calling M took P number `p` (ProcStart).
#[inline(always)]
pub fn proc_start(p: u32, state: &ProcTraceState) {
    if enabled() {
        let _ = (p, state);
    }
}

/// The calling M released its P (ProcStop).
#[inline(always)]
pub fn proc_stop() {
    if enabled() {}
}

/// The runtime now has `procs` Ps (ProcsChange).
#[inline(always)]
pub fn procs_change(procs: u32) {
    if enabled() {
        let _ = procs;
    }
}

/// A stop-the-world of the given kind begins (STWBegin); every P is parked.
#[inline(always)]
pub fn stw_begin(kind: &'static str) {
    if enabled() {
        let _ = kind;
    }
}

/// The stop-the-world that `stw_begin` opened ends (STWEnd).
#[inline(always)]
pub fn stw_end() {
    if enabled() {}
}

// --- GC-like phases and heap accounting (applications, counting allocator) ---

/// An application-defined GC-like phase begins on the running task (GCBegin).
#[inline(always)]
pub fn gc_begin() {
    if enabled() {}
}

/// The phase `gc_begin` opened ends (GCEnd).
#[inline(always)]
pub fn gc_end() {
    if enabled() {}
}

/// The live heap is now `bytes` bytes (HeapAlloc); from spool's optional
/// counting global allocator. Needs the calling M to hold a P.
#[inline(always)]
pub fn heap_alloc(bytes: u64) {
    if enabled() {
        let _ = bytes;
    }
}

// --- User annotations (issue 5). They need a running task on the calling M;
// --- calls without one are dropped and counted (never written: the format forbids them).

/// A user task begins (UserTaskBegin). `id` is never 0; `parent` is 0 for none.
#[inline(always)]
pub fn user_task_begin(id: u64, parent: u64, name: &str) {
    if enabled() {
        let _ = (id, parent, name);
    }
}

/// A user task ends (UserTaskEnd).
#[inline(always)]
pub fn user_task_end(id: u64) {
    if enabled() {
        let _ = id;
    }
}

/// A region begins on the running task (UserRegionBegin); `task` 0 = background.
#[inline(always)]
pub fn user_region_begin(task: u64, name: &str) {
    if enabled() {
        let _ = (task, name);
    }
}

/// The innermost region of that name ends on the running task (UserRegionEnd).
#[inline(always)]
pub fn user_region_end(task: u64, name: &str) {
    if enabled() {
        let _ = (task, name);
    }
}

/// A user log record (UserLog): `category` is Go's key, `message` its value.
#[inline(always)]
pub fn user_log(task: u64, category: &str, message: &str) {
    if enabled() {
        let _ = (task, category, message);
    }
}

/// Sets the running task's label (GoLabel).
#[inline(always)]
pub fn go_label(label: &str) {
    if enabled() {
        let _ = label;
    }
}
