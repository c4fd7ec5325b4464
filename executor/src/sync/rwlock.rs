//! An async reader-writer lock (Go's `sync.RWMutex`): a [`Sem`] with
//! [`MAX_READS`] permits; a reader takes one, a writer takes them all.
//!
//! Fairness comes from the semaphore's FIFO hand-off: a waiting writer
//! holds back readers that arrive after it (they queue behind it), so
//! writers are not starved, and readers queued behind a writer get the
//! lock together once it unlocks.
//!
//! Invariant: `&T` is reached only through read guards (each owning one
//! permit), `&mut T` only through the write guard (owning all of them).

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

use spool_tracer::hooks::BlockReason;

use super::semaphore::{AcquireFut, Sem};

/// Readers that may hold the lock at once (permits of the semaphore).
const MAX_READS: usize = 1 << 28;

/// A reader-writer lock for async code. Waits show in traces as blocked on
/// "sync.RWMutex.RLock" (readers) or "sync.RWMutex.Lock" (writers).
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let l = spool_executor::sync::RwLock::new(1);
///     {
///         let a = l.read().await;
///         let b = l.read().await;
///         assert_eq!(*a + *b, 2);
///     }
///     *l.write().await = 5;
///     assert_eq!(*l.read().await, 5);
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Sem,
    data: UnsafeCell<T>,
}

// SAFETY: writers get `&mut T` one at a time (Send), readers share `&T`
// (Sync).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access; releases its read permit when dropped.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

/// Exclusive access; releases the lock when dropped.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: a write guard shared between threads shares `&T`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    ///
    /// ```
    /// let l = spool_executor::sync::RwLock::new(vec![1]);
    /// assert_eq!(l.into_inner(), vec![1]);
    /// ```
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            sem: Sem::new(MAX_READS),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, taking the lock apart.
    ///
    /// ```
    /// assert_eq!(spool_executor::sync::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting behind writers queued before.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future gives up its place in the queue.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = spool_executor::sync::RwLock::new(2);
    ///     assert_eq!(*l.read().await, 2);
    /// });
    /// ```
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        // Never closed: cannot fail.
        let _ = AcquireFut::new(&self.sem, 1, BlockReason::RwMutexRLock).await;
        RwLockReadGuard { lock: self }
    }

    /// Locks for writing, waiting for every reader to leave.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future gives up its place in the queue; read permits
    /// it had gathered are handed on.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = spool_executor::sync::RwLock::new(2);
    ///     *l.write().await += 1;
    ///     assert_eq!(*l.read().await, 3);
    /// });
    /// ```
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let _ = AcquireFut::new(&self.sem, MAX_READS, BlockReason::RwMutexLock).await;
        RwLockWriteGuard { lock: self }
    }

    /// Read-locks if no writer holds or waits for the lock.
    ///
    /// # Errors
    /// `Err(())` if it would have to wait.
    ///
    /// ```
    /// let l = spool_executor::sync::RwLock::new(1);
    /// let r = l.try_read().unwrap();
    /// assert!(l.try_write().is_err());
    /// drop(r);
    /// ```
    #[allow(clippy::result_unit_err)]
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, ()> {
        self.sem.try_acquire(1).map_err(|_| ())?;
        Ok(RwLockReadGuard { lock: self })
    }

    /// Write-locks if the lock is free and nobody waits.
    ///
    /// # Errors
    /// `Err(())` if it would have to wait.
    ///
    /// ```
    /// let l = spool_executor::sync::RwLock::new(1);
    /// let w = l.try_write().unwrap();
    /// assert!(l.try_read().is_err());
    /// drop(w);
    /// ```
    #[allow(clippy::result_unit_err)]
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, ()> {
        self.sem.try_acquire(MAX_READS).map_err(|_| ())?;
        Ok(RwLockWriteGuard { lock: self })
    }

    /// The value, through `&mut self`.
    ///
    /// ```
    /// let mut l = spool_executor::sync::RwLock::new(1);
    /// *l.get_mut() = 4;
    /// assert_eq!(l.into_inner(), 4);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(()) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read permit is held: no writer exists (invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: every permit is held: no other guard exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above; `&mut self` makes it unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(MAX_READS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
