//! Idle and searching accounting for Ms: who may look for work, who sleeps,
//! and who must be woken (Go's `nmspinning`/`pidle`, tokio's `Idle`).
//!
//! One atomic word counts the searching Ms (low 16 bits) and the unparked
//! Ms (high bits); a mutex-protected list holds the parked Ms' indices.
//! Invariants:
//! - `searching <= unparked <= procs`; a parked M is in `sleepers` exactly
//!   when it is not counted as unparked.
//! - At most half of the Ps search at once ([`Idle::transition_worker_to_searching`]).
//! - No lost wakeups: a submitter publishes work, then (SeqCst) loads the
//!   counts in [`Idle::notify_should_wakeup`]; a parking M (SeqCst) updates
//!   the counts, then, if it was the last searcher, re-checks every queue
//!   (`Shared::notify_if_work_pending`). One of the two sees the other: the
//!   #StoreLoad pattern of Go's `wakep`/`stopm` (proc.go, "Worker thread
//!   parking/unparking").
//! - A woken M starts as searching (the waker counts it), so the last
//!   searcher to find work wakes another one ("spinning M hand-off").

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::{Mutex, lock};

const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;
const SEARCH_MASK: usize = UNPARK_ONE - 1;

/// Searching/parked bookkeeping of one runtime's Ms.
pub struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    procs: usize,
}

impl Idle {
    /// All `procs` Ms start unparked and not searching.
    pub fn new(procs: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(procs << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(procs)),
            procs,
        }
    }

    fn searching(s: usize) -> usize {
        s & SEARCH_MASK
    }
    fn unparked(s: usize) -> usize {
        s >> UNPARK_SHIFT
    }

    /// Should a submitter wake an M? Only if none is searching (a searcher
    /// will find the work) and some M sleeps.
    pub fn notify_should_wakeup(&self) -> bool {
        // The load half of the #StoreLoad pair (see the module doc). An RMW,
        // not a load: the submitter's queue push is only a release store, and
        // a plain load could be satisfied before that store is visible (x86's
        // store buffer), missing a parking M that missed the push (tokio's
        // `fetch_add(0, SeqCst)`; the loom model fails with a load).
        let s = self.state.fetch_add(0, SeqCst);
        Self::searching(s) == 0 && Self::unparked(s) < self.procs
    }

    /// Picks a sleeping M to wake, counting it as unparked and searching.
    /// Returns its index, or `None` if waking is not needed after all.
    pub fn worker_to_notify(&self) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        // Re-check under the lock: another submitter may have woken one.
        if !self.notify_should_wakeup() {
            return None;
        }
        let w = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | 1, SeqCst);
        Some(w)
    }

    /// An M without local work wants to steal. False (do not search) when
    /// half of the Ps already search: Go's `2*nmspinning >= procs - npidle`
    /// rule, which bounds the CPU burnt by fruitless stealing.
    pub fn transition_worker_to_searching(&self) -> bool {
        let s = self.state.load(SeqCst);
        if 2 * Self::searching(s) >= self.procs {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searching M found work. True when it was the last searcher: the
    /// caller must then wake another M to keep looking.
    pub fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(Self::searching(prev) > 0);
        Self::searching(prev) == 1
    }

    /// M `index` goes to sleep. True when it was the last searcher (the
    /// caller must then re-check all queues before sleeping).
    pub fn transition_worker_to_parked(&self, index: usize, searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let dec = UNPARK_ONE + searching as usize;
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        searching && Self::searching(prev) == 1
    }

    /// M `index` woke without being picked by `worker_to_notify` (timer,
    /// stop-the-world): takes it off the sleeper list. False when it was
    /// picked after all (it is then already counted as searching).
    pub fn unpark_worker_by_id(&self, index: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        if let Some(pos) = sleepers.iter().position(|&w| w == index) {
            sleepers.swap_remove(pos);
            self.state.fetch_add(UNPARK_ONE, SeqCst);
            true
        } else {
            false
        }
    }

    /// Whether some M searches for work or sleeps (Go's `nmspinning +
    /// npidle > 0`): sysmon then leaves a P in a short blocking call alone
    /// when its queue is empty, as there is an M to take new work.
    pub fn any_idle(&self) -> bool {
        let s = self.state.load(SeqCst);
        Self::searching(s) > 0 || Self::unparked(s) < self.procs
    }

    /// Whether no M searches while some M sleeps: work in the injector
    /// then waits for a wake-up that should have happened (sysmon's
    /// lost-wake check).
    pub fn none_searching_some_asleep(&self) -> bool {
        let s = self.state.load(SeqCst);
        Self::searching(s) == 0 && Self::unparked(s) < self.procs
    }

    /// Whether every M of the runtime is parked (none searching or
    /// running): the deadlock detector's trigger (`deadlock.rs`). SeqCst:
    /// the load half of the pattern whose store half is each parking M's
    /// `transition_worker_to_parked`.
    pub fn all_parked(&self) -> bool {
        Self::unparked(self.state.load(SeqCst)) == 0
    }

    /// The M that parked last, if any sleeps (it stays on the list).
    pub fn last_sleeper(&self) -> Option<usize> {
        lock(&self.sleepers).last().copied()
    }

    /// Is M `index` on the sleeper list?
    pub fn is_parked(&self, index: usize) -> bool {
        lock(&self.sleepers).contains(&index)
    }
}
