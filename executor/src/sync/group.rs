//! Waiting for a group: [`WaitGroup`] (Go's `sync.WaitGroup`) and
//! [`Barrier`].
//!
//! Both keep their waiters in a `waitlist.rs` queue behind one lock.
//! WaitGroup invariant: waiters are queued only while the counter is
//! non-zero; the `done` that brings it to zero takes the lock after the
//! decrement, so a waiter that checked the counter under the lock either
//! saw zero or is in the queue that `done` then empties. Barrier
//! invariant: `arrived < n` between generations; the arrival that makes it
//! `n` releases every queued waiter and starts the next generation.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use super::lock::Lock;
use super::waitlist::{self, DONE, IDLE, QUEUED, WaitList, Waiter};
use crate::context::set_block_reason;
use crate::loom::atomic::{AtomicUsize, Ordering};

struct WgInner {
    count: AtomicUsize,
    waiters: Lock<WaitList<()>>,
}

/// Waits for a collection of tasks to finish (Go's `sync.WaitGroup`):
/// `add` before starting work, `done` when a piece finishes, `wait` until
/// the count is zero. Clones share the count. A waiting task shows in
/// traces as blocked on "sync.WaitGroup.Wait".
///
/// ```
/// use spool_executor::sync::WaitGroup;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let wg = WaitGroup::new();
///     for _ in 0..4 {
///         wg.add(1);
///         let wg = wg.clone();
///         spool_executor::spawn(async move { wg.done() });
///     }
///     wg.wait().await;
///     assert_eq!(wg.count(), 0);
/// });
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<WgInner>,
}

impl WaitGroup {
    /// A group with count zero.
    ///
    /// ```
    /// assert_eq!(spool_executor::sync::WaitGroup::new().count(), 0);
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(WgInner {
                count: AtomicUsize::new(0),
                waiters: Lock::new(WaitList::new()),
            }),
        }
    }

    /// Adds `n` to the count.
    ///
    /// ```
    /// let wg = spool_executor::sync::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(wg.count(), 2);
    /// ```
    pub fn add(&self, n: usize) {
        // Relaxed: ordering with `wait` comes from `done`'s AcqRel.
        self.inner.count.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes one from the count; at zero, wakes every waiter.
    ///
    /// # Panics
    /// If the count is already zero (Go: "sync: negative WaitGroup counter").
    ///
    /// ```
    /// let wg = spool_executor::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn done(&self) {
        // AcqRel: the last `done` sees every earlier one's work (Acquire)
        // and publishes its own to the waiters (Release).
        let prev = self.inner.count.fetch_sub(1, Ordering::AcqRel);
        assert!(
            prev != 0,
            "spool::sync::WaitGroup: done() with a zero count (Go: negative WaitGroup counter)"
        );
        if prev == 1 {
            let mut wakers = Vec::new();
            {
                let mut q = self.inner.waiters.lock();
                while let Some(w) = q.front() {
                    // SAFETY: queued in `q`, which we hold.
                    wakers.extend(unsafe { q.complete(w, |_| ()) }.1);
                }
            }
            waitlist::wake_all(wakers);
        }
    }

    /// The count now.
    ///
    /// ```
    /// let wg = spool_executor::sync::WaitGroup::new();
    /// wg.add(3);
    /// assert_eq!(wg.count(), 3);
    /// ```
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Waits until the count is zero.
    ///
    /// # Cancellation safety
    ///
    /// Cancel safe: dropping the future only gives up the wait.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(spool_executor::sync::WaitGroup::new().wait()); // zero: at once
    /// ```
    pub fn wait(&self) -> WaitGroupWait<'_> {
        WaitGroupWait {
            wg: &self.inner,
            waiter: Waiter::new(()),
            _pin: PhantomPinned,
        }
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// The future of [`WaitGroup::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct WaitGroupWait<'a> {
    wg: &'a WgInner,
    waiter: Waiter<()>,
    _pin: PhantomPinned,
}

impl Future for WaitGroupWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let w = &self.waiter;
        match w.state() {
            DONE => return Poll::Ready(()),
            IDLE if self.wg.count.load(Ordering::Acquire) == 0 => return Poll::Ready(()),
            _ => {}
        }
        let mut q = self.wg.waiters.lock();
        match w.state() {
            DONE => Poll::Ready(()),
            QUEUED => {
                // SAFETY: queued; we hold the lock.
                unsafe { w.set_waker(cx.waker()) };
                set_block_reason(BlockReason::WaitGroupWait);
                Poll::Pending
            }
            _ => {
                if self.wg.count.load(Ordering::Acquire) == 0 {
                    return Poll::Ready(());
                }
                // SAFETY: pinned in this future, idle; removed in `drop`.
                unsafe { q.push_back(NonNull::from(w), cx.waker()) };
                set_block_reason(BlockReason::WaitGroupWait);
                Poll::Pending
            }
        }
    }
}

impl Drop for WaitGroupWait<'_> {
    fn drop(&mut self) {
        if self.waiter.state() == QUEUED {
            let mut q = self.wg.waiters.lock();
            // SAFETY: alive; if queued, in `q`.
            unsafe { q.remove(NonNull::from(&self.waiter)) };
        }
    }
}

struct BarrierState {
    arrived: usize,
    waiters: WaitList<()>,
}

/// Makes `n` tasks wait for each other: each `wait` returns once `n` have
/// called it, and one of them is told it is the leader. Reusable: the next
/// `n` calls form the next round. A waiting task shows in traces as
/// blocked on "sync.Cond.Wait".
///
/// ```
/// use std::sync::Arc;
/// use spool_executor::sync::Barrier;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let b = Arc::new(Barrier::new(3));
///     let hs: Vec<_> = (0..3)
///         .map(|_| {
///             let b = b.clone();
///             spool_executor::spawn(async move { b.wait().await.is_leader() })
///         })
///         .collect();
///     let mut leaders = 0;
///     for h in hs {
///         leaders += h.await.unwrap() as u32;
///     }
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    n: usize,
    state: Lock<BarrierState>,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one task of each round (the last to arrive).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let b = spool_executor::sync::Barrier::new(1);
    /// assert!(rt.block_on(b.wait()).is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for rounds of `n` tasks (`n == 0` behaves as 1).
    ///
    /// ```
    /// let _b = spool_executor::sync::Barrier::new(4);
    /// ```
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n: n.max(1),
            state: Lock::new(BarrierState {
                arrived: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits until `n` tasks have called `wait` in this round.
    ///
    /// # Cancellation safety
    ///
    /// Dropping a waiting future withdraws its arrival: the round then
    /// needs another caller.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let b = spool_executor::sync::Barrier::new(1);
    /// rt.block_on(b.wait());
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            waiter: Waiter::new(()),
            _pin: PhantomPinned,
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    waiter: Waiter<()>,
    _pin: PhantomPinned,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let w = &self.waiter;
        if w.state() == DONE {
            return Poll::Ready(BarrierWaitResult(false));
        }
        let mut st = self.barrier.state.lock();
        match w.state() {
            DONE => Poll::Ready(BarrierWaitResult(false)),
            QUEUED => {
                // SAFETY: queued; we hold the lock.
                unsafe { w.set_waker(cx.waker()) };
                set_block_reason(BlockReason::CondWait);
                Poll::Pending
            }
            _ => {
                st.arrived += 1;
                if st.arrived == self.barrier.n {
                    st.arrived = 0;
                    let mut wakers = Vec::new();
                    while let Some(o) = st.waiters.front() {
                        // SAFETY: queued in the list we hold.
                        wakers.extend(unsafe { st.waiters.complete(o, |_| ()) }.1);
                    }
                    drop(st);
                    waitlist::wake_all(wakers);
                    return Poll::Ready(BarrierWaitResult(true));
                }
                // SAFETY: pinned in this future, idle; removed in `drop`.
                unsafe { st.waiters.push_back(NonNull::from(w), cx.waker()) };
                set_block_reason(BlockReason::CondWait);
                Poll::Pending
            }
        }
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if self.waiter.state() == QUEUED {
            let mut st = self.barrier.state.lock();
            // SAFETY: alive; if queued, in this list.
            if unsafe { st.waiters.remove(NonNull::from(&self.waiter)) } {
                st.arrived -= 1;
            }
        }
    }
}
