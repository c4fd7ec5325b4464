//! Per-thread scheduler context: which runtime this thread serves, and the
//! "why am I pending" slots a poll fills in.
//!
//! Set by worker threads (for their whole life) and by `block_on` (for its
//! duration). Read by `spawn`, timers, wakes (to pick the local run queue)
//! and by the poll loop after each poll. Invariants:
//! - `shared` is non-null exactly while the thread is a worker or inside
//!   `block_on`, and the runtime it points to is kept alive by that caller.
//! - `core` is non-null only on an M that holds a P, and points to that P's
//!   M-local half ([`Core`](crate::sched::worker::Core), in the runtime's
//!   `Proc`): it changes when the M's P does (`block_in_place` gives the P
//!   up while its call runs and may come back with another one), so the M
//!   loop re-reads it after every poll ([`core_ptr`]).
//! - `task` is the task being polled (set by [`begin_poll`], null for a
//!   `block_on` future), for `block_in_place` to restart it in the trace on
//!   a new P.
//! - The block reason, yield flag and budget are reset by [`begin_poll`] and
//!   read back by [`end_poll`]; primitives set them right before returning
//!   `Pending`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use crate::sched::Shared;
use crate::sched::worker::Core;
use crate::task::Header;

/// Polls of spool primitives a task may make in one poll before they start
/// returning `Pending` (and waking the task): tokio's value.
const BUDGET: u8 = 128;

struct Ctx {
    shared: Cell<*const Shared>,
    core: Cell<*const Core>,
    task: Cell<*const Header>,
    in_call: Cell<bool>,
    polling: Cell<bool>,
    in_stw: Cell<bool>,
    reason: Cell<Option<BlockReason>>,
    yielded: Cell<bool>,
    budget_exhausted: Cell<bool>,
    budget: Cell<u8>,
}

thread_local! {
    static CTX: Ctx = const {
        Ctx {
            shared: Cell::new(std::ptr::null()),
            core: Cell::new(std::ptr::null()),
            task: Cell::new(std::ptr::null()),
            in_call: Cell::new(false),
            polling: Cell::new(false),
            in_stw: Cell::new(false),
            reason: Cell::new(None),
            yielded: Cell::new(false),
            budget_exhausted: Cell::new(false),
            budget: Cell::new(BUDGET),
        }
    };
}

/// What a poll reported about why it returned `Pending`.
pub(crate) struct PollEnd {
    /// Set by the primitive that returned `Pending` ([`set_block_reason`]).
    pub(crate) reason: Option<BlockReason>,
    /// `yield_now` was the reason.
    pub(crate) yielded: bool,
    /// The cooperative budget ran out.
    pub(crate) budget_exhausted: bool,
}

/// Called right before a task (or, with a null `task`, a `block_on`
/// future) is polled.
pub(crate) fn begin_poll(task: *const Header) {
    CTX.with(|c| {
        c.polling.set(true);
        c.task.set(task);
        c.reason.set(None);
        c.yielded.set(false);
        c.budget_exhausted.set(false);
        c.budget.set(BUDGET);
    });
}

/// Called right after the poll; returns and clears what it reported.
pub(crate) fn end_poll() -> PollEnd {
    CTX.with(|c| {
        c.polling.set(false);
        PollEnd {
            reason: c.reason.take(),
            yielded: c.yielded.replace(false),
            budget_exhausted: c.budget_exhausted.replace(false),
        }
    })
}

/// Records why the running task is about to return `Pending`, for the
/// tracer's GoBlock reason. spool's own primitives call it (sleep → `Sleep`,
/// `JoinHandle` → `Join`, ...); other crates built on spool may too. Unknown
/// futures leave it unset and are reported as `Pending`. Outside a poll it
/// does nothing.
///
/// The last reason set in a poll wins, except that a timer's (`Sleep`)
/// never replaces one already set: a task waiting on a socket, a channel or
/// a join *and* a timer is waiting on the former with a deadline (Go
/// reports a read with a deadline as `network`). So a hyper connection
/// waiting for its next request under a header timeout blocks as `network`.
///
/// ```
/// use spool_executor::set_block_reason;
/// use spool_tracer::hooks::BlockReason;
/// // In a hand-written future, right before `return Poll::Pending`:
/// set_block_reason(BlockReason::ChanReceive);
/// ```
#[doc(hidden)]
pub fn set_block_reason(reason: BlockReason) {
    CTX.with(|c| {
        if c.polling.get() && !(reason == BlockReason::Sleep && c.reason.get().is_some()) {
            c.reason.set(Some(reason));
        }
    });
}

/// Consumes one unit of the running task's cooperative budget. When it is
/// exhausted, wakes the task and returns false: the caller must return
/// `Pending` (the task is then re-queued behind the others, as a yield).
pub(crate) fn poll_proceed(cx: &Context<'_>) -> bool {
    CTX.with(|c| {
        if !c.polling.get() {
            return true;
        }
        let b = c.budget.get();
        if b == 0 {
            c.budget_exhausted.set(true);
            cx.waker().wake_by_ref();
            false
        } else {
            c.budget.set(b - 1);
            true
        }
    })
}

/// True while this thread is polling a task or a `block_on` future.
pub(crate) fn is_polling() -> bool {
    CTX.with(|c| c.polling.get())
}

/// Runs `f` with this thread's poll flag cleared (restored after, also on
/// unwind): a `spawn_blocking` closure is blocking code, not a poll, so
/// `block_on` inside it is allowed.
pub(crate) fn outside_poll<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            CTX.with(|c| c.polling.set(self.0));
        }
    }
    let _restore = Restore(CTX.with(|c| c.polling.replace(false)));
    f()
}

/// The runtime this thread serves, if any.
pub(crate) fn current_shared() -> *const Shared {
    CTX.with(|c| c.shared.get())
}

/// The task this thread is polling (null outside a task's poll).
pub(crate) fn current_task() -> *const Header {
    CTX.with(|c| {
        if c.polling.get() {
            c.task.get()
        } else {
            std::ptr::null()
        }
    })
}

/// The M-local half of the P this thread holds (null: none).
#[inline]
pub(crate) fn core_ptr() -> *const Core {
    CTX.with(|c| c.core.get())
}

/// Marks this thread as inside `block_in_place` (or out of it): it then
/// takes no part in stop-the-world (its P, if it still has one, is stopped
/// by retaking it), even if it calls `stop_the_world` itself.
pub(crate) fn set_in_call(v: bool) {
    CTX.with(|c| c.in_call.set(v));
}

/// Whether this thread is inside `block_in_place`.
pub(crate) fn in_call() -> bool {
    CTX.with(|c| c.in_call.get())
}

/// This M now holds the P whose core is `core` (null: none).
pub(crate) fn set_core(core: *const Core) {
    CTX.with(|c| c.core.set(core));
}

/// The worker core of this thread if it is a worker of `shared`.
pub(crate) fn with_core<R>(shared: *const Shared, f: impl FnOnce(Option<&Core>) -> R) -> R {
    CTX.with(|c| {
        let core = c.core.get();
        if !core.is_null() && std::ptr::eq(c.shared.get(), shared) {
            // SAFETY: `core` is set by the worker loop for as long as the
            // Core lives on its stack, and only ever shared by `&`.
            f(Some(unsafe { &*core }))
        } else {
            f(None)
        }
    })
}

/// Restores the previous context when dropped.
pub(crate) struct EnterGuard {
    prev_shared: *const Shared,
    /// `None`: leave the core as it is (an M's, see [`enter_m`]).
    prev_core: Option<*const Core>,
}

/// Marks this thread as serving `shared` (with `core` on worker threads).
pub(crate) fn enter(shared: *const Shared, core: *const Core) -> EnterGuard {
    CTX.with(|c| EnterGuard {
        prev_shared: c.shared.replace(shared),
        prev_core: Some(c.core.replace(core)),
    })
}

/// Marks this thread as an M of `shared`; its core is set with
/// [`set_core`] and is left as it is when the guard drops, so an M that
/// dies of a panic can still tell which P it held (`worker::run`).
pub(crate) fn enter_m(shared: *const Shared) -> EnterGuard {
    CTX.with(|c| EnterGuard {
        prev_shared: c.shared.replace(shared),
        prev_core: None,
    })
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CTX.with(|c| {
            c.shared.set(self.prev_shared);
            if let Some(core) = self.prev_core {
                c.core.set(core);
            }
        });
    }
}

/// Marks this thread as running a stop-the-world closure.
pub(crate) fn set_in_stw(v: bool) -> bool {
    CTX.with(|c| c.in_stw.replace(v))
}

/// Yields the current task once: it goes to the back of its P's run queue,
/// letting the other runnable tasks go first (Go's `runtime.Gosched`).
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     for _ in 0..3 {
///         spool_executor::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let y: spool_executor::YieldNow = spool_executor::yield_now();
/// rt.block_on(y);
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        CTX.with(|c| c.yielded.set(true));
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
