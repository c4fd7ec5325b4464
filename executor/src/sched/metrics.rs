//! Per-P scheduler counters and the runtime's metrics snapshot
//! (`Handle::metrics`).
//!
//! Invariants: each [`PCounters`] is written only by the M that owns its P
//! (a relaxed load and store, no read-modify-write: one writer), on its own
//! cache line, and read by anyone; a snapshot sums them, so it is a
//! moment's view, not a consistent cut. The struct is the scheduler's only
//! coupling to metrics: an M loop bumps its P's counters at the points
//! named on each field, whatever shape the loop has.

use std::sync::atomic::{AtomicU64, Ordering};

/// One P's counters.
#[derive(Debug, Default)]
pub(crate) struct PCounters {
    /// Task polls started (`run_task`; Release, after `poll_task`). With
    /// `poll_ended`, the poll in progress for sysmon (`long_poll.rs`).
    pub(crate) polls: AtomicU64,
    /// `polls` as it was when the last poll ended (`polls != poll_ended`:
    /// a poll is running on the P).
    pub(crate) poll_ended: AtomicU64,
    /// The id of the task of the last poll started.
    pub(crate) poll_task: AtomicU64,
    /// Successful steals from another P's queue (one per steal operation).
    pub(crate) steals: AtomicU64,
    /// Times the M parked with the P idle.
    pub(crate) parks: AtomicU64,
    /// Times the M woke from parking.
    pub(crate) unparks: AtomicU64,
}

impl PCounters {
    /// Adds one to a counter of this P (only its M calls it).
    #[inline(always)]
    pub(crate) fn bump(c: &AtomicU64) {
        // One writer: a load and a store, no locked instruction.
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }

    /// A poll of task `task` starts on this P (only its M calls it).
    /// Returns the poll's number, for [`poll_end`](Self::poll_end).
    #[inline(always)]
    pub(crate) fn poll_start(&self, task: u64) -> u64 {
        self.poll_task.store(task, Ordering::Relaxed);
        let n = self.polls.load(Ordering::Relaxed).wrapping_add(1);
        // Release: sysmon's Acquire load of `polls` then sees `poll_task`.
        self.polls.store(n, Ordering::Release);
        n
    }

    /// The poll numbered `n` ended on this P, or it lent the P to a
    /// blocking call (`n` = the current `polls`).
    #[inline(always)]
    pub(crate) fn poll_end(&self, n: u64) {
        // Release: a later `poll_task` store is seen after this one.
        self.poll_ended.store(n, Ordering::Release);
    }

    /// A poll goes on on this P (back from a blocking call): marks the P
    /// as polling `task` again, under a number sysmon has not seen polling.
    pub(crate) fn poll_resume(&self, task: u64) {
        self.poll_task.store(task, Ordering::Relaxed);
        let n = self.polls.load(Ordering::Relaxed);
        self.poll_ended.store(n.wrapping_sub(1), Ordering::Release);
    }

    /// The poll on this P stops counting: its P is lent to a blocking call,
    /// or it ended on this P after coming back from one.
    pub(crate) fn poll_pause(&self) {
        self.poll_end(self.polls.load(Ordering::Relaxed));
    }

    pub(crate) fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// A runtime's metrics at one moment (`Handle::metrics`). Counters count
/// since the runtime was built; names follow tokio's `RuntimeMetrics` and
/// Go's `runtime/metrics` (in each field's doc).
///
/// ```
/// let rt = spool_executor::Builder::new().procs(2).build().unwrap();
/// rt.block_on(async { spool_executor::spawn(async {}).await.unwrap() });
/// let m = rt.handle().metrics();
/// assert_eq!(m.spawned_tasks, 1);
/// assert_eq!(m.live_tasks, 0);
/// assert_eq!(m.queue_depths.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Ps (tokio `num_workers`; Go `/sched/gomaxprocs:threads`).
    pub procs: usize,
    /// Spawned tasks not finished yet (tokio `num_alive_tasks`; Go
    /// `/sched/goroutines:goroutines`, without `block_on` main tasks).
    pub live_tasks: usize,
    /// Tasks spawned since the runtime was built (tokio `spawned_tasks_count`).
    pub spawned_tasks: u64,
    /// Task polls, summed over the Ps (tokio `worker_poll_count`).
    pub polls: u64,
    /// Steal operations that took tasks from another P, summed (tokio
    /// `worker_steal_operations`).
    pub steals: u64,
    /// Times an M parked, summed (tokio `worker_park_count`).
    pub parks: u64,
    /// Times an M woke from parking, summed (tokio `worker_unpark_count`).
    pub unparks: u64,
    /// Tasks in the global injector queue (tokio `global_queue_depth`).
    pub injector_depth: usize,
    /// Tasks in each P's local queue, by P (tokio `worker_local_queue_depth`;
    /// the `runnext` slot is not counted).
    pub queue_depths: Vec<usize>,
    /// Threads of the `spawn_blocking` pool alive now, idle ones included
    /// (tokio `num_blocking_threads`).
    pub blocking_threads: usize,
    /// Polls sysmon reported as longer than `Builder::long_poll_threshold`
    /// (Go's sysmon preempts such goroutines; tokio has no counterpart).
    pub long_polls: u64,
    /// Caught panics of wakers the runtime did not create (`Handle::waker_panics`).
    pub waker_panics: u64,
    /// Trace bytes written to trace sinks, process-wide (`trace::bytes_written`).
    pub trace_bytes_written: u64,
    /// Trace events dropped, process-wide, all reasons (`trace::lost`).
    pub trace_events_lost: u64,
}
