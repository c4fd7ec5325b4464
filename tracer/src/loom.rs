//! Synchronisation primitives for the tracer's lock-free protocols, swapped
//! for loom's under `cfg(loom)`.
//!
//! The per-M buffer slot ([`crate::slot`]) takes its atomics and its cell from
//! here, and the GC phase count (`annotate/gc.rs`) its mutex, so
//! `tests/loom.rs` checks the real protocols, not copies.
//! Process-wide statics (the enabled flag, the generation counter, the
//! registries) use `std` types directly: loom types cannot live in statics,
//! and those statics are only touched by simple load/store/CAS steps whose
//! pairing is documented where they are declared.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use ::loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use ::loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(loom)]
pub(crate) use ::loom::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning (a panic under one of the tracer's locks
/// leaves the data it guards consistent: each critical section is a few
/// plain writes).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits a little inside a spin loop: a CPU hint normally, a yield to the
/// model checker under loom (loom requires spinning threads to yield).
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

/// `std::cell::UnsafeCell` with loom's closure-based access API, so code that
/// touches the cell reads the same in both builds (tokio's
/// `loom/std/unsafe_cell.rs` shape).
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
