//! [`OnceCell`]: a value set once, by the first task to get there, that
//! others wait for (Go's `sync.Once` plus the value).
//!
//! `state` goes `EMPTY -> RUNNING -> READY`, or back to `EMPTY` if the
//! initialising future is cancelled or fails (the next caller then tries).
//! Only the task that moved it to `RUNNING` writes `value`; `READY` is
//! stored with Release after the write and read with Acquire, after which
//! `value` is immutable. Waiters queue under the lock and are all woken
//! when the state leaves `RUNNING`.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use super::lock::Lock;
use super::waitlist::{self, DONE, QUEUED, WaitList, Waiter};
use crate::context::set_block_reason;
use crate::loom::atomic::{AtomicU8, Ordering};

const EMPTY: u8 = 0;
const RUNNING: u8 = 1;
const READY: u8 = 2;

/// A cell written once. A task waiting for another's initialisation shows
/// in traces as blocked on "sync.Mutex.Lock" (as Go's `Once.Do` does).
///
/// ```
/// use spool_executor::sync::OnceCell;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let cell = OnceCell::new();
///     let v = cell.get_or_init(|| async { 7 }).await;
///     assert_eq!(*v, 7);
///     assert_eq!(*cell.get_or_init(|| async { 8 }).await, 7);
/// });
/// ```
pub struct OnceCell<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
    waiters: Lock<WaitList<()>>,
}

// SAFETY: `value` is written by one task (the RUNNING owner) before READY
// is published, then only read: `&T` is shared (Sync) and the value may
// have been made on another thread (Send).
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for OnceCell<T> {}

/// [`OnceCell::set`] found a value already (or one being made); yours back.
#[derive(Debug, PartialEq, Eq)]
pub struct SetError<T>(pub T);

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnceCell already set")
    }
}
impl<T: fmt::Debug> std::error::Error for SetError<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// assert!(spool_executor::sync::OnceCell::<u8>::new().get().is_none());
    /// ```
    pub fn new() -> OnceCell<T> {
        OnceCell {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            waiters: Lock::new(WaitList::new()),
        }
    }

    /// The value, if set.
    ///
    /// ```
    /// let c = spool_executor::sync::OnceCell::new();
    /// c.set(1).unwrap();
    /// assert_eq!(c.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        // Acquire: pairs with the Release store of READY.
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY: written and immutable from now on.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// Sets the value if the cell is empty and nobody is initialising it.
    ///
    /// # Errors
    /// [`SetError`] with `value` otherwise.
    ///
    /// ```
    /// let c = spool_executor::sync::OnceCell::new();
    /// assert!(c.set(1).is_ok());
    /// assert_eq!(c.set(2), Err(spool_executor::sync::SetError(2)));
    /// ```
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self
            .state
            .compare_exchange(EMPTY, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(SetError(value));
        }
        self.publish(value);
        Ok(())
    }

    /// The value, initialising it with `init` if the cell is empty. While
    /// another task initialises, waits for it.
    ///
    /// # Cancellation safety
    ///
    /// If the initialising future is dropped before it finishes, the cell
    /// stays empty and a waiting task takes over.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let c = spool_executor::sync::OnceCell::new();
    ///     assert_eq!(*c.get_or_init(|| async { "a" }).await, "a");
    /// });
    /// ```
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let r: Result<&T, std::convert::Infallible> =
            self.get_or_try_init(|| async { Ok(init().await) }).await;
        match r {
            Ok(v) => v,
        }
    }

    /// As [`OnceCell::get_or_init`] with a fallible `init`: an error leaves
    /// the cell empty and is returned.
    ///
    /// # Errors
    /// The error of `init`.
    ///
    /// # Cancellation safety
    ///
    /// As [`OnceCell::get_or_init`].
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let c = spool_executor::sync::OnceCell::<u8>::new();
    ///     assert!(c.get_or_try_init(|| async { Err("no") }).await.is_err());
    ///     assert_eq!(*c.get_or_try_init(|| async { Ok::<_, ()>(1) }).await.unwrap(), 1);
    /// });
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        loop {
            if let Some(v) = self.get() {
                return Ok(v);
            }
            if self
                .state
                .compare_exchange(EMPTY, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // Ours to initialise; the guard resets the cell if this
                // future is dropped (or `init` panics) midway.
                let guard = Reset(self);
                let r = init().await;
                std::mem::forget(guard);
                return match r {
                    Ok(v) => {
                        self.publish(v);
                        // SAFETY: just published.
                        Ok(unsafe { (*self.value.get()).assume_init_ref() })
                    }
                    Err(e) => {
                        self.reset();
                        Err(e)
                    }
                };
            }
            WaitInit {
                cell: self,
                waiter: Waiter::new(()),
                _pin: PhantomPinned,
            }
            .await;
        }
    }

    /// Writes the value (the caller moved the state to RUNNING) and wakes
    /// every waiter.
    fn publish(&self, value: T) {
        // SAFETY: RUNNING is ours: nobody else writes or reads `value`.
        unsafe { (*self.value.get()).write(value) };
        self.finish(READY);
    }

    fn reset(&self) {
        self.finish(EMPTY);
    }

    fn finish(&self, to: u8) {
        let mut wakers = Vec::new();
        {
            let mut q = self.waiters.lock();
            // Release: publishes the value (READY) to `get`'s Acquire.
            self.state.store(to, Ordering::Release);
            while let Some(w) = q.front() {
                // SAFETY: queued in `q`, which we hold.
                wakers.extend(unsafe { q.complete(w, |_| ()) }.1);
            }
        }
        waitlist::wake_all(wakers);
    }

    /// The value, taking the cell apart.
    ///
    /// ```
    /// let c = spool_executor::sync::OnceCell::new();
    /// c.set(3).unwrap();
    /// assert_eq!(c.into_inner(), Some(3));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        if self.state.load(Ordering::Acquire) == READY {
            self.state.store(EMPTY, Ordering::Relaxed);
            // SAFETY: READY: initialised; the state reset stops Drop from
            // dropping it again.
            Some(unsafe { (*self.value.get()).assume_init_read() })
        } else {
            None
        }
    }
}

/// Resets a cell whose initialiser was dropped midway.
struct Reset<'a, T>(&'a OnceCell<T>);

impl<T> Drop for Reset<'_, T> {
    fn drop(&mut self) {
        self.0.reset();
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY: initialised, dropped once.
            unsafe { (*self.value.get()).assume_init_drop() };
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceCell").field(&self.get()).finish()
    }
}

/// Waits for the state to leave RUNNING.
struct WaitInit<'a, T> {
    cell: &'a OnceCell<T>,
    waiter: Waiter<()>,
    _pin: PhantomPinned,
}

impl<T> Future for WaitInit<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let w = &self.waiter;
        if w.state() == DONE {
            return Poll::Ready(());
        }
        let mut q = self.cell.waiters.lock();
        match w.state() {
            DONE => Poll::Ready(()),
            QUEUED => {
                // SAFETY: queued; we hold the lock.
                unsafe { w.set_waker(cx.waker()) };
                set_block_reason(BlockReason::MutexLock);
                Poll::Pending
            }
            _ => {
                if self.cell.state.load(Ordering::Acquire) != RUNNING {
                    return Poll::Ready(());
                }
                // SAFETY: pinned in this future, idle; removed in `drop`.
                unsafe { q.push_back(NonNull::from(w), cx.waker()) };
                set_block_reason(BlockReason::MutexLock);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for WaitInit<'_, T> {
    fn drop(&mut self) {
        if self.waiter.state() == QUEUED {
            let mut q = self.cell.waiters.lock();
            // SAFETY: alive; if queued, in `q`.
            unsafe { q.remove(NonNull::from(&self.waiter)) };
        }
    }
}
