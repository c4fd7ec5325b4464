//! Deadlock detection (`Builder::detect_deadlock(true)`): Go's `checkdead`
//! ("all goroutines are asleep - deadlock!"), as a report instead of a
//! fatal error.
//!
//! The runtime is *asleep* when every M is parked with nothing runnable
//! (no queued task, no M back from a blocking call waiting for a P), no
//! timer is pending and no socket is registered with the netpoller; it is
//! *possibly deadlocked* when, in addition, there is at least one live task
//! (spawned tasks and `block_on` main tasks) and every one of them is
//! blocked on a spool primitive: a channel, `select!`, a lock, a semaphore,
//! `Notify`, `WaitGroup`, `Barrier`, a `JoinHandle`. A task awaiting a
//! future spool does not know (it set no block reason), a sleep, a socket,
//! a running blocking call or `spawn_blocking` closure (a task that is
//! running or queued) makes it not one: a false report is worse than a
//! missed one. It is only *possible*: a thread outside the runtime may hold
//! a `Sender` or a guard and wake a task later, so the runtime goes on
//! running; the report is a callback (`Builder::on_deadlock`, default:
//! stderr), a `spool.deadlock` log in the trace and the flight recorder's
//! `deadlock` trigger.
//!
//! Where its cost is (none without detection):
//! - What a task waits on is recorded in its state word's `WAIT` field
//!   by the CAS that releases it after a `Pending` poll (`task/state.rs`),
//!   only in the detecting copy of the M loop (`worker::schedule::<_,
//!   true>`); `block_on` stores it in its slot before `MainState::block`.
//! - The check runs only when an M of a detecting runtime parks and finds
//!   itself the last one ([`Idle::all_parked`](super::idle::Idle::all_parked)),
//!   or when a `block_on` thread blocks while every M is parked, once per
//!   park (not per turn of the sleep loop). It walks the registry under
//!   its shard locks.
//!
//! Invariants:
//! - Checks are serialised by the detector's lock; a report is made once
//!   per idle episode: the progress count (polls of every P and every
//!   `block_on` thread) at the last report is kept, and an equal count
//!   means no task ran since, so the same deadlock is not reported again
//!   when an M wakes and parks again with nothing to do.
//! - No lost check between the last M to park and a `block_on` thread
//!   that blocks at the same time: each publishes its own sleep (the
//!   Idle count's SeqCst RMW; `MainState::block`'s CAS), then a SeqCst
//!   fence ([`check`]), then reads the other's; one of the two sees both.
//! - A wake from outside the runtime during the walk is caught by the
//!   re-check after it (the woken task is queued and an M unparked, or it
//!   was seen `NOTIFIED`); one after the report is the "possible" part.
//! - The callback is user code, called outside the detector's lock under
//!   `catch_unwind`; a panic there is reported and the M goes on.

use std::fmt;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex};

use spool_tracer::hooks::{self, BlockReason};

use super::{Shared, WAITING};
use crate::loom::lock_std;
use crate::task::state::WAIT_BITS;

/// Log category of the deadlock reports in a trace (the viewer's
/// problems view counts it as a possible deadlock).
pub const DEADLOCK_CATEGORY: &str = "spool.deadlock";

/// The report's first line: Go's `checkdead` message, with "tasks" for
/// "goroutines" and "possible" because a thread outside the runtime may
/// still wake a task.
pub const DEADLOCK_MESSAGE: &str = "all tasks are asleep - possible deadlock!";

const _WAIT_FITS: () = assert!(
    BlockReason::ALL.len() < 1 << WAIT_BITS,
    "a BlockReason does not fit in the task state's WAIT field"
);

/// One blocked task of a [`Deadlock`] report.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlockedTask {
    /// The task's id (`JoinHandle::id`, its G id in traces).
    pub task: u64,
    /// Where it was spawned (for a `block_on` main task: where `block_on`
    /// was called).
    pub location: &'static Location<'static>,
    /// The type name of its future.
    pub type_name: &'static str,
    /// What it waits on, with Go's wording: `chan receive`, `chan send`,
    /// `select`, `sync.Mutex.Lock`, `sync.RWMutex.RLock`,
    /// `sync.RWMutex.Lock`, `sync.WaitGroup.Wait`, `sync.Cond.Wait`
    /// (`Notify`, `Barrier`), `semacquire`, `sync` or `join`.
    pub reason: &'static str,
    /// A `block_on` main task (not a spawned task).
    pub main: bool,
}

/// A possible deadlock: every live task of the runtime is blocked on a
/// spool primitive and nothing else can run (the argument of the callback
/// set with [`Builder::on_deadlock`](crate::Builder::on_deadlock)).
///
/// Its `Display` is the report: [`DEADLOCK_MESSAGE`], then one line per
/// task.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use spool_executor::{Builder, sync::chan};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let rt = Builder::new()
///     .procs(2)
///     .detect_deadlock(true)
///     .on_deadlock(move |d| s.lock().unwrap().push(d.to_string()))
///     .build()
///     .unwrap();
/// let (tx, rx) = chan::<u32>(0);
/// // Receives forever: nobody sends, and `tx` stays alive below.
/// let h = rt.spawn(async move { rx.recv().await });
/// while seen.lock().unwrap().is_empty() {
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// let report = seen.lock().unwrap()[0].clone();
/// assert!(report.starts_with("all tasks are asleep - possible deadlock!"));
/// assert!(report.contains("[chan receive]"));
/// // Only a report: a send from this thread still wakes the task.
/// tx.try_send(7).unwrap();
/// assert_eq!(rt.block_on(h).unwrap(), Some(7));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Deadlock {
    /// The blocked tasks, by id.
    pub tasks: Vec<BlockedTask>,
}

impl fmt::Display for BlockedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.main {
            write!(
                f,
                "main task G{} [{}]: block_on at {} ({})",
                self.task, self.reason, self.location, self.type_name
            )
        } else {
            write!(
                f,
                "task G{} [{}]: spawned at {} ({})",
                self.task, self.reason, self.location, self.type_name
            )
        }
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DEADLOCK_MESSAGE)?;
        for t in &self.tasks {
            write!(f, "\n{t}")?;
        }
        write!(
            f,
            "\n(no task can run unless a thread outside the runtime wakes one; the runtime keeps \
             running)"
        )
    }
}

/// The user's deadlock callback.
pub(crate) type Callback = Arc<dyn Fn(&Deadlock) + Send + Sync>;

/// A detecting runtime's detector, in its `Shared` (`None` without
/// detection).
pub(crate) struct Detector {
    callback: Option<Callback>,
    /// The progress count at the last report; held for the whole check,
    /// which serialises checks.
    last: Mutex<Option<u64>>,
    /// Reports made (`SchedStats::deadlock_reports`).
    pub(crate) reports: AtomicU64,
}

impl Detector {
    pub(crate) fn new(callback: Option<Callback>) -> Detector {
        Detector {
            callback,
            last: Mutex::new(None),
            reports: AtomicU64::new(0),
        }
    }
}

/// Looks for a possible deadlock and reports it, once per idle episode.
/// Called by the last M to park and by a `block_on` thread that blocks
/// while every M is parked (see the module doc); a no-op without detection.
pub(crate) fn check(shared: &Shared) {
    let Some(d) = &shared.deadlock else {
        return;
    };
    // The fence between publishing our own sleep and reading everyone
    // else's (module doc, "No lost check").
    fence(Ordering::SeqCst);
    if !asleep(shared) {
        return;
    }
    let mut last = lock_std(&d.last);
    let before = progress(shared);
    if *last == Some(before) {
        return; // Reported already, and nothing ran since.
    }
    let Some(report) = collect(shared) else {
        return;
    };
    // A wake from outside the runtime during the walk queued a task and
    // unparked an M, or let one run.
    if !asleep(shared) || progress(shared) != before {
        return;
    }
    *last = Some(before);
    drop(last);
    d.reports.fetch_add(1, Ordering::Relaxed);
    deliver(d, &report);
}

/// Every M parked, nothing queued, no M waiting for a P, no timer, no
/// socket, not shutting down.
fn asleep(shared: &Shared) -> bool {
    shared.idle.all_parked()
        && shared.sched_state() & (WAITING | super::SHUTDOWN) == 0
        && shared.injector.is_empty()
        && shared.procs.iter().all(|p| p.stealer.is_empty())
        && !shared.driver.has_registrations()
        && shared.next_timer().is_none()
}

/// Polls so far, of every P and every `block_on` thread: unchanged means
/// no task ran.
fn progress(shared: &Shared) -> u64 {
    let ps: u64 = shared
        .procs
        .iter()
        .map(|p| p.counters.polls.load(Ordering::Relaxed))
        .sum();
    let mains: u64 = lock_std(&shared.block_ons)
        .active
        .iter()
        .map(|b| b.polls())
        .sum();
    ps.wrapping_add(mains)
}

/// The reason behind a `WAIT` code, if it is a wait on a spool primitive
/// that only another task of the runtime (or a foreign thread) can end.
fn sync_reason(code: usize) -> Option<BlockReason> {
    use BlockReason as R;
    let r = *BlockReason::ALL.get(code.checked_sub(1)?)?;
    match r {
        R::ChanReceive
        | R::ChanSend
        | R::Select
        | R::Sync
        | R::MutexLock
        | R::RwMutexRLock
        | R::RwMutexLock
        | R::WaitGroupWait
        | R::CondWait
        | R::Semacquire
        | R::Join => Some(r),
        // Timers and sockets end by themselves (and the caller saw none
        // pending); a foreign future's end is unknown; the rest are the
        // runtime's own.
        R::Sleep | R::Network | R::Pending | R::Forever | R::StopTheWorld => None,
    }
}

/// The report, if every live task (at least one) is idle, not notified
/// and blocked on a spool primitive.
fn collect(shared: &Shared) -> Option<Deadlock> {
    let mut tasks = Vec::new();
    let mut all = true;
    shared.registry.for_each(|h| {
        if !all {
            return;
        }
        let s = h.state.load();
        if !s.is_idle() || s.is_notified() {
            all = false;
            return;
        }
        match sync_reason(s.wait_code()) {
            Some(r) => {
                let site = h.site();
                tasks.push(BlockedTask {
                    task: h.id(),
                    location: site.location,
                    type_name: site.type_name,
                    reason: r.as_str(),
                    main: false,
                });
            }
            None => all = false,
        }
    });
    if !all {
        return None;
    }
    for b in lock_std(&shared.block_ons).active.iter() {
        let r = b.blocked_wait().and_then(sync_reason)?;
        tasks.push(BlockedTask {
            task: b.id,
            location: b.site.location,
            type_name: b.site.type_name,
            reason: r.as_str(),
            main: true,
        });
    }
    if tasks.is_empty() {
        return None;
    }
    tasks.sort_by_key(|t| t.task);
    Some(Deadlock { tasks })
}

/// The report: trace log, flight-recorder trigger, callback or stderr.
fn deliver(d: &Detector, report: &Deadlock) {
    let text = report.to_string();
    hooks::runtime_log(DEADLOCK_CATEGORY, &text);
    crate::flight::deadlock();
    match &d.callback {
        None => eprintln!("spool: {text}"),
        Some(cb) => {
            // User code on an M (or a block_on thread): a panic is
            // reported, and the thread goes on.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| cb(report))) {
                eprintln!(
                    "spool: the deadlock callback (Builder::on_deadlock) panicked ({}); the \
                     runtime caught the panic and goes on",
                    crate::panics::message(payload.as_ref())
                );
                crate::panics::drop_payload(payload);
            }
        }
    }
}
