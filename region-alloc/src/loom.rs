//! Synchronisation primitives, swapped for loom's under `cfg(loom)`.
//!
//! Every atomic, mutex and shared cell in this crate comes from here, so the
//! allocator reads the same in both builds and the loom model in
//! `tests/loom.rs` checks the real protocol, not a copy of it. Keep this module
//! small: it re-exports, and adds only the [`UnsafeCell`] wrapper whose
//! `with` API lets loom track accesses to plain (non-atomic) header
//! fields (the same shape as tokio's `loom/std/unsafe_cell.rs`).

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use ::loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use ::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use ::loom::sync::{Mutex, MutexGuard};

/// `std::cell::UnsafeCell` with loom's closure-based access API.
///
/// Under loom, `::loom::cell::UnsafeCell` records every `with`/`with_mut` and
/// reports an access that is not ordered after the last write (a data race or
/// a missing happens-before edge). Outside loom this wrapper compiles to a
/// plain pointer access.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a shared pointer to the contents. (Only debug builds
    /// read the header's cell outside loom.)
    #[inline(always)]
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
}
