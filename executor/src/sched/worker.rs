//! The M loop: find a runnable G, poll it, repeat; search, then park, when idle.
//!
//! Steps 2–4 of the scheduler design (`sched/mod.rs`). Fields of [`Core`],
//! the M-local half of a P: all are touched only by the M that holds the P
//! (through `&Core`; interior mutability via `Cell`, since wakes during a
//! poll reach the core through the thread-local context while the loop
//! also holds `&Core`). The core lives in the shared [`Proc`](super::Proc)
//! ([`CoreCell`]) so that the P, queue and all, can move to another M (the
//! hand-off protocols of `sched/mod.rs`); an M learns which core it holds
//! from the thread-local context, re-read after every poll. The `Worker`
//! queue's other end, its `Stealer`, is in the shared `Proc`.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_deque::{Steal, Worker};
use spool_tracer::hooks;

use super::Proc;
use super::handoff::MSlot;
use super::metrics::PCounters;
use super::{INJECTOR_INTERVAL, MAX_RUNNEXT_POLLS, SHUTDOWN, Shared, WAITING};
use crate::context;
use crate::netpoll::driver::Poller;
use crate::panics::drop_payload;
use crate::task::Notified;
use crate::task::harness::{self, RunOutcome};

/// The M-local half of a P.
pub(crate) struct Core {
    /// The P's index.
    pub(crate) index: usize,
    /// Owner end of the local FIFO run queue.
    pub(super) worker: Worker<Notified>,
    /// The LIFO slot: the G woken or spawned by the running G.
    pub(super) runnext: Cell<Option<Notified>>,
    /// True while a G is being polled (wakes then target `runnext`).
    pub(super) polling: Cell<bool>,
    /// Scheduling ticks, for the every-61-ticks injector check.
    tick: Cell<u32>,
    /// Consecutive Gs taken from `runnext`.
    runnext_polls: Cell<u32>,
    /// This M is counted as searching in `Idle`.
    searching: Cell<bool>,
    /// xorshift state for picking steal victims.
    rng: Cell<u32>,
    /// True while this M dispatches netpoller events: woken Gs go to the
    /// local queue without waking an idle M each ([`inject`]).
    injecting: Cell<bool>,
    /// Gs queued while `injecting`.
    injected: Cell<u32>,
}

impl Core {
    pub(crate) fn new(index: usize, worker: Worker<Notified>) -> Core {
        Core {
            index,
            worker,
            runnext: Cell::new(None),
            polling: Cell::new(false),
            tick: Cell::new(0),
            runnext_polls: Cell::new(0),
            searching: Cell::new(false),
            rng: Cell::new(0x9E37_79B9 ^ (index as u32 + 1).wrapping_mul(0x85EB_CA6B)),
            injecting: Cell::new(false),
            injected: Cell::new(0),
        }
    }

    /// A G became runnable on this M (step 1 of the design).
    pub(crate) fn schedule(&self, shared: &Shared, task: Notified) {
        if self.polling.get() {
            match self.runnext.replace(Some(task)) {
                None => {}
                Some(prev) => {
                    self.worker.push(prev);
                    shared.notify_parked();
                }
            }
        } else {
            self.worker.push(task);
            if self.injecting.get() {
                // One wake-up for the whole batch, after it (`inject`).
                self.injected.set(self.injected.get() + 1);
            } else {
                shared.notify_parked();
            }
        }
    }

    fn next_rand(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}

/// The M-local half of a P, kept in the shared [`Proc`](super::Proc).
///
/// Only the M that holds the P touches it: the first `procs` Ms are
/// started holding theirs; a P changes hands only through the P hand-off
/// (`handoff.rs`: `MSlot::give` Release, `MSlot::take` Acquire) and
/// sysmon's retake (`pstate.rs`: the P's word, Release on entering a
/// blocking call, Acquire on taking it), so the new holder sees everything
/// the old one wrote and the old one has stopped using it.
pub(crate) struct CoreCell(UnsafeCell<Core>);

// SAFETY: `Core` is `Send` (its queue end and cells hold `Send` data) and
// is only ever reached by the one M holding the P (see the type's doc):
// sharing the cell between threads never shares the core.
unsafe impl Sync for CoreCell {}

const _CORE_IS_SEND: fn() = || {
    fn send<T: Send>() {}
    send::<Core>();
};

impl CoreCell {
    pub(crate) fn new(core: Core) -> CoreCell {
        CoreCell(UnsafeCell::new(core))
    }

    /// The core.
    ///
    /// # Safety
    /// The calling thread holds the P, and keeps holding it while it uses
    /// the reference (the reference must not reach another thread).
    pub(crate) unsafe fn get(&self) -> &Core {
        // SAFETY: per the contract, only the holder of the P uses the core.
        unsafe { &*self.0.get() }
    }
}

/// Why [`m_loop`] returned.
enum MExit {
    /// Shutdown: the M exits holding the P `index`.
    Shutdown(usize),
    /// The M gave its P to another M (a waiter); it is a spare M now.
    GaveP,
    /// The M lost its P in a blocking call and got none back (shutdown).
    NoP,
}

/// The body of an M that starts holding P `p` (the first `procs` Ms, and
/// the Ms sysmon starts for a retaken P). Between Ps it waits as a spare
/// M (`handoff.rs`) for another to be handed to it.
///
/// The scheduling loop is compiled twice, with tracing on and off
/// ([`schedule`]), so with tracing off an M runs no hook code and builds no
/// hook argument per task. This outer loop reads the tracing flag and picks
/// one; the inner loop comes back here to read it again when the runtime's
/// [`Shared::sched_state`] changes (a trace started or stopped through the
/// executor: `table::trace_switched`; shutdown), after every stop-the-world
/// and every park, and when it sees the flag changed behind its back (a
/// trace started through `spool_tracer::control` directly, or stopped by a
/// write error), which it looks at every [`INJECTOR_INTERVAL`] tasks.
///
/// An M that dies of a panic (a spool bug: user code runs under
/// `catch_unwind` in the task's poll or `panics::Panics::guard`) is caught
/// here and replaced, see [`replace`].
pub(crate) fn run(shared: Arc<Shared>, p: usize) {
    let mut held = Some(p);
    let slot = MSlot::new();
    loop {
        let Some(p) = held else {
            match shared.spare_wait(&slot) {
                Some(p) => {
                    held = Some(p);
                    continue;
                }
                None => return,
            }
        };
        match catch_unwind(AssertUnwindSafe(|| m_loop(&shared, p))) {
            Ok(MExit::Shutdown(p)) => {
                exit(&shared, p);
                return;
            }
            Ok(MExit::GaveP) => held = None,
            Ok(MExit::NoP) => return,
            Err(payload) => {
                // The P the M held when it died (it may have changed in a
                // blocking call), read before the context is cleared.
                let core = context::core_ptr();
                context::set_core(std::ptr::null());
                if !core.is_null() {
                    // SAFETY: the context's core is the one this M holds.
                    let index = unsafe { &*core }.index;
                    replace(shared, index, payload);
                } else {
                    drop_payload(payload);
                }
                return;
            }
        }
    }
}

/// The core of P `p`.
///
/// # Safety
/// The caller holds P `p` (see [`CoreCell::get`]).
pub(crate) unsafe fn core_of(shared: &Shared, p: usize) -> &Core {
    // SAFETY: forwarded contract.
    unsafe { shared.procs[p].core.get() }
}

/// The M proper, holding P `p`: runs the scheduling loop until shutdown or
/// until it hands its P to a waiting M. The P it holds may change inside a
/// poll (`block_in_place`), so each round re-reads it from the context.
fn m_loop(shared: &Arc<Shared>, p: usize) -> MExit {
    let _enter = context::enter_m(Arc::as_ptr(shared));
    // SAFETY: we were given P `p` (started with it, or handed it).
    context::set_core(unsafe { core_of(shared, p) });
    let proc = &shared.procs[p];
    hooks::proc_start(proc.id, &proc.trace);
    loop {
        let core = context::core_ptr();
        if core.is_null() {
            return MExit::NoP;
        }
        // SAFETY: the context's core is the P this M holds, until it
        // gives it away below or in a blocking call (then the context changes).
        let core = unsafe { &*core };
        // The state before the flag: a switch after this read changes the
        // state, so the inner loop returns and the flag is read again.
        let seen = shared.sched_state();
        if seen & SHUTDOWN != 0 {
            hooks::proc_stop();
            context::set_core(std::ptr::null());
            return MExit::Shutdown(core.index);
        }
        if seen & WAITING != 0 && give_p(shared, core) {
            return MExit::GaveP;
        }
        // Four copies of the loop: tracing on or off, deadlock detection
        // on or off (fixed when the runtime is built), so neither costs a
        // runtime without it anything per task.
        match (hooks::enabled(), shared.deadlock.is_some()) {
            (true, false) => schedule::<true, false>(shared, core, seen),
            (false, false) => schedule::<false, false>(shared, core, seen),
            (true, true) => schedule::<true, true>(shared, core, seen),
            (false, true) => schedule::<false, true>(shared, core, seen),
        }
    }
}

/// An M that lost its P in a blocking call waits for one: hand it ours
/// (`handoff.rs`), queue and all, and become a spare M. False if no M
/// waits any more (another M served it).
fn give_p(shared: &Shared, core: &Core) -> bool {
    if core.searching.get() {
        end_searching(shared, core);
    }
    let Some(waiter) = shared.pop_waiter() else {
        return false;
    };
    hooks::proc_stop();
    context::set_core(std::ptr::null());
    waiter.give(core.index);
    true
}

/// The M leaves for good: its queued Gs are not run any more (the
/// registry drain cancels them) and it stops counting for stop-the-world.
fn exit(shared: &Shared, p: usize) {
    // SAFETY: the exiting M holds P `p`.
    let core = unsafe { core_of(shared, p) };
    drop(core.runnext.take());
    while let Some(t) = core.worker.pop() {
        drop(t);
    }
    shared.stw.leave();
}

/// The M died of a panic that escaped [`m_loop`]: a bug of ours, so it is
/// always reported (stderr and trace, `panics.rs`). The P is handed, with
/// its queue, to a replacement M on a new thread (this thread's tracer
/// state may be mid-event; a fresh thread starts clean), which takes the
/// dead M's place in stop-the-world. If no thread can be started the
/// runtime is marked as having lost a P ([`Shared::lost_p`]): `block_on`
/// fails loudly at its next park instead of waiting forever for tasks no M
/// runs (sysmon, issue 12, is meant to check [`Shared::check_ms`] too).
#[cold]
#[inline(never)]
fn replace(shared: Arc<Shared>, index: usize, payload: Box<dyn Any + Send>) {
    // SAFETY: the dying M held P `index`; its thread touches nothing else
    // after this function.
    let core = unsafe { core_of(&shared, index) };
    // The tracer still thinks this thread holds the P.
    if let Err(p) = catch_unwind(hooks::proc_stop) {
        std::mem::forget(p);
    }
    // Undo what the M was in the middle of, as far as the runtime can see.
    core.polling.set(false);
    if core.searching.replace(false) && shared.idle.transition_worker_from_searching() {
        shared.notify_parked();
    }
    if shared.idle.is_parked(core.index) && !shared.idle.unpark_worker_by_id(core.index) {
        // Picked by a notifier meanwhile: it counted us as searching.
        if shared.idle.transition_worker_from_searching() {
            shared.notify_parked();
        }
    }
    if shared.is_shutdown() {
        shared.panics.m_died(
            index,
            payload.as_ref(),
            "The runtime is shutting down: not replaced.",
        );
        exit(&shared, index);
        drop_payload(payload);
        return;
    }
    let name = std::thread::current()
        .name()
        .map_or_else(|| format!("spool-m-{index}"), str::to_owned);
    let sh = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(sh, index));
    match spawned {
        Ok(t) => {
            shared.panics.m_died(
                index,
                payload.as_ref(),
                "Started a replacement M for the P.",
            );
            shared.add_replacement(t);
        }
        Err(e) => {
            shared.panics.m_died(
                index,
                payload.as_ref(),
                &format!(
                    "No replacement M could be started ({e}): the runtime cannot run this P's \
                     queued tasks; `block_on` on it will panic."
                ),
            );
            // Nobody holds the P now; its queue stays reachable to thieves
            // through its stealer.
            shared.lose_p();
            shared.stw.leave();
        }
    }
    drop_payload(payload);
}

/// The M loop proper, for tracing on (`TRACED`) or off, and deadlock
/// detection on (`DETECT`: tasks record what they wait on, the last M to
/// park runs the check) or off. Returns to
/// [`run`] when `shared`'s state is no longer `seen` (shutdown, or tracing
/// switched), after a stop-the-world or a park (either may have switched
/// tracing), or when this M noticed the flag differs from `TRACED`.
#[inline(never)]
fn schedule<const TRACED: bool, const DETECT: bool>(shared: &Shared, core: &Core, seen: u32) {
    loop {
        if shared.sched_state() != seen {
            return;
        }
        if shared.stw.requested() {
            stw_park(shared, core);
            return;
        }
        #[cfg(test)]
        tests::maybe_die(shared);
        // From its own P's queues (`chained`) a task starts a queue pop
        // after the previous one ended; after a search it may be much later.
        let (task, chained) = match next_task::<TRACED>(shared, core) {
            Some(t) => (Some(t), true),
            None => (search(shared, core), false),
        };
        match task {
            Some(task) => {
                if core.searching.get() {
                    end_searching(shared, core);
                }
                if !run_task::<TRACED, DETECT>(shared, core, task, chained) {
                    // The P changed hands in a blocking call.
                    return;
                }
            }
            None => {
                park::<DETECT>(shared, core);
                return;
            }
        }
    }
}

/// Polls `task`. False when the M no longer holds `core`'s P afterwards
/// (the poll made a blocking call that lost it): the caller must re-read
/// its P from the context.
fn run_task<const TRACED: bool, const DETECT: bool>(
    shared: &Shared,
    core: &Core,
    task: Notified,
    chained: bool,
) -> bool {
    core.polling.set(true);
    let counters = &shared.procs[core.index].counters;
    let n = counters.poll_start(task.header().id());
    let out = harness::run::<TRACED, DETECT>(task, chained);
    let now = context::core_ptr();
    if !std::ptr::eq(now, core) {
        return moved(shared, now, out);
    }
    counters.poll_end(n);
    core.polling.set(false);
    if let RunOutcome::Requeue(t) = out {
        // No wake-up of an idle M: this M is about to pick from this very
        // queue (Go's `goyield` does not `wakep` either).
        core.worker.push(t);
    }
    true
}

/// [`run_task`]'s ending after a poll that came back on another P (`now`),
/// or on none (shutdown).
#[cold]
#[inline(never)]
fn moved(shared: &Shared, now: *const Core, out: RunOutcome) -> bool {
    // SAFETY: the context's core is the P this M holds now.
    match unsafe { now.as_ref() } {
        Some(core) => {
            shared.procs[core.index].counters.poll_pause();
            core.polling.set(false);
            if let RunOutcome::Requeue(t) = out {
                core.worker.push(t);
            }
        }
        None => {
            if let RunOutcome::Requeue(t) = out {
                // No P: the injector (or, at shutdown, the registry drain).
                shared.schedule(t);
            }
        }
    }
    false
}

fn stw_park(shared: &Shared, core: &Core) {
    let p = &shared.procs[core.index];
    shared
        .stw
        .park(hooks::proc_stop, || hooks::proc_start(p.id, &p.trace));
}

/// Step 2: runnext, local queue, injector, own timers, then the netpoller
/// without blocking. Every [`INJECTOR_INTERVAL`] ticks it also checks that
/// the tracing flag is still `TRACED` (if not, it makes every M of the
/// runtime re-read it) and polls the netpoller, so a P busy with runnable
/// Gs does not starve the Gs waiting for I/O (tokio's event interval).
// Always inlined: each copy of the loop for a tracing mode would
// otherwise share one out-of-line copy (two callers since the
// deadlock-detecting loops exist), a call per task: +16 instructions per
// yield in yield_many (callgrind).
#[inline(always)]
fn next_task<const TRACED: bool>(shared: &Shared, core: &Core) -> Option<Notified> {
    let tick = core.tick.get().wrapping_add(1);
    core.tick.set(tick);
    if tick % INJECTOR_INTERVAL == 0 {
        check_tracing(shared, TRACED);
        fire_own_timers(shared, core);
        if shared.driver.has_registrations() {
            poll_net(shared, core);
        }
        if let Some(t) = steal_injector(shared, core) {
            return Some(t);
        }
    }
    if let Some(t) = core.runnext.take() {
        let n = core.runnext_polls.get();
        if n < MAX_RUNNEXT_POLLS {
            core.runnext_polls.set(n + 1);
            return Some(t);
        }
        // Two Gs bouncing through runnext: send this one to the back.
        core.worker.push(t);
    }
    core.runnext_polls.set(0);
    if let Some(t) = core.worker.pop() {
        return Some(t);
    }
    if let Some(t) = steal_injector(shared, core) {
        return Some(t);
    }
    if fire_own_timers(shared, core) > 0 {
        return core.worker.pop();
    }
    // Go's `findRunnable`: `netpoll(0)` before stealing. One relaxed load
    // when no socket is registered.
    if shared.driver.has_registrations() && poll_net(shared, core) > 0 {
        return core.worker.pop();
    }
    None
}

/// Polls the netpoller without blocking, if no other M holds it (Go's
/// `netpoll(0)`); the Gs it readies go to this P's queue in one batch.
/// Returns how many it queued.
#[inline(never)]
fn poll_net(shared: &Shared, core: &Core) -> u32 {
    let Some(mut poller) = shared.driver.try_poller() else {
        return 0;
    };
    poller.poll(Some(Duration::ZERO));
    let n = inject(core, &mut poller, shared);
    drop(poller);
    if n > 1 {
        // More than this M will run next: let an idle M steal some.
        shared.notify_parked();
    }
    n
}

/// Dispatches the events `poller` read with this P's wakes batched: every
/// G they wake goes to the back of the local queue (the M holds its P, so
/// the `GoUnblock`s are recorded on it) and no idle M is woken per G (Go's
/// `injectglist`); the caller wakes at most one for the batch. Returns the
/// number of Gs queued.
fn inject(core: &Core, poller: &mut Poller, shared: &Shared) -> u32 {
    core.injecting.set(true);
    poller.dispatch(&shared.driver, &shared.panics);
    core.injecting.set(false);
    core.injected.replace(0)
}

/// If the tracing flag is no longer `traced`, makes every M of the runtime
/// re-read it (see [`run`]). Out of line: it runs once every
/// [`INJECTOR_INTERVAL`] tasks.
#[inline(never)]
fn check_tracing(shared: &Shared, traced: bool) {
    if hooks::enabled() != traced {
        shared.trace_switched();
    }
}

fn steal_injector(shared: &Shared, core: &Core) -> Option<Notified> {
    loop {
        match shared.injector.steal_batch_and_pop(&core.worker) {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

fn fire_own_timers(shared: &Shared, core: &Core) -> usize {
    let timers = &shared.procs[core.index].timers;
    if timers.next() == u64::MAX {
        return 0;
    }
    timers.fire(shared.nanos(Instant::now()), false, &shared.panics)
}

/// Fires the due timers of every P (own P blocking, others only if free).
fn fire_all_timers(shared: &Shared, core: &Core) -> usize {
    if shared.procs.iter().all(|p| p.timers.next() == u64::MAX) {
        return 0;
    }
    let now = shared.nanos(Instant::now());
    shared
        .procs
        .iter()
        .enumerate()
        .map(|(i, p)| p.timers.fire(now, i != core.index, &shared.panics))
        .sum()
}

/// Step 3: steal from a random victim, then the injector, then due timers.
fn search(shared: &Shared, core: &Core) -> Option<Notified> {
    if !core.searching.get() {
        if !shared.idle.transition_worker_to_searching() {
            return None;
        }
        core.searching.set(true);
    }
    let n = shared.procs.len();
    // Two rounds over all victims, starting at a random one (Go tries 4).
    for _ in 0..2 {
        let start = core.next_rand() as usize % n;
        let mut retry = false;
        for k in 0..n {
            let i = (start + k) % n;
            if i == core.index {
                continue;
            }
            match shared.procs[i].stealer.steal_batch_and_pop(&core.worker) {
                Steal::Success(t) => {
                    PCounters::bump(&shared.procs[core.index].counters.steals);
                    return Some(t);
                }
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        if let Some(t) = steal_injector(shared, core) {
            return Some(t);
        }
        if !retry {
            break;
        }
    }
    if fire_all_timers(shared, core) > 0 {
        return core.worker.pop();
    }
    None
}

fn end_searching(shared: &Shared, core: &Core) {
    core.searching.set(false);
    if shared.idle.transition_worker_from_searching() {
        // The last searcher found work: wake another M to keep looking.
        shared.notify_parked();
    }
}

/// Sleeps until woken or `deadline`: blocked in the netpoller if sockets are
/// registered and no other M polls (Go's blocking `netpoll(delay)` in
/// `findRunnable`), else on the P's condvar. Returns the poller when it
/// polled, so its events are dispatched once the P is taken back.
fn sleep<'a>(
    shared: &'a Shared,
    p: &Proc,
    deadline: Option<Instant>,
) -> Option<MutexGuard<'a, Poller>> {
    if shared.driver.has_registrations() {
        if let Some(mut poller) = shared.driver.try_poller() {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            p.parker.park_polling(|| poller.poll(timeout));
            return Some(poller);
        }
    }
    p.parker.park(deadline);
    None
}

/// Step 4: sleep until woken, a timer is due, I/O is ready, stop-the-world
/// or shutdown. With `DETECT`, the last M of the runtime to park looks for
/// a deadlock first (`deadlock.rs`), once per park, not per turn of the
/// sleep loop below.
fn park<const DETECT: bool>(shared: &Shared, core: &Core) {
    let p = &shared.procs[core.index];
    let was_searching = core.searching.replace(false);
    if shared
        .idle
        .transition_worker_to_parked(core.index, was_searching)
    {
        shared.notify_if_work_pending();
    }
    if DETECT && shared.idle.all_parked() {
        super::deadlock::check(shared);
    }
    loop {
        if shared.is_shutdown() {
            return;
        }
        if shared.stw.requested() {
            stw_park(shared, core);
        }
        // An M waits for a P (the #StoreLoad pair with `Shared::add_waiter`:
        // we joined the sleeper list, then look; it announces, then looks
        // at the list): leave so `m_loop` hands ours over.
        if shared.sched_state() & WAITING != 0 {
            if !shared.idle.unpark_worker_by_id(core.index) {
                core.searching.set(true);
            }
            return;
        }
        let deadline = shared.next_timer();
        hooks::proc_stop();
        PCounters::bump(&p.counters.parks);
        let polled = sleep(shared, p, deadline);
        PCounters::bump(&p.counters.unparks);
        hooks::proc_start(p.id, &p.trace);
        // Dispatch with the P held: the GoUnblocks are this P's.
        let io = polled.map_or(0, |mut poller| inject(core, &mut poller, shared));
        if shared.is_shutdown() {
            return;
        }
        if shared.stw.requested() {
            stw_park(shared, core);
        }
        fire_all_timers(shared, core);
        if !shared.idle.is_parked(core.index) {
            // Picked by `worker_to_notify`: we count as searching.
            core.searching.set(true);
            return;
        }
        if !core.worker.is_empty() || !shared.injector.is_empty() {
            // Woken by a timer or I/O: take ourselves off the sleeper list.
            if !shared.idle.unpark_worker_by_id(core.index) {
                core.searching.set(true);
            }
            if io > 1 {
                // A batch of I/O: let another M share it (a no-op while we
                // search; ending the search then wakes one).
                shared.notify_parked();
            }
            return;
        }
        // Back to sleep with nothing to run: the wake may have been the
        // last timer (one whose task was gone) or socket going away, which
        // can leave the runtime asleep only now.
        if DETECT && shared.idle.all_parked() {
            super::deadlock::check(shared);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Uses private items: the M loop's test-only death point and the
    //! runtime's `Panics` counts.
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::Shared;
    use crate::{Builder, spawn, time::sleep};

    /// Index of the runtime one of whose Ms must die before its next task;
    /// `usize::MAX` for none.
    static DIE: AtomicUsize = AtomicUsize::new(usize::MAX);

    /// Panics (once) on an M of the runtime named by [`DIE`].
    pub(super) fn maybe_die(shared: &Shared) {
        if DIE
            .compare_exchange(shared.index, usize::MAX, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            panic!("spool test: this M dies");
        }
    }

    /// Runs `f` on a thread; fails the test if it is not done in 20 s.
    fn within_20s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what} hung (20 s)"))
    }

    #[test]
    fn an_m_that_dies_is_replaced_and_its_p_keeps_serving() {
        let rt = Builder::new().procs(2).build().unwrap();
        let h = rt.handle().clone();
        DIE.store(h.shared.index, Ordering::SeqCst);
        // Wake an M so it passes the death point.
        drop(h.spawn(async {}));
        let h2 = h.clone();
        within_20s("waiting for the M to die", move || {
            while h2.shared.panics.m_deaths() == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert_eq!(h.shared.panics.m_deaths(), 1);
        // The replacement took the dead M's place in stop-the-world: with
        // the dead M still counted and not replaced, this would wait forever.
        let h2 = h.clone();
        within_20s("stop-the-world after the death", move || {
            h2.stop_the_world("after an M died", || ())
        });
        let h2 = h.clone();
        let sum = within_20s("tasks after the death", move || {
            h2.block_on(async {
                let hs: Vec<_> = (0..100u64)
                    .map(|i| {
                        spawn(async move {
                            sleep(Duration::from_millis(1)).await;
                            i
                        })
                    })
                    .collect();
                let mut sum = 0;
                for h in hs {
                    sum += h.await.unwrap();
                }
                sum
            })
        });
        assert_eq!(sum, 4950);
        let weak = h.downgrade();
        drop(h);
        drop(rt);
        assert!(weak.upgrade().is_none(), "a task or M leaked");
    }
}
