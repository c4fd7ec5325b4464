//! Timers: `sleep`, `sleep_until`, `timeout`, `interval`, and the `Instant` they use.
//!
//! A `Sleep` registers (on first `Pending` poll) an `Entry`
//! in the timer heap of the P it runs on; the P's M wakes it when the
//! deadline has passed. A `Sleep` completes only once `Instant::now()` has
//! reached its deadline, so it is never early, whatever wakes it. Dropping
//! a `Sleep` cancels its entry (the waker is released at once; the small
//! entry leaves the heap at its deadline).

pub(crate) mod heap;
mod interval;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A point in time, as used by spool's timers (this is `std::time::Instant`).
///
/// ```
/// use spool_executor::time::Instant;
/// let t = Instant::now();
/// assert!(t.elapsed() >= std::time::Duration::ZERO);
/// ```
pub use std::time::Instant;

use spool_tracer::hooks::BlockReason;

use crate::context;
use crate::loom::lock_std;
use crate::sched::Shared;
use heap::Entry;

/// Waits until `duration` has elapsed (at least; never less).
///
/// Must be polled inside a spool runtime (a task or `block_on`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let start = spool_executor::time::Instant::now();
/// rt.block_on(spool_executor::time::sleep(Duration::from_millis(5)));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    sleep_until(
        now.checked_add(duration)
            .unwrap_or(now + Duration::from_secs(86400 * 365 * 30)),
    )
}

/// Waits until `deadline` (at least; never returns before it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use spool_executor::time::{Instant, sleep_until};
/// let rt = spool_executor::Runtime::new().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(3);
/// rt.block_on(sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// ```
/// use std::time::Duration;
/// let s = spool_executor::time::sleep(Duration::from_secs(1));
/// assert!(s.deadline() > spool_executor::time::Instant::now());
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<Entry>>,
}

impl Sleep {
    /// When this sleep completes.
    ///
    /// ```
    /// use spool_executor::time::{Instant, sleep_until};
    /// let t = Instant::now();
    /// assert_eq!(sleep_until(t).deadline(), t);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    ///
    /// ```
    /// use spool_executor::time::{Instant, sleep_until};
    /// assert!(sleep_until(Instant::now()).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (tokio's `Sleep::reset`): the old timer entry is
    /// cancelled, the next poll registers the new one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spool_executor::time::{Instant, sleep};
    /// let mut s = sleep(Duration::from_secs(3600));
    /// let soon = Instant::now() + Duration::from_millis(1);
    /// s.reset(soon);
    /// assert_eq!(s.deadline(), soon);
    /// spool_executor::Runtime::new().unwrap().block_on(s);
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    fn register(&mut self, cx: &Context<'_>) {
        if let Some(e) = &self.entry {
            let mut w = lock_std(&e.waker);
            match &*w {
                Some(old) if old.will_wake(cx.waker()) => {}
                // Still registered with another waker: swap it.
                Some(_) => *w = Some(cx.waker().clone()),
                // Fired, yet the deadline is not reached by `Instant::now()`
                // (clock rounding): register anew below.
                None => {
                    drop(w);
                    self.entry = None;
                }
            }
            if self.entry.is_some() {
                return;
            }
        }
        let shared = context::current_shared();
        assert!(
            !shared.is_null(),
            "spool: a `spool::time::Sleep` was polled outside a spool runtime (use it inside `block_on` or a spawned task)"
        );
        // SAFETY: non-null means this thread is a worker or inside block_on,
        // both of which keep the runtime alive while they poll.
        let shared: &Shared = unsafe { &*shared };
        let entry = Arc::new(Entry::new(cx.waker().clone()));
        shared.add_timer(self.deadline, Arc::clone(&entry));
        self.entry = Some(entry);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Budget first, as tokio does: a loop over already-elapsed sleeps
        // must still yield now and then.
        if !context::poll_proceed(cx) {
            return Poll::Pending;
        }
        if Instant::now() >= self.deadline {
            self.cancel();
            return Poll::Ready(());
        }
        self.register(cx);
        context::set_block_reason(BlockReason::Sleep);
        Poll::Pending
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let Some(e) = self.entry.take() {
            let w = lock_std(&e.waker).take();
            drop(w);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Runs `future`, giving up (and dropping it) if it has not finished after
/// `duration`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use spool_executor::time::{sleep, timeout};
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     assert_eq!(timeout(Duration::from_secs(5), async { 1 }).await, Ok(1));
///     assert!(timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// The future returned by [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// let t = spool_executor::time::timeout(std::time::Duration::from_secs(1), async { 3 });
    /// let _inner = t.into_inner();
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning: `future` is never moved out of a pinned
        // Timeout (`into_inner` takes it by value, which needs `Unpin` or an
        // unpinned Timeout); `sleep` is Unpin.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let fut = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = fut.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline)
            .finish()
    }
}

/// The error of a [`timeout`] whose deadline passed first.
///
/// ```
/// use std::time::Duration;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let r = rt.block_on(spool_executor::time::timeout(Duration::ZERO, std::future::pending::<()>()));
/// assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
