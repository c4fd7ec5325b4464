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

use super::{INJECTOR_INTERVAL, MAX_RUNNEXT_POLLS, Shared};
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
pub(crate) fn run(shared: Arc<Shared>, core: Core) {
    let _enter = context::enter(Arc::as_ptr(&shared), &core);
    let p = &shared.procs[core.index];
    hooks::proc_start(p.id, &p.trace);
    loop {
        if shared.is_shutdown() {
            break;
        }
        if shared.stw.requested() {
            stw_park(&shared, &core);
        }
        // From its own P's queues (`chained`) a task starts a queue pop
        // after the previous one ended; after a search it may be much later.
        let (task, chained) = match next_task(&shared, &core) {
            Some(t) => (Some(t), true),
            None => (search(&shared, &core), false),
        };
        match task {
            Some(task) => {
                if core.searching.get() {
                    end_searching(&shared, &core);
                }
                run_task(&core, task, chained);
            }
            None => park(&shared, &core),
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

fn run_task(core: &Core, task: Notified, chained: bool) {
    core.polling.set(true);
    let out = harness::run(task, chained);
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

/// Step 2: runnext, local queue, injector, own timers.
fn next_task(shared: &Shared, core: &Core) -> Option<Notified> {
    let tick = core.tick.get().wrapping_add(1);
    core.tick.set(tick);
    if tick % INJECTOR_INTERVAL == 0 {
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
