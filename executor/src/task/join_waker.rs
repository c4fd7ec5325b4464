//! The header's slot for the waker of the task awaiting a `JoinHandle`,
//! in one word instead of a `Waker`'s two.
//!
//! A joiner that is itself a spool task (the common case: a task awaiting
//! the tasks it spawned) has a waker of spool's own vtable, whose data is
//! its header pointer: the slot stores that pointer alone, and the `Waker`
//! is rebuilt from it with the vtable when needed. Any other waker (a
//! `block_on` thread, `Runtime::run`'s caller, another executor, a
//! combinator's wrapper) is boxed and the slot stores the box's address
//! with its low bit set. Header pointers and boxes are at least 8-aligned,
//! so the low bit tells them apart; 0 is "no waker".
//!
//! Either way the slot owns what a cloned `Waker` owns (a task reference,
//! or the boxed waker). The slot has no destructor (a task's header has
//! none, so freeing a task is only `free`): task deallocation
//! (`harness::dealloc`) empties it first. Who may touch the slot when is the JOIN_WAKER
//! protocol of `state.rs` (see `task/mod.rs`); every method here is
//! `unsafe` with that as its contract.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::task::Waker;

use super::waker;

/// Tag of a boxed waker's address.
const BOXED: usize = 1;

/// A `JoinHandle`'s registered waker (see the module doc): null, a task
/// waker's data, or a boxed waker's address with [`BOXED`] set.
pub(crate) struct JoinWaker(UnsafeCell<*mut ()>);

impl JoinWaker {
    /// An empty slot.
    pub(crate) const fn new() -> JoinWaker {
        JoinWaker(UnsafeCell::new(std::ptr::null_mut()))
    }

    /// True when the slot holds a waker.
    ///
    /// # Safety
    /// The caller may read the slot.
    #[inline]
    pub(crate) unsafe fn is_set(&self) -> bool {
        // SAFETY: the caller may read the slot.
        unsafe { !(*self.0.get()).is_null() }
    }

    /// Stores a clone of `w`, dropping the waker stored before, if any.
    ///
    /// # Safety
    /// The caller owns the slot (JOIN_WAKER clear, held by the `JoinHandle`).
    pub(crate) unsafe fn set(&self, w: &Waker) {
        let word = if waker::is_task_waker(w) {
            // The clone's reference is kept by the slot.
            let w = ManuallyDrop::new(w.clone());
            let word = w.data().cast_mut();
            debug_assert_eq!(word.addr() & BOXED, 0);
            word
        } else {
            Box::into_raw(Box::new(w.clone()))
                .cast::<()>()
                .map_addr(|a| a | BOXED)
        };
        // SAFETY: the caller owns the slot.
        unsafe { self.clear() };
        // SAFETY: as above.
        unsafe { *self.0.get() = word };
    }

    /// Calls `f` with the stored waker, if there is one.
    ///
    /// # Safety
    /// The caller may read the slot (it owns it, or JOIN_WAKER is set).
    pub(crate) unsafe fn with<R>(&self, f: impl FnOnce(&Waker) -> R) -> Option<R> {
        // SAFETY: the caller may read the slot.
        let word = unsafe { *self.0.get() };
        if word.is_null() {
            None
        } else if word.addr() & BOXED != 0 {
            let boxed = word.map_addr(|a| a & !BOXED).cast::<Waker>();
            // SAFETY: a tagged word is the address of a box we own.
            Some(f(unsafe { &*boxed }))
        } else {
            // SAFETY: an untagged word is the data of a task waker whose
            // reference the slot owns; ManuallyDrop keeps it the slot's.
            let w = ManuallyDrop::new(unsafe { waker::from_task_data(word) });
            Some(f(&w))
        }
    }

    /// Moves the stored waker out, leaving the slot empty.
    ///
    /// # Safety
    /// The caller owns the slot.
    pub(crate) unsafe fn take(&self) -> Option<Waker> {
        // SAFETY: the caller owns the slot.
        let word = std::mem::replace(unsafe { &mut *self.0.get() }, std::ptr::null_mut());
        if word.is_null() {
            None
        } else if word.addr() & BOXED != 0 {
            let boxed = word.map_addr(|a| a & !BOXED).cast::<Waker>();
            // SAFETY: a tagged word is a box we own; ownership moves out.
            Some(*unsafe { Box::from_raw(boxed) })
        } else {
            // SAFETY: the slot's task reference becomes the returned waker's.
            Some(unsafe { waker::from_task_data(word) })
        }
    }

    /// Drops the stored waker, if any.
    ///
    /// # Safety
    /// The caller owns the slot.
    pub(crate) unsafe fn clear(&self) {
        // SAFETY: the caller owns the slot.
        drop(unsafe { self.take() });
    }
}
