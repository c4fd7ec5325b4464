//! Batch memory for one generation: fixed-size buffers handed out by address
//! and all released together when the generation has been written.
//!
//! Invariants: every pointer returned by [`Arena::alloc_batch`] addresses
//! `BATCH_CAP` writable bytes, stays valid until [`Arena::reset`] or drop, and
//! is never handed out twice before a reset. Reset and drop take `&mut self`,
//! so they cannot race an allocation; callers keep the arena inside an `Arc`
//! that every batch holds, which makes "no batch outlives a reset" a fact the
//! type system checks.
//!
//! Buffers are recycled across resets (a free list), so a steady trace stops
//! allocating after its first generations.

use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

use crate::buf::BATCH_CAP;

/// Batch buffers of one generation.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    inner: Mutex<Pool>,
}

#[derive(Debug, Default)]
struct Pool {
    /// Buffers handed out since the last reset (from `Box::into_raw`).
    used: Vec<NonNull<[u8]>>,
    /// Buffers ready for reuse.
    free: Vec<NonNull<[u8]>>,
}

// SAFETY: the pool only stores pointers to heap buffers it owns (created by
// `Box::into_raw`); they are plain bytes with no thread affinity.
unsafe impl Send for Pool {}

impl Arena {
    /// An empty arena.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A `BATCH_CAP`-byte buffer (recycled buffers keep old bytes, which is
    /// fine: a batch only ever reads back what it wrote).
    pub(crate) fn alloc_batch(&self) -> Option<NonNull<u8>> {
        let mut pool = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let buf = match pool.free.pop() {
            Some(b) => b,
            None => NonNull::from(Box::leak(vec![0u8; BATCH_CAP].into_boxed_slice())),
        };
        pool.used.push(buf);
        Some(buf.cast())
    }

    /// Makes every buffer handed out since the last reset reusable.
    pub(crate) fn reset(&mut self) {
        let pool = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        let used = std::mem::take(&mut pool.used);
        pool.free.extend(used);
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let pool = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        for b in pool.used.drain(..).chain(pool.free.drain(..)) {
            // SAFETY: `b` came from `Box::leak` of a boxed slice and is owned
            // by this pool alone; `&mut self` means no batch still uses it.
            drop(unsafe { Box::from_raw(b.as_ptr()) });
        }
    }
}
