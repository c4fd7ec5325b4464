//! The task state machine: one atomic word holding the task's flags and its reference count.
//!
//! Every transition of a task goes through a named method here that returns a
//! `#[must_use]` enum saying what the caller must do next (submit the task to
//! a run queue, deallocate it, cancel it, ...). The rest of the crate never
//! touches the bits directly.
//!
//! # Layout
//!
//! ```text
//!  63                 11 10    6 5          4             3         2        1        0
//! +---------------------+--------+-----------+-------------+---------+--------+--------+
//! | reference count     | WAIT   | JOIN_WAKER| JOIN_INTEREST| CANCELLED| COMPLETE| NOTIFIED| RUNNING|
//! +---------------------+--------+-----------+-------------+---------+--------+--------+
//! ```
//!
//! `WAIT` (5 bits) is what the task's last `Pending` poll waited on, for the
//! deadlock detector (`sched/deadlock.rs`): 0 for "not recorded" or a
//! future spool does not know, else a `BlockReason` plus one. Only the
//! poller writes it, in the CAS that releases `RUNNING`
//! ([`State::transition_to_idle_waiting`]), and only on a runtime built with
//! `Builder::detect_deadlock(true)`; elsewhere it stays 0 and costs nothing.
//! Every other transition leaves it as it is; a reader must ignore it
//! unless the task is idle and not `NOTIFIED` (then it is the wait in
//! progress).
//!
//! # Invariants
//!
//! - `RUNNING` is the lock on the task's stage (future/output): only the thread
//!   that set it may touch the stage until it clears it or sets `COMPLETE`.
//! - `RUNNING` and `COMPLETE` are never both set.
//! - While `NOTIFIED` is set and the task is idle (neither running nor
//!   complete), exactly one `Notified` reference to the task exists (in a run
//!   queue, or about to be pushed to one). A wake of a running task only sets
//!   `NOTIFIED`; the poller creates the `Notified` when the poll returns.
//! - `COMPLETE` is set once and never cleared; the future has been dropped.
//! - `JOIN_WAKER` follows tokio's protocol: while it is clear, the
//!   `JoinHandle` owns the join-waker slot; while it is set, the completing
//!   thread may read it. Only the `JoinHandle` sets or clears it, and never
//!   after `COMPLETE`.
//! - Orderings: every read-modify-write is `AcqRel` (so a transition
//!   publishes what the caller wrote to the stage and sees what the previous
//!   holder wrote) unless the comment on it says otherwise; loads are `Acquire`.

use crate::loom::atomic::{AtomicUsize, Ordering};

bitflags::bitflags! {
    /// The flag bits of a task's state word (the low bits; the reference
    /// count sits above them).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Flags: usize {
        /// The task is being polled (or cancelled) by the thread that set it.
        /// Never together with `COMPLETE`.
        const RUNNING = 1 << 0;
        /// The task must be (re)polled: a `Notified` reference exists, or the
        /// task was woken while running and will be re-queued after the poll.
        const NOTIFIED = 1 << 1;
        /// The future is gone (finished, panicked or cancelled). Never cleared.
        const COMPLETE = 1 << 2;
        /// Someone asked to cancel the task (abort or shutdown).
        const CANCELLED = 1 << 3;
        /// A `JoinHandle` still exists and wants the output.
        const JOIN_INTEREST = 1 << 4;
        /// The join-waker slot holds a waker the completing thread must wake.
        const JOIN_WAKER = 1 << 5;
    }
}

/// Number of low bits used by [`Flags`]: the `WAIT` field starts here.
const WAIT_SHIFT: usize = 6;
/// Width of the `WAIT` field: 31 codes, enough for every `BlockReason` (a
/// compile-time check in `sched/deadlock.rs`).
pub(crate) const WAIT_BITS: usize = 5;
const WAIT_MASK: usize = ((1 << WAIT_BITS) - 1) << WAIT_SHIFT;
/// The reference count starts above `WAIT`.
const REF_SHIFT: usize = WAIT_SHIFT + WAIT_BITS;
/// One reference in the state word.
const REF_ONE: usize = 1 << REF_SHIFT;

/// Why a task starts with three references: one for the live-task registry
/// (dropped when the task completes or is drained at shutdown), one for the
/// `Notified` pushed to a run queue by `spawn`, one for the `JoinHandle`.
const INITIAL: usize = (3 * REF_ONE) | Flags::NOTIFIED.bits() | Flags::JOIN_INTEREST.bits();

/// A task's state word: flags plus reference count.
pub struct State {
    val: AtomicUsize,
}

/// A copy of the state word at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Snapshot(usize);

/// What the caller of [`State::transition_to_running`] must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum TransitionToRunning {
    /// The caller holds `RUNNING`: poll the future.
    Success,
    /// The caller holds `RUNNING` but the task was cancelled: drop the future.
    Cancelled,
    /// The task was already running or complete; the `Notified`'s reference
    /// was dropped and nothing else is to be done.
    Failed,
    /// Like `Failed`, and that was the last reference: deallocate.
    Dealloc,
}

/// What the caller of [`State::transition_to_idle`] must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum TransitionToIdle {
    /// The task waits for a wake; the poller's reference was dropped.
    Ok,
    /// The task was woken during the poll: the poller's reference becomes a
    /// new `Notified`, which the caller must queue.
    OkNotified,
    /// The task waits, but no one can wake it any more: deallocate.
    OkDealloc,
    /// The task was cancelled during the poll; the caller still holds
    /// `RUNNING` and must drop the future.
    Cancelled,
}

/// What the caller of a wake transition must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum TransitionToNotified {
    /// Nothing: the task is running, complete or already queued.
    DoNothing,
    /// The caller now owns a `Notified` reference and must queue it.
    Submit,
    /// The waker's reference was the last one: deallocate.
    Dealloc,
}

impl Snapshot {
    fn flags(self) -> Flags {
        Flags::from_bits_truncate(self.0)
    }
    /// The reference count.
    pub fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    /// RUNNING is set.
    pub fn is_running(self) -> bool {
        self.flags().contains(Flags::RUNNING)
    }
    /// NOTIFIED is set.
    pub fn is_notified(self) -> bool {
        self.flags().contains(Flags::NOTIFIED)
    }
    /// COMPLETE is set.
    pub fn is_complete(self) -> bool {
        self.flags().contains(Flags::COMPLETE)
    }
    /// CANCELLED is set.
    pub fn is_cancelled(self) -> bool {
        self.flags().contains(Flags::CANCELLED)
    }
    /// JOIN_INTEREST is set.
    pub fn is_join_interested(self) -> bool {
        self.flags().contains(Flags::JOIN_INTEREST)
    }
    /// JOIN_WAKER is set.
    pub fn is_join_waker_set(self) -> bool {
        self.flags().contains(Flags::JOIN_WAKER)
    }
    /// The `WAIT` code (see the module doc): meaningful only while the
    /// task is idle and not notified.
    pub fn wait_code(self) -> usize {
        (self.0 & WAIT_MASK) >> WAIT_SHIFT
    }
    /// Neither running nor complete.
    pub fn is_idle(self) -> bool {
        !self.flags().intersects(Flags::RUNNING | Flags::COMPLETE)
    }
    fn set(&mut self, f: Flags) {
        self.0 |= f.bits();
    }
    fn unset(&mut self, f: Flags) {
        self.0 &= !f.bits();
    }
    fn ref_inc(&mut self) {
        assert!(
            self.0 <= isize::MAX as usize,
            "spool: task reference count overflow"
        );
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        debug_assert!(
            self.ref_count() > 0,
            "spool: task reference count underflow"
        );
        self.0 -= REF_ONE;
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("flags", &self.flags())
            .field("wait", &self.wait_code())
            .field("refs", &self.ref_count())
            .finish()
    }
}

impl State {
    /// The state of a freshly spawned task (see [`INITIAL`]).
    pub fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    /// Reads the state word.
    pub fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Ordering::Acquire))
    }

    /// The one CAS loop every transition goes through: `f` returns the
    /// action and, if the state must change, the new value.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (action, next) = f(curr);
            let Some(next) = next else { return action };
            match self.val.compare_exchange_weak(
                curr.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return action,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// Like `fetch_update_action` for transitions that either apply or fail.
    fn fetch_update(
        &self,
        mut f: impl FnMut(Snapshot) -> Option<Snapshot>,
    ) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|curr| match f(curr) {
            Some(next) => (Ok(next), Some(next)),
            None => (Err(curr), None),
        })
    }

    /// A worker popped the task's `Notified` and wants to poll it. The
    /// `Notified`'s reference becomes the poller's reference.
    pub fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|mut s| {
            debug_assert!(
                s.is_notified(),
                "transition_to_running without NOTIFIED: {s:?}"
            );
            if !s.is_idle() {
                // Running elsewhere or complete (cancelled at shutdown): this
                // stale `Notified` just drops its reference.
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (action, Some(s));
            }
            s.set(Flags::RUNNING);
            s.unset(Flags::NOTIFIED);
            let action = if s.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(s))
        })
    }

    /// The poll returned `Pending`: release `RUNNING`.
    pub fn transition_to_idle(&self) -> TransitionToIdle {
        self.idle::<false>(0)
    }

    /// [`transition_to_idle`](Self::transition_to_idle) that also records
    /// in `WAIT` what the poll waits on (`wait`: a code below
    /// `1 << WAIT_BITS`), in the same CAS: the deadlock detector's only
    /// cost per poll.
    pub fn transition_to_idle_waiting(&self, wait: usize) -> TransitionToIdle {
        debug_assert!(wait < 1 << WAIT_BITS, "wait code {wait}");
        self.idle::<true>(wait)
    }

    #[inline(always)]
    fn idle<const WAIT: bool>(&self, wait: usize) -> TransitionToIdle {
        self.fetch_update_action(|mut s| {
            debug_assert!(
                s.is_running(),
                "transition_to_idle while not running: {s:?}"
            );
            if s.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            s.unset(Flags::RUNNING);
            if WAIT {
                s.0 = (s.0 & !WAIT_MASK) | (wait << WAIT_SHIFT);
            }
            if s.is_notified() {
                // Our reference becomes the new `Notified`'s.
                return (TransitionToIdle::OkNotified, Some(s));
            }
            s.ref_dec();
            let action = if s.ref_count() == 0 {
                TransitionToIdle::OkDealloc
            } else {
                TransitionToIdle::Ok
            };
            (action, Some(s))
        })
    }

    /// The future finished (or was dropped): clear `RUNNING`, set `COMPLETE`.
    /// Returns the state just before, which tells the caller whether a
    /// `JoinHandle` is interested and whether a join waker is set.
    pub fn transition_to_complete(&self) -> Snapshot {
        const DELTA: usize = Flags::RUNNING.bits() | Flags::COMPLETE.bits();
        // AcqRel: releases the output write to the JoinHandle's Acquire load.
        let prev = Snapshot(self.val.fetch_xor(DELTA, Ordering::AcqRel));
        debug_assert!(
            prev.is_running() && !prev.is_complete(),
            "complete from {prev:?}"
        );
        prev
    }

    /// Drops `count` references after completion; true when that was the last.
    pub fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(count * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= count, "terminal {count} from {prev:?}");
        prev.ref_count() == count
    }

    /// A `wake` (by value: the waker's reference is consumed).
    pub fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_running() {
                // The poller re-queues it; the poller's own reference keeps
                // the count above zero.
                s.set(Flags::NOTIFIED);
                s.ref_dec();
                debug_assert!(s.ref_count() > 0);
                (TransitionToNotified::DoNothing, Some(s))
            } else if s.is_complete() || s.is_notified() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToNotified::Dealloc
                } else {
                    TransitionToNotified::DoNothing
                };
                (action, Some(s))
            } else {
                // The waker's reference becomes the `Notified`'s.
                s.set(Flags::NOTIFIED);
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// A `wake_by_ref`: never consumes a reference; takes one when it submits.
    pub fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_complete() || s.is_notified() {
                (TransitionToNotified::DoNothing, None)
            } else if s.is_running() {
                s.set(Flags::NOTIFIED);
                (TransitionToNotified::DoNothing, Some(s))
            } else {
                s.set(Flags::NOTIFIED);
                s.ref_inc();
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// `JoinHandle::abort`: mark cancelled and make sure a worker will see it
    /// (so the task's destruction happens on a worker, where the tracer can
    /// record it).
    pub fn transition_to_notified_and_cancel(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_cancelled() || s.is_complete() {
                (TransitionToNotified::DoNothing, None)
            } else if s.is_running() {
                // The poller sees CANCELLED in `transition_to_idle`.
                s.set(Flags::NOTIFIED | Flags::CANCELLED);
                (TransitionToNotified::DoNothing, Some(s))
            } else if s.is_notified() {
                // The queued `Notified` sees CANCELLED in `transition_to_running`.
                s.set(Flags::CANCELLED);
                (TransitionToNotified::DoNothing, Some(s))
            } else {
                s.set(Flags::NOTIFIED | Flags::CANCELLED);
                s.ref_inc();
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// Runtime shutdown: mark cancelled, and take `RUNNING` if the task is
    /// idle. True when the caller now holds `RUNNING` and must drop the future.
    pub fn transition_to_shutdown(&self) -> bool {
        let mut took = false;
        let _ = self.fetch_update(|mut s| {
            took = s.is_idle();
            if took {
                s.set(Flags::RUNNING);
            }
            s.set(Flags::CANCELLED);
            Some(s)
        });
        took
    }

    /// Fast path of dropping a `JoinHandle` of a task that never ran: one CAS
    /// from the initial state.
    pub fn drop_join_handle_fast(&self) -> Result<(), ()> {
        self.val
            .compare_exchange(
                INITIAL,
                (INITIAL - REF_ONE) & !Flags::JOIN_INTEREST.bits(),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .map(|_| ())
            .map_err(|_| ())
    }

    /// The `JoinHandle` goes away. `Err` when the task is already complete:
    /// then the output is the handle's to drop.
    pub fn unset_join_interested(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() {
                return None;
            }
            s.unset(Flags::JOIN_INTEREST);
            Some(s)
        })
    }

    /// The `JoinHandle` stored a waker and publishes it. `Err` (with the
    /// current state) when the task completed first.
    pub fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                return None;
            }
            s.set(Flags::JOIN_WAKER);
            Some(s)
        })
    }

    /// The `JoinHandle` takes the join-waker slot back to replace the waker.
    /// `Err` when the task completed first.
    pub fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                return None;
            }
            s.unset(Flags::JOIN_WAKER);
            Some(s)
        })
    }

    /// Takes one more reference (waker clone).
    pub fn ref_inc(&self) {
        // Relaxed: a new reference can only be made from an existing one,
        // which keeps the task alive (the Boost/Arc argument).
        let prev = self.val.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops one reference; true when it was the last.
    pub fn ref_dec(&self) -> bool {
        // AcqRel: the last dropper must see every other holder's writes
        // before it deallocates.
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= 1, "ref_dec from {prev:?}");
        prev.ref_count() == 1
    }
}
