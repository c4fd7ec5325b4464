//! The intrusive FIFO of blocked operations shared by every primitive in
//! `sync`: channel senders and receivers, Mutex/RwLock/Semaphore acquirers,
//! Notify, WaitGroup, Barrier and CancellationToken waiters (Go's `sudog`
//! queues: `hchan.recvq`/`sendq`, `semaRoot`).
//!
//! A [`Waiter`] is a node embedded in the (pinned) future that waits; the
//! [`WaitList`] threads nodes together through raw links. No allocation per
//! wait. Every list lives inside the state of one primitive, behind that
//! primitive's lock.
//!
//! # Fields of a waiter and who may access them
//!
//! - `state` (atomic): [`IDLE`] while the node is in no list, [`QUEUED`]
//!   while it is in one, [`DONE`] once the other side took it off and
//!   finished the operation for it. Only the lock holder moves it to and from
//!   `QUEUED`; the completer stores `DONE` with Release *after* its last
//!   access to the node, and the owner reads it with Acquire, so an owner
//!   that sees `DONE` may read `payload` without the lock (the fast path of
//!   a woken receiver).
//! - `prev`/`next`, `waker`: only with the list's lock held, while `QUEUED`.
//! - `payload`: with the lock while `QUEUED`; by the owning future alone
//!   while `IDLE` or `DONE`.
//!
//! # Rules for the owner
//!
//! 1. A node is pushed only while `IDLE` and pinned, and must not be moved
//!    or freed while `QUEUED`: the owning future's `Drop` takes the lock and
//!    removes it ([`WaitList::remove`]) if it is still queued.
//! 2. After [`WaitList::complete`] the completer wakes the returned waker
//!    *after* releasing the lock (a waker may re-enter the primitive).

use std::cell::Cell;
use std::marker::PhantomPinned;
use std::ptr::NonNull;
use std::task::Waker;

use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicU8, Ordering};
use crate::panics::Site;

/// Not in any list; the owner has the node to itself.
pub(crate) const IDLE: u8 = 0;
/// In a list; guarded by the list's lock.
pub(crate) const QUEUED: u8 = 1;
/// Taken off and finished by the other side; the owner has it again.
pub(crate) const DONE: u8 = 2;

/// One blocked operation, embedded in its future. `P` is what the
/// operation carries (a value to send, the slot for a received value,
/// permits still needed...).
pub(crate) struct Waiter<P> {
    state: AtomicU8,
    prev: Cell<Option<NonNull<Waiter<P>>>>,
    next: Cell<Option<NonNull<Waiter<P>>>>,
    waker: UnsafeCell<Option<Waker>>,
    payload: UnsafeCell<P>,
    _pin: PhantomPinned,
}

// SAFETY: the cells are only touched under the list's lock or by the owner
// per the access rules above; the payload and waker move between threads,
// so `P: Send` is required.
unsafe impl<P: Send> Send for Waiter<P> {}
// SAFETY: as above: shared access goes through the lock or the DONE
// Release/Acquire hand-off.
unsafe impl<P: Send> Sync for Waiter<P> {}

impl<P> Waiter<P> {
    /// A fresh, idle node.
    pub(crate) fn new(payload: P) -> Waiter<P> {
        Waiter {
            state: AtomicU8::new(IDLE),
            prev: Cell::new(None),
            next: Cell::new(None),
            waker: UnsafeCell::new(None),
            payload: UnsafeCell::new(payload),
            _pin: PhantomPinned,
        }
    }

    /// The node's state. Acquire pairs with the completer's Release store
    /// of [`DONE`], making the payload it wrote visible.
    #[inline]
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Marks a `DONE` node idle again (the owner is about to reuse it).
    pub(crate) fn reset(&self) {
        debug_assert_ne!(self.state(), QUEUED, "reset of a queued waiter");
        self.state.store(IDLE, Ordering::Relaxed);
    }

    /// Runs `f` on the payload.
    ///
    /// # Safety
    /// The caller holds the lock of the list the node is queued in, or owns
    /// the node (it is `IDLE` or `DONE` and the caller is its future).
    #[inline]
    pub(crate) unsafe fn with_payload<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        // SAFETY: exclusive access per the caller's contract.
        self.payload.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Replaces the stored waker unless it already wakes the same task.
    ///
    /// # Safety
    /// The node is queued and the caller holds the list's lock.
    pub(crate) unsafe fn set_waker(&self, waker: &Waker) {
        self.waker.with_mut(|w| {
            // SAFETY: guarded by the lock (caller's contract).
            let w = unsafe { &mut *w };
            if !w.as_ref().is_some_and(|old| old.will_wake(waker)) {
                *w = Some(waker.clone());
            }
        });
    }
}

/// An intrusive FIFO of [`Waiter`]s. Lives behind its primitive's lock;
/// `&mut WaitList` is the proof that the lock is held.
pub(crate) struct WaitList<P> {
    head: Option<NonNull<Waiter<P>>>,
    tail: Option<NonNull<Waiter<P>>>,
    len: usize,
}

// SAFETY: the list only holds pointers to nodes whose payloads are `Send`,
// and is only used under its primitive's lock.
unsafe impl<P: Send> Send for WaitList<P> {}

impl<P> Default for WaitList<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> WaitList<P> {
    /// An empty list.
    pub(crate) const fn new() -> WaitList<P> {
        WaitList {
            head: None,
            tail: None,
            len: 0,
        }
    }

    /// True when no node is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The oldest node.
    #[inline]
    pub(crate) fn front(&self) -> Option<NonNull<Waiter<P>>> {
        self.head
    }

    /// The node queued after `w`.
    ///
    /// # Safety
    /// `w` is queued in this list.
    pub(crate) unsafe fn next_of(&self, w: NonNull<Waiter<P>>) -> Option<NonNull<Waiter<P>>> {
        // SAFETY: queued nodes are alive (owner rule 1); links are ours under the lock.
        unsafe { w.as_ref() }.next.get()
    }

    /// Queues `w` at the back with `waker`.
    ///
    /// # Safety
    /// `w` is pinned, `IDLE`, and stays alive until it is removed or
    /// completed (owner rule 1).
    pub(crate) unsafe fn push_back(&mut self, w: NonNull<Waiter<P>>, waker: &Waker) {
        // SAFETY: alive per the contract; links are ours under the lock.
        let node = unsafe { w.as_ref() };
        debug_assert_eq!(node.state(), IDLE, "push of a waiter that is not idle");
        // SAFETY: the node is idle, so we own its waker slot.
        node.waker
            .with_mut(|slot| unsafe { *slot = Some(waker.clone()) });
        node.prev.set(self.tail);
        node.next.set(None);
        match self.tail {
            // SAFETY: the tail is queued, so alive.
            Some(t) => unsafe { t.as_ref() }.next.set(Some(w)),
            None => self.head = Some(w),
        }
        self.tail = Some(w);
        self.len += 1;
        // Relaxed: the owner only reads QUEUED to decide to take the lock.
        node.state.store(QUEUED, Ordering::Relaxed);
    }

    fn unlink(&mut self, node: &Waiter<P>) {
        let (prev, next) = (node.prev.take(), node.next.take());
        match prev {
            // SAFETY: neighbours of a queued node are queued, so alive.
            Some(p) => unsafe { p.as_ref() }.next.set(next),
            None => self.head = next,
        }
        match next {
            // SAFETY: as above.
            Some(n) => unsafe { n.as_ref() }.prev.set(prev),
            None => self.tail = prev,
        }
        self.len -= 1;
    }

    /// Takes `w` out of the list if it is queued; true if it was. The owner
    /// calls this when its future is dropped or it completed on its own.
    ///
    /// # Safety
    /// `w` is alive and, if queued, queued in this list.
    pub(crate) unsafe fn remove(&mut self, w: NonNull<Waiter<P>>) -> bool {
        // SAFETY: alive per the contract.
        let node = unsafe { w.as_ref() };
        if node.state.load(Ordering::Relaxed) != QUEUED {
            return false;
        }
        self.unlink(node);
        // SAFETY: queued and we hold the lock: the waker slot is ours.
        node.waker.with_mut(|slot| drop(unsafe { (*slot).take() }));
        node.state.store(IDLE, Ordering::Relaxed);
        true
    }

    /// Takes `w` out, lets `f` finish the operation on its payload, and
    /// marks it [`DONE`]. Returns the waker to call once the lock is released.
    ///
    /// # Safety
    /// `w` is queued in this list.
    pub(crate) unsafe fn complete<R>(
        &mut self,
        w: NonNull<Waiter<P>>,
        f: impl FnOnce(&mut P) -> R,
    ) -> (R, Option<Waker>) {
        // SAFETY: queued nodes are alive.
        let node = unsafe { w.as_ref() };
        debug_assert_eq!(node.state.load(Ordering::Relaxed), QUEUED);
        self.unlink(node);
        // SAFETY: queued and locked: payload and waker are ours.
        let r = node.payload.with_mut(|p| f(unsafe { &mut *p }));
        // SAFETY: as above.
        let waker = node.waker.with_mut(|slot| unsafe { (*slot).take() });
        // Release: pairs with the owner's Acquire in `Waiter::state`; after
        // this store the node may be freed, so nothing touches it below.
        node.state.store(DONE, Ordering::Release);
        (r, waker)
    }
}

impl<P> Drop for WaitList<P> {
    fn drop(&mut self) {
        // A primitive is only dropped once nothing borrows it, and every
        // waiting future borrows it: the list is empty by then.
        debug_assert!(self.is_empty(), "wait list dropped with queued waiters");
    }
}

/// Wakes `w`, a waiter's waker (after the caller released its lock).
///
/// The waker belongs to the waiting future, not to the caller, so this is
/// a panic boundary (`panics.rs`): on a runtime thread a panic is caught
/// and reported by that runtime's `Panics`; elsewhere it is caught and
/// reported once on stderr. Either way the caller (a send, an unlock, a
/// close waking a whole batch) goes on.
#[inline]
pub(crate) fn wake(w: Waker) {
    let shared = crate::context::current_shared();
    if shared.is_null() {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.wake())) {
            foreign_thread_panic(p);
        }
    } else {
        // SAFETY: non-null: this thread serves that runtime, which its
        // worker loop or `block_on` keeps alive (`context.rs` invariants).
        let shared = unsafe { &*shared };
        shared.panics.guard(Site::SyncWake, || w.wake());
    }
}

#[cold]
#[inline(never)]
fn foreign_thread_panic(payload: Box<dyn std::any::Any + Send>) {
    use std::sync::atomic::AtomicBool;
    static REPORTED: AtomicBool = AtomicBool::new(false);
    // Relaxed: "report once" is decided by the swap alone.
    if !REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "spool: a waker panicked ({}) while a thread outside any runtime woke a task blocked on \
             a spool::sync primitive; spool caught the panic and went on (reported once)",
            crate::panics::message(payload.as_ref())
        );
    }
    crate::panics::drop_payload(payload);
}

/// Wakes each waker (after the caller released its lock), each through [`wake`].
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        wake(w);
    }
}
