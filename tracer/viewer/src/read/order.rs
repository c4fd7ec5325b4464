//! The ordering layer: merges a generation's per-M event streams into one
//! timeline and resolves each event's scheduling context, following the
//! rules of Go's `internal/trace/order.go` (our own code).
//!
//! Model: every M, P and G has a state. An M's stream is its ground truth;
//! events that touch another thread's resources carry sequence numbers
//! (`g_seq` on GoStart/GoUnblock/GoSwitch, `p_seq` on ProcStart/ProcSteal/
//! GoSyscallBegin), counted per generation. The merge repeatedly takes the
//! M whose next event is earliest and tries to *advance* it: if the event's
//! precondition does not hold yet (e.g. a GoStart whose goroutine has not
//! been unblocked), the other Ms are tried in time order. If none can
//! advance, the trace is inconsistent and an error names the stuck event.
//!
//! Invariants of the output:
//! - Times are strictly increasing (a time not after its predecessor is
//!   clamped to predecessor + 1 ns, as Go's reader does).
//! - `ctx` is the emitting M's context *before* the event: the P it held
//!   and the G running on it ([`NONE`] when absent). Events on a G's
//!   behalf (GoBlock, GoStop, GoDestroy, user annotations) therefore have
//!   `ctx.g` = that G; GoStart has `ctx.g == NONE` and names its G in the
//!   kind.
//! - State carries across generations; a G/P must have a status event in a
//!   generation before its sequenced events there.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::Trace;
use super::decode::{BatchEvents, BatchKind, Event, Generation};
use super::error::{ErrorKind, ReadError};
use super::event::{EventKind, GoId, GoState, NONE, ProcId, ProcState, ThreadId};

/// The scheduling context of an event: which M emitted it, and which P and
/// G that M held just before it ([`NONE`] = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ctx {
    /// Emitting thread ([`NONE`] for context-free batches).
    pub m: ThreadId,
    /// Proc held by the thread.
    pub p: ProcId,
    /// Goroutine running on the thread.
    pub g: GoId,
}

/// One event of the merged timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderedEvent {
    /// The decoded event.
    pub kind: EventKind,
    /// Time in ns, strictly increasing along the timeline.
    pub time: u64,
    /// Offset of the event's type byte in the file.
    pub offset: u64,
    /// Index of its generation among those pushed to the [`Orderer`]
    /// (for [`order`], the index into [`Trace::generations`]).
    pub generation: u32,
    /// Context before the event.
    pub ctx: Ctx,
    /// For `GoStatus`/`GoStatusStack`/`ProcStatus`: whether this is the
    /// first time the resource is seen (its state before was undetermined).
    pub first_sighting: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seq {
    generation: u64,
    n: u64,
}

impl Seq {
    fn succeeds(self, prev: Seq) -> bool {
        self.generation == prev.generation && prev.n.checked_add(1) == Some(self.n)
    }
}

#[derive(Clone, Copy, Debug)]
struct GState {
    status: GoState,
    seq: Seq,
}

#[derive(Clone, Copy, Debug)]
struct PState {
    status: ProcState,
    seq: Seq,
}

#[derive(Clone, Copy, Debug)]
struct MState {
    p: ProcId,
    g: GoId,
}

/// Merges generations into one timeline, keeping G/P/M/GC state across them.
///
/// ```
/// use spool_trace::read::{order::Orderer, TraceReader};
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go126.trace")).unwrap();
/// let mut reader = TraceReader::new(&bytes).unwrap();
/// let mut orderer = Orderer::new();
/// let mut n = 0;
/// while let Some(generation) = reader.next_generation() {
///     orderer.push_generation(&generation, |_ev| n += 1).unwrap();
/// }
/// assert!(n > 100);
/// ```
#[derive(Debug, Default)]
pub struct Orderer {
    gs: HashMap<GoId, GState>,
    ps: HashMap<ProcId, PState>,
    ms: HashMap<ThreadId, MState>,
    tasks: HashSet<u64>,
    gc_seq: Option<u64>,
    initial_gen: Option<u64>,
    gens_pushed: u32,
    last_time: u64,
}

/// Requirement of an event on its M's context.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Req {
    Must,
    MustNot,
    May,
}

/// Outcome of trying to advance one event.
enum Step {
    /// Applied; output with this context, then set the M's context to `new`.
    Go { out: Ctx, new: Ctx, first: bool },
    /// Precondition not met yet; try another M.
    Wait,
}

impl Orderer {
    /// A fresh orderer (no state: the first generation pushed is the initial one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Orders one generation, calling `emit` for each event in timeline
    /// order. Generations must be pushed in file order. On error, events
    /// already emitted stay valid; the orderer should not be used further.
    /// For a generation read lazily, use
    /// [`push_generation_lazy`](Self::push_generation_lazy).
    pub fn push_generation(
        &mut self,
        generation: &Generation,
        emit: impl FnMut(&OrderedEvent),
    ) -> Result<(), ReadError> {
        self.push(generation, &[], emit)
    }

    /// Orders a generation read with
    /// [`TraceReader::next_generation_lazy`](super::TraceReader::next_generation_lazy),
    /// decoding its events from `data` (the whole file) as the merge needs
    /// them: memory stays proportional to the number of threads, not events.
    pub fn push_generation_lazy(
        &mut self,
        generation: &Generation,
        data: &[u8],
        emit: impl FnMut(&OrderedEvent),
    ) -> Result<(), ReadError> {
        self.push(generation, data, emit)
    }

    fn push(
        &mut self,
        generation: &Generation,
        data: &[u8],
        mut emit: impl FnMut(&OrderedEvent),
    ) -> Result<(), ReadError> {
        let gen_index = self.gens_pushed;
        self.gens_pushed = self.gens_pushed.saturating_add(1);
        if self.initial_gen.is_none() {
            self.initial_gen = Some(generation.number);
        }
        // Per-M streams, batches concatenated in file order.
        let mut streams: Vec<Stream<'_>> = Vec::new();
        let mut index_of: HashMap<ThreadId, usize> = HashMap::new();
        for (bi, b) in generation.batches.iter().enumerate() {
            if b.kind != BatchKind::Events {
                continue;
            }
            let i = *index_of.entry(b.m).or_insert_with(|| {
                streams.push(Stream {
                    m: b.m,
                    batches: Vec::new(),
                    next_batch: 0,
                    feed: Feed::Done,
                    head: None,
                });
                streams.len() - 1
            });
            streams[i].batches.push(bi as u32);
        }
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        for (i, s) in streams.iter_mut().enumerate() {
            s.advance(generation, data);
            if let Some(e) = &s.head {
                heap.push(Reverse((e.time, i)));
            }
        }
        let mut waiting: Vec<Reverse<(u64, usize)>> = Vec::new();
        loop {
            let Some(Reverse((t, si))) = heap.pop() else {
                if let Some(Reverse((_, si))) = waiting.first() {
                    let m = &streams[*si].m;
                    let Some(ev) = streams[*si].head else {
                        break;
                    };
                    let stuck: Vec<String> = waiting
                        .iter()
                        .take(4)
                        .filter_map(|Reverse((_, s))| streams[*s].head)
                        .map(|e| format!("{} at byte {}", e.kind.name(), e.offset))
                        .collect();
                    return Err(ReadError {
                        offset: ev.offset,
                        batch: generation.batches.get(ev.batch as usize).map(|b| b.offset),
                        kind: ErrorKind::Order {
                            message: format!(
                                "failed to advance: no thread's next event can proceed (M {} waits on {}; pending: {})",
                                fmt_id(*m),
                                ev.kind.name(),
                                stuck.join(", ")
                            ),
                        },
                    });
                }
                break;
            };
            let m = &streams[si].m;
            let Some(ev) = streams[si].head else {
                continue;
            };
            let step = self
                .advance(&ev.kind, *m, generation.number)
                .map_err(|message| ReadError {
                    offset: ev.offset,
                    batch: generation.batches.get(ev.batch as usize).map(|b| b.offset),
                    kind: ErrorKind::Order { message },
                })?;
            match step {
                Step::Wait => {
                    waiting.push(Reverse((t, si)));
                }
                Step::Go { out, new, first } => {
                    if *m != NONE {
                        self.ms.insert(*m, MState { p: new.p, g: new.g });
                    }
                    let time = if ev.time <= self.last_time && self.last_time != 0 {
                        self.last_time + 1
                    } else {
                        ev.time
                    };
                    self.last_time = time;
                    emit(&OrderedEvent {
                        kind: ev.kind,
                        time,
                        offset: ev.offset,
                        generation: gen_index,
                        ctx: out,
                        first_sighting: first,
                    });
                    streams[si].advance(generation, data);
                    if let Some(e) = &streams[si].head {
                        heap.push(Reverse((e.time, si)));
                    }
                    // Progress may unblock the waiting streams.
                    heap.extend(waiting.drain(..));
                }
            }
        }
        Ok(())
    }

    fn cur(&self, m: ThreadId) -> Ctx {
        if m == NONE {
            return Ctx {
                m,
                p: NONE,
                g: NONE,
            };
        }
        let s = self
            .ms
            .get(&m)
            .copied()
            .unwrap_or(MState { p: NONE, g: NONE });
        Ctx { m, p: s.p, g: s.g }
    }

    fn advance(&mut self, kind: &EventKind, m: ThreadId, generation: u64) -> Result<Step, String> {
        use EventKind as K;
        let cur = self.cur(m);
        let go = |out: Ctx, new: Ctx| {
            Ok(Step::Go {
                out,
                new,
                first: false,
            })
        };
        let name = kind.name();
        let check = |m_: Req, p: Req, g: Req| -> Result<(), String> {
            check_ctx(cur, m_, p, g).map_err(|e| format!("{name}: {e}"))
        };
        let seq = |n: u64| Seq { generation, n };
        let initial = self.initial_gen == Some(generation);
        match *kind {
            K::ProcStatus { p, status } => {
                if let ProcState::Invalid(v) = status {
                    return Err(format!("invalid status {v} for proc {p}"));
                }
                let mut first = false;
                let mut out = cur;
                match self.ps.get_mut(&p) {
                    Some(s) => {
                        if status == ProcState::SyscallAbandoned
                            && matches!(s.status, ProcState::Syscall | ProcState::SyscallAbandoned)
                        {
                            // Abandoned syscall P: shown in the context of the M holding it.
                            if let Some((&mid, ms)) = self.ms.iter().find(|(_, ms)| ms.p == p) {
                                out = Ctx { m: mid, p, g: ms.g };
                            }
                        } else if s.status != status {
                            return Err(format!(
                                "inconsistent status for proc {p}: old {:?} vs. new {:?}",
                                s.status, status
                            ));
                        }
                        s.seq = seq(0);
                    }
                    None => {
                        first = true;
                        self.ps.insert(
                            p,
                            PState {
                                status,
                                seq: seq(0),
                            },
                        );
                    }
                }
                let mut new = cur;
                if matches!(status, ProcState::Running | ProcState::Syscall) {
                    new.p = p;
                }
                Ok(Step::Go { out, new, first })
            }
            K::ProcStart { p, p_seq } => {
                let ok = self
                    .ps
                    .get(&p)
                    .is_some_and(|s| s.status == ProcState::Idle && seq(p_seq).succeeds(s.seq));
                if !ok || cur.p != NONE {
                    return Ok(Step::Wait);
                }
                check(Req::Must, Req::MustNot, Req::May)?;
                self.ps.insert(
                    p,
                    PState {
                        status: ProcState::Running,
                        seq: seq(p_seq),
                    },
                );
                go(cur, Ctx { p, ..cur })
            }
            K::ProcStop => {
                let Some(s) = self.ps.get_mut(&cur.p) else {
                    return Err(format!(
                        "ProcStop for proc {} that doesn't exist",
                        fmt_id(cur.p)
                    ));
                };
                if !matches!(s.status, ProcState::Running | ProcState::Syscall) {
                    return Err("ProcStop for proc that's not Running or Syscall".into());
                }
                check(Req::Must, Req::Must, Req::May)?;
                s.status = ProcState::Idle;
                go(cur, Ctx { p: NONE, ..cur })
            }
            K::ProcSteal {
                p,
                p_seq,
                m: victim,
            } => {
                let Some(s) = self.ps.get(&p).copied() else {
                    return Ok(Step::Wait);
                };
                if !matches!(s.status, ProcState::Syscall | ProcState::SyscallAbandoned)
                    || !seq(p_seq).succeeds(s.seq)
                {
                    return Ok(Step::Wait);
                }
                check(Req::Must, Req::May, Req::May)?;
                self.ps.insert(
                    p,
                    PState {
                        status: ProcState::Idle,
                        seq: seq(p_seq),
                    },
                );
                if s.status == ProcState::SyscallAbandoned {
                    return go(cur, cur);
                }
                if victim == cur.m {
                    if cur.p != p {
                        return Err(format!(
                            "tried to self-steal proc {p}, but thread holds proc {}",
                            fmt_id(cur.p)
                        ));
                    }
                    return go(cur, Ctx { p: NONE, ..cur });
                }
                let Some(vs) = self.ms.get_mut(&victim) else {
                    return Err(format!("stole proc {p} from non-existent thread {victim}"));
                };
                if vs.p != p {
                    return Err(format!(
                        "tried to steal proc {p} from thread {victim}, which holds proc {}",
                        fmt_id(vs.p)
                    ));
                }
                vs.p = NONE;
                go(cur, cur)
            }
            K::GoStatus { g, m: gm, status }
            | K::GoStatusStack {
                g, m: gm, status, ..
            } => {
                if let GoState::Invalid(v) = status {
                    return Err(format!("invalid status {v} for goroutine {g}"));
                }
                let mut first = false;
                match self.gs.get_mut(&g) {
                    Some(s) => {
                        if s.status != status {
                            return Err(format!(
                                "inconsistent status for goroutine {g}: old {:?} vs. new {:?}",
                                s.status, status
                            ));
                        }
                        s.seq = seq(0);
                    }
                    None if initial => {
                        first = true;
                        self.gs.insert(
                            g,
                            GState {
                                status,
                                seq: seq(0),
                            },
                        );
                    }
                    None => {
                        return Err(format!(
                            "found goroutine status for new goroutine after the first generation: id={g}"
                        ));
                    }
                }
                let mut out = cur;
                let mut new = cur;
                match status {
                    GoState::Running => new.g = g,
                    GoState::Syscall => {
                        if gm == NONE {
                            return Err(format!("found goroutine {g} in syscall without a thread"));
                        }
                        if gm == cur.m {
                            new.g = g;
                        } else {
                            match self.ms.get(&gm) {
                                Some(ms) if ms.g != g => {
                                    return Err(format!(
                                        "inconsistent thread for syscalling goroutine {g}: thread has goroutine {}",
                                        fmt_id(ms.g)
                                    ));
                                }
                                Some(ms) => out.g = ms.g,
                                None => {
                                    self.ms.insert(gm, MState { p: NONE, g });
                                }
                            }
                            out.m = gm;
                        }
                    }
                    _ => {}
                }
                Ok(Step::Go { out, new, first })
            }
            K::GoCreate { g, .. } | K::GoCreateBlocked { g, .. } => {
                check(Req::Must, Req::Must, Req::May)?;
                if let Some(s) = self.gs.get(&cur.g) {
                    if s.status != GoState::Running {
                        return Err(format!(
                            "{name} from goroutine {} that's not running",
                            cur.g
                        ));
                    }
                }
                if self.gs.contains_key(&g) {
                    return Err(format!("tried to create goroutine {g} that already exists"));
                }
                let status = if matches!(kind, K::GoCreateBlocked { .. }) {
                    GoState::Waiting
                } else {
                    GoState::Runnable
                };
                self.gs.insert(
                    g,
                    GState {
                        status,
                        seq: seq(0),
                    },
                );
                go(cur, cur)
            }
            K::GoCreateSyscall { g } => {
                check(Req::Must, Req::May, Req::MustNot)?;
                if self.gs.contains_key(&g) {
                    return Err(format!(
                        "tried to create goroutine {g} in syscall that already exists"
                    ));
                }
                self.gs.insert(
                    g,
                    GState {
                        status: GoState::Syscall,
                        seq: seq(0),
                    },
                );
                go(cur, Ctx { g, ..cur })
            }
            K::GoStart { g, g_seq } => {
                let ok = self.g_follows(g, GoState::Runnable, seq(g_seq));
                if !ok {
                    return Ok(Step::Wait);
                }
                check(Req::Must, Req::Must, Req::MustNot)?;
                self.gs.insert(
                    g,
                    GState {
                        status: GoState::Running,
                        seq: seq(g_seq),
                    },
                );
                go(cur, Ctx { g, ..cur })
            }
            K::GoDestroy | K::GoStop { .. } | K::GoBlock { .. } => {
                check(Req::Must, Req::Must, Req::Must)?;
                let s = self.running_g(cur.g, name)?;
                match kind {
                    K::GoDestroy => {
                        self.gs.remove(&cur.g);
                    }
                    K::GoStop { .. } => s.status = GoState::Runnable,
                    _ => s.status = GoState::Waiting,
                }
                go(cur, Ctx { g: NONE, ..cur })
            }
            K::GoUnblock { g, g_seq, .. } => {
                let ok = self.g_follows(g, GoState::Waiting, seq(g_seq));
                if !ok {
                    return Ok(Step::Wait);
                }
                self.gs.insert(
                    g,
                    GState {
                        status: GoState::Runnable,
                        seq: seq(g_seq),
                    },
                );
                go(cur, cur)
            }
            K::GoSwitch { g, g_seq } | K::GoSwitchDestroy { g, g_seq } => {
                check(Req::Must, Req::Must, Req::Must)?;
                self.running_g(cur.g, name)?;
                let ok = self.g_follows(g, GoState::Waiting, seq(g_seq));
                if !ok {
                    return Ok(Step::Wait);
                }
                if matches!(kind, K::GoSwitch { .. }) {
                    if let Some(s) = self.gs.get_mut(&cur.g) {
                        s.status = GoState::Waiting;
                    }
                } else {
                    self.gs.remove(&cur.g);
                }
                self.gs.insert(
                    g,
                    GState {
                        status: GoState::Running,
                        seq: seq(g_seq),
                    },
                );
                go(cur, Ctx { g, ..cur })
            }
            K::GoSyscallBegin { p_seq, .. } => {
                check(Req::Must, Req::Must, Req::Must)?;
                self.running_g(cur.g, name)?.status = GoState::Syscall;
                let Some(ps) = self.ps.get_mut(&cur.p) else {
                    return Err(format!("uninitialized proc {} in GoSyscallBegin", cur.p));
                };
                ps.status = ProcState::Syscall;
                if !seq(p_seq).succeeds(ps.seq) {
                    return Err(format!(
                        "GoSyscallBegin: p_seq {p_seq} does not follow {} of proc {}",
                        ps.seq.n, cur.p
                    ));
                }
                ps.seq = seq(p_seq);
                go(cur, cur)
            }
            K::GoSyscallEnd => {
                check(Req::Must, Req::Must, Req::Must)?;
                let s = self.g_in(cur.g, GoState::Syscall, name)?;
                s.status = GoState::Running;
                let Some(ps) = self.ps.get_mut(&cur.p) else {
                    return Err(format!("uninitialized proc {} in GoSyscallEnd", cur.p));
                };
                if ps.status != ProcState::Syscall {
                    return Err(format!("GoSyscallEnd: proc {} is not in a syscall", cur.p));
                }
                ps.status = ProcState::Running;
                go(cur, cur)
            }
            K::GoSyscallEndBlocked => {
                if cur.p != NONE {
                    match self.ps.get(&cur.p) {
                        None => return Err(format!("uninitialized proc {} in {name}", cur.p)),
                        Some(ps) if ps.status == ProcState::Syscall => return Ok(Step::Wait),
                        Some(_) => {}
                    }
                }
                check(Req::Must, Req::May, Req::Must)?;
                self.g_in(cur.g, GoState::Syscall, name)?.status = GoState::Runnable;
                go(cur, Ctx { g: NONE, ..cur })
            }
            K::GoDestroySyscall => {
                check(Req::Must, Req::May, Req::Must)?;
                self.g_in(cur.g, GoState::Syscall, name)?;
                self.gs.remove(&cur.g);
                // The thread may be reused: it loses its P too (as in Go).
                if cur.p != NONE {
                    if let Some(ps) = self.ps.get_mut(&cur.p) {
                        if ps.status == ProcState::Syscall {
                            ps.status = ProcState::SyscallAbandoned;
                        }
                    }
                }
                go(
                    cur,
                    Ctx {
                        g: NONE,
                        p: NONE,
                        ..cur
                    },
                )
            }
            K::GcActive { gc_seq } | K::GcBegin { gc_seq, .. } | K::GcEnd { gc_seq } => {
                match self.gc_seq {
                    Some(prev) if prev.checked_add(1) != Some(gc_seq) => return Ok(Step::Wait),
                    _ => {}
                }
                if matches!(kind, K::GcBegin { .. }) && self.gc_seq.is_some() {
                    check(Req::Must, Req::Must, Req::Must)?;
                }
                self.gc_seq = Some(gc_seq);
                go(cur, cur)
            }
            K::GcSweepActive { .. } | K::GcMarkAssistActive { .. } => go(cur, cur),
            K::GcSweepBegin { .. }
            | K::GcSweepEnd { .. }
            | K::HeapAlloc { .. }
            | K::HeapGoal { .. } => {
                check(Req::Must, Req::Must, Req::May)?;
                go(cur, cur)
            }
            K::StwBegin { .. }
            | K::StwEnd
            | K::GcMarkAssistBegin { .. }
            | K::GcMarkAssistEnd
            | K::ProcsChange { .. }
            | K::GoLabel { .. }
            | K::UserLog { .. }
            | K::UserRegionBegin { .. }
            | K::UserRegionEnd { .. }
            | K::UserTaskEnd { .. } => {
                check(Req::Must, Req::Must, Req::Must)?;
                if let K::UserTaskEnd { task, .. } = *kind {
                    self.tasks.remove(&task);
                }
                go(cur, cur)
            }
            K::UserTaskBegin { task, .. } => {
                check(Req::Must, Req::Must, Req::Must)?;
                if !self.tasks.insert(task) {
                    return Err(format!("task ID conflict: {task}"));
                }
                go(cur, cur)
            }
        }
    }

    /// Whether `g` is in state `want` and `next` is the sequence number
    /// right after its last one (the event may apply now).
    fn g_follows(&self, g: GoId, want: GoState, next: Seq) -> bool {
        self.gs
            .get(&g)
            .is_some_and(|s| s.status == want && next.succeeds(s.seq))
    }

    fn running_g(&mut self, g: GoId, name: &str) -> Result<&mut GState, String> {
        self.g_in(g, GoState::Running, name)
    }

    fn g_in(&mut self, g: GoId, want: GoState, name: &str) -> Result<&mut GState, String> {
        match self.gs.get_mut(&g) {
            None => Err(format!(
                "{name} for goroutine {} that doesn't exist",
                fmt_id(g)
            )),
            Some(s) if s.status != want => Err(format!(
                "{name} for goroutine {g} that is {:?}, not {want:?}",
                s.status
            )),
            Some(s) => Ok(s),
        }
    }
}

/// Where a stream's events come from: the generation's materialized events
/// or a decoder over the file bytes.
enum Feed<'d> {
    Eager(std::ops::Range<u32>),
    Lazy(BatchEvents<'d>),
    Done,
}

/// One M's events: its batches in file order, read one event ahead.
struct Stream<'d> {
    m: ThreadId,
    batches: Vec<u32>,
    next_batch: usize,
    feed: Feed<'d>,
    head: Option<Event>,
}

impl<'d> Stream<'d> {
    /// Moves `head` to the stream's next event (None at its end).
    fn advance(&mut self, g: &Generation, data: &'d [u8]) {
        loop {
            let next = match &mut self.feed {
                Feed::Eager(r) => r.next().and_then(|i| g.events.get(i as usize).copied()),
                Feed::Lazy(it) => it.next(),
                Feed::Done => None,
            };
            if next.is_some() {
                self.head = next;
                return;
            }
            let Some(&b) = self.batches.get(self.next_batch) else {
                self.head = None;
                return;
            };
            self.next_batch += 1;
            self.feed = if g.lazy {
                Feed::Lazy(g.batch_events(b as usize, data))
            } else {
                Feed::Eager(g.batches[b as usize].events.clone())
            };
        }
    }
}

fn fmt_id(id: u64) -> String {
    if id == NONE {
        "-1".into()
    } else {
        id.to_string()
    }
}

fn check_ctx(cur: Ctx, m: Req, p: Req, g: Req) -> Result<(), String> {
    let one = |have: bool, req: Req, what: &str| match (req, have) {
        (Req::Must, false) => Err(format!("expected {what} but didn't have one")),
        (Req::MustNot, true) => Err(format!("expected no {what} but had one")),
        _ => Ok(()),
    };
    one(cur.m != NONE, m, "a thread")?;
    one(cur.p != NONE, p, "a proc")?;
    one(cur.g != NONE, g, "a goroutine")
}

/// Orders a whole decoded trace into one timeline.
///
/// Stops at the first inconsistency with an error naming the event and its
/// byte offset.
pub fn order(trace: &Trace) -> Result<Vec<OrderedEvent>, ReadError> {
    let mut o = Orderer::new();
    let mut out = Vec::with_capacity(trace.event_count());
    for g in &trace.generations {
        o.push_generation(g, |e| out.push(*e))?;
    }
    Ok(out)
}
