//! sysmon: one background thread per runtime that watches the Ps (Go's
//! `sysmon` in proc.go).
//!
//! It sleeps 20 µs at first, and after 50 rounds in a row that found
//! nothing to do doubles its sleep up to 10 ms (Go's backoff), so an idle
//! runtime costs about a hundred wake-ups a second. Each round it:
//! 1. retakes the P of an M in `block_in_place` that it already saw in the
//!    same call on an earlier round, at least 20 µs ago (Go's `retake`),
//!    unless the P's queue is empty, some M is idle to take new work, and
//!    the call is younger than 10 ms (Go's same exception): the steal
//!    (`pstate.rs`), its `ProcSteal`, then the P to another M
//!    (`handoff.rs`);
//! 2. wakes an M if the injector has held work for two rounds while no M
//!    searched and some slept: a lost wake-up. The protocols of
//!    `sched/mod.rs` say this cannot happen; the counter
//!    (`Handle::sched_stats().sysmon_wakes`) shows whether it ever did;
//! 3. checks the Ms' health (`Shared::check_ms`): when a P lost its M for
//!    good it wakes every `block_on` thread, which then panics with the
//!    report;
//! 4. watches each P's poll in progress and reports one that has run
//!    longer than `Builder::long_poll_threshold` (`long_poll.rs`: a
//!    `spool.long_poll` trace log, `RuntimeMetrics::long_polls`, the
//!    flight recorder's `long-poll` trigger, the user's callback), then
//!    moves that P's queued tasks to the injector while the poll lasts.
//!
//! A P entering a blocking call wakes sysmon if it sleeps 1 ms or more
//! ([`Sysmon::syscall_entered`], one relaxed load otherwise), so a long call
//! is retaken within about 20 µs of sysmon's first look at it rather than
//! after its full sleep. The flag is a hint: a call that enters while
//! sysmon is just going to sleep is seen on its next round (as in Go).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use spool_tracer::hooks;

use super::Shared;
use super::long_poll::{self, LongPolls, Watched};
use super::park::Parker;
use super::pstate::PState;

/// sysmon's shortest sleep (Go's 20 µs): also the shortest blocking call
/// it retakes a P from.
pub(crate) const MIN_DELAY: Duration = Duration::from_micros(20);
/// sysmon's longest sleep (Go's 10 ms).
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Rounds with nothing to do before the sleep starts doubling (Go's 50).
const IDLE_ROUNDS: u32 = 50;
/// A sleep at least this long is worth interrupting for a blocking call.
const DEEP_SLEEP: Duration = Duration::from_millis(1);
/// A blocking call older than this has its P retaken even when the P has
/// nothing queued (Go's 10 ms).
const LONG_CALL: Duration = Duration::from_millis(10);

/// sysmon's wake-up slot and counters, in the runtime's `Shared`.
pub(crate) struct Sysmon {
    parker: Parker,
    /// sysmon sleeps [`DEEP_SLEEP`] or longer.
    deep: AtomicBool,
    /// Ps retaken from blocking calls.
    pub(crate) retakes: AtomicU64,
    /// Lost wake-ups repaired (step 2 of the module doc): 0 in a healthy runtime.
    pub(crate) lost_wakes: AtomicU64,
    /// Rounds run.
    pub(crate) rounds: AtomicU64,
    /// Step 4's configuration and counters.
    pub(crate) long_polls: LongPolls,
}

impl Sysmon {
    pub(crate) fn new(long_polls: LongPolls) -> Sysmon {
        Sysmon {
            parker: Parker::new(),
            deep: AtomicBool::new(false),
            retakes: AtomicU64::new(0),
            lost_wakes: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            long_polls,
        }
    }

    /// A P entered a blocking call: wake sysmon if it sleeps long.
    #[inline]
    pub(crate) fn syscall_entered(&self) {
        // Relaxed: a hint (see the module doc).
        if self.deep.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    /// Ends sysmon's current sleep (a P's call, STW, shutdown).
    pub(crate) fn wake(&self) {
        // sysmon never sleeps in the netpoller.
        let _ = self.parker.unpark();
    }
}

/// What sysmon remembers of one P between rounds.
#[derive(Clone, Copy)]
struct Seen {
    /// The P's word when first seen in this call.
    word: usize,
    since: Instant,
}

/// sysmon's thread body: rounds until shutdown.
pub(crate) fn run(shared: Arc<Shared>) {
    let mut seen: Vec<Option<Seen>> = vec![None; shared.procs.len()];
    let mut watched: Vec<Option<Watched>> = vec![None; shared.procs.len()];
    let mut delay = MIN_DELAY;
    let mut idle = 0u32;
    let mut stuck = false;
    let mut lost_reported = false;
    let sysmon = &shared.sysmon;
    loop {
        if shared.is_shutdown() {
            return;
        }
        let deep = delay >= DEEP_SLEEP;
        if deep {
            sysmon.deep.store(true, Ordering::Relaxed);
        }
        let deadline = Instant::now() + delay;
        sysmon.parker.park(Some(deadline));
        if deep {
            sysmon.deep.store(false, Ordering::Relaxed);
        }
        if shared.is_shutdown() {
            return;
        }
        let now = Instant::now();
        sysmon.rounds.fetch_add(1, Ordering::Relaxed);
        // 3. The Ms' health.
        if !lost_reported && shared.lost_ps() != 0 {
            lost_reported = true;
            shared.unpark_all();
        }
        let retook = retake(&shared, &mut seen, now);
        let repaired = check_injector(&shared, &mut stuck);
        let rescued = long_poll::check(&shared, &mut watched, now);
        if retook > 0 || repaired || rescued || now < deadline {
            // Work found, or woken for some: look again soon.
            idle = 0;
            delay = MIN_DELAY;
        } else {
            idle = idle.saturating_add(1);
            if idle > IDLE_ROUNDS {
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

/// Step 1: retakes the Ps of calls seen on an earlier round. Returns how
/// many it took.
fn retake(shared: &Arc<Shared>, seen: &mut [Option<Seen>], now: Instant) -> u32 {
    let mut n = 0;
    for (i, p) in shared.procs.iter().enumerate() {
        let word = p.status.load();
        if !PState::in_syscall(word) {
            seen[i] = None;
            continue;
        }
        let since = match seen[i] {
            Some(s) if s.word == word => s.since,
            _ => {
                seen[i] = Some(Seen { word, since: now });
                continue;
            }
        };
        let age = now.saturating_duration_since(since);
        if age < MIN_DELAY {
            continue;
        }
        // Go's exception: nothing queued, an idle M to take new work, a
        // young call. A stop-the-world waits for this P: take it anyway.
        if p.stealer.is_empty()
            && shared.idle.any_idle()
            && age < LONG_CALL
            && !shared.stw.requested()
        {
            continue;
        }
        if !p.status.retake(word) {
            // The call returned meanwhile.
            seen[i] = None;
            continue;
        }
        hooks::proc_steal(p.id, &p.trace);
        p.status.stolen(word);
        seen[i] = None;
        shared.sysmon.retakes.fetch_add(1, Ordering::Relaxed);
        shared.hand_p(i);
        n += 1;
    }
    n
}

/// Step 2: wakes an M for injector work nobody looks for, if it was so on
/// the previous round too. True when it did.
fn check_injector(shared: &Shared, stuck: &mut bool) -> bool {
    let now_stuck = !shared.injector.is_empty() && shared.idle.none_searching_some_asleep();
    if now_stuck && *stuck {
        *stuck = false;
        shared.sysmon.lost_wakes.fetch_add(1, Ordering::Relaxed);
        shared.notify_parked();
        return true;
    }
    *stuck = now_stuck;
    false
}
