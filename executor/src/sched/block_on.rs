//! `block_on`: poll one future on the calling thread until it completes.
//!
//! The calling thread becomes a *pseudo-P* for the duration: for the tracer
//! it is a P with a process-wide id of its own (from `trace_ids.rs`, so ids
//! stay small and never collide with any runtime's Ps) running one G, the "main task", with an id of its own:
//! `proc_start(pseudo_p)`, `go_create` and, per poll, `go_start` then
//! `go_block(reason)`/`go_stop(reason)`/`go_destroy`; a wake records
//! `go_unblock`; leaving records `proc_stop`. It also takes part in
//! stop-the-world like an M: it stops between polls.
//!
//! The future needs no `Send` bound: it never leaves this thread. Spawns
//! and timers inside it go to the runtime (injector, round-robin timer heap).
//!
//! Wake protocol (`BlockOnSlot::state`): `RUNNING` while polled, `BLOCKED`
//! after a `Pending` poll, `NOTIFIED` once woken (and before the first
//! poll). A wake of a `RUNNING` slot moves it to `NOTIFIED` (CAS). A wake of
//! a `BLOCKED` slot moves it to `WAKING` (CAS: exactly one waker wins),
//! records `go_unblock`, then stores `NOTIFIED` and unparks the thread; the
//! thread only leaves its park loop on `NOTIFIED`, so its next `go_start`
//! always follows the winner's `go_unblock` (the tracer's seam rule 3: the
//! two never race on the main task's sequence numbers). The thread moves
//! `RUNNING → BLOCKED` with a CAS after the poll, so a wake during the poll
//! is seen (the CAS fails) and the future is polled again without sleeping.
//! Every step is an RMW (the thread's `RUNNING` too, and a waker's "already
//! woken"), so no wake can be missed by the poll that follows it
//! ([`MainState::start_poll`]; loom model in `tests/loom/block_on.rs`).

use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use spool_tracer::hooks::{self, GoTraceState, ProcTraceState, SpawnSite};

use super::Shared;
use super::park::Parker;
use crate::context;
use crate::loom::atomic::{AtomicU8, AtomicU64, Ordering};
use crate::loom::lock_std;
use crate::task::{TaskInfo, TaskStatus, harness, next_task_id};

const RUNNING: u8 = 0;
const BLOCKED: u8 = 1;
const NOTIFIED: u8 = 2;
/// A waker won the `BLOCKED` slot and is recording its `go_unblock`.
const WAKING: u8 = 3;

/// The main task's wake state: the protocol of the module doc, on its own
/// so the loom model (`tests/loom.rs`) drives these very transitions.
/// Only the `block_on` thread calls [`start_poll`](Self::start_poll) and
/// [`block`](Self::block); anyone may call [`wake`](Self::wake).
pub struct MainState(AtomicU8);

impl MainState {
    /// Runnable until the first poll (a stop-the-world before it must not
    /// report the main task as running).
    pub fn new() -> MainState {
        MainState(AtomicU8::new(NOTIFIED))
    }

    /// The thread is about to poll: `RUNNING`. An RMW, not a store, and
    /// so is every waker's step (even "already woken"): all of them are
    /// then in one modification order with release sequences, so the poll
    /// sees whatever a waker that found the task `NOTIFIED` or `WAKING` had
    /// made ready before it woke. With a plain store here, a waker's load
    /// of the old `NOTIFIED` and the poll's read of the future's state can
    /// miss each other (the store-buffer pattern): the wake is lost and the
    /// thread parks for good. The loom model
    /// `block_on_wakers_racing_poll_and_park` finds that interleaving.
    pub fn start_poll(&self) {
        self.0.swap(RUNNING, Ordering::AcqRel);
    }

    /// After a `Pending` poll, `RUNNING -> BLOCKED`. False when a wake
    /// came during the poll (the state is `NOTIFIED`): poll again at once.
    /// AcqRel: releases the poll's trace events to the waker that wins
    /// `BLOCKED` (its `GoUnblock` follows our `GoBlock`), and acquires a
    /// wake that came first.
    #[must_use]
    pub fn block(&self) -> bool {
        self.0
            .compare_exchange(RUNNING, BLOCKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True once woken: the park loop's exit. Acquire: pairs with the
    /// Release store of `NOTIFIED` in [`wake`](Self::wake), so the next
    /// `GoStart` follows the winning waker's `GoUnblock`.
    pub fn is_notified(&self) -> bool {
        self.0.load(Ordering::Acquire) == NOTIFIED
    }

    /// A wake. Of a `RUNNING` task: `NOTIFIED` (the thread sees it at
    /// [`block`](Self::block)). Of a `BLOCKED` one: exactly one waker wins
    /// `WAKING`, runs `on_unblock` (its `GoUnblock`), publishes `NOTIFIED`
    /// and returns true: it must unpark the thread. Otherwise (already
    /// woken, or another waker is waking it) nothing but an RMW that leaves
    /// the state as it is (see [`start_poll`](Self::start_poll) for why it
    /// must be one).
    #[must_use]
    pub fn wake(&self, on_unblock: impl FnOnce()) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let next = match cur {
                RUNNING => NOTIFIED,
                BLOCKED => WAKING,
                // Already woken, or another waker is waking it: touch.
                _ => cur,
            };
            // AcqRel: pairs with the RMWs in `start_poll` and `block`.
            match self
                .0
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if cur == BLOCKED => {
                    on_unblock();
                    // An RMW (see `start_poll`): the thread that sees
                    // NOTIFIED (`is_notified`, then `start_poll`) starts
                    // after our GoUnblock and sees what any waker that
                    // touched WAKING meanwhile had made ready.
                    self.0.swap(NOTIFIED, Ordering::AcqRel);
                    return true;
                }
                Ok(_) => return false,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Whether the thread sleeps after a `Pending` poll, nobody waking it
    /// yet (the deadlock detector's test).
    pub(crate) fn is_blocked(&self) -> bool {
        self.0.load(Ordering::Acquire) == BLOCKED
    }

    fn status(&self) -> TaskStatus {
        match self.0.load(Ordering::Acquire) {
            RUNNING => TaskStatus::Running,
            BLOCKED | WAKING => TaskStatus::Waiting,
            _ => TaskStatus::Runnable,
        }
    }
}

impl Default for MainState {
    fn default() -> MainState {
        MainState::new()
    }
}

/// One active `block_on` call.
pub(crate) struct BlockOnSlot {
    /// The main task's id.
    pub(crate) id: u64,
    /// The pseudo-P's trace id (process-wide, from `trace_ids.rs`).
    pub(crate) pseudo_p: u32,
    pub(crate) trace: GoTraceState,
    pub(crate) proc_trace: ProcTraceState,
    pub(crate) site: SpawnSite,
    pub(crate) parker: Parker,
    state: MainState,
    /// With deadlock detection on: what the last `Pending` poll waited on
    /// (the task state word's `WAIT` code, `harness::wait_code`), written
    /// by the `block_on` thread before the Release of `MainState::block`.
    wait: AtomicU8,
    /// With deadlock detection on: polls so far (the detector's progress
    /// count; one writer, the `block_on` thread).
    polls: AtomicU64,
}

impl BlockOnSlot {
    /// The deadlock detector's view: blocked, and the wait code of its
    /// last poll (`None` while it runs or is woken).
    pub(crate) fn blocked_wait(&self) -> Option<usize> {
        self.state
            .is_blocked()
            .then(|| usize::from(self.wait.load(Ordering::Relaxed)))
    }

    /// Polls so far (counted only with deadlock detection on).
    pub(crate) fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    pub(crate) fn info(&self) -> TaskInfo<'_> {
        TaskInfo {
            id: self.id,
            trace: &self.trace,
            site: self.site,
            status: self.state.status(),
        }
    }
}

impl Wake for BlockOnSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.wake(|| hooks::go_unblock(self.id, &self.trace)) {
            // A block_on thread never sleeps in the netpoller.
            let _ = self.parker.unpark();
        }
    }
}

/// Unregisters the pseudo-P on every exit path (including a panicking future).
struct Leave<'a> {
    shared: &'a Shared,
    slot: &'a Arc<BlockOnSlot>,
    /// True while the future is being polled: if we are dropped then, the
    /// future panicked out of `poll` and the main task ends here.
    in_poll: std::cell::Cell<bool>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if self.in_poll.get() {
            // A panicking future unwinds out of its poll: leave the poll
            // state and end the main task in the trace.
            let _ = context::end_poll();
            hooks::go_destroy();
        }
        hooks::proc_stop();
        {
            let mut b = lock_std(&self.shared.block_ons);
            b.active.retain(|s| !Arc::ptr_eq(s, self.slot));
        }
        // After the ProcStop above: the next holder starts from idle.
        super::trace_ids::release_pseudo(self.slot.pseudo_p);
        self.shared.stw.leave();
    }
}

/// Runs `future` to completion on this thread.
pub(crate) fn block_on<F: Future>(
    shared: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
) -> F::Output {
    assert!(
        !context::is_polling(),
        "spool: `block_on` was called from inside a spool task or another `block_on`; \
         this would block a thread the scheduler needs. `.await` the future instead"
    );
    assert!(
        !shared.is_shutdown(),
        "spool: `block_on` was called on a runtime that has shut down (its M threads are gone)"
    );
    shared.stw.join();
    let slot = {
        let mut b = lock_std(&shared.block_ons);
        // Process-wide, like the Ps' ids (`trace_ids.rs`).
        let pseudo_p = super::trace_ids::take_pseudo();
        let slot = Arc::new(BlockOnSlot {
            id: next_task_id(),
            pseudo_p,
            trace: GoTraceState::new(),
            proc_trace: ProcTraceState::new(),
            site: SpawnSite {
                location,
                type_name: std::any::type_name::<F>(),
            },
            parker: Parker::new(),
            state: MainState::new(),
            wait: AtomicU8::new(0),
            polls: AtomicU64::new(0),
        });
        b.active.push(Arc::clone(&slot));
        slot
    };
    let _enter = context::enter(Arc::as_ptr(shared), std::ptr::null());
    hooks::proc_start(slot.pseudo_p, &slot.proc_trace);
    let leave = Leave {
        shared,
        slot: &slot,
        in_poll: std::cell::Cell::new(false),
    };
    hooks::go_create(slot.id, &slot.trace, slot.site);
    let waker = Waker::from(Arc::clone(&slot));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    // Fixed at build: read once, a register test per poll after that.
    let detect = shared.deadlock.is_some();
    loop {
        if shared.stw.requested() {
            shared.stw.park(hooks::proc_stop, || {
                hooks::proc_start(slot.pseudo_p, &slot.proc_trace)
            });
        }
        slot.state.start_poll();
        hooks::go_start(slot.id, &slot.trace, slot.site);
        context::begin_poll(std::ptr::null());
        leave.in_poll.set(true);
        let res = future.as_mut().poll(&mut cx);
        leave.in_poll.set(false);
        let end = context::end_poll();
        if let Poll::Ready(v) = res {
            hooks::go_destroy();
            return v;
        }
        // The event goes out before the CAS makes us wakeable (see harness).
        let blocked = harness::trace_pending(&end);
        if detect {
            // Before `block`'s Release: a detector that sees BLOCKED sees it.
            slot.wait
                .store(harness::wait_code(&end) as u8, Ordering::Relaxed);
            slot.polls
                .store(slot.polls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        if !slot.state.block() {
            // Woken during the poll: poll again at once.
            if blocked {
                hooks::go_unblock(slot.id, &slot.trace);
            }
            continue;
        }
        if detect && shared.idle.all_parked() {
            // The last of the runtime to go to sleep may be this thread.
            super::deadlock::check(shared);
        }
        loop {
            slot.parker.park(None);
            if slot.state.is_notified() {
                break;
            }
            shared.check_ms();
            if shared.stw.requested() {
                shared.stw.park(hooks::proc_stop, || {
                    hooks::proc_start(slot.pseudo_p, &slot.proc_trace)
                });
            }
        }
    }
}
