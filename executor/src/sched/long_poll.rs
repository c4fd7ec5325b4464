//! Long-poll detection: sysmon's report of a task whose single poll has run
//! longer than `Builder::long_poll_threshold` (Go's sysmon preempts such a
//! goroutine after 10 ms; a Rust future cannot be preempted, so spool
//! reports it and rescues its neighbours).
//!
//! The poll in progress on a P is told by two of the P's counters
//! (`metrics::PCounters`, written only by the M holding the P): `polls`,
//! bumped when a poll starts (Release, after `poll_task` names the task),
//! and `poll_ended`, set to `polls` when it ends. `polls != poll_ended`
//! means "the P's M is inside a poll"; the value of `polls` names that poll,
//! as Go's `schedtick` does. A P lent to a blocking call counts as not
//! polling (`block_in_place` sets `poll_ended = polls` on entry and, when it
//! keeps its P, `poll_ended = polls - 1` again on return; a poll that comes
//! back on another P marks that P the same way). Invariants:
//! - sysmon measures a poll from its first sighting (Go's `schedwhen`), so
//!   the duration it reports is a lower bound, late by at most one of its
//!   sleeps (≤ 10 ms).
//! - A poll is reported once: the first round that finds it at least the
//!   threshold old. Every round after that, while the poll goes on, sysmon
//!   moves the P's queued tasks to the injector (stealing through the P's
//!   `Stealer`, as any thief may) and wakes an M for them. The `runnext`
//!   slot is not stealable (`sched/mod.rs`, rejected alternatives): at most
//!   one task, the one last woken by the long poll itself, waits for it.
//! - The report reads the task's spawn site from the registry, under the
//!   shard lock (a task there is alive), never through a pointer the M
//!   could free meanwhile; a task that finished in between is not reported.

use std::fmt;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_deque::Steal;
use spool_tracer::hooks;

use super::Shared;
use super::pstate::PState;

/// The default [`Builder::long_poll_threshold`](crate::Builder::long_poll_threshold): 10 ms (Go's
/// `forcePreemptNS`).
pub const DEFAULT_LONG_POLL_THRESHOLD: Duration = Duration::from_millis(10);

/// Log category of sysmon's long-poll reports in a trace.
pub const LONG_POLL_CATEGORY: &str = "spool.long_poll";

/// One long poll, as sysmon reported it (the argument of the callback set
/// with [`Builder::on_long_poll`](crate::Builder::on_long_poll)).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let rt = spool_executor::Builder::new()
///     .procs(2)
///     .long_poll_threshold(Duration::from_millis(5))
///     .on_long_poll(move |lp| s.lock().unwrap().push((lp.task, lp.location.line())))
///     .build()
///     .unwrap();
/// let h = rt.spawn(async {
///     let t = std::time::Instant::now();
///     while t.elapsed() < Duration::from_millis(40) {} // never yields
/// });
/// let id = h.id();
/// rt.block_on(h).unwrap();
/// assert_eq!(seen.lock().unwrap()[0].0, id);
/// assert_eq!(rt.handle().metrics().long_polls, 1);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LongPoll {
    /// The task's id (`JoinHandle::id`, its G id in traces).
    pub task: u64,
    /// Where it was spawned.
    pub location: &'static Location<'static>,
    /// The type name of its future.
    pub type_name: &'static str,
    /// How long the poll had run when sysmon reported it (at least).
    pub elapsed: Duration,
}

impl fmt::Display for LongPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task G{} spawned at {} ({}) has run for {:.1} ms in one poll without yielding \
             (the tasks queued behind it move to other Ps)",
            self.task,
            self.location,
            self.type_name,
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}

/// The user's long-poll callback.
pub(crate) type Callback = Arc<dyn Fn(&LongPoll) + Send + Sync>;

/// sysmon's long-poll configuration and counters, in its `Sysmon`.
pub(crate) struct LongPolls {
    pub(crate) threshold: Duration,
    callback: Option<Callback>,
    /// Long polls reported (`RuntimeMetrics::long_polls`).
    pub(crate) reported: AtomicU64,
    /// Tasks moved off the Ps of long polls.
    pub(crate) rescued: AtomicU64,
}

impl LongPolls {
    pub(crate) fn new(threshold: Duration, callback: Option<Callback>) -> LongPolls {
        LongPolls {
            threshold,
            callback,
            reported: AtomicU64::new(0),
            rescued: AtomicU64::new(0),
        }
    }
}

/// What sysmon remembers of one P's poll between rounds.
#[derive(Clone, Copy)]
pub(crate) struct Watched {
    /// The P's `polls` when first seen in this poll.
    polls: u64,
    since: Instant,
    reported: bool,
}

/// sysmon's step 4: watches every P's poll in progress; reports one that
/// has run past the threshold and rescues its queue. True when it did
/// anything (sysmon then looks again soon).
pub(crate) fn check(shared: &Shared, watched: &mut [Option<Watched>], now: Instant) -> bool {
    let lp = &shared.sysmon.long_polls;
    let mut acted = false;
    for (i, p) in shared.procs.iter().enumerate() {
        let c = &p.counters;
        // Acquire: pairs with the M's Release bump, so `poll_task` below
        // is this poll's (or a later one's, which `poll_ended` then shows).
        let polls = c.polls.load(Ordering::Acquire);
        if PState::in_syscall(p.status.load()) || c.poll_ended.load(Ordering::Acquire) == polls {
            watched[i] = None;
            continue;
        }
        let w = match &mut watched[i] {
            Some(w) if w.polls == polls => w,
            slot => {
                *slot = Some(Watched {
                    polls,
                    since: now,
                    reported: false,
                });
                continue;
            }
        };
        let elapsed = now.saturating_duration_since(w.since);
        if elapsed < lp.threshold {
            continue;
        }
        if !w.reported {
            w.reported = true;
            let task = c.poll_task.load(Ordering::Acquire);
            // The poll may have ended since: then `poll_task` may name the
            // next one; report nothing.
            if c.poll_ended.load(Ordering::Acquire) == polls {
                continue;
            }
            if let Some(info) = find(shared, task, elapsed) {
                report(shared, &info);
                acted = true;
            }
        }
        acted |= rescue(shared, i) > 0;
    }
    acted
}

/// The long poll of `task`, with its spawn site from the registry.
fn find(shared: &Shared, task: u64, elapsed: Duration) -> Option<LongPoll> {
    shared.registry.find(task, |h| {
        let site = h.site();
        LongPoll {
            task,
            location: site.location,
            type_name: site.type_name,
            elapsed,
        }
    })
}

/// The report: counter, trace log, flight-recorder trigger, user callback.
fn report(shared: &Shared, info: &LongPoll) {
    let lp = &shared.sysmon.long_polls;
    lp.reported.fetch_add(1, Ordering::Relaxed);
    if hooks::enabled() {
        hooks::runtime_log(LONG_POLL_CATEGORY, &info.to_string());
    }
    crate::flight::long_poll();
    if let Some(cb) = &lp.callback {
        // User code on sysmon's thread: a panic is reported, and sysmon goes on.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| cb(info))) {
            eprintln!(
                "spool: the long-poll callback (Builder::on_long_poll) panicked ({}); sysmon \
                 caught the panic and goes on",
                crate::panics::message(payload.as_ref())
            );
            crate::panics::drop_payload(payload);
        }
    }
}

/// Moves P `i`'s queued tasks to the injector and wakes an M for them.
/// Returns how many moved.
fn rescue(shared: &Shared, i: usize) -> u64 {
    let stealer = &shared.procs[i].stealer;
    let mut n = 0u64;
    loop {
        match stealer.steal() {
            Steal::Success(t) => {
                shared.injector.push(t);
                n += 1;
            }
            Steal::Retry => {}
            Steal::Empty => break,
        }
    }
    if n > 0 {
        shared
            .sysmon
            .long_polls
            .rescued
            .fetch_add(n, Ordering::Relaxed);
        shared.notify_parked();
    }
    n
}
