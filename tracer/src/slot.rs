//! The per-M buffer slot: a tiny spin lock around the data one M writes and
//! one collector occasionally takes away (Go's `m.trace` seqlock, simplified),
//! which also tells the owning M when it re-enters itself.
//!
//! Protocol (checked by the loom model in `tests/loom.rs`):
//! 1. The lock word is [`FREE`], [`OWNER`] (held by the M that owns the
//!    slot) or [`COLLECTOR`] (held by any other thread).
//! 2. The owning M locks its slot around every section it writes
//!    ([`Slot::with_owner`]): one uncontended compare-exchange (Acquire) and
//!    one Release store. Finding the word at `OWNER` means the M is already
//!    inside its own section (a hook called from inside the tracer, e.g. the
//!    counting allocator while the tracer allocates): the call returns
//!    `None` at once instead of deadlocking. Only the owning thread ever
//!    stores `OWNER`, so that observation cannot come from another thread.
//! 3. A collector (the writer thread at a generation flip, `stop`, or the
//!    M's own thread-exit hook) locks the slot as `COLLECTOR`
//!    ([`Slot::with_locked`]) to take the sealed-or-partial batch out of it.
//! 4. Whoever locks second sees everything the first wrote: the Release
//!    store of the unlock pairs with the Acquire exchange of the next lock.
//!
//! The lock is held for a few dozen instructions (one section), so a
//! collector that finds it taken spins briefly; the M finds it taken by a
//! collector only while the collector copies a pointer out, which happens
//! once per generation.
//!
//! Who may call what: only the owning thread calls [`Slot::with_owner`];
//! any thread may call [`Slot::with_locked`], but never from inside a
//! `with_owner` of the same slot on the same thread.

use crate::loom::{AtomicU8, Ordering, UnsafeCell, spin_wait};

/// Lock word: nobody holds the slot.
const FREE: u8 = 0;
/// Lock word: the owning M holds the slot.
const OWNER: u8 = 1;
/// Lock word: a collector holds the slot.
const COLLECTOR: u8 = 2;

/// A value guarded by a spin lock.
#[derive(Debug)]
pub struct Slot<T> {
    /// [`FREE`], [`OWNER`] or [`COLLECTOR`].
    lock: AtomicU8,
    /// Only accessed by the thread that holds `lock`.
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with_owner`/`with_locked`,
// which give one thread at a time exclusive access (mutual exclusion by
// `lock`), so moving `T: Send` values between threads through it is sound.
unsafe impl<T: Send> Sync for Slot<T> {}

/// Releases the lock when dropped, also if the closure unwinds.
struct Unlock<'a>(&'a AtomicU8);

impl Drop for Unlock<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Publish our writes to the next holder (pairs with the Acquire
        // exchange in `acquire`).
        self.0.store(FREE, Ordering::Release);
    }
}

impl<T> Slot<T> {
    /// A free slot holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            lock: AtomicU8::new(FREE),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock as `as_`; false (lock not taken) only for an owner
    /// that finds the slot already held by itself.
    #[inline(always)]
    fn acquire(&self, as_: u8) -> bool {
        // Acquire pairs with the Release store in `Unlock::drop` of the
        // previous holder, so its writes to `value` are visible.
        match self
            .lock
            .compare_exchange(FREE, as_, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(held) => self.acquire_contended(as_, held),
        }
    }

    /// [`acquire`](Self::acquire) after a first failed attempt that saw `held`.
    #[cold]
    #[inline(never)]
    fn acquire_contended(&self, as_: u8, mut held: u8) -> bool {
        let mut spins = 0;
        loop {
            if held == OWNER && as_ == OWNER {
                return false;
            }
            spin_wait(spins);
            spins += 1;
            // Acquire: as in `acquire`.
            match self
                .lock
                .compare_exchange_weak(FREE, as_, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(h) => held = h,
            }
        }
    }

    #[inline(always)]
    fn run<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _unlock = Unlock(&self.lock);
        self.value.with_mut(|p| {
            // SAFETY: the caller holds `lock`, so no other thread is inside
            // `with_owner`/`with_locked` and nothing else reaches `value`;
            // the `&mut` does not escape `f`.
            f(unsafe { &mut *p })
        })
    }

    /// Runs `f` with exclusive access to the value, as the slot's owning
    /// thread; `None` (and `f` not run) if this thread already holds the slot.
    #[inline(always)]
    pub fn with_owner<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.acquire(OWNER) {
            Some(self.run(f))
        } else {
            None
        }
    }

    /// Runs `f` with exclusive access to the value, as a collector.
    #[inline]
    pub fn with_locked<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.acquire(COLLECTOR);
        self.run(f)
    }

    /// Locks the slot as its owner for good: every later `with_owner`
    /// returns `None`. For threads whose hooks must write nothing (the
    /// tracer's writer thread); the caller makes sure no collector will
    /// ever lock this slot again (it is not in the M registry).
    pub(crate) fn close_for_owner(&self) {
        self.acquire(COLLECTOR);
        self.lock.store(OWNER, Ordering::Release);
    }
}
