//! `spawn_blocking`: a closure run on the runtime's blocking pool
//! (`pool.rs`) as a task of its own, awaited through a `JoinHandle`.
//!
//! A closure is a G like any other (tokio's design): allocated, registered
//! and joined through the task machinery, its future ([`BlockingTask`])
//! calling the closure once in its only poll, which a pool thread makes.
//! So a panic is the task's output (`JoinError::Panic`), `abort` before
//! the closure starts cancels it, and shutdown cancels the queued ones.
//!
//! # In the trace: a G on a pseudo-P
//!
//! Go would run such work as a goroutine in a syscall. The trace format
//! has an event for a G that starts life in a syscall, `GoCreateSyscall`
//! (a cgo callback's goroutine), but it carries no stack, so `go tool
//! trace` would list every closure without a start location, no `GoCreate`
//! would tie it to its spawner, and its run would be syscall time of a G
//! shown on no P. Instead each pool thread holds a pseudo-P of its own
//! (an id beside the Ps, as `block_on`'s threads do) while it runs jobs:
//! the spawn is an ordinary `GoCreate` with the spawn site on the
//! spawner's P, the closure a `GoStart` … `GoDestroy` on the pool thread's
//! pseudo-P, and the joiner's `GoUnblock` follows. `go tool trace` then
//! names the closures by spawn site in its goroutine analysis and shows
//! their execution on their own P rows, above the runtime's Ps (as it
//! shows `block_on`'s main tasks).

pub(crate) mod pool;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use spool_tracer::hooks;

use crate::context;
use crate::sched::Shared;
use crate::task::{self, JoinHandle, Notified, harness};

/// The future of a blocking task: calls the closure in its first poll.
pub(crate) struct BlockingTask<F>(Option<F>);

// The closure is never pinned (it is moved out before it runs).
impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("spool: a blocking task was polled after it finished");
        // The closure is plain blocking code, not a poll: it may call
        // `block_on` or `Handle::run`.
        Poll::Ready(context::outside_poll(f))
    }
}

impl Shared {
    /// Spawns `f` as a G run by the blocking pool.
    pub(crate) fn spawn_blocking<F, R>(
        self: &Arc<Self>,
        f: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = task::next_task_id();
        crate::sched::table::task_ref(self);
        let ptr = task::raw::allocate(
            BlockingTask(Some(f)),
            task::id_in_runtime(id, self.index),
            location,
        );
        // SAFETY: freshly allocated; we hold all three initial references.
        let h = unsafe { ptr.as_ref() };
        if hooks::enabled() {
            hooks::go_create(id, &h.trace, h.site());
        }
        if self.registry.insert(ptr) {
            // SAFETY: the initial state's Notified reference.
            self.blocking.push(self, unsafe { Notified::from_raw(ptr) });
        } else {
            // SAFETY: not linked, initial state; we keep the JoinHandle's reference.
            unsafe { harness::cancel_unbound(ptr) };
        }
        // SAFETY: the initial state's JoinHandle reference, output type R.
        unsafe { JoinHandle::new(ptr) }
    }
}

/// Runs the blocking closure `f` on the runtime's blocking pool and
/// returns a [`JoinHandle`] for its result, so a task can await blocking
/// work (a file read, a DNS lookup, a C library) without stalling its P.
///
/// The pool grows on demand up to `Builder::max_blocking_threads`
/// (default 512); more closures wait in a queue. Idle pool threads exit
/// after `Builder::blocking_keep_alive` (default 10 s). A panic in `f` is
/// the handle's `JoinError::Panic`; `abort` before `f` starts cancels it.
/// At shutdown queued closures are cancelled and running ones waited for
/// (up to `Runtime::shutdown_timeout`; those still running then are
/// reported on stderr and abandoned).
///
/// Works inside a task or `block_on`, where the current runtime is used.
///
/// # Panics
/// Outside a spool runtime; use [`Handle::spawn_blocking`](crate::Handle::spawn_blocking) there.
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let n = rt.block_on(async {
///     spool_executor::spawn_blocking(|| {
///         std::thread::sleep(std::time::Duration::from_millis(5));
///         2 + 2
///     })
///     .await
///     .unwrap()
/// });
/// assert_eq!(n, 4);
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let p = context::current_shared();
    assert!(
        !p.is_null(),
        "spool: `spawn_blocking` called outside a spool runtime; use `Handle::spawn_blocking` there"
    );
    // SAFETY: non-null: the worker, pool thread or block_on that set it
    // keeps the runtime alive. We borrow the Arc without taking a count.
    let shared = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) });
    shared.spawn_blocking(f, Location::caller())
}
