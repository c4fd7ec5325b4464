//! The `Waker` of a spawned task: a task pointer owning one reference.
//!
//! `clone` takes a reference, `drop` releases one, `wake` consumes one and
//! `wake_by_ref` takes one only when it queues the task (see `state.rs`).

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::{Header, harness};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: every RawWaker of this vtable is built from a NonNull<Header>.
    unsafe { NonNull::new_unchecked(data.cast_mut().cast()) }
}

/// # Safety
/// `data` is a live task whose reference the waker owns.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a reference, so the task is alive.
    unsafe { ptr(data).as_ref() }.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

/// # Safety
/// As for `clone`; consumes the waker's reference.
unsafe fn wake(data: *const ()) {
    // SAFETY: the waker owns a reference, handed to wake_by_val.
    unsafe { harness::wake_by_val(ptr(data)) }
}

/// # Safety
/// As for `clone`.
unsafe fn wake_by_ref(data: *const ()) {
    harness::wake_by_ref(ptr(data))
}

/// # Safety
/// As for `clone`; releases the waker's reference.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker owns a reference.
    unsafe { harness::drop_reference(ptr(data)) }
}

/// A waker that borrows the poller's reference instead of owning one: valid
/// while the poll runs, never dropped (clones take real references).
pub(crate) fn waker_ref(task: NonNull<Header>) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable's contract holds for `task` (a live task); the
    // ManuallyDrop keeps the borrowed reference from being released.
    ManuallyDrop::new(unsafe {
        Waker::from_raw(RawWaker::new(task.as_ptr().cast_const().cast(), &VTABLE))
    })
}

/// True when `w` is a spawned task's waker (its data is the task's header).
pub(crate) fn is_task_waker(w: &Waker) -> bool {
    std::ptr::eq(w.vtable(), &VTABLE)
}

/// The task waker whose data is `data`, owning the reference its data's
/// holder owned.
///
/// # Safety
/// `data` is the data of a task waker (see [`is_task_waker`]) whose
/// reference the caller hands over (or keeps, wrapping the result in
/// `ManuallyDrop`).
pub(crate) unsafe fn from_task_data(data: *const ()) -> Waker {
    // SAFETY: the vtable's contract holds for `data`, per the caller.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}
