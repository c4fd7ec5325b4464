//! The per-M buffer slot: a tiny spin lock around the data one M writes and
//! one collector occasionally takes away (Go's `m.trace` seqlock, simplified).
//!
//! Protocol (checked by the loom model in `tests/loom.rs`):
//! 1. The owning M locks its slot around every event it writes: one
//!    uncontended compare-exchange (Acquire) and one Release store.
//! 2. A collector (the writer thread at a generation flip, or `stop`) locks the
//!    same slot to take the sealed-or-partial batch out of it.
//! 3. Whoever locks second sees everything the first wrote: the Release store
//!    in [`Slot::with_locked`]'s unlock pairs with the Acquire exchange of the
//!    next lock.
//!
//! The lock is held for a few dozen instructions (one event), so a collector
//! that finds it taken spins briefly; the M finds it taken only while a
//! collector copies a pointer out, which happens once per generation.
//!
//! Who may call what: any thread may call [`Slot::with_locked`]; the closure
//! must not lock the same slot again (the tracer's per-thread re-entrancy flag
//! guarantees that for hooks called from inside the tracer).

use crate::sync::{AtomicBool, Ordering, UnsafeCell, spin_wait};

/// A value guarded by a spin lock.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    /// True while some thread is inside `with_locked`.
    locked: AtomicBool,
    /// Only accessed by the thread that holds `locked`.
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with_locked`, which gives one
// thread at a time exclusive access (mutual exclusion by `locked`), so moving
// `T: Send` values between threads through it is sound.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// A free slot holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with exclusive access to the value.
    #[inline]
    pub(crate) fn with_locked<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // Take the lock. Acquire pairs with the Release store in `Unlock::drop`
        // of the previous holder, so its writes to `value` are visible.
        let mut spins = 0;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_wait(spins);
            spins += 1;
        }
        // Release the lock even if `f` unwinds.
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // Publish our writes to the next holder (pairs with the Acquire above).
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        self.value.with_mut(|p| {
            // SAFETY: we hold `locked`, so no other thread is inside
            // `with_locked` and nothing else reaches `value`; the `&mut`
            // does not escape `f`.
            f(unsafe { &mut *p })
        })
    }
}
