//! The executor's concurrency primitives: loom's under `cfg(loom)`, std's otherwise.
//!
//! Every lock-free protocol in the crate (task state, idle/park accounting,
//! the parker, `block_on`'s wake state, stop-the-world, the runtime table's
//! slots, a timer heap's `next`) takes its atomics, mutexes and condvars
//! from here, so the same code runs under the loom model checker
//! (`executor/tests/loom.rs`). Data that loom cannot model (crossbeam-deque's
//! internals) uses std types directly and is replaced by stand-ins in the
//! models.

#[cfg(loom)]
pub(crate) use ::loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Atomics, from loom under `cfg(loom)`.
pub(crate) mod atomic {
    #[cfg(loom)]
    pub(crate) use ::loom::sync::atomic::{
        AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering,
    };
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering,
    };
}

#[cfg(loom)]
pub(crate) use ::loom::cell::UnsafeCell;

/// `std::cell::UnsafeCell` with loom's closure-based access API, so code that
/// touches the cell reads the same in both builds (tokio's
/// `loom/std/unsafe_cell.rs` shape). The `sync` module's waiter nodes use it.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a mutable pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks a mutex, ignoring poisoning: every critical section in the executor
/// leaves its data consistent before anything that can panic runs.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Locks a std mutex (for data the loom models never touch: the registry,
/// timer heaps, the runtime's bookkeeping), ignoring poisoning as [`lock`] does.
pub(crate) fn lock_std<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits a little inside a spin loop: a CPU hint at first, then a yield of
/// the thread; a yield to the model checker under loom (loom requires
/// spinning threads to yield).
#[inline]
pub(crate) fn spin_wait(spins: u32) {
    #[cfg(loom)]
    {
        let _ = spins;
        ::loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}
