//! [`Notify`]: wake one waiting task or all of them (tokio's shape; Go's
//! `sync.Cond` without the mutex).
//!
//! State behind one lock: the queue of waiters and at most one stored
//! permit (a `notify_one` with nobody waiting). `notify_waiters` bumps a
//! generation counter, so a `Notified` future created before the call
//! completes even if it was not polled yet.
//!
//! Invariant: a permit is stored only while the queue is empty.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use super::lock::Lock;
use super::waitlist::{self, DONE, IDLE, QUEUED, WaitList, Waiter};
use crate::context::set_block_reason;
use crate::loom::atomic::{AtomicUsize, Ordering};

/// How a queued waiter was woken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Woken {
    No,
    /// By `notify_one`: handed on if the future is dropped unobserved.
    One,
    /// By `notify_waiters`.
    All,
}

struct Inner {
    list: WaitList<Woken>,
    permit: bool,
}

/// Notifies tasks waiting in [`Notify::notified`]. A waiting task shows in
/// traces as blocked on "sync.Cond.Wait".
///
/// ```
/// use std::sync::Arc;
/// use spool_executor::sync::Notify;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let n = Arc::new(Notify::new());
///     let n2 = n.clone();
///     let h = spool_executor::spawn(async move { n2.notified().await });
///     n.notify_one(); // wakes the task, or leaves a permit for it
///     h.await.unwrap();
/// });
/// ```
pub struct Notify {
    generation: AtomicUsize,
    inner: Lock<Inner>,
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: usize,
    waiter: Waiter<Woken>,
    done: bool,
    _pin: PhantomPinned,
}

impl Notify {
    /// A notifier with no permit stored.
    ///
    /// ```
    /// let _n = spool_executor::sync::Notify::new();
    /// ```
    pub fn new() -> Notify {
        Notify {
            generation: AtomicUsize::new(0),
            inner: Lock::new(Inner {
                list: WaitList::new(),
                permit: false,
            }),
        }
    }

    /// Waits for a notification: a `notify_one` (now, or a permit stored
    /// before) or a `notify_waiters` issued after this call.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future gives up its place; a `notify_one` it received
    /// but did not observe goes to the next waiter (or becomes the permit).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let n = spool_executor::sync::Notify::new();
    ///     n.notify_one();
    ///     n.notified().await; // takes the stored permit
    /// });
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            // Acquire: pairs with the Release bump in `notify_waiters`.
            generation: self.generation.load(Ordering::Acquire),
            waiter: Waiter::new(Woken::No),
            done: false,
            _pin: PhantomPinned,
        }
    }

    /// Wakes the oldest waiter, or stores a permit for the next
    /// `notified()` if nobody waits (one at most).
    ///
    /// ```
    /// let n = spool_executor::sync::Notify::new();
    /// n.notify_one();
    /// n.notify_one(); // still one permit
    /// ```
    pub fn notify_one(&self) {
        let waker = {
            let mut st = self.inner.lock();
            match st.list.front() {
                Some(w) => {
                    // SAFETY: `w` is queued in the list, which we hold.
                    unsafe { st.list.complete(w, |p| *p = Woken::One) }.1
                }
                None => {
                    st.permit = true;
                    None
                }
            }
        };
        if let Some(w) = waker {
            waitlist::wake(w);
        }
    }

    /// Wakes every task waiting now, and every `Notified` created before
    /// this call; stores no permit.
    ///
    /// ```
    /// let n = spool_executor::sync::Notify::new();
    /// let f = n.notified();
    /// n.notify_waiters();
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(f); // completes: it was created before the call
    /// ```
    pub fn notify_waiters(&self) {
        let mut wakers = Vec::new();
        {
            let mut st = self.inner.lock();
            // Release: pairs with the Acquire in `notified`/`poll`.
            self.generation.fetch_add(1, Ordering::Release);
            while let Some(w) = st.list.front() {
                // SAFETY: `w` is queued in the list, which we hold.
                let ((), wk) = unsafe { st.list.complete(w, |p| *p = Woken::All) };
                wakers.extend(wk);
            }
        }
        waitlist::wake_all(wakers);
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify").finish_non_exhaustive()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: no field is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if this.done {
            return Poll::Ready(());
        }
        let w = &this.waiter;
        if w.state() == DONE {
            w.reset();
            this.done = true;
            return Poll::Ready(());
        }
        let mut st = this.notify.inner.lock();
        match w.state() {
            DONE => {
                drop(st);
                w.reset();
                this.done = true;
                Poll::Ready(())
            }
            QUEUED => {
                // SAFETY: queued; we hold the lock.
                unsafe { w.set_waker(cx.waker()) };
                drop(st);
                set_block_reason(BlockReason::CondWait);
                Poll::Pending
            }
            _ => {
                if this.notify.generation.load(Ordering::Acquire) != this.generation
                    || std::mem::take(&mut st.permit)
                {
                    this.done = true;
                    return Poll::Ready(());
                }
                // SAFETY: pinned in this future, idle; removed in `drop`.
                unsafe { st.list.push_back(NonNull::from(w), cx.waker()) };
                drop(st);
                set_block_reason(BlockReason::CondWait);
                Poll::Pending
            }
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let w = &self.waiter;
        if w.state() == IDLE {
            return;
        }
        let mut st = self.notify.inner.lock();
        // SAFETY: alive; if queued, in this list.
        if unsafe { st.list.remove(NonNull::from(w)) } {
            return;
        }
        // DONE: hand an unobserved notify_one on.
        // SAFETY: DONE: ours.
        if unsafe { w.with_payload(|p| *p) } == Woken::One {
            let next = match st.list.front() {
                // SAFETY: queued in the list we hold.
                Some(n) => unsafe { st.list.complete(n, |p| *p = Woken::One) }.1,
                None => {
                    st.permit = true;
                    None
                }
            };
            drop(st);
            if let Some(wk) = next {
                waitlist::wake(wk);
            }
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").finish_non_exhaustive()
    }
}
