//! P hand-off between Ms: spare Ms, Ms waiting for a P after a blocking
//! call, and starting an M for a P (Go's `handoffp`, `startm`, `mput`/`mget`).
//!
//! There can be more Ms than Ps: sysmon takes the P of an M stuck in
//! `block_in_place` and starts another M for it. Each M without a P parks
//! on its own [`MSlot`]; the P it is given arrives in the slot's `nextp`.
//! Lists (each under its own lock; none is touched on the scheduling fast
//! path):
//! - `waiters`: Ms back from a blocking call without their P, FIFO. While
//!   it is not empty the runtime's state word has the `WAITING` bit, which
//!   sends every M back to the top of its loop, where the first to see it
//!   hands its P over (`worker::give_p`); a parking M looks at the bit
//!   before it sleeps. The #StoreLoad pair: a waiter sets the bit, then
//!   reads the sleeper list (and wakes its last sleeper); a parking M joins
//!   the sleeper list, then reads the bit. The sleeper list's lock orders
//!   the two, so one of them sees the other.
//! - `spares`: Ms with no P and nothing to run, parked until sysmon hands
//!   them a retaken P. They live until shutdown (Go never frees an M
//!   either); their number is bounded by the most blocking calls that
//!   were ever in flight at once.
//! - `free`: Ps nobody holds: only when no M could be started for a
//!   retaken P (the OS refused a thread). The P's M-to-be takes it back
//!   when its call returns.
//!
//! A P always moves with [`MSlot::give`] (Release) and [`MSlot::take`]
//! (Acquire), or through the `free` list's lock, so its new holder sees all
//! its old holder wrote to its core.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::Shared;
use super::park::Parker;
use super::worker;
use crate::loom::lock_std;

const NO_P: usize = usize::MAX;

/// Where an M without a P sleeps, and how it is given one.
pub(crate) struct MSlot {
    parker: Parker,
    nextp: AtomicUsize,
}

impl MSlot {
    pub(crate) fn new() -> Arc<MSlot> {
        Arc::new(MSlot {
            parker: Parker::new(),
            nextp: AtomicUsize::new(NO_P),
        })
    }

    /// Gives P `p` to this M and wakes it; the caller held the P and must
    /// not touch it any more.
    pub(crate) fn give(&self, p: usize) {
        // Release: the P's core as the giver left it.
        let prev = self.nextp.swap(p, Ordering::Release);
        debug_assert_eq!(prev, NO_P, "an M was given two Ps");
        // A slot never sleeps in the netpoller.
        let _ = self.parker.unpark();
    }

    /// The P given to this M, if any.
    fn take(&self) -> Option<usize> {
        // Acquire: pairs with `give`.
        let p = self.nextp.swap(NO_P, Ordering::Acquire);
        (p != NO_P).then_some(p)
    }
}

/// The runtime's Ms without a P (see the module doc).
#[derive(Default)]
pub(crate) struct Handoff {
    waiters: Mutex<VecDeque<Arc<MSlot>>>,
    spares: Mutex<Vec<Arc<MSlot>>>,
    free: Mutex<Vec<usize>>,
    /// Ms started for retaken Ps (threads), and Ms that got a P back after
    /// waiting: counters for `Handle::sched_stats`.
    pub(crate) ms_started: AtomicU64,
    pub(crate) waits: AtomicU64,
}

impl Shared {
    /// An M back from a blocking call without its P waits for one (Go's
    /// `exitsyscall` slow path): its old P if free, any free P, else one
    /// handed over by another M. `None` at shutdown (it then finishes its
    /// poll without a P).
    pub(crate) fn acquire_p(&self, old: usize) -> Option<usize> {
        if let Some(p) = self.take_free(old) {
            return Some(p);
        }
        let slot = MSlot::new();
        self.add_waiter(&slot);
        self.handoff.waits.fetch_add(1, Ordering::Relaxed);
        loop {
            if let Some(p) = slot.take() {
                return Some(p);
            }
            if self.is_shutdown() {
                self.remove_waiter(&slot);
                return slot.take();
            }
            slot.parker.park(None);
        }
    }

    fn take_free(&self, prefer: usize) -> Option<usize> {
        let mut free = lock_std(&self.handoff.free);
        let i = free
            .iter()
            .position(|&p| p == prefer)
            .or_else(|| (!free.is_empty()).then_some(0))?;
        Some(free.swap_remove(i))
    }

    fn add_waiter(&self, slot: &Arc<MSlot>) {
        {
            let mut w = lock_std(&self.handoff.waiters);
            w.push_back(Arc::clone(slot));
            if w.len() == 1 {
                self.set_waiting(true);
            }
        }
        // Wake a sleeping M to hand its P over (the #StoreLoad pair of the
        // module doc). With none asleep, a busy M sees the bit at its next
        // task.
        if let Some(i) = self.idle.last_sleeper() {
            self.unpark_m(i);
        }
    }

    fn remove_waiter(&self, slot: &Arc<MSlot>) {
        let mut w = lock_std(&self.handoff.waiters);
        w.retain(|s| !Arc::ptr_eq(s, slot));
        if w.is_empty() {
            self.set_waiting(false);
        }
    }

    /// The longest-waiting M without a P, if any.
    pub(crate) fn pop_waiter(&self) -> Option<Arc<MSlot>> {
        let mut w = lock_std(&self.handoff.waiters);
        let slot = w.pop_front()?;
        if w.is_empty() {
            self.set_waiting(false);
        }
        Some(slot)
    }

    /// Gives P `p`, which the caller holds, to an M: a waiting one first,
    /// then a spare, else a new thread (Go's `handoffp` + `startm`). If no
    /// thread can be started the P goes on the free list.
    pub(crate) fn hand_p(self: &Arc<Self>, p: usize) {
        if let Some(w) = self.pop_waiter() {
            w.give(p);
            return;
        }
        if let Some(s) = lock_std(&self.handoff.spares).pop() {
            s.give(p);
            return;
        }
        let sh = Arc::clone(self);
        let name = format!("{}-{}", self.thread_name, self.handoff_thread_index());
        match std::thread::Builder::new()
            .name(name)
            .spawn(move || worker::run(sh, p))
        {
            Ok(t) => {
                self.handoff.ms_started.fetch_add(1, Ordering::Relaxed);
                self.add_replacement(t);
            }
            Err(_) => lock_std(&self.handoff.free).push(p),
        }
    }

    fn handoff_thread_index(&self) -> u64 {
        self.procs.len() as u64 + self.handoff.ms_started.load(Ordering::Relaxed)
    }

    /// A spare M (it gave its P away) waits to be handed one. `None` at
    /// shutdown.
    pub(crate) fn spare_wait(&self, slot: &Arc<MSlot>) -> Option<usize> {
        lock_std(&self.handoff.spares).push(Arc::clone(slot));
        loop {
            if let Some(p) = slot.take() {
                return Some(p);
            }
            if self.is_shutdown() {
                lock_std(&self.handoff.spares).retain(|s| !Arc::ptr_eq(s, slot));
                return slot.take();
            }
            slot.parker.park(None);
        }
    }

    /// Unparks every M without a P (shutdown).
    pub(crate) fn unpark_unheld(&self) {
        for s in lock_std(&self.handoff.waiters).iter() {
            let _ = s.parker.unpark();
        }
        for s in lock_std(&self.handoff.spares).iter() {
            let _ = s.parker.unpark();
        }
    }
}
