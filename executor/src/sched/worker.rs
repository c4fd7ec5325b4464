//! The M loop: find a runnable G, poll it, repeat; search, then park, when idle.
//!
//! Steps 2–4 of the scheduler design (`sched/mod.rs`). Fields of [`Core`],
//! the M-local half of a P: all are touched only by the M that owns the
//! core (through `&Core`; interior mutability via `Cell`, since wakes during
//! a poll reach the core through the thread-local context while the loop
//! also holds `&Core`). The `Worker` queue's other end, its `Stealer`, is in
//! the shared [`Proc`](super::Proc).

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_deque::{Steal, Worker};
use spool_tracer::hooks;

use super::{INJECTOR_INTERVAL, MAX_RUNNEXT_POLLS, SHUTDOWN, Shared};
use crate::context;
use crate::task::Notified;
use crate::task::harness::{self, RunOutcome};

/// The M-local half of a P.
pub(crate) struct Core {
    /// The P's index.
    pub(crate) index: usize,
    /// Owner end of the local FIFO run queue.
    worker: Worker<Notified>,
    /// The LIFO slot: the G woken or spawned by the running G.
    runnext: Cell<Option<Notified>>,
    /// True while a G is being polled (wakes then target `runnext`).
    polling: Cell<bool>,
    /// Scheduling ticks, for the every-61-ticks injector check.
    tick: Cell<u32>,
    /// Consecutive Gs taken from `runnext`.
    runnext_polls: Cell<u32>,
    /// This M is counted as searching in `Idle`.
    searching: Cell<bool>,
    /// xorshift state for picking steal victims.
    rng: Cell<u32>,
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
            shared.notify_parked();
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

/// The body of M number `core.index`.
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
pub(crate) fn run(shared: Arc<Shared>, core: Core) {
    let _enter = context::enter(Arc::as_ptr(&shared), &core);
    let p = &shared.procs[core.index];
    hooks::proc_start(p.id, &p.trace);
    loop {
        // The state before the flag: a switch after this read changes the
        // state, so the inner loop returns and the flag is read again.
        let seen = shared.sched_state();
        if seen & SHUTDOWN != 0 {
            break;
        }
        if hooks::enabled() {
            schedule::<true>(&shared, &core, seen);
        } else {
            schedule::<false>(&shared, &core, seen);
        }
    }
    hooks::proc_stop();
    // Queued Gs are not run any more; the registry drain cancels them.
    drop(core.runnext.take());
    while let Some(t) = core.worker.pop() {
        drop(t);
    }
    shared.stw.leave();
}

/// The M loop proper, for tracing on (`TRACED`) or off. Returns to
/// [`run`] when `shared`'s state is no longer `seen` (shutdown, or tracing
/// switched), after a stop-the-world or a park (either may have switched
/// tracing), or when this M noticed the flag differs from `TRACED`.
#[inline(never)]
fn schedule<const TRACED: bool>(shared: &Shared, core: &Core, seen: u32) {
    loop {
        if shared.sched_state() != seen {
            return;
        }
        if shared.stw.requested() {
            stw_park(shared, core);
            return;
        }
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
                run_task::<TRACED>(core, task, chained);
            }
            None => {
                park(shared, core);
                return;
            }
        }
    }
}

fn run_task<const TRACED: bool>(core: &Core, task: Notified, chained: bool) {
    core.polling.set(true);
    let out = harness::run::<TRACED>(task, chained);
    core.polling.set(false);
    if let RunOutcome::Requeue(t) = out {
        // No wake-up of an idle M: this M is about to pick from this very
        // queue (Go's `goyield` does not `wakep` either).
        core.worker.push(t);
    }
}

fn stw_park(shared: &Shared, core: &Core) {
    let p = &shared.procs[core.index];
    shared
        .stw
        .park(hooks::proc_stop, || hooks::proc_start(p.id, &p.trace));
}

/// Step 2: runnext, local queue, injector, own timers. Every
/// [`INJECTOR_INTERVAL`] ticks it also checks that the tracing flag is still
/// `TRACED`, and if not makes every M of the runtime re-read it.
fn next_task<const TRACED: bool>(shared: &Shared, core: &Core) -> Option<Notified> {
    let tick = core.tick.get().wrapping_add(1);
    core.tick.set(tick);
    if tick % INJECTOR_INTERVAL == 0 {
        check_tracing(shared, TRACED);
        fire_own_timers(shared, core);
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
    None
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
    timers.fire(shared.nanos(Instant::now()), false)
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
        .map(|(i, p)| p.timers.fire(now, i != core.index))
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
                Steal::Success(t) => return Some(t),
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

/// Step 4: sleep until woken, a timer is due, stop-the-world or shutdown.
fn park(shared: &Shared, core: &Core) {
    let p = &shared.procs[core.index];
    let was_searching = core.searching.replace(false);
    if shared
        .idle
        .transition_worker_to_parked(core.index, was_searching)
    {
        shared.notify_if_work_pending();
    }
    loop {
        if shared.is_shutdown() {
            return;
        }
        if shared.stw.requested() {
            stw_park(shared, core);
        }
        let deadline = shared.next_timer();
        hooks::proc_stop();
        p.parker.park(deadline);
        hooks::proc_start(p.id, &p.trace);
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
            // Woken by a timer: take ourselves off the sleeper list.
            if !shared.idle.unpark_worker_by_id(core.index) {
                core.searching.set(true);
            }
            return;
        }
    }
}
