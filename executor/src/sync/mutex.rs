//! An async mutex (Go's `sync.Mutex`) whose guard may be held across
//! `.await`: a [`Sem`] with one permit guarding an `UnsafeCell`.
//!
//! Fairness: an unlock with tasks waiting hands the lock straight to the
//! oldest waiter (FIFO hand-off, `semaphore.rs` invariant 1), so no waiter
//! waits behind more than the tasks queued before it. Go starts in a
//! barging "normal mode" and switches to hand-off after a waiter has been
//! starved 1 ms; spool hands off always (tokio's choice), which costs a
//! task switch per contended unlock but bounds every wait.
//!
//! Invariant: the data is only reached through a guard, and a guard exists
//! only while its holder owns the semaphore's one permit.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use spool_tracer::hooks::BlockReason;

use super::semaphore::{AcquireFut, Sem, TryAcquireError};

/// A mutual-exclusion lock for async code. A waiting `lock` shows in
/// traces as blocked on "sync.Mutex.Lock".
///
/// ```
/// use std::sync::Arc;
/// use spool_executor::sync::Mutex;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let m = Arc::new(Mutex::new(0u32));
///     let hs: Vec<_> = (0..8)
///         .map(|_| {
///             let m = m.clone();
///             spool_executor::spawn(async move {
///                 for _ in 0..100 {
///                     *m.lock().await += 1;
///                 }
///             })
///         })
///         .collect();
///     for h in hs {
///         h.await.unwrap();
///     }
///     let n = *m.lock().await;
///     n
/// });
/// assert_eq!(total, 800);
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Sem,
    data: UnsafeCell<T>,
}

// SAFETY: the semaphore's single permit gives one guard at a time, so the
// mutex hands `&mut T` to one thread at a time: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds the lock; unlocks when dropped.
#[must_use = "dropping the guard unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
}

/// A guard that keeps its mutex alive (from [`Mutex::lock_owned`]).
#[must_use = "dropping the guard unlocks at once"]
pub struct OwnedMutexGuard<T: ?Sized> {
    lock: Arc<Mutex<T>>,
}

// SAFETY: sharing a guard shares `&T` between threads, so `T: Sync` is
// needed as well (this replaces the auto impl, which would ask only what
// `&Mutex<T>` asks: `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for MutexGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

/// [`Mutex::try_lock`] found the mutex locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mutex is locked")
    }
}
impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = spool_executor::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            sem: Sem::new(1),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, taking the mutex apart.
    ///
    /// ```
    /// let m = spool_executor::sync::Mutex::new(String::from("x"));
    /// assert_eq!(m.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting behind the tasks already waiting.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future gives up its place in the queue; if the lock
    /// had just been handed to it, it is handed on.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let m = spool_executor::sync::Mutex::new(1);
    ///     *m.lock().await += 1;
    ///     assert_eq!(*m.lock().await, 2);
    /// });
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        // A semaphore of one permit is never closed: the acquire cannot fail.
        let _ = AcquireFut::new(&self.sem, 1, BlockReason::MutexLock).await;
        MutexGuard { lock: self }
    }

    /// [`Mutex::lock`] for a shared mutex, with a guard that holds it.
    ///
    /// # Cancellation safety
    ///
    /// As [`Mutex::lock`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let m = Arc::new(spool_executor::sync::Mutex::new(0));
    ///     let mut g = m.clone().lock_owned().await;
    ///     *g = 3;
    ///     drop(g);
    ///     assert_eq!(*m.lock().await, 3);
    /// });
    /// ```
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        let _ = AcquireFut::new(&self.sem, 1, BlockReason::MutexLock).await;
        OwnedMutexGuard { lock: self }
    }

    /// Locks from a thread outside the runtime, blocking it.
    ///
    /// # Panics
    /// Inside a spool task or `block_on`.
    ///
    /// ```
    /// let m = spool_executor::sync::Mutex::new(1);
    /// *m.blocking_lock() += 1;
    /// assert_eq!(*m.blocking_lock(), 2);
    /// ```
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        super::block_on_thread("Mutex::blocking_lock", self.lock())
    }

    /// Locks if it is free and nobody waits.
    ///
    /// # Errors
    /// [`TryLockError`] if it is locked.
    ///
    /// ```
    /// let m = spool_executor::sync::Mutex::new(1);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire(1) {
            Ok(()) => Ok(MutexGuard { lock: self }),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(TryLockError(())),
        }
    }

    /// The value, through `&mut self` (no locking needed).
    ///
    /// ```
    /// let mut m = spool_executor::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the permit (module invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above; `&mut self` makes it unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the permit.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above; `&mut self` makes it unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
