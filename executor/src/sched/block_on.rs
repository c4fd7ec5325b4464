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

use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use spool_tracer::hooks::{self, GoTraceState, ProcTraceState, SpawnSite};

use super::Shared;
use super::park::Parker;
use crate::context;
use crate::loom::lock_std;
use crate::task::{TaskInfo, TaskStatus, harness, next_task_id};

const RUNNING: u8 = 0;
const BLOCKED: u8 = 1;
const NOTIFIED: u8 = 2;
/// A waker won the `BLOCKED` slot and is recording its `go_unblock`.
const WAKING: u8 = 3;

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
    state: AtomicU8,
}

impl BlockOnSlot {
    pub(crate) fn info(&self) -> TaskInfo<'_> {
        let status = match self.state.load(Ordering::Acquire) {
            RUNNING => TaskStatus::Running,
            BLOCKED | WAKING => TaskStatus::Waiting,
            _ => TaskStatus::Runnable,
        };
        TaskInfo {
            id: self.id,
            trace: &self.trace,
            site: self.site,
            status,
        }
    }
}

impl Wake for BlockOnSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            // AcqRel: pairs with the CAS in `block_on` (see the module doc).
            let next = match cur {
                RUNNING => NOTIFIED,
                BLOCKED => WAKING,
                // Already woken, or another waker is waking it.
                _ => return,
            };
            match self
                .state
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == WAKING => {
                    hooks::go_unblock(self.id, &self.trace);
                    // Release: the thread that sees NOTIFIED (Acquire in
                    // its park loop) starts after our GoUnblock.
                    self.state.store(NOTIFIED, Ordering::Release);
                    self.parker.unpark();
                    return;
                }
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
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
            // Runnable until the first poll (a stop-the-world before it must
            // not report the main task as running).
            state: AtomicU8::new(NOTIFIED),
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
    loop {
        if shared.stw.requested() {
            shared.stw.park(hooks::proc_stop, || {
                hooks::proc_start(slot.pseudo_p, &slot.proc_trace)
            });
        }
        slot.state.store(RUNNING, Ordering::Release);
        hooks::go_start(slot.id, &slot.trace, slot.site);
        context::begin_poll();
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
        if slot
            .state
            .compare_exchange(RUNNING, BLOCKED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken during the poll: poll again at once.
            if blocked {
                hooks::go_unblock(slot.id, &slot.trace);
            }
            continue;
        }
        loop {
            slot.parker.park(None);
            if slot.state.load(Ordering::Acquire) == NOTIFIED {
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
