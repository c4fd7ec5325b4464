//! The global table of live runtimes, so a task can find its runtime without
//! storing a pointer in every task header.
//!
//! Invariants: slot `i` holds the `Arc<Shared>` data pointer of the runtime
//! whose `index` is `i` from just after it is built until its `Shared` is
//! dropped; every task of that runtime holds one strong count on the `Arc`,
//! so a task can always resolve its runtime index. A slot holding
//! [`RESERVED`] is being set up. The slots are the loom shim's atomics: the
//! table is a `static` normally and, under `cfg(loom)`, a two-slot
//! `loom::lazy_static` (fresh in every explored execution), so the model
//! of [`reserve`] and [`clear`] runs this code.
//!
//! Beside it, [`LIVE`] holds a `Weak` of every published runtime, for the
//! rare walks over all runtimes that must not race with one being freed
//! ([`trace_switched`]); a slot's raw pointer cannot be used for that.

use std::ptr;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::Shared;
use crate::loom::atomic::{AtomicPtr, Ordering};
#[cfg(not(loom))]
use crate::task::MAX_RUNTIMES;

#[cfg(not(loom))]
static TABLE: [AtomicPtr<Shared>; MAX_RUNTIMES] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_RUNTIMES];

/// Slots in the loom model's table: two, so three builders contend.
#[cfg(loom)]
pub const LOOM_SLOTS: usize = 2;

#[cfg(loom)]
::loom::lazy_static! {
    static ref TABLE: [AtomicPtr<Shared>; LOOM_SLOTS] =
        std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut()));
}

/// Marks a slot taken by a runtime under construction.
const RESERVED: *mut Shared = ptr::dangling_mut();

/// Takes a free slot; `None` when `MAX_RUNTIMES` runtimes are alive.
/// AcqRel on success: acquires the [`clear`] of a previous owner (whose
/// `Shared` is gone before its slot reads as free).
pub fn reserve() -> Option<usize> {
    TABLE.iter().position(|slot| {
        slot.compare_exchange(
            ptr::null_mut(),
            RESERVED,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    })
}

/// Every published runtime, dropped ones pruned on the next publish.
static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Publishes the runtime in its reserved slot.
pub(crate) fn publish(index: usize, shared: &Arc<Shared>) {
    {
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(shared));
    }
    // Release: pairs with the Acquire in `get`, so a reader sees a fully
    // built Shared.
    TABLE[index].store(Arc::as_ptr(shared).cast_mut(), Ordering::Release);
}

/// Tracing was switched on or off: tells every live runtime's Ms to
/// re-read the tracing flag before their next task
/// ([`Shared::trace_switched`]). Called after the switch.
pub(crate) fn trace_switched() {
    let live: Vec<Arc<Shared>> = LIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    // Outside the lock: dropping the last `Arc` of a runtime runs its
    // `Shared::drop` here.
    for shared in live {
        shared.trace_switched();
    }
}

/// Frees the slot (from `Shared::drop`, or when building failed).
pub fn clear(index: usize) {
    TABLE[index].store(ptr::null_mut(), Ordering::Release);
}

/// The runtime in slot `index`.
///
/// # Safety
/// The caller holds something that keeps that runtime alive (a task of it)
/// for the returned lifetime.
pub(crate) unsafe fn get<'a>(index: usize) -> &'a Shared {
    let p = TABLE[index].load(Ordering::Acquire);
    debug_assert!(
        !p.is_null() && p != RESERVED,
        "runtime slot {index} is empty"
    );
    // SAFETY: the caller keeps the runtime alive; the slot holds its pointer.
    unsafe { &*p }
}

/// Takes the strong count on the runtime that a new task holds for its
/// whole life (given back by [`drop_task_ref`] when the task is freed).
pub(crate) fn task_ref(shared: &Arc<Shared>) {
    std::mem::forget(Arc::clone(shared));
}

/// Gives back the strong count a freed task held on the runtime in `index`.
///
/// # Safety
/// The caller gives up a count taken by [`task_ref`] on that runtime.
pub(crate) unsafe fn drop_task_ref(index: usize) {
    let p = TABLE[index].load(Ordering::Acquire);
    // SAFETY: the count we release keeps the Arc (and the slot) alive until here.
    unsafe { Arc::decrement_strong_count(p.cast_const()) };
}
