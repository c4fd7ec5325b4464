//! Trace analysis for the viewer: turns the ordered event stream into
//! per-task state intervals (running / runnable / blocked with reason /
//! syscall), per-P running slices, who-woke-whom edges, STW and GC ranges,
//! user tasks, regions and logs, and running/runnable counters.
//!
//! Invariants:
//! - Input is consumed one generation at a time, lazily decoded from the
//!   file bytes while ordering, so memory holds the model, not the events.
//!   Task state intervals are not stored: a run on a P records how it ended
//!   (blocked with a reason, still runnable, exited) and the wake that made
//!   it possible, which determines every interval ([`Model::task_states`]).
//! - Every interval has `start <= end`; intervals still open when the trace
//!   ends are closed at the last event's time.
//! - Times in the model are absolute ns (as in the reader); `t0`/`t1` bound them.
//! - Indices (`u32`) into `tasks`, `wakes` and the string table are valid;
//!   [`NO_INDEX`] means "none".

use std::collections::HashMap;

use crate::profile::{self, Profiler, Record};
use crate::read::order::{Ctx, OrderedEvent, Orderer};
use crate::read::{
    EventKind, Generation, GoId, GoState, NONE, ProcId, ReadError, StackId, Stop, TraceReader,
    Version,
};
use crate::stacks::StackTable;

/// A poll longer than this is a long poll (spool's default sysmon threshold;
/// [`crate::problems`] reports the tasks past it).
pub const LONG_POLL_NS: u64 = 10_000_000;

/// "No index" marker for `u32` indices.
pub const NO_INDEX: u32 = u32::MAX;

/// A task (goroutine) state, as drawn in task rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Being polled on a P.
    Running = 0,
    /// Ready, waiting for a P (scheduling latency).
    Runnable = 1,
    /// Waiting for a wake (with a reason).
    Blocked = 2,
    /// In a blocking section / system call.
    Syscall = 3,
}

/// One interval of one task's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSpan {
    /// Task index.
    pub task: u32,
    /// Start time (ns).
    pub start: u64,
    /// End time (ns).
    pub end: u64,
    /// The state.
    pub state: State,
    /// Reason string index (blocked: the block reason; runnable: the stop reason or "created"/"woken").
    pub reason: u32,
}

/// How a run on a P ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum End {
    /// The task blocked (GoBlock) with [`ProcSpan::reason`].
    Blocked = 0,
    /// The task yielded or was preempted (GoStop) and stayed runnable, or its
    /// P was taken while it sat in a blocking section.
    Runnable = 1,
    /// The task exited.
    Exit = 2,
    /// The trace ended (or the P stopped) while it ran.
    Open = 3,
}

/// A slice of a P's time during which one task ran on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcSpan {
    /// Task index.
    pub task: u32,
    /// Start time (ns).
    pub start: u64,
    /// End time (ns).
    pub end: u64,
    /// Index into [`Model::wakes`] of the wake (or spawn) that made this run possible, or [`NO_INDEX`].
    pub wake: u32,
    /// Reason string index for `Blocked`/`Runnable` ends (e.g. "sleep").
    pub reason: u32,
    /// How the run ended.
    pub how: End,
}

/// The running slices of one P.
#[derive(Clone, Debug, Default)]
pub struct ProcRow {
    /// P id.
    pub id: ProcId,
    /// The first M (thread) seen holding it, or [`NONE`].
    pub m: u64,
    /// Slices sorted by start, non-overlapping.
    pub spans: Vec<ProcSpan>,
}

/// One wake edge: `from` made `to` runnable at `time` (by GoUnblock, or by spawning it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wake {
    /// Time (ns).
    pub time: u64,
    /// Waking task, or [`NO_INDEX`] (a thread outside any task: timer, I/O, foreign thread).
    pub from: u32,
    /// Woken task.
    pub to: u32,
    /// Whether this is a spawn (GoCreate) rather than an unblock.
    pub spawn: bool,
    /// The waker's stack at the wake ([`Model::stacks`] index; 0 = none).
    pub stack: u32,
}

/// A time range with a label (STW kind, GC, region name...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Start (ns).
    pub start: u64,
    /// End (ns).
    pub end: u64,
    /// Label string index.
    pub label: u32,
    /// Task index it ran on, or [`NO_INDEX`].
    pub task: u32,
}

/// A runtime/trace user task instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserTask {
    /// Its id in the trace.
    pub id: u64,
    /// Name string index.
    pub name: u32,
    /// Begin time (ns).
    pub start: u64,
    /// End time (ns); `None` if it never ended in the trace.
    pub end: Option<u64>,
    /// Task (goroutine) index that began it.
    pub task: u32,
}

/// A user log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Log {
    /// Time (ns).
    pub time: u64,
    /// Task (goroutine) index.
    pub task: u32,
    /// User task id.
    pub user_task: u64,
    /// Key string index.
    pub key: u32,
    /// Value string index.
    pub value: u32,
}

/// Per-task totals and identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Goroutine / task id from the trace.
    pub id: GoId,
    /// Spawn-site string index (entry function and location).
    pub site: u32,
    /// Creation time, if created during the trace.
    pub created: Option<u64>,
    /// Task index of its creator, or [`NO_INDEX`].
    pub creator: u32,
    /// Total running time (ns).
    pub running: u64,
    /// Total runnable-waiting time (scheduling latency, ns).
    pub runnable: u64,
    /// Total blocked time (ns).
    pub blocked: u64,
    /// Total syscall / blocking-section time (ns).
    pub syscall: u64,
    /// Number of times it started running (polls).
    pub polls: u32,
    /// Longest single running interval (ns).
    pub max_poll: u64,
    /// Longest single runnable wait (ns).
    pub max_wait: u64,
    /// When that longest wait began (ns).
    pub max_wait_at: u64,
    /// When the longest poll began (ns).
    pub max_poll_at: u64,
    /// A free slot: the task exited and was folded into [`Model::folded`]
    /// (analysis without the timeline only); its other fields mean nothing.
    pub gone: bool,
}

/// One exited task kept in a ranking of [`Folded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldedTask {
    /// Task id.
    pub id: GoId,
    /// Spawn-site string index.
    pub site: u32,
    /// The ranked duration (ns).
    pub value: u64,
    /// When it began (ns).
    pub at: u64,
}

/// Tasks that exited during an analysis without the timeline: their totals
/// by spawn site and the top of the rankings the summary prints, so memory
/// holds only the live tasks ([`Options::timeline`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// Exited tasks folded.
    pub tasks: u64,
    /// Per site: [tasks, running, runnable, blocked, syscall] (ns).
    pub sites: HashMap<u32, [u64; 5]>,
    /// The [`FOLD_TOP`] longest single runnable waits, longest first.
    pub top_wait: Vec<FoldedTask>,
    /// The [`FOLD_TOP`] longest single polls, longest first.
    pub top_poll: Vec<FoldedTask>,
    /// Folded tasks whose longest poll exceeded the long-poll threshold.
    pub long_polls: u64,
    /// Folded tasks that waited for a P at least once.
    pub waited: u64,
}

/// Entries kept in each ranking of [`Folded`].
pub const FOLD_TOP: usize = 64;

impl Folded {
    fn rank(list: &mut Vec<FoldedTask>, t: FoldedTask) {
        if t.value == 0 {
            return;
        }
        list.push(t);
        if list.len() >= 2 * FOLD_TOP {
            Self::trim(list);
        }
    }

    fn trim(list: &mut Vec<FoldedTask>) {
        list.sort_unstable_by(|a, b| b.value.cmp(&a.value).then(a.id.cmp(&b.id)));
        list.truncate(FOLD_TOP);
    }
}

/// Everything the viewer shows, built from one trace.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Trace version, if the header was valid.
    pub version: Option<Version>,
    /// File size in bytes.
    pub file_len: u64,
    /// Time of the first event (ns).
    pub t0: u64,
    /// Time of the last event (ns).
    pub t1: u64,
    /// Number of events decoded.
    pub events: u64,
    /// Number of generations.
    pub generations: u64,
    /// Where reading stopped early, if it did.
    pub stop: Option<Stop>,
    /// Problems inside complete generations (at most 100 kept) and their total count.
    pub problems: Vec<ReadError>,
    /// Total problems found (including those not kept).
    pub problem_count: u64,
    /// The ordering error that ended the analysis early, if any.
    pub order_error: Option<ReadError>,
    /// Interned strings (index 0 = "").
    pub strings: Vec<String>,
    /// Tasks in first-seen order.
    pub tasks: Vec<Task>,
    /// Blocked time (ns) by (spawn-site string index, reason string index),
    /// counted under the task's site at the time it ended each wait (a
    /// goroutine named late by its first stack is named before its first wait ends).
    pub blocked_by: HashMap<(u32, u32), u64>,
    /// P rows sorted by id.
    pub procs: Vec<ProcRow>,
    /// Wake edges in time order.
    pub wakes: Vec<Wake>,
    /// Stop-the-world ranges (label = kind).
    pub stw: Vec<Range>,
    /// GC ranges.
    pub gc: Vec<Range>,
    /// User tasks.
    pub user_tasks: Vec<UserTask>,
    /// User regions (label = name).
    pub regions: Vec<Range>,
    /// User logs.
    pub logs: Vec<Log>,
    /// (time, running tasks, runnable tasks) samples: every change point,
    /// or per-bucket maxima once there are more than [`MAX_COUNTERS`] (the
    /// bucket width doubles as needed, so memory stays bounded).
    pub counters: Vec<(u64, u32, u32)>,
    /// Current counter bucket width (ns; 0 = every change point kept).
    pub counter_bucket: u64,
    /// Every stack the model refers to.
    pub stacks: StackTable,
    /// Go's four blocking profiles by (kind, stack, task), largest first ([`profile`]).
    pub profile: Vec<Record>,
    /// Exited tasks folded away (analysis without the timeline; else empty).
    pub folded: Folded,
    /// Wall-clock time (ns since the Unix epoch) of `t0`, when the trace has
    /// a clock snapshot (Go 1.25+ headers).
    pub wall_t0: Option<u64>,
}

/// Bound on [`Model::counters`]' length.
pub const MAX_COUNTERS: usize = 16_384;

/// Every task's runs in start order, flat: task `t`'s are
/// `runs[off[t]..off[t + 1]]`, each `(P index, span index)` into
/// [`Model::procs`]. 8 bytes a run and 4 a task, where a `Vec` per task
/// cost the exporters hundreds of MB on a 2M-task trace.
#[derive(Debug, Default)]
pub struct RunIndex {
    off: Vec<u32>,
    runs: Vec<(u32, u32)>,
}

impl RunIndex {
    /// Indexes `m`'s runs (spans whose task is not one of `m.tasks` are left out).
    pub fn new(m: &Model) -> RunIndex {
        let nt = m.tasks.len();
        let mut off = vec![0u32; nt + 1];
        for p in &m.procs {
            for s in &p.spans {
                if let Some(c) = off.get_mut(s.task as usize + 1) {
                    *c += 1;
                }
            }
        }
        for i in 0..nt {
            off[i + 1] += off[i];
        }
        let mut fill = off[..nt].to_vec();
        let mut runs = vec![(0u32, 0u32); off[nt] as usize];
        for (pi, p) in m.procs.iter().enumerate() {
            for (si, s) in p.spans.iter().enumerate() {
                if let Some(f) = fill.get_mut(s.task as usize) {
                    runs[*f as usize] = (pi as u32, si as u32);
                    *f += 1;
                }
            }
        }
        let start = |r: &(u32, u32)| m.procs[r.0 as usize].spans[r.1 as usize].start;
        for t in 0..nt {
            runs[off[t] as usize..off[t + 1] as usize].sort_by_key(start);
        }
        RunIndex { off, runs }
    }

    /// Task `t`'s runs, in start order.
    pub fn of(&self, t: u32) -> &[(u32, u32)] {
        let t = t as usize;
        match (self.off.get(t), self.off.get(t + 1)) {
            (Some(&a), Some(&b)) => &self.runs[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The run of task `t` whose span contains `time` (both ends included):
    /// `(P index, span index)`.
    pub fn at(&self, m: &Model, t: u32, time: u64) -> Option<(u32, u32)> {
        let runs = self.of(t);
        let span = |r: &(u32, u32)| &m.procs[r.0 as usize].spans[r.1 as usize];
        let k = runs.partition_point(|r| span(r).start <= time);
        let r = *runs.get(k.checked_sub(1)?)?;
        (span(&r).end >= time).then_some(r)
    }
}

impl Model {
    /// The interned string at `i`.
    pub fn str(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", String::as_str)
    }

    /// Duration covered by events (ns).
    pub fn duration(&self) -> u64 {
        self.t1.saturating_sub(self.t0)
    }

    /// Task `t`'s state intervals in time order, derived from its runs and
    /// the wakes that preceded them (see the module invariants). Intervals
    /// before the task's first event in the trace are not known.
    pub fn task_states(&self, t: u32) -> Vec<StateSpan> {
        let mut runs: Vec<&ProcSpan> = self
            .procs
            .iter()
            .flat_map(|p| p.spans.iter())
            .filter(|s| s.task == t)
            .collect();
        runs.sort_by_key(|s| s.start);
        let mut out = Vec::new();
        let task = self.tasks.get(t as usize);
        let push = |out: &mut Vec<StateSpan>, state, start: u64, end: u64, reason| {
            if end > start || state == State::Running {
                out.push(StateSpan {
                    task: t,
                    start,
                    end,
                    state,
                    reason,
                });
            }
        };
        let mut prev: Option<&ProcSpan> = None;
        for r in runs {
            let woke = self.wakes.get(r.wake as usize).map(|w| w.time);
            match prev {
                None => {
                    if let (Some(c), Some(w)) = (task.and_then(|t| t.created), woke) {
                        push(&mut out, State::Runnable, c.max(w), r.start, 0);
                    }
                }
                Some(p) => match (p.how, woke) {
                    (End::Blocked, Some(w)) => {
                        push(&mut out, State::Blocked, p.end, w, p.reason);
                        push(&mut out, State::Runnable, w, r.start, 0);
                    }
                    (End::Blocked, None) => {
                        push(&mut out, State::Blocked, p.end, r.start, p.reason)
                    }
                    _ => push(&mut out, State::Runnable, p.end, r.start, p.reason),
                },
            }
            push(&mut out, State::Running, r.start, r.end, 0);
            prev = Some(r);
        }
        if let Some(p) = prev {
            if p.how == End::Blocked {
                let end = self
                    .wakes
                    .iter()
                    .find(|w| w.to == t && w.time >= p.end)
                    .map_or(self.t1, |w| w.time);
                push(&mut out, State::Blocked, p.end, end, p.reason);
            }
        }
        out
    }

    /// Total time (ns) and samples of profile `kind`.
    pub fn profile_total(&self, kind: profile::ProfileKind) -> (u64, u64) {
        self.profile
            .iter()
            .filter(|r| r.kind == kind)
            .fold((0, 0), |(t, c), r| (t + r.time, c + r.count))
    }

    /// Fraction of the file that could not be read.
    pub fn unread_fraction(&self) -> f64 {
        match (&self.stop, self.file_len) {
            (Some(s), n) if n > 0 => s.unread_bytes as f64 / n as f64,
            _ => 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Cur {
    state: Option<State>,
    since: u64,
    reason: u32,
    p: ProcId,
    wake: u32,
}

struct Builder {
    m: Model,
    intern: HashMap<String, u32>,
    index: HashMap<GoId, u32>,
    cur: Vec<Cur>,
    site_known: Vec<bool>,
    proc_index: HashMap<ProcId, usize>,
    open_proc: HashMap<ProcId, (u64, u32, u32)>,
    /// How the task's current run is about to end (set just before closing it).
    ending: (End, u32),
    region_stack: HashMap<u32, Vec<(u64, u32, u64)>>,
    open_user: HashMap<u64, usize>,
    stw_open: HashMap<u32, (u64, u32)>,
    gc_open: Option<u64>,
    running: u32,
    runnable: u32,
    last: u64,
    s_created: u32,
    s_woken: u32,
    s_unknown_site: u32,
    s_gc: u32,
    profiler: Profiler,
    /// [`Options::timeline`].
    timeline: bool,
    /// Free task slots (folded tasks), reused by new tasks.
    free: Vec<u32>,
    /// Task slots a problem log refers to: never folded.
    pinned: std::collections::HashSet<u32>,
    /// (time, wall ns) of the first clock snapshot seen.
    clock: Option<(u64, u64)>,
}

/// Decodes, orders and analyses a trace held in memory. `progress(done,
/// total)` is called after each generation. `Err` only if `data` is not a
/// trace; read and ordering problems end up in the model.
pub fn analyze(data: &[u8], progress: impl FnMut(u64, u64)) -> Result<Model, ReadError> {
    analyze_with(data, Options::default(), progress)
}

/// What the analysis keeps beyond the totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Keep the timeline: every run on a P ([`ProcRow::spans`]), every wake
    /// ([`Model::wakes`]), every task, and profile records per task. Without
    /// it (what `summary` and `pprof` need) runs and wakes are counted but
    /// not stored, profile records are per stack ([`Record::task`] =
    /// `u32::MAX`), and an exited task is folded into [`Model::folded`] and
    /// its slot reused ([`Task::gone`]), so memory follows the live tasks.
    pub timeline: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeline: true }
    }
}

/// [`analyze`] with [`Options`].
///
/// ```
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go126.trace")).unwrap();
/// use spool_trace::analysis::{analyze, analyze_with, Options};
/// let full = analyze(&bytes, |_, _| {}).unwrap();
/// let lean = analyze_with(&bytes, Options { timeline: false }, |_, _| {}).unwrap();
/// assert!(lean.wakes.is_empty() && lean.procs.iter().all(|p| p.spans.is_empty()));
/// // Exited tasks are folded into per-site totals: the count stays.
/// let live = lean.tasks.iter().filter(|t| !t.gone).count() as u64;
/// assert_eq!(full.tasks.len() as u64, live + lean.folded.tasks);
/// ```
pub fn analyze_with(
    data: &[u8],
    opts: Options,
    mut progress: impl FnMut(u64, u64),
) -> Result<Model, ReadError> {
    let mut reader = TraceReader::new(data)?;
    let data = reader.data();
    let mut b = Builder::new();
    b.timeline = opts.timeline;
    b.profiler.per_task = opts.timeline;
    b.m.version = Some(reader.version());
    b.m.file_len = data.len() as u64;
    let mut orderer = Orderer::new();
    while let Some(generation) = reader.next_generation_lazy() {
        b.m.generations += 1;
        b.m.problem_count += generation.problems.len() as u64;
        for p in &generation.problems {
            if b.m.problems.len() < 100 {
                b.m.problems.push(p.clone());
            }
        }
        let res = orderer.push_generation_lazy(&generation, data, |ev| b.event(&generation, ev));
        progress(reader.position(), reader.len());
        if let Err(e) = res {
            b.m.order_error = Some(e);
            break;
        }
    }
    b.m.stop = reader.stop().cloned();
    Ok(b.finish())
}

impl Builder {
    fn new() -> Self {
        let mut b = Builder {
            m: Model::default(),
            intern: HashMap::new(),
            index: HashMap::new(),
            cur: Vec::new(),
            site_known: Vec::new(),
            proc_index: HashMap::new(),
            open_proc: HashMap::new(),
            ending: (End::Open, 0),
            region_stack: HashMap::new(),
            open_user: HashMap::new(),
            stw_open: HashMap::new(),
            gc_open: None,
            running: 0,
            runnable: 0,
            last: 0,
            s_created: 0,
            s_woken: 0,
            s_unknown_site: 0,
            s_gc: 0,
            profiler: Profiler::default(),
            timeline: true,
            free: Vec::new(),
            pinned: std::collections::HashSet::new(),
            clock: None,
        };
        b.string("");
        b.s_created = b.string("created");
        b.s_woken = b.string("woken");
        b.s_unknown_site = b.string("(unknown: running before the trace started)");
        b.s_gc = b.string("GC");
        b
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.intern.get(s) {
            return i;
        }
        let i = self.m.strings.len() as u32;
        self.m.strings.push(s.to_string());
        self.intern.insert(s.to_string(), i);
        i
    }

    /// "func (file:line)" of the outermost frame of `stack`, or None.
    fn site_of(&mut self, g: &Generation, stack: StackId, outermost: bool) -> Option<u32> {
        let frames = g.stack(stack);
        let f = if outermost {
            frames.last()
        } else {
            frames.first()
        }?;
        let func = g.string(f.func);
        let file = g.string(f.file);
        let label = if file.is_empty() {
            func.to_string()
        } else {
            format!("{func} ({file}:{})", f.line)
        };
        Some(self.string(&label))
    }

    fn task(&mut self, id: GoId) -> u32 {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let task = Task {
            id,
            site: self.s_unknown_site,
            created: None,
            creator: NO_INDEX,
            running: 0,
            runnable: 0,
            blocked: 0,
            syscall: 0,
            polls: 0,
            max_poll: 0,
            max_wait: 0,
            max_wait_at: 0,
            max_poll_at: 0,
            gone: false,
        };
        let cur = Cur {
            state: None,
            since: 0,
            reason: 0,
            p: NONE,
            wake: NO_INDEX,
        };
        let i = if let Some(i) = self.free.pop() {
            self.m.tasks[i as usize] = task;
            self.cur[i as usize] = cur;
            self.site_known[i as usize] = false;
            i
        } else {
            self.m.tasks.push(task);
            self.cur.push(cur);
            self.site_known.push(false);
            self.m.tasks.len() as u32 - 1
        };
        self.index.insert(id, i);
        i
    }

    /// Task `t` exited: without the timeline, fold it into [`Model::folded`]
    /// and free its slot, unless a problem log names it (the summary prints
    /// its name).
    fn exit(&mut self, t: u32) {
        if self.timeline || self.pinned.contains(&t) {
            return;
        }
        let task = &mut self.m.tasks[t as usize];
        let f = &mut self.m.folded;
        f.tasks += 1;
        let s = f.sites.entry(task.site).or_default();
        for (k, v) in [1, task.running, task.runnable, task.blocked, task.syscall]
            .into_iter()
            .enumerate()
        {
            s[k] += v;
        }
        let ft = |value, at| FoldedTask {
            id: task.id,
            site: task.site,
            value,
            at,
        };
        Folded::rank(&mut f.top_wait, ft(task.max_wait, task.max_wait_at));
        Folded::rank(&mut f.top_poll, ft(task.max_poll, task.max_poll_at));
        f.long_polls += u64::from(task.max_poll > LONG_POLL_NS);
        f.waited += u64::from(task.max_wait > 0);
        task.gone = true;
        self.index.remove(&task.id);
        self.free.push(t);
    }

    fn learn_site(&mut self, g: &Generation, t: u32, stack: StackId) {
        if t != NO_INDEX && !self.site_known[t as usize] && stack != 0 {
            if let Some(s) = self.site_of(g, stack, true) {
                self.m.tasks[t as usize].site = s;
                self.site_known[t as usize] = true;
            }
        }
    }

    fn count(&mut self, st: Option<State>, delta: i32) {
        let c = match st {
            Some(State::Running) | Some(State::Syscall) => &mut self.running,
            Some(State::Runnable) => &mut self.runnable,
            _ => return,
        };
        *c = c.saturating_add_signed(delta);
    }

    /// Closes task `t`'s current interval at `now` and enters `next`.
    fn transition(&mut self, t: u32, now: u64, next: Option<State>, reason: u32, p: ProcId) {
        let c = self.cur[t as usize];
        if let Some(st) = c.state {
            let d = now.saturating_sub(c.since);
            let task = &mut self.m.tasks[t as usize];
            match st {
                State::Running => {
                    task.running += d;
                    if d > task.max_poll {
                        task.max_poll = d;
                        task.max_poll_at = c.since;
                    }
                }
                State::Runnable => {
                    task.runnable += d;
                    if d > task.max_wait {
                        task.max_wait = d;
                        task.max_wait_at = c.since;
                    }
                }
                State::Blocked => {
                    task.blocked += d;
                    let site = task.site;
                    *self.m.blocked_by.entry((site, c.reason)).or_default() += d;
                }
                State::Syscall => task.syscall += d,
            }
        }
        self.count(c.state, -1);
        self.count(next, 1);
        let cur = &mut self.cur[t as usize];
        cur.state = next;
        cur.since = now;
        cur.reason = reason;
        cur.p = p;
        self.push_counter(now);
    }

    fn push_counter(&mut self, now: u64) {
        let w = self.m.counter_bucket;
        let (t, r, q) = (now, self.running, self.runnable);
        let c = &mut self.m.counters;
        if w == 0 {
            match c.last_mut() {
                Some(l) if l.0 == t => *l = (t, r, q),
                Some(l) if l.1 == r && l.2 == q => {}
                _ => c.push((t, r, q)),
            }
        } else {
            let b = t - t % w;
            match c.last_mut() {
                Some(l) if l.0 == b => {
                    l.1 = l.1.max(r);
                    l.2 = l.2.max(q);
                }
                _ => c.push((b, r, q)),
            }
        }
        if c.len() > MAX_COUNTERS {
            // Double the bucket width and merge: memory stays bounded.
            let span = c.last().map_or(0, |l| l.0) - c[0].0;
            let mut w2 = (w * 2).max(span / (MAX_COUNTERS as u64 / 2)).max(1);
            if w2 <= w {
                w2 = w + 1;
            }
            let old = std::mem::take(c);
            for (t, r, q) in old {
                let b = t - t % w2;
                match c.last_mut() {
                    Some(l) if l.0 == b => {
                        l.1 = l.1.max(r);
                        l.2 = l.2.max(q);
                    }
                    _ => c.push((b, r, q)),
                }
            }
            self.m.counter_bucket = w2;
        }
    }

    fn proc_row(&mut self, p: ProcId) -> usize {
        if let Some(&i) = self.proc_index.get(&p) {
            return i;
        }
        let i = self.m.procs.len();
        self.m.procs.push(ProcRow {
            id: p,
            m: NONE,
            spans: Vec::new(),
        });
        self.proc_index.insert(p, i);
        i
    }

    fn open_span(&mut self, p: ProcId, now: u64, t: u32, wake: u32) {
        if p == NONE {
            return;
        }
        self.close_span(p, now);
        self.proc_row(p);
        self.open_proc.insert(p, (now, t, wake));
    }

    fn close_span(&mut self, p: ProcId, now: u64) {
        let (how, reason) = std::mem::replace(&mut self.ending, (End::Open, 0));
        if let Some((start, task, wake)) = self.open_proc.remove(&p) {
            let i = self.proc_row(p);
            if !self.timeline {
                return;
            }
            self.m.procs[i].spans.push(ProcSpan {
                task,
                start,
                end: now.max(start),
                wake,
                reason,
                how,
            });
        }
    }

    /// Ends task `t`'s run on its P, recording how it ended.
    fn stop_running(&mut self, t: u32, now: u64, how: End, reason: u32) {
        let p = self.cur[t as usize].p;
        if p != NONE && self.open_proc.get(&p).is_some_and(|o| o.1 == t) {
            self.ending = (how, reason);
            self.close_span(p, now);
        }
    }

    fn event(&mut self, g: &Generation, ev: &OrderedEvent) {
        use EventKind as K;
        let now = ev.time;
        if self.m.events == 0 {
            self.m.t0 = now;
        }
        self.m.events += 1;
        self.last = now;
        if self.clock.is_none() {
            if let Some(c) = g.clock {
                let at = g.ticks_to_ns(c.ticks);
                let wall = c.wall_sec.saturating_mul(1_000_000_000) + c.wall_nsec;
                self.clock = Some((at, wall));
            }
        }
        let Ctx {
            p: cp,
            g: cg,
            m: cm,
        } = ev.ctx;
        if cp != NONE && cm != NONE {
            let i = self.proc_row(cp);
            if self.m.procs[i].m == NONE {
                self.m.procs[i].m = cm;
            }
        }
        let cur_task = if cg == NONE { NO_INDEX } else { self.task(cg) };
        self.profile_event(g, ev);
        match ev.kind {
            K::GoCreate {
                g: ng,
                new_stack,
                stack,
            }
            | K::GoCreateBlocked {
                g: ng,
                new_stack,
                stack,
            } => {
                let t = self.task(ng);
                let site = self
                    .site_of(g, new_stack, true)
                    .or_else(|| self.site_of(g, stack, false));
                if let Some(s) = site {
                    self.m.tasks[t as usize].site = s;
                    self.site_known[t as usize] = true;
                }
                self.learn_site(g, cur_task, stack);
                self.m.tasks[t as usize].created = Some(now);
                self.m.tasks[t as usize].creator = cur_task;
                let blocked = matches!(ev.kind, K::GoCreateBlocked { .. });
                self.wake(g, now, cur_task, t, true, stack);
                let (st, r) = if blocked {
                    (State::Blocked, self.s_created)
                } else {
                    (State::Runnable, self.s_created)
                };
                self.transition(t, now, Some(st), r, NONE);
            }
            K::GoCreateSyscall { g: ng } => {
                let t = self.task(ng);
                self.m.tasks[t as usize].created = Some(now);
                self.transition(t, now, Some(State::Syscall), 0, cp);
            }
            K::GoStatus { g: sg, status, .. } | K::GoStatusStack { g: sg, status, .. } => {
                if let K::GoStatusStack { stack, .. } = ev.kind {
                    let t = self.task(sg);
                    self.learn_site(g, t, stack);
                }
                if ev.first_sighting {
                    let t = self.task(sg);
                    let st = match status {
                        GoState::Running => Some(State::Running),
                        GoState::Runnable => Some(State::Runnable),
                        GoState::Waiting => Some(State::Blocked),
                        GoState::Syscall => Some(State::Syscall),
                        GoState::Invalid(_) => None,
                    };
                    let p = if status == GoState::Running { cp } else { NONE };
                    self.transition(t, now, st, 0, p);
                    if status == GoState::Running {
                        self.m.tasks[t as usize].polls += 1;
                        self.open_span(cp, now, t, NO_INDEX);
                    }
                }
            }
            K::GoStart { g: sg, .. }
            | K::GoSwitch { g: sg, .. }
            | K::GoSwitchDestroy { g: sg, .. } => {
                if let K::GoSwitch { .. } | K::GoSwitchDestroy { .. } = ev.kind {
                    if cur_task != NO_INDEX {
                        if matches!(ev.kind, K::GoSwitch { .. }) {
                            let r = self.string("coroutine switch");
                            self.stop_running(cur_task, now, End::Blocked, r);
                            self.transition(cur_task, now, Some(State::Blocked), r, NONE);
                        } else {
                            self.stop_running(cur_task, now, End::Exit, 0);
                            self.transition(cur_task, now, None, 0, NONE);
                            self.exit(cur_task);
                        }
                    }
                }
                let t = self.task(sg);
                let wake = std::mem::replace(&mut self.cur[t as usize].wake, NO_INDEX);
                self.m.tasks[t as usize].polls += 1;
                self.transition(t, now, Some(State::Running), 0, cp);
                self.open_span(cp, now, t, wake);
            }
            K::GoStop { reason, stack } | K::GoBlock { reason, stack } => {
                if cur_task != NO_INDEX {
                    self.learn_site(g, cur_task, stack);
                    let r = self.string(g.string(reason));
                    let (st, how) = if matches!(ev.kind, K::GoStop { .. }) {
                        (State::Runnable, End::Runnable)
                    } else {
                        (State::Blocked, End::Blocked)
                    };
                    self.stop_running(cur_task, now, how, r);
                    self.transition(cur_task, now, Some(st), r, NONE);
                }
            }
            K::GoDestroy => {
                if cur_task != NO_INDEX {
                    self.stop_running(cur_task, now, End::Exit, 0);
                    self.transition(cur_task, now, None, 0, NONE);
                    self.exit(cur_task);
                }
            }
            K::GoDestroySyscall => {
                if cur_task != NO_INDEX {
                    self.stop_running(cur_task, now, End::Exit, 0);
                    self.transition(cur_task, now, None, 0, NONE);
                    self.exit(cur_task);
                }
            }
            K::GoUnblock { g: wg, stack, .. } => {
                self.learn_site(g, cur_task, stack);
                let t = self.task(wg);
                self.wake(g, now, cur_task, t, false, stack);
                let r = self.s_woken;
                self.transition(t, now, Some(State::Runnable), r, NONE);
            }
            K::GoSyscallBegin { stack, .. } => {
                if cur_task != NO_INDEX {
                    self.learn_site(g, cur_task, stack);
                    self.transition(cur_task, now, Some(State::Syscall), 0, cp);
                }
            }
            K::GoSyscallEnd => {
                if cur_task != NO_INDEX {
                    self.transition(cur_task, now, Some(State::Running), 0, cp);
                }
            }
            K::GoSyscallEndBlocked => {
                if cur_task != NO_INDEX {
                    let r = self.string("syscall ended without a P");
                    self.stop_running(cur_task, now, End::Runnable, r);
                    self.transition(cur_task, now, Some(State::Runnable), r, NONE);
                }
            }
            K::ProcSteal { p, .. } => self.close_span(p, now),
            K::ProcStop => {
                if cp != NONE {
                    self.close_span(cp, now);
                }
            }
            K::ProcStatus { p, .. } | K::ProcStart { p, .. } => {
                self.proc_row(p);
            }
            K::StwBegin { kind, stack } => {
                self.learn_site(g, cur_task, stack);
                let label = format!("stop-the-world ({})", g.string(kind));
                let l = self.string(&label);
                self.stw_open.insert(cur_task, (now, l));
            }
            K::StwEnd => {
                if let Some((start, label)) = self.stw_open.remove(&cur_task) {
                    self.m.stw.push(Range {
                        start,
                        end: now,
                        label,
                        task: cur_task,
                    });
                }
            }
            K::GcBegin { .. } => self.gc_open = Some(now),
            K::GcActive { .. } => {
                if self.gc_open.is_none() {
                    self.gc_open = Some(now)
                }
            }
            K::GcEnd { .. } => {
                let start = self.gc_open.take().unwrap_or(self.m.t0);
                self.m.gc.push(Range {
                    start,
                    end: now,
                    label: self.s_gc,
                    task: NO_INDEX,
                });
            }
            K::UserTaskBegin {
                task, name, stack, ..
            } => {
                self.learn_site(g, cur_task, stack);
                let name = self.string(g.string(name));
                self.open_user.insert(task, self.m.user_tasks.len());
                self.m.user_tasks.push(UserTask {
                    id: task,
                    name,
                    start: now,
                    end: None,
                    task: cur_task,
                });
            }
            K::UserTaskEnd { task, .. } => {
                if let Some(i) = self.open_user.remove(&task) {
                    self.m.user_tasks[i].end = Some(now);
                }
            }
            K::UserRegionBegin {
                task, name, stack, ..
            } => {
                self.learn_site(g, cur_task, stack);
                let name = self.string(g.string(name));
                self.region_stack
                    .entry(cur_task)
                    .or_default()
                    .push((task, name, now));
            }
            K::UserRegionEnd { name, .. } => {
                let name = self.string(g.string(name));
                if let Some(stack) = self.region_stack.get_mut(&cur_task) {
                    if let Some(pos) = stack.iter().rposition(|r| r.1 == name) {
                        let (_, label, start) = stack.remove(pos);
                        self.m.regions.push(Range {
                            start,
                            end: now,
                            label,
                            task: cur_task,
                        });
                    }
                }
            }
            K::UserLog {
                task,
                key,
                value,
                stack,
            } => {
                self.learn_site(g, cur_task, stack);
                let key = self.string(g.string(key));
                let value = self.string(g.string(value));
                if cur_task != NO_INDEX && self.m.str(key).starts_with("spool.") {
                    self.pinned.insert(cur_task);
                }
                self.m.logs.push(Log {
                    time: now,
                    task: cur_task,
                    user_task: task,
                    key,
                    value,
                });
            }
            K::ProcsChange { .. }
            | K::GcSweepActive { .. }
            | K::GcSweepBegin { .. }
            | K::GcSweepEnd { .. }
            | K::GcMarkAssistActive { .. }
            | K::GcMarkAssistBegin { .. }
            | K::GcMarkAssistEnd
            | K::HeapAlloc { .. }
            | K::HeapGoal { .. }
            | K::GoLabel { .. } => {}
        }
    }

    /// Records that `from` woke (or spawned) `to` at `now`, with the waker's stack.
    fn wake(&mut self, g: &Generation, now: u64, from: u32, to: u32, spawn: bool, stack: StackId) {
        if !self.timeline {
            return;
        }
        let wake = self.m.wakes.len() as u32;
        let stack = self.stack(g, stack);
        self.m.wakes.push(Wake {
            time: now,
            from,
            to,
            spawn,
            stack,
        });
        self.cur[to as usize].wake = wake;
    }

    /// The model's index of generation `g`'s stack `id`.
    fn stack(&mut self, g: &Generation, id: StackId) -> u32 {
        let mut stacks = std::mem::take(&mut self.m.stacks);
        let i = stacks.intern(g, id, |s| self.string(s));
        self.m.stacks = stacks;
        i
    }

    /// Feeds `ev`'s goroutine transitions to the profiler.
    fn profile_event(&mut self, g: &Generation, ev: &OrderedEvent) {
        let trs = profile::transitions(ev, |id| self.profiler.state(id));
        for tr in trs {
            if tr.g == NONE {
                continue;
            }
            let task = self.task(tr.g);
            let stack = self.stack(g, tr.stack);
            self.profiler
                .transition(ev.time, &tr, task, g.string(tr.reason), stack);
        }
    }

    fn finish(mut self) -> Model {
        let end = self.last;
        self.m.t1 = end;
        self.m.profile = std::mem::take(&mut self.profiler).finish();
        Folded::trim(&mut self.m.folded.top_wait);
        Folded::trim(&mut self.m.folded.top_poll);
        self.m.wall_t0 = self
            .clock
            .map(|(at, wall)| (wall + self.m.t0).saturating_sub(at));
        for t in 0..self.m.tasks.len() as u32 {
            if self.cur[t as usize].state.is_some() {
                let p = self.cur[t as usize].p;
                self.transition(t, end, None, 0, p);
            }
        }
        let open: Vec<ProcId> = self.open_proc.keys().copied().collect();
        for p in open {
            self.close_span(p, end);
        }
        for (_, (start, label)) in std::mem::take(&mut self.stw_open) {
            self.m.stw.push(Range {
                start,
                end,
                label,
                task: NO_INDEX,
            });
        }
        if let Some(start) = self.gc_open.take() {
            self.m.gc.push(Range {
                start,
                end,
                label: self.s_gc,
                task: NO_INDEX,
            });
        }
        for stack in std::mem::take(&mut self.region_stack).into_values() {
            for (_, label, start) in stack {
                self.m.regions.push(Range {
                    start,
                    end,
                    label,
                    task: NO_INDEX,
                });
            }
        }
        self.m.procs.sort_by_key(|p| p.id);
        for p in &mut self.m.procs {
            p.spans.sort_by_key(|s| s.start);
        }
        self.m.stw.sort_by_key(|r| r.start);
        self.m.regions.sort_by_key(|r| r.start);
        self.m
    }
}
