//! Running a task and every other transition that needs more than one step.
//!
//! Not generic over the future type: it drives the state machine
//! (`state.rs`), calls the typed vtable (`raw.rs`) and the tracer hooks, and
//! tells the scheduler what to do with the task next ([`RunOutcome`]).
//!
//! Hook order follows the tracer's preconditions (`spool_tracer::hooks`):
//! `go_start` before the poll; after it exactly one of `go_destroy`,
//! `go_stop` (still runnable: yield or budget) or `go_block` (waiting),
//! written *before* the state transition that lets a waker see the task as
//! idle, so a `go_unblock` from another thread always follows it. A wake that
//! arrived during the poll is then recorded by the poller as `go_unblock`.
//! A wake of an idle task records `go_unblock` on the waking thread.
//!
//! `go_destroy` likewise goes out after the future's destructor (the task's
//! last code, Go's deferred calls) and *before* `complete` sets `COMPLETE`
//! and wakes the joiner (Go's `goexit1`: `GoEnd`, then the G is dead):
//! a joiner that stops the trace as soon as it sees the output would
//! otherwise cut the event off. What `complete` runs afterwards (an unjoined
//! output's destructor, the joiner's waker) runs on an M with no task in the
//! trace: its `GoUnblock` of the joiner is the M's, like the netpoller's.

use std::ptr::NonNull;
use std::task::Context;

use spool_tracer::hooks::{self, BlockReason, StopReason};

use super::Notified;
use super::raw::PollFuture;
use super::state::{TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::{Header, waker};
use crate::context::{self, PollEnd};
use crate::panics::Site;
use crate::sched::table;

/// What the scheduler must do after [`run`].
pub(crate) enum RunOutcome {
    /// Nothing: the task finished, waits for a wake, or was stale.
    Done,
    /// The task stays runnable (it yielded, ran out of budget or was woken
    /// during its poll): queue it at the back of the local run queue.
    Requeue(Notified),
}

/// Polls a task popped from a run queue (or cancels it if it was aborted).
/// `chained`: this M took the task from its own P's queues right after the
/// previous task's run ended, so its `GoStart` may reuse the end event's
/// timestamp (`hooks::go_start_next`).
///
/// `TRACED`: the caller's view of whether a trace is being recorded (the
/// worker loop is compiled once for each value, `sched/worker.rs`). With
/// `false` this is the untraced scheduler: no hook of the poll, none of their
/// arguments and none of the poll-end bookkeeping only the hooks read is
/// compiled in. With `true` the flag is read again here, once per poll.
///
/// `DETECT`: the runtime was built with `Builder::detect_deadlock(true)`;
/// a `Pending` poll then records what it waits on in the state word, in
/// the CAS that releases the task anyway (`State::transition_to_idle_waiting`).
/// With `false` nothing of it is compiled in.
pub(crate) fn run<const TRACED: bool, const DETECT: bool>(
    task: Notified,
    chained: bool,
) -> RunOutcome {
    let ptr = task.into_raw();
    // SAFETY: the Notified's reference keeps the task alive; it becomes the
    // poller's reference below.
    let h = unsafe { ptr.as_ref() };
    match h.state.transition_to_running() {
        TransitionToRunning::Success => {}
        TransitionToRunning::Cancelled => {
            hooks::go_start(h.id(), &h.trace, h.site());
            // SAFETY: we hold RUNNING and the poller's reference.
            unsafe { cancel_and_complete(ptr) };
            return RunOutcome::Done;
        }
        TransitionToRunning::Failed => return RunOutcome::Done,
        TransitionToRunning::Dealloc => {
            // SAFETY: that was the last reference.
            unsafe { dealloc(ptr) };
            return RunOutcome::Done;
        }
    }
    // When tracing, the flag is read once per poll, and the hook arguments
    // (the spawn site costs an indirect call) are built only when it is set.
    // A trace starts under stop-the-world, between polls; one started during
    // this poll by another runtime would drop this task's end event anyway
    // (its start was not recorded), and the hooks re-check the flag, so a
    // trace stopped during the poll is fine too.
    let traced = TRACED && hooks::enabled();
    if traced {
        if chained {
            hooks::go_start_next(h.id(), &h.trace, h.site());
        } else {
            hooks::go_start(h.id(), &h.trace, h.site());
        }
    }
    let waker = waker::waker_ref(ptr);
    let mut cx = Context::from_waker(&waker);
    context::begin_poll(h);
    // SAFETY: we hold RUNNING; the stage holds the future.
    let res = unsafe { (h.vtable.fns.poll)(ptr, &mut cx) };
    let end = context::end_poll();
    match res {
        PollFuture::Complete => {
            // The future (and its destructor) is done: the event goes out
            // before `complete` publishes the output and wakes the joiner,
            // who may otherwise stop the trace before it is recorded.
            if traced {
                hooks::go_destroy();
            }
            // SAFETY: we hold RUNNING and the poller's reference.
            unsafe { complete(ptr, 1) };
            RunOutcome::Done
        }
        PollFuture::Pending => {
            // The event goes out before the task becomes wakeable, so a
            // waker's GoUnblock can never precede this GoBlock (Go's
            // traceAcquire-before-casgstatus order).
            let blocked = traced && trace_pending(&end);
            let idle = if DETECT {
                h.state.transition_to_idle_waiting(wait_code(&end))
            } else {
                h.state.transition_to_idle()
            };
            match idle {
                TransitionToIdle::Ok => RunOutcome::Done,
                TransitionToIdle::OkNotified => {
                    if blocked {
                        // Woken by someone else while it was being polled.
                        hooks::go_unblock(h.id(), &h.trace);
                    }
                    // SAFETY: transition_to_idle turned our reference into the Notified one.
                    RunOutcome::Requeue(unsafe { Notified::from_raw(ptr) })
                }
                TransitionToIdle::OkDealloc => {
                    // SAFETY: last reference.
                    unsafe { dealloc(ptr) };
                    RunOutcome::Done
                }
                TransitionToIdle::Cancelled => {
                    // Aborted during the poll: the trace shows it runnable
                    // again, then destroyed.
                    if blocked {
                        hooks::go_unblock(h.id(), &h.trace);
                    }
                    hooks::go_start(h.id(), &h.trace, h.site());
                    // SAFETY: we still hold RUNNING and the poller's reference.
                    unsafe { cancel_and_complete(ptr) };
                    RunOutcome::Done
                }
            }
        }
    }
}

/// What a `Pending` poll waits on, as the state word's `WAIT` code (see
/// `state.rs`): 0 when no spool primitive said why (a foreign future),
/// else the reason plus one. A yield or an exhausted budget needs no code
/// of its own: the task woke itself, so it is `NOTIFIED` and the detector
/// ignores its `WAIT`.
#[inline(always)]
pub(crate) fn wait_code(end: &PollEnd) -> usize {
    end.reason.map_or(0, |r| r as usize + 1)
}

/// Records why a poll returned `Pending`: `GoStop` if the task stays
/// runnable by its own doing (yield, budget), else `GoBlock` with the
/// primitive's reason. True for `GoBlock`.
pub(crate) fn trace_pending(end: &PollEnd) -> bool {
    if end.yielded {
        hooks::go_stop(StopReason::Yield);
        false
    } else if end.budget_exhausted {
        hooks::go_stop(StopReason::Budget);
        false
    } else {
        hooks::go_block(end.reason.unwrap_or(BlockReason::Pending));
        true
    }
}

/// # Safety
/// The caller holds `RUNNING` and one reference it gives up.
unsafe fn cancel_and_complete(ptr: NonNull<Header>) {
    // SAFETY: we hold RUNNING; the stage holds the future.
    unsafe { (ptr.as_ref().vtable.fns.cancel)(ptr) };
    // After the future's destructor (the task's last code), before the
    // joiner can see the output (see the module doc).
    hooks::go_destroy();
    // SAFETY: as above.
    unsafe { complete(ptr, 1) };
}

/// The output (or cancellation) is in the stage: leave the registry,
/// publish the output, wake the joiner and drop `refs` references plus the
/// registry's if we unlinked the task.
///
/// # Safety
/// The caller holds `RUNNING` and `refs` references.
unsafe fn complete(ptr: NonNull<Header>, refs: usize) {
    // SAFETY: the caller's references keep the task alive.
    let h = unsafe { ptr.as_ref() };
    // Leave the registry first, so that once a JoinHandle sees the output
    // the task no longer counts as alive.
    // SAFETY: the task's runtime outlives it (each task holds a count).
    let shared = unsafe { table::get(h.runtime_index()) };
    let removed = shared.registry.remove(ptr);
    let snapshot = h.state.transition_to_complete();
    if !snapshot.is_join_interested() {
        // No JoinHandle: the output is ours to drop.
        // SAFETY: complete, and the JoinHandle is gone.
        unsafe { (h.vtable.fns.drop_output)(ptr) };
    } else if snapshot.is_join_waker_set() {
        // SAFETY: JOIN_WAKER set: we may read the slot; the JoinHandle
        // cannot change it after COMPLETE.
        unsafe {
            h.join_waker.with(|w| {
                // The awaiting future's waker: guarded, so a panicking one
                // cannot stop this task from reaching its terminal state below.
                shared.panics.guard(Site::JoinWake, || w.wake_by_ref())
            })
        };
    }
    if h.state.transition_to_terminal(refs + removed as usize) {
        // SAFETY: that was the last reference.
        unsafe { dealloc(ptr) };
    }
}

/// A task spawned after its runtime closed its registry: cancel it at once.
///
/// # Safety
/// `ptr` is a freshly allocated task (initial state) not in the registry;
/// the caller keeps the JoinHandle reference and gives up the other two.
pub(crate) unsafe fn cancel_unbound(ptr: NonNull<Header>) {
    // SAFETY: the caller holds references.
    let h = unsafe { ptr.as_ref() };
    let took = h.state.transition_to_shutdown();
    debug_assert!(took, "a new task is idle");
    // SAFETY: we hold RUNNING.
    unsafe { (h.vtable.fns.cancel)(ptr) };
    // SAFETY: RUNNING held; the registry's and the Notified's references are
    // ours (the task never reached either).
    unsafe { complete(ptr, 2) };
}

/// Shutdown: the registry drained this task; cancel it if it is idle.
///
/// # Safety
/// The caller owns the registry's reference, which this consumes.
pub(crate) unsafe fn shutdown(ptr: NonNull<Header>) {
    // SAFETY: the registry reference keeps the task alive.
    let h = unsafe { ptr.as_ref() };
    if h.state.transition_to_shutdown() {
        // SAFETY: we hold RUNNING.
        unsafe { (h.vtable.fns.cancel)(ptr) };
        // SAFETY: RUNNING held, and the registry reference is ours (it is
        // no longer linked, so `complete` does not drop it a second time).
        unsafe { complete(ptr, 1) };
    } else {
        // Running (it sees CANCELLED when its poll ends) or complete.
        // SAFETY: we own the registry reference.
        unsafe { drop_reference(ptr) };
    }
}

/// `JoinHandle::abort`.
pub(crate) fn abort(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle holds a reference.
    let h = unsafe { ptr.as_ref() };
    if h.state.transition_to_notified_and_cancel() == TransitionToNotified::Submit {
        hooks::go_unblock(h.id(), &h.trace);
        // SAFETY: the transition took the Notified's reference for us.
        schedule(unsafe { Notified::from_raw(ptr) });
    }
}

/// `Waker::wake`: consumes the waker's reference.
///
/// # Safety
/// The caller owns one reference.
pub(crate) unsafe fn wake_by_val(ptr: NonNull<Header>) {
    // SAFETY: the waker's reference keeps the task alive.
    let h = unsafe { ptr.as_ref() };
    match h.state.transition_to_notified_by_val() {
        TransitionToNotified::DoNothing => {}
        TransitionToNotified::Submit => {
            hooks::go_unblock(h.id(), &h.trace);
            // SAFETY: the waker's reference became the Notified's.
            schedule(unsafe { Notified::from_raw(ptr) });
        }
        // SAFETY: last reference.
        TransitionToNotified::Dealloc => unsafe { dealloc(ptr) },
    }
}

/// `Waker::wake_by_ref`.
pub(crate) fn wake_by_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller's waker holds a reference.
    let h = unsafe { ptr.as_ref() };
    match h.state.transition_to_notified_by_ref() {
        TransitionToNotified::Submit => {
            hooks::go_unblock(h.id(), &h.trace);
            // SAFETY: the transition took the Notified's reference for us.
            schedule(unsafe { Notified::from_raw(ptr) });
        }
        TransitionToNotified::DoNothing => {}
        TransitionToNotified::Dealloc => unreachable!("wake_by_ref never drops a reference"),
    }
}

fn schedule(task: Notified) {
    // SAFETY: the task holds a count on its runtime.
    let shared = unsafe { table::get(task.header().runtime_index()) };
    shared.schedule(task);
}

/// Releases one reference, deallocating on the last.
///
/// # Safety
/// The caller owns one reference.
pub(crate) unsafe fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the task alive until here.
    if unsafe { ptr.as_ref() }.state.ref_dec() {
        // SAFETY: last reference.
        unsafe { dealloc(ptr) };
    }
}

/// Frees the task and releases its count on the runtime.
///
/// # Safety
/// The reference count is zero.
#[inline]
unsafe fn dealloc(ptr: NonNull<Header>) {
    // SAFETY: nobody else can reach the task.
    let h = unsafe { ptr.as_ref() };
    debug_assert!(h.state.load().is_complete(), "task freed before completing");
    let (idx, f) = (h.runtime_index(), h.vtable.fns.dealloc);
    // SAFETY: nobody else can reach the slot.
    if unsafe { h.join_waker.is_set() } {
        // SAFETY: as above; the task still holds its count on the runtime.
        unsafe { drop_join_waker(h, idx) };
    }
    // SAFETY: last reference; the vtable matches the allocation.
    unsafe { f(ptr) };
    // SAFETY: the task held one count on its runtime's Arc.
    unsafe { table::drop_task_ref(idx) };
}

/// Drops the waker left in a task's join slot (kept out of `dealloc`, which
/// most tasks leave with an empty slot).
///
/// # Safety
/// The reference count of `h` is zero; `idx` is its runtime's index.
#[inline(never)]
unsafe fn drop_join_waker(h: &Header, idx: usize) {
    // SAFETY: nobody else can reach the slot.
    if let Some(w) = unsafe { h.join_waker.take() } {
        // Another future's waker: its destructor is user code.
        // SAFETY: the task still holds its count on the runtime.
        let shared = unsafe { table::get(idx) };
        shared.panics.guard(Site::WakerDrop, || drop(w));
    }
}
