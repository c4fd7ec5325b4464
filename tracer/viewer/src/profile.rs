//! Go's four blocking profiles (network, sync, syscall, scheduler latency),
//! computed from the ordered event stream exactly as `go tool trace
//! -pprof=KIND` does, so the totals agree (Go 1.27's `cmd/trace/pprof.go`
//! and `internal/trace/summary.go`; our own code):
//!
//! 1. Every event is turned into the goroutine state transitions Go's
//!    parser reports for it ([`transitions`]): e.g. GoBlock is Running ->
//!    Waiting with its reason and stack, GoUnblock is Waiting -> Runnable
//!    with the unblocking event's stack, GoSwitch also blocks the switching
//!    goroutine (reason "", no stack) and starts the next one.
//! 2. A goroutine starts being *tracked* for a kind when it enters the
//!    kind's state (Waiting for net and sync, Syscall, Runnable for sched)
//!    for a counted reason: net = "network"; sync = any reason containing
//!    "chan", "sync" or "select" (so spool's "semacquire", "sleep", "join",
//!    "forever" are not in it, as in Go); syscall and sched = any. Tracking
//!    ends at its next transition to another state; the sample is the time
//!    in between, attributed to the stack of the event that started it.
//!    Intervals still open when the trace ends are not counted.
//! 3. Go clips each sample to its goroutine's life as its summary sees it:
//!    from the first transition into Running (if it never ran: from the
//!    start) to its last GoDestroy or "forever" block (or the trace end).
//!    So a goroutine's first wait for a P after its creation is not in the
//!    sched profile. Samples whose fate depends on a later event are held
//!    per goroutine until it is known ([`Profiler::finish`]).
//!
//! Invariant: a record's `time` is the sum of the clipped durations of its
//! `count` samples; `count` counts samples with a non-zero clipped duration.

use std::collections::HashMap;

use crate::read::order::OrderedEvent;
use crate::read::{EventKind, GoId, GoState, StackId, StringId};

/// One of Go's four trace profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ProfileKind {
    /// Time blocked on the network poller (reason "network").
    Net = 0,
    /// Time blocked on channels, select and sync primitives.
    Sync = 1,
    /// Time in system calls (spool: blocking sections).
    Syscall = 2,
    /// Time runnable, waiting for a P (scheduling latency).
    Sched = 3,
}

impl ProfileKind {
    /// All kinds, in `repr` order.
    pub const ALL: [ProfileKind; 4] = [Self::Net, Self::Sync, Self::Syscall, Self::Sched];

    /// The name `go tool trace -pprof=` and `spool-trace pprof --kind` use.
    ///
    /// ```
    /// assert_eq!(spool_trace::profile::ProfileKind::Sched.name(), "sched");
    /// ```
    pub fn name(self) -> &'static str {
        ["net", "sync", "syscall", "sched"][self as usize]
    }

    /// Parses [`name`](Self::name).
    ///
    /// ```
    /// use spool_trace::profile::ProfileKind;
    /// assert_eq!(ProfileKind::parse("net"), Some(ProfileKind::Net));
    /// assert_eq!(ProfileKind::parse("cpu"), None);
    /// ```
    pub fn parse(s: &str) -> Option<ProfileKind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    fn state(self) -> St {
        match self {
            Self::Net | Self::Sync => St::Waiting,
            Self::Syscall => St::Syscall,
            Self::Sched => St::Runnable,
        }
    }

    /// Whether a transition into this kind's state for `reason` is counted.
    ///
    /// ```
    /// use spool_trace::profile::ProfileKind;
    /// assert!(ProfileKind::Sync.counts("sync.Mutex.Lock"));
    /// assert!(ProfileKind::Sync.counts("chan receive"));
    /// assert!(!ProfileKind::Sync.counts("semacquire"));
    /// assert!(ProfileKind::Net.counts("network"));
    /// ```
    pub fn counts(self, reason: &str) -> bool {
        match self {
            Self::Net => reason == "network",
            Self::Sync => {
                reason.contains("chan") || reason.contains("sync") || reason.contains("select")
            }
            Self::Syscall | Self::Sched => true,
        }
    }
}

/// A goroutine state as Go's parser reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum St {
    /// Not known yet (first status event of the goroutine).
    Undetermined,
    /// Not created yet / exited.
    NotExist,
    /// Waiting for a P.
    Runnable,
    /// Running on a P.
    Running,
    /// Blocked.
    Waiting,
    /// In a system call.
    Syscall,
}

impl St {
    fn of(s: GoState) -> St {
        match s {
            GoState::Runnable => St::Runnable,
            GoState::Running => St::Running,
            GoState::Waiting => St::Waiting,
            GoState::Syscall => St::Syscall,
            GoState::Invalid(_) => St::NotExist,
        }
    }
}

/// One goroutine state transition of an event (Go's `StateTransition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The goroutine.
    pub g: GoId,
    /// State before ([`St::Undetermined`] at a first sighting).
    pub old: St,
    /// State after.
    pub new: St,
    /// Reason string ID in the event's generation (0 = none).
    pub reason: StringId,
    /// The *event's* stack (what Go's profiles attribute samples to), 0 = none.
    pub stack: StackId,
}

/// The goroutine transitions of `ev`, in Go's order; `state(g)` is the
/// goroutine's current state (used for status events that are not first
/// sightings). At most three (GoSwitch).
pub fn transitions(ev: &OrderedEvent, state: impl Fn(GoId) -> St) -> Vec<Transition> {
    use EventKind as K;
    let cg = ev.ctx.g;
    let t = |g, old, new, reason, stack| Transition {
        g,
        old,
        new,
        reason,
        stack,
    };
    match ev.kind {
        K::GoCreate { g, stack, .. } => vec![t(g, St::NotExist, St::Runnable, 0, stack)],
        K::GoCreateBlocked { g, stack, .. } => vec![t(g, St::NotExist, St::Waiting, 0, stack)],
        K::GoCreateSyscall { g } => vec![t(g, St::NotExist, St::Syscall, 0, 0)],
        K::GoStart { g, .. } => vec![t(g, St::Runnable, St::Running, 0, 0)],
        K::GoDestroy => vec![t(cg, St::Running, St::NotExist, 0, 0)],
        K::GoDestroySyscall => vec![t(cg, St::Syscall, St::NotExist, 0, 0)],
        K::GoStop { reason, stack } => vec![t(cg, St::Running, St::Runnable, reason, stack)],
        K::GoBlock { reason, stack } => vec![t(cg, St::Running, St::Waiting, reason, stack)],
        K::GoUnblock { g, stack, .. } => vec![t(g, St::Waiting, St::Runnable, 0, stack)],
        K::GoSwitch { g, .. } => vec![
            t(g, St::Waiting, St::Runnable, 0, 0),
            t(cg, St::Running, St::Waiting, 0, 0),
            t(g, St::Runnable, St::Running, 0, 0),
        ],
        K::GoSwitchDestroy { g, .. } => vec![
            t(g, St::Waiting, St::Runnable, 0, 0),
            t(cg, St::Running, St::NotExist, 0, 0),
            t(g, St::Runnable, St::Running, 0, 0),
        ],
        K::GoSyscallBegin { stack, .. } => vec![t(cg, St::Running, St::Syscall, 0, stack)],
        K::GoSyscallEnd => vec![t(cg, St::Syscall, St::Running, 0, 0)],
        K::GoSyscallEndBlocked => vec![t(cg, St::Syscall, St::Runnable, 0, 0)],
        K::GoStatus { g, status, .. } | K::GoStatusStack { g, status, .. } => {
            let old = if ev.first_sighting {
                St::Undetermined
            } else {
                state(g)
            };
            let stack = match ev.kind {
                K::GoStatusStack { stack, .. } => stack,
                _ => 0,
            };
            vec![t(g, old, St::of(status), 0, stack)]
        }
        _ => Vec::new(),
    }
}

/// One aggregated profile entry: samples of one kind, stack and task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Which profile.
    pub kind: ProfileKind,
    /// Stack (index into the caller's stack table; 0 = no stack).
    pub stack: u32,
    /// Task (index into the caller's task list).
    pub task: u32,
    /// Samples.
    pub count: u64,
    /// Total time (ns).
    pub time: u64,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    kind: ProfileKind,
    stack: u32,
    start: u64,
    end: u64,
}

#[derive(Debug)]
struct GoProf {
    task: u32,
    state: St,
    /// Summary StartTime: first transition into Running.
    started: Option<u64>,
    /// Summary EndTime: the last GoDestroy or "forever" block.
    ended: Option<u64>,
    tracking: [Option<(u64, u32)>; 4],
    /// Samples closed before the goroutine first ran (kept only if it never does).
    before_start: Vec<Sample>,
    /// Samples started after its last end (kept only if it ends again later).
    after_end: Vec<Sample>,
}

/// Accumulates the four profiles; see the module docs.
///
/// Feed every ordered event's transitions with [`Profiler::transition`]
/// (reason already resolved to a string, stack to the caller's index),
/// then call [`Profiler::finish`].
#[derive(Debug)]
pub struct Profiler {
    gs: HashMap<GoId, GoProf>,
    records: HashMap<(u8, u32, u32), (u64, u64)>,
    last: u64,
    /// Keep records per task (else per stack, with `task` = `u32::MAX`).
    pub per_task: bool,
}

impl Default for Profiler {
    fn default() -> Self {
        Profiler {
            gs: HashMap::new(),
            records: HashMap::new(),
            last: 0,
            per_task: true,
        }
    }
}

impl Profiler {
    /// The current state of goroutine `g` as the profiler knows it.
    pub fn state(&self, g: GoId) -> St {
        self.gs.get(&g).map_or(St::NotExist, |s| s.state)
    }

    fn add(records: &mut HashMap<(u8, u32, u32), (u64, u64)>, task: u32, s: Sample, dur: u64) {
        if dur > 0 {
            let r = records.entry((s.kind as u8, s.stack, task)).or_default();
            r.0 += 1;
            r.1 += dur;
        }
    }

    /// Applies one transition at `time`: `task` is the caller's index of
    /// goroutine `tr.g`, `reason` its reason string, `stack` its stack index.
    pub fn transition(&mut self, time: u64, tr: &Transition, task: u32, reason: &str, stack: u32) {
        self.last = time;
        let task = if self.per_task { task } else { u32::MAX };
        let g = self.gs.entry(tr.g).or_insert_with(|| GoProf {
            task,
            state: St::NotExist,
            started: None,
            ended: None,
            tracking: [None; 4],
            before_start: Vec::new(),
            after_end: Vec::new(),
        });
        g.state = tr.new;
        // The profiles (cmd/trace makeComputePprofFunc), old == new included.
        for kind in ProfileKind::ALL {
            let k = kind as usize;
            match g.tracking[k] {
                None => {
                    if tr.new == kind.state() && kind.counts(reason) {
                        g.tracking[k] = Some((time, stack));
                    }
                }
                Some(_) if tr.new == kind.state() => {}
                Some((start, stack)) => {
                    g.tracking[k] = None;
                    let s = Sample {
                        kind,
                        stack,
                        start,
                        end: time,
                    };
                    match (g.started, g.ended) {
                        (None, _) => g.before_start.push(s),
                        (Some(_), Some(e)) if s.start >= e => g.after_end.push(s),
                        (Some(st), _) => {
                            let dur = s.end - s.start.max(st).min(s.end);
                            Self::add(&mut self.records, g.task, s, dur);
                        }
                    }
                }
            }
        }
        // The goroutine's life as the summary sees it (summary.go), old != new only.
        if tr.old == tr.new {
            return;
        }
        match tr.new {
            St::Running if g.started.is_none() => {
                g.started = Some(time);
                // Every earlier sample ended at or before this: Go clips it to nothing.
                g.before_start.clear();
            }
            St::NotExist => {
                Self::end(&mut self.records, g, time);
                // Gone for good (goroutine IDs are never reused): every held
                // sample is resolved, so the entry can go.
                if g.before_start.is_empty() {
                    self.gs.remove(&tr.g);
                }
            }
            St::Waiting if reason == "forever" => Self::end(&mut self.records, g, time),
            _ => {}
        }
    }

    fn end(records: &mut HashMap<(u8, u32, u32), (u64, u64)>, g: &mut GoProf, time: u64) {
        g.ended = Some(time);
        // Samples held past the previous end are inside the life again.
        for s in std::mem::take(&mut g.after_end) {
            Self::add(records, g.task, s, s.end - s.start);
        }
    }

    /// Resolves the held samples and returns the records, largest time first.
    pub fn finish(mut self) -> Vec<Record> {
        for g in self.gs.values_mut() {
            if g.started.is_none() {
                // Never ran: Go's interval is [0, end], the whole sample.
                for s in std::mem::take(&mut g.before_start) {
                    Self::add(&mut self.records, g.task, s, s.end - s.start);
                }
            }
            // after_end samples lie after the goroutine's final end: clipped to nothing.
        }
        let mut out: Vec<Record> = self
            .records
            .into_iter()
            .map(|((kind, stack, task), (count, time))| Record {
                kind: ProfileKind::ALL[kind as usize],
                stack,
                task,
                count,
                time,
            })
            .collect();
        out.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then(a.kind.cmp(&b.kind))
                .then(a.stack.cmp(&b.stack))
                .then(a.task.cmp(&b.task))
        });
        out
    }
}

impl PartialOrd for ProfileKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProfileKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(g: GoId, old: St, new: St) -> Transition {
        Transition {
            g,
            old,
            new,
            reason: 0,
            stack: 0,
        }
    }

    #[test]
    fn first_sched_wait_after_creation_is_not_counted_later_ones_are() {
        let mut p = Profiler::default();
        p.transition(10, &tr(1, St::NotExist, St::Runnable), 0, "", 5);
        p.transition(20, &tr(1, St::Runnable, St::Running), 0, "", 0);
        p.transition(30, &tr(1, St::Running, St::Runnable), 0, "yield", 6);
        p.transition(45, &tr(1, St::Runnable, St::Running), 0, "", 0);
        let r = p.finish();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].kind, r[0].stack, r[0].time, r[0].count),
            (ProfileKind::Sched, 6, 15, 1)
        );
    }

    #[test]
    fn never_running_goroutine_keeps_its_samples_and_open_ones_are_dropped() {
        let mut p = Profiler::default();
        p.transition(0, &tr(2, St::Undetermined, St::Waiting), 0, "", 0);
        p.transition(5, &tr(2, St::Waiting, St::Runnable), 0, "", 3);
        p.transition(9, &tr(2, St::Runnable, St::Syscall), 0, "", 4);
        let r = p.finish();
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!((r[0].kind, r[0].time), (ProfileKind::Sched, 4));
    }

    #[test]
    fn samples_after_a_forever_block_count_only_if_it_ends_again() {
        let block = tr(3, St::Running, St::Waiting);
        let mut p = Profiler::default();
        p.transition(1, &tr(3, St::Undetermined, St::Running), 0, "", 0);
        p.transition(2, &block, 0, "forever", 0);
        p.transition(4, &tr(3, St::Waiting, St::Runnable), 0, "", 7);
        p.transition(10, &tr(3, St::Runnable, St::Running), 0, "", 0);
        p.transition(11, &block, 0, "forever", 0);
        p.transition(20, &tr(3, St::Waiting, St::Runnable), 0, "", 8);
        p.transition(30, &tr(3, St::Runnable, St::Running), 0, "", 0);
        let r = p.finish();
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!((r[0].stack, r[0].time), (7, 6));
    }
}
