//! The short internal lock every `sync` primitive keeps its wait queues
//! behind (Go's runtime `mutex` in `hchan.lock`).
//!
//! A test-and-test-and-set spin lock: acquiring is one CAS when free, and
//! releasing is a single Release store, where `std::sync::Mutex` pays an
//! atomic swap (to find sleepers) and two poison checks. That halves the
//! atomic read-modify-writes of a channel hand-off. Critical sections are
//! a few dozen instructions and never call out (wakers run after unlock),
//! so a waiter spins briefly, then yields its thread (the holder may have
//! been descheduled by the OS).
//!
//! Invariant: the guard is the only access path to the data, and it exists
//! only while `locked` is true and was set by its creator.
//!
//! Under `cfg(loom)` the lock is loom's `Mutex` instead: a spinning waiter
//! makes every interleaving branch again, and the models (which check the
//! protocols *behind* the lock) would not finish. The spin lock is the
//! textbook test-and-test-and-set; its one ordering pair is documented at
//! `lock` and `drop`.

#[cfg(not(loom))]
use std::ops::{Deref, DerefMut};

#[cfg(not(loom))]
use crate::loom::UnsafeCell;
#[cfg(not(loom))]
use crate::loom::atomic::{AtomicBool, Ordering};

#[cfg(not(loom))]
/// Spins before the lock yields its thread to the OS while waiting.
const SPINS_BEFORE_YIELD: u32 = 64;

#[cfg(loom)]
pub(crate) use loom_lock::{Lock, LockGuard};

#[cfg(loom)]
mod loom_lock {
    /// loom's mutex, behind the spin lock's API.
    pub(crate) struct Lock<T>(::loom::sync::Mutex<T>);
    pub(crate) type LockGuard<'a, T> = ::loom::sync::MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) fn new(data: T) -> Lock<T> {
            Lock(::loom::sync::Mutex::new(data))
        }
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}

#[cfg(not(loom))]
pub(crate) struct Lock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

#[cfg(not(loom))]
// SAFETY: the lock hands out access to one thread at a time (the CAS on
// `locked` with Acquire, the release store on unlock), so `T: Send` suffices.
unsafe impl<T: Send> Sync for Lock<T> {}
#[cfg(not(loom))]
// SAFETY: as above.
unsafe impl<T: Send> Send for Lock<T> {}

#[cfg(not(loom))]
pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    data: *mut T,
}

#[cfg(not(loom))]
impl<T> Lock<T> {
    pub(crate) fn new(data: T) -> Lock<T> {
        Lock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        // Acquire: pairs with the Release store in `LockGuard::drop`.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        LockGuard {
            lock: self,
            data: self.data.with_mut(|p| p),
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            // Test before test-and-set: wait on a shared cache line.
            while self.locked.load(Ordering::Relaxed) {
                spin_wait(&mut spins);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

#[cfg(not(loom))]
#[inline]
fn spin_wait(spins: &mut u32) {
    if *spins < SPINS_BEFORE_YIELD {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

#[cfg(not(loom))]
impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock (module invariant).
        unsafe { &*self.data }
    }
}

#[cfg(not(loom))]
impl<T> DerefMut for LockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes the access unique.
        unsafe { &mut *self.data }
    }
}

#[cfg(not(loom))]
impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: publishes the critical section to the next Acquire.
        self.lock.locked.store(false, Ordering::Release);
    }
}
