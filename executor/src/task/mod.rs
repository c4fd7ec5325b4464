//! Tasks (Go's G): one heap allocation holding a header, the future or its output.
//!
//! This module gives the scheduler a safe-looking surface over raw task
//! pointers: [`Notified`] (a queued reference that may be run), the waker,
//! [`JoinHandle`] and the live-task [`Registry`]. The scheduler never touches
//! state bits; it calls [`harness::run`] and acts on the returned
//! [`harness::RunOutcome`].
//!
//! # Fields of the task header and who may access them
//!
//! - `state`: atomic; anyone holding a reference (see `state.rs`). Its
//!   `WAIT` field is written only by the poller (deadlock detection).
//! - `vtable` (with the spawn location, `site.rs`), `id`: written once at
//!   spawn, read-only afterwards.
//! - `trace`: the tracer's; the executor only passes `&` it to hooks.
//! - `links`: the live-task registry's intrusive list pointers; only read or
//!   written with the lock of the registry shard the task hashes to.
//! - `join_waker` (one word, `join_waker.rs`): tokio's JOIN_WAKER protocol (see `state.rs`): the
//!   `JoinHandle` owns it while `JOIN_WAKER` is clear, the completing thread
//!   may read it while it is set, and whoever deallocates drops it.
//! - the stage (future/output union, in `raw.rs`): owned by the holder of
//!   `RUNNING` while the task is not complete; after `COMPLETE`, by the
//!   `JoinHandle` if `JOIN_INTEREST` was set at completion, else by the
//!   completing thread.
//!
//! # Memory
//!
//! The header is 56 bytes and the stage is a `union` whose tag lives in the
//! state bits, so a task with a 16-byte future and `()` output is a 72-byte
//! allocation (an 80-byte malloc chunk; a 24-byte future, such as an
//! `async` block holding 16 bytes, fits a 96-byte chunk). Three things keep
//! it there. The runtime a task belongs to is not
//! stored as a pointer: its index in a global table rides in the top bits of
//! `id` (see [`Header::runtime_index`]). The spawn location is not a field:
//! the vtable pointer points at a vtable per (future type, spawn site)
//! (`site.rs`). The joiner's waker takes one word, not a `Waker`'s two: a
//! spool task's waker is stored as its header pointer, others are boxed
//! (`join_waker.rs`).

pub(crate) mod harness;
pub(crate) mod join;
pub(crate) mod join_waker;
pub(crate) mod raw;
pub(crate) mod registry;
pub(crate) mod site;
pub(crate) mod state;
pub(crate) mod waker;

use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use spool_tracer::hooks::{GoTraceState, SpawnSite};

pub use join::{JoinError, JoinHandle};
pub(crate) use registry::Registry;
use state::State;

/// Bits of `Header::id_rt` that hold the task id; the rest hold the runtime index.
const ID_BITS: u32 = 52;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

/// The task header, first in every task allocation (`#[repr(C)]` so a
/// pointer to the allocation is a pointer to the header).
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count (`state.rs`).
    pub(crate) state: State,
    /// Type-specific operations and the spawn location, one leaked vtable
    /// per (future type, spawn site) (`site.rs`).
    pub(crate) vtable: &'static raw::Vtable,
    /// Task id (low [`ID_BITS`]) and runtime index (high bits).
    id_rt: u64,
    /// The tracer's per-task slot.
    pub(crate) trace: GoTraceState,
    /// Intrusive links of the live-task registry (registry shard lock).
    pub(crate) links: UnsafeCell<registry::Links>,
    /// The waker of the task awaiting the `JoinHandle` (JOIN_WAKER protocol).
    pub(crate) join_waker: join_waker::JoinWaker,
}

// SAFETY: every field is either atomic, immutable after spawn, or guarded by
// a documented protocol (registry lock for `links`, JOIN_WAKER for
// `join_waker`); the future itself is required to be `Send`.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

const _HEADER_SIZE: () = assert!(
    cfg!(not(target_pointer_width = "64")) || std::mem::size_of::<Header>() == 56,
    "the task header grew: update the memory note in task/mod.rs"
);
const _OUTPUT_SIZE: () = assert!(
    cfg!(not(target_pointer_width = "64"))
        || std::mem::size_of::<Result<(), Box<dyn std::any::Any + Send>>>() == 16,
    "a unit task's output slot should be two words"
);

impl Header {
    /// The task id (unique in the process, never 0).
    pub(crate) fn id(&self) -> u64 {
        self.id_rt & ID_MASK
    }
    /// Index of the owning runtime in the global runtime table.
    pub(crate) fn runtime_index(&self) -> usize {
        (self.id_rt >> ID_BITS) as usize
    }
    /// Where `spawn` was called.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.vtable.location
    }
    /// The spawn site handed to tracer hooks.
    pub(crate) fn site(&self) -> SpawnSite {
        SpawnSite {
            location: self.vtable.location,
            type_name: self.vtable.type_name,
        }
    }
}

/// How many ids a thread takes from the global counter at once, so spawning
/// does not bounce one cache line between threads on every task.
pub(crate) const ID_BATCH: u64 = 128;

/// Starts at one block (not 0, and blocks stay aligned for the registry's
/// shard choice).
static NEXT_ID: AtomicU64 = AtomicU64::new(ID_BATCH);

thread_local! {
    /// This thread's reserved range of task ids: `(next, end)`.
    static ID_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh task id: unique in the process, never 0, below 2^52.
pub(crate) fn next_task_id() -> u64 {
    ID_RANGE.with(|r| {
        let (mut next, mut end) = r.get();
        if next == end {
            // Relaxed: uniqueness only needs the atomicity of fetch_add.
            next = NEXT_ID.fetch_add(ID_BATCH, Ordering::Relaxed);
            end = next + ID_BATCH;
            assert!(end < ID_MASK, "spool: task ids exhausted");
        }
        r.set((next + 1, end));
        next
    })
}

/// A reference to a task that is (about to be) in a run queue: the holder
/// may run it. Owns one reference count.
pub(crate) struct Notified(NonNull<Header>);

// SAFETY: the header is Sync and the future Send; a Notified only moves the
// reference between threads.
unsafe impl Send for Notified {}

impl Notified {
    /// Wraps a pointer that carries a `Notified` reference.
    ///
    /// # Safety
    /// `ptr` must be a live task and the caller must transfer one reference
    /// that the state machine designated as the `Notified` one.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(ptr)
    }
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a Notified holds a reference, so the task is alive.
        unsafe { self.0.as_ref() }
    }
    /// Gives up ownership of the reference without dropping it.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let p = self.0;
        std::mem::forget(self);
        p
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // A Notified dropped without running (queues drained at shutdown).
        // SAFETY: we own one reference.
        unsafe { harness::drop_reference(self.0) }
    }
}

/// The scheduling status of a live task, as seen by a tracer snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub enum TaskStatus {
    /// Queued (or about to be), waiting for a P.
    Runnable,
    /// Waiting for a wake.
    Waiting,
    /// Being polled right now.
    Running,
}

/// One live task, as handed to a tracer snapshot by
/// [`Handle::for_each_task`](crate::Handle::for_each_task).
#[doc(hidden)]
pub struct TaskInfo<'a> {
    /// Task id (the trace's goroutine id).
    pub id: u64,
    /// The tracer's per-task slot.
    pub trace: &'a GoTraceState,
    /// Spawn location and future type.
    pub site: SpawnSite,
    /// Runnable, waiting or running.
    pub status: TaskStatus,
}

impl Header {
    pub(crate) fn info(&self) -> TaskInfo<'_> {
        let s = self.state.load();
        let status = if s.is_running() {
            TaskStatus::Running
        } else if s.is_notified() {
            TaskStatus::Runnable
        } else {
            TaskStatus::Waiting
        };
        TaskInfo {
            id: self.id(),
            trace: &self.trace,
            site: self.site(),
            status,
        }
    }
}

/// The task ID `id` of the runtime in table slot `runtime_index`: the slot
/// goes in the bits above [`ID_BITS`], where `Header::runtime_index` finds it.
pub(crate) fn id_in_runtime(id: u64, runtime_index: usize) -> u64 {
    debug_assert!(id <= ID_MASK);
    id | ((runtime_index as u64) << ID_BITS)
}

/// Most runtimes that may exist at once (the index must fit above [`ID_BITS`]).
pub(crate) const MAX_RUNTIMES: usize = 1 << (64 - ID_BITS);
