//! One M (OS thread) as the tracer sees it ([`MState`], thread-local): its
//! buffer slot, shared with the collector ([`MShared`]), its scheduling
//! context (P, running task, statuses written), and the [`EventWriter`] its
//! hook bodies write through.
//!
//! # Fields and who may touch them
//! - [`MShared::slot`] (the open batch and the M's last timestamp): the owning
//!   thread inside [`with_writer`], or a collector (writer thread, `stop`),
//!   always under the slot's lock. The owner's lock also is the re-entrancy
//!   guard: a hook called from inside a section of the same thread finds the
//!   slot held by its owner and writes nothing (`Lost::Reentrant`).
//! - Everything else in [`MState`] (current P, current task and its stack
//!   ID, the status generations, stack cache): the owning thread only
//!   (`Cell`s in a `thread_local!`).
//!
//! # Invariants
//! - Within a section the M's batch belongs to the generation the section
//!   writes in, and timestamps never go below the M's previous one.
//! - An M's batches reach the writer in emission order: a batch is either
//!   sealed and pushed by its M (before the M opens the next one) or taken by a
//!   collector that then drains the inbox before writing the taken batch.
//! - The P recorded by `proc_start`/`proc_stop` is tracked even while tracing
//!   is off (those hooks are rare), so a trace started later knows which Ms
//!   hold Ps. The running task is tracked only while tracing is on and is
//!   stamped with the trace it was recorded in.
//! - `ctx_gen == g` means: in generation `g` this M has written (or bound by
//!   its own events) the status of the P it holds and of the task it runs;
//!   every change of P or task that does not write such an event resets it.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::buf::{Batch, Sealed};
use crate::clock;
use crate::generation::Generation;
use crate::handoff::{self, OpenBatch, collect_slot, ensure_batch, hand_over, section_on};
use crate::inbox::push_sealed;
use crate::lost::{Lost, lost};
use crate::publish::{BASE_GEN, GEN, current_generation};
use crate::slot::Slot;
use crate::vocab::{SpawnSite, UNSET, clip, lock, without_reports};

/// The part of an M the collector reaches.
#[derive(Debug)]
pub(crate) struct MShared {
    /// The M's ID in the trace (small, never reused).
    pub(crate) id: u64,
    pub(crate) slot: Slot<MBuf>,
}

/// The M's open batch and clock (`handoff::MBuf`), guarded by the slot lock.
pub(crate) type MBuf = handoff::MBuf<Batch>;

impl OpenBatch for Batch {
    type Sealed = Sealed;

    #[inline(always)]
    fn global(&self) -> u64 {
        self.generation().global()
    }

    #[inline(always)]
    fn is_empty(&self) -> bool {
        Batch::is_empty(self)
    }

    #[inline(always)]
    fn seal(self) -> Sealed {
        Batch::seal(self)
    }
}

/// The next timestamp of an M: now, but never before its previous one.
#[inline(always)]
fn tick(buf: &mut MBuf) -> u64 {
    let t = clock::now().max(buf.last_ts);
    buf.last_ts = t;
    t
}

/// Every live M (a thread that used a hook); a thread removes itself when it
/// exits, and the writer also prunes entries whose `Arc` is the registry's alone.
pub(crate) static REGISTRY: Mutex<Vec<Arc<MShared>>> = Mutex::new(Vec::new());

/// Next M ID. IDs start at 1 and are never reused.
static NEXT_M: AtomicU64 = AtomicU64::new(1);

/// The runtime pseudo-P/pseudo-task (see `record.rs`), lent to this thread
/// for one stop-the-world or `ProcsChange` outside any task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuntimeLoan {
    /// The thread had no P and took the runtime pseudo-P.
    pub(crate) took_proc: bool,
    /// `BASE_GEN` of the trace the loan belongs to.
    pub(crate) trace: u64,
}

/// (site → stack ID) cache for the current generation: 2-way set
/// associative, `2^CACHE_SETS_LOG2` sets.
const CACHE_SETS_LOG2: u32 = 4;
const CACHE_SLOTS: usize = 2 << CACHE_SETS_LOG2;

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    loc: *const std::panic::Location<'static>,
    name: *const u8,
    generation: u64,
    stack: u64,
}

const EMPTY_ENTRY: CacheEntry = CacheEntry {
    loc: ptr::null(),
    name: ptr::null(),
    generation: 0,
    stack: 0,
};

/// (string → ID) cache for the current generation: direct-mapped,
/// `2^STR_SLOTS_LOG2` entries, keyed by the caller's address and length and
/// verified against the stored bytes, so a reused buffer holding new text
/// misses instead of returning a stale ID.
const STR_SLOTS_LOG2: u32 = 4;
const STR_SLOTS: usize = 1 << STR_SLOTS_LOG2;

#[derive(Debug, Clone, Copy)]
struct StrEntry {
    addr: *const u8,
    len: usize,
    generation: u64,
    id: u64,
    /// `len` bytes equal to the interned string, alive as long as
    /// generation `generation` (a fixed string or its arena copy).
    stored: *const u8,
}

const EMPTY_STR: StrEntry = StrEntry {
    addr: ptr::null(),
    len: 0,
    generation: 0,
    id: 0,
    stored: ptr::null(),
};

/// Thread-local state of an M.
///
/// The running task is kept in flat cells rather than one `Option<struct>`
/// so the hot path reads only the word it needs. Deliberately no pointer to
/// the task's `GoTraceState`: the tracer never touches a task's slot after
/// `go_start` returns, so a task freed between its last poll and
/// `go_block`/`go_destroy` cannot be a use-after-free.
#[derive(Debug)]
pub(crate) struct MState {
    pub(crate) shared: Arc<MShared>,
    /// This is a tracer thread whose hooks write nothing (its slot is
    /// closed and it is not in the registry).
    internal: Cell<bool>,
    /// The P this M holds, as reported by `proc_start` ([`UNSET`] = none).
    p: Cell<u64>,
    /// Generation in which this M last wrote its P's status (or bound it).
    pub(crate) p_gen: Cell<u64>,
    /// `BASE_GEN` of the trace that recorded the running task's `go_start`
    /// ([`UNSET`] = no running task).
    g_trace: Cell<u64>,
    /// The running task's ID and spawn site (valid while `g_trace` is set).
    g_id: Cell<u64>,
    g_site: Cell<Option<SpawnSite>>,
    /// The running task's stack ID in generation `g_stack_gen` (looked up
    /// at most once per generation per run).
    g_stack: Cell<u64>,
    g_stack_gen: Cell<u64>,
    /// Generation in which this M last wrote its task's status (or bound it).
    pub(crate) g_gen: Cell<u64>,
    /// Generation in which this M's current P and task are both known to
    /// the trace (`p_gen`/`g_gen` checked): [`EventWriter`]'s one-compare fast
    /// path for "statuses already written". Reset to 0 whenever the P or
    /// the task changes in a way that did not write its binding event.
    pub(crate) ctx_gen: Cell<u64>,
    /// The running task is inside a blocking call (`GoSyscallBegin`
    /// written, no `GoSyscallEnd`/`GoSyscallEndBlocked` yet): the statuses
    /// this M restates in a new generation are `Syscall`, not `Running`.
    pub(crate) in_syscall: Cell<bool>,
    /// The runtime pseudo-P/task this thread holds, if any.
    pub(crate) runtime_loan: Cell<Option<RuntimeLoan>>,
    /// This thread's foreign pseudo-P (`record.rs`), [`UNSET`] until it
    /// first spawns without a P; its sequence slot (touched by this thread
    /// only; its generation is that of the P's last start or status); the
    /// `BASE_GEN` of the trace in which this M holds it (0 = not held).
    pub(crate) foreign_p: Cell<u64>,
    pub(crate) foreign_slot: AtomicU64,
    pub(crate) foreign_held: Cell<u64>,
    /// `BASE_GEN` of the trace in which this thread opened a stop-the-world
    /// range (`STWBegin`) not yet closed; 0 = none.
    pub(crate) stw: Cell<u64>,
    /// Generation of this M's last section if that section ended a task's
    /// run (its timestamp is `MBuf::last_ts`); 0 otherwise. Cleared by every
    /// section, so a `go_start_next` reuses a timestamp only when nothing
    /// else was written on this M in between.
    end_of_run: Cell<u64>,
    cache: [Cell<CacheEntry>; CACHE_SLOTS],
    str_cache: [Cell<StrEntry>; STR_SLOTS],
}

impl MState {
    fn new() -> Self {
        let shared = Arc::new(MShared {
            id: NEXT_M.fetch_add(1, Ordering::Relaxed),
            slot: Slot::new(MBuf::default()),
        });
        lock(&REGISTRY).push(shared.clone());
        MState {
            shared,
            internal: Cell::new(false),
            p: Cell::new(UNSET),
            p_gen: Cell::new(0),
            g_trace: Cell::new(UNSET),
            g_id: Cell::new(0),
            g_site: Cell::new(None),
            g_stack: Cell::new(0),
            g_stack_gen: Cell::new(0),
            g_gen: Cell::new(0),
            ctx_gen: Cell::new(0),
            in_syscall: Cell::new(false),
            runtime_loan: Cell::new(None),
            foreign_p: Cell::new(UNSET),
            foreign_slot: AtomicU64::new(0),
            foreign_held: Cell::new(0),
            stw: Cell::new(0),
            end_of_run: Cell::new(0),
            cache: [const { Cell::new(EMPTY_ENTRY) }; CACHE_SLOTS],
            str_cache: [const { Cell::new(EMPTY_STR) }; STR_SLOTS],
        }
    }

    /// The P this M holds, if any.
    #[inline(always)]
    pub(crate) fn proc(&self) -> Option<u64> {
        let p = self.p.get();
        (p != UNSET).then_some(p)
    }

    /// Whether this M holds a P.
    #[inline(always)]
    pub(crate) fn has_proc(&self) -> bool {
        self.p.get() != UNSET
    }

    /// Records the P this M holds (`None`: it released it). The P's status
    /// must be re-checked before the next P-bound event.
    pub(crate) fn set_proc(&self, p: Option<u64>) {
        self.p.set(p.unwrap_or(UNSET));
        self.ctx_gen.set(0);
    }

    /// Whether a task runs on this M that was started in the current trace.
    #[inline(always)]
    pub(crate) fn running(&self) -> bool {
        self.g_trace.get() == BASE_GEN.load(Ordering::Relaxed)
    }

    /// The ID of the task [`running`](Self::running) on this M.
    #[inline]
    pub(crate) fn running_id(&self) -> Option<u64> {
        self.running().then(|| self.g_id.get())
    }

    /// Records the task this M now runs. The caller has just written its
    /// `GoStart` in the current generation and set `g_gen` to it. A task
    /// from the same spawn site as the previous one keeps its stack ID
    /// (the common case: a worker running many tasks of one kind).
    #[inline(always)]
    pub(crate) fn set_running(&self, id: u64, site: SpawnSite, trace: u64) {
        self.g_id.set(id);
        let same = self.g_site.get().is_some_and(|prev| {
            ptr::eq(prev.location, site.location)
                && ptr::eq(prev.type_name.as_ptr(), site.type_name.as_ptr())
        });
        if !same {
            self.g_site.set(Some(site));
            self.g_stack_gen.set(0);
        }
        self.g_trace.set(trace);
    }

    /// Forgets the running task.
    #[inline(always)]
    pub(crate) fn clear_running(&self) {
        self.g_trace.set(UNSET);
    }

    /// Marks this thread as the tracer's own: its hooks write nothing
    /// (its slot stays locked) and collectors no longer visit it.
    pub(crate) fn set_internal(&self) {
        if self.internal.replace(true) {
            return;
        }
        lock(&REGISTRY).retain(|m| !Arc::ptr_eq(m, &self.shared));
        self.shared
            .slot
            .with_locked(|buf| hand_over(buf, push_sealed));
        self.shared.slot.close_for_owner();
    }
}

impl Drop for MState {
    fn drop(&mut self) {
        if self.internal.get() {
            return;
        }
        // Thread exit: hand the open batch to the writer.
        self.shared
            .slot
            .with_locked(|buf| hand_over(buf, push_sealed));
        // Leave the registry, so threads that come and go (e.g. short-lived
        // `block_on` callers) do not accumulate while tracing is off.
        lock(&REGISTRY).retain(|m| !Arc::ptr_eq(m, &self.shared));
    }
}

thread_local! {
    // Built with HeapAlloc reports off: `MState::new` allocates, and a
    // report from inside it would re-enter this thread-local mid-init.
    static M: MState = without_reports(MState::new);
}

/// Runs `f` with this thread's M state (`None` during thread teardown).
#[inline]
pub(crate) fn with_m<R>(f: impl FnOnce(&MState) -> R) -> Option<R> {
    M.try_with(f).ok()
}

/// An open write section: the M's slot is locked and its batch belongs to
/// generation `gen`.
pub(crate) struct EventWriter<'a> {
    pub(crate) m: &'a MState,
    buf: &'a mut MBuf,
    /// Process-wide number of the generation being written.
    pub(crate) generation: u64,
    /// Timestamp for the events of this section.
    pub(crate) ts: u64,
}

impl EventWriter<'_> {
    /// The generation's tables. `None` only after a failed batch refill.
    fn gen_ref(&self) -> Option<&Arc<Generation>> {
        self.buf.batch.as_ref().map(Batch::generation)
    }

    /// Marks this section as the end of a task's run (see
    /// [`writer_on_chained`]).
    #[inline(always)]
    pub(crate) fn end_of_run(&self) {
        self.m.end_of_run.set(self.generation);
    }

    /// This M's trace ID.
    #[inline(always)]
    pub(crate) fn m_id(&self) -> u64 {
        self.m.shared.id
    }

    /// Appends one event (type `ty`, timestamp = the section's), opening a new
    /// batch if the current one is full. Generic over the argument count so
    /// each call site's encoding loop is unrolled.
    #[inline(always)]
    pub(crate) fn event<const N: usize>(&mut self, ty: u8, args: &[u64; N]) {
        let written = match &mut self.buf.batch {
            Some(b) => b.try_event(self.ts, ty, args),
            None => false,
        };
        if !written {
            self.event_refill(ty, args);
        }
    }

    #[cold]
    #[inline(never)]
    fn event_refill(&mut self, ty: u8, args: &[u64]) {
        let Some(full) = self.buf.batch.take() else {
            lost(Lost::NoMemory);
            return;
        };
        let generation = full.generation().clone();
        push_sealed(full.seal());
        match Batch::open(generation, self.m.shared.id, self.ts) {
            Some(mut b) => {
                // A fresh batch has room for any event.
                let written = b.try_event(self.ts, ty, args);
                debug_assert!(written);
                self.buf.batch = Some(b);
            }
            None => lost(Lost::NoMemory),
        }
    }

    /// The ID of `s` in this generation's string table.
    ///
    /// A per-M cache in front of the table (whose lookup takes a mutex and
    /// hashes the string): user annotations repeat a few names, usually
    /// from the same (often `'static`) buffers.
    #[inline]
    pub(crate) fn intern(&self, s: &str) -> u64 {
        let addr = s.as_ptr();
        let h = (addr as usize as u64 ^ s.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (h >> (64 - STR_SLOTS_LOG2)) as usize;
        let e = self.m.str_cache[slot].get();
        if e.addr == addr && e.len == s.len() && e.generation == self.generation {
            // SAFETY: the entry was made in this section's generation, whose
            // tables and arena live at least as long as the batch this
            // section writes (it holds an `Arc` to the generation), and
            // `stored` points to `len` bytes owned by them (or 'static).
            let stored = unsafe { std::slice::from_raw_parts(e.stored, e.len) };
            if stored == s.as_bytes() {
                return e.id;
            }
        }
        self.intern_miss(s, slot)
    }

    #[cold]
    #[inline(never)]
    fn intern_miss(&self, s: &str, slot: usize) -> u64 {
        let Some(g) = self.gen_ref() else { return 0 };
        let (id, stored) = g.intern_stored(s);
        // Cache only strings stored whole (a clipped one's copy is shorter).
        if let Some(stored) = stored.filter(|_| clip(s).len() == s.len()) {
            self.m.str_cache[slot].set(StrEntry {
                addr: s.as_ptr(),
                len: s.len(),
                generation: self.generation,
                id,
                stored: stored.as_ptr(),
            });
        }
        id
    }

    /// The ID of `site`'s one-frame stack in this generation.
    ///
    /// A 2-way set-associative cache in front of the generation's table
    /// (whose lookup hashes the strings under a mutex): a site is looked up
    /// in its set's two ways; a miss puts it in way 0 and moves the previous
    /// way-0 entry to way 1, so two sites that alternate (a ping-pong pair)
    /// both stay cached even when they map to the same set.
    #[inline]
    pub(crate) fn site_stack(&self, site: SpawnSite) -> u64 {
        let loc: *const _ = site.location;
        let name = site.type_name.as_ptr();
        // Fibonacci hashing of the two addresses: the top bits select the set.
        let h = (loc as usize as u64 ^ (name as usize as u64).rotate_left(32))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let set = (h >> (64 - CACHE_SETS_LOG2)) as usize * 2;
        for way in [set, set + 1] {
            let e = self.m.cache[way].get();
            if e.loc == loc && e.name == name && e.generation == self.generation {
                return e.stack;
            }
        }
        self.site_stack_miss(site, set)
    }

    #[cold]
    #[inline(never)]
    fn site_stack_miss(&self, site: SpawnSite, set: usize) -> u64 {
        let Some(g) = self.gen_ref() else { return 0 };
        let stack = g.site_stack(site);
        self.m.cache[set + 1].set(self.m.cache[set].get());
        self.m.cache[set].set(CacheEntry {
            loc: site.location,
            name: site.type_name.as_ptr(),
            generation: self.generation,
            stack,
        });
        stack
    }
}

impl EventWriter<'_> {
    /// The running task's stack ID in this generation (0 if no task runs),
    /// remembered with the task so it is looked up once per run.
    #[inline]
    pub(crate) fn running_stack(&self) -> u64 {
        if self.m.running() {
            self.task_stack()
        } else {
            0
        }
    }

    /// [`running_stack`](Self::running_stack) for a caller that knows a
    /// task is running on this M.
    #[inline(always)]
    pub(crate) fn task_stack(&self) -> u64 {
        let m = self.m;
        if m.g_stack_gen.get() == self.generation {
            return m.g_stack.get();
        }
        let Some(site) = m.g_site.get() else { return 0 };
        let stack = self.site_stack(site);
        m.g_stack.set(stack);
        m.g_stack_gen.set(self.generation);
        stack
    }
}

/// Runs `f` in a write section of the calling thread's M. Returns `None` (and
/// writes nothing) when tracing is off, when called re-entrantly from inside
/// the tracer, or during thread teardown.
#[inline]
pub(crate) fn with_writer<R>(f: impl FnOnce(&mut EventWriter<'_>) -> R) -> Option<R> {
    match M.try_with(|m| writer_on(m, f)) {
        Ok(r) => r,
        Err(_) => {
            lost(Lost::Reentrant);
            None
        }
    }
}

/// [`with_writer`] for a caller that already holds this thread's `MState`
/// (saves a second thread-local lookup on the hot path).
#[inline]
pub(crate) fn writer_on<R>(m: &MState, f: impl FnOnce(&mut EventWriter<'_>) -> R) -> Option<R> {
    writer_on_chained(m, false, f)
}

/// [`writer_on`]; with `chained`, the section reuses the timestamp of this
/// M's previous section instead of reading the clock, if that section ended
/// a task's run in the current generation ([`EventWriter::end_of_run`]) and the
/// M's batch is still open. The caller (`go_start_next`) vouches that no
/// more than a queue pop happened since.
#[inline]
pub(crate) fn writer_on_chained<R>(
    m: &MState,
    chained: bool,
    f: impl FnOnce(&mut EventWriter<'_>) -> R,
) -> Option<R> {
    // The owner lock doubles as the re-entrancy guard: `None` if this
    // thread is already inside one of its sections.
    let r = section_on(&m.shared.slot, &GEN, |buf, gen_now| {
        let reuse = chained && m.end_of_run.get() == gen_now && buf.batch_gen == gen_now;
        m.end_of_run.set(0);
        let ts = if reuse { buf.last_ts } else { tick(buf) };
        // One compare: a batch of the current generation is open (which
        // also means tracing is on; `UNSET` never equals `GEN`).
        ensure_batch(buf, gen_now, || open_batch(m, ts), push_sealed)?;
        let generation = buf.batch_gen;
        let mut s = EventWriter {
            m,
            buf,
            generation,
            ts,
        };
        Some(f(&mut s))
    });
    match r {
        Some(r) => r,
        None => {
            lost(Lost::Reentrant);
            None
        }
    }
}

/// A fresh batch for this M in the current generation (`CURRENT`, at least
/// as new as the `GEN` the section loaded); `None` when tracing is off or
/// out of memory.
#[cold]
#[inline(never)]
fn open_batch(m: &MState, ts: u64) -> Option<Batch> {
    let generation = current_generation()?;
    let b = Batch::open(generation, m.shared.id, ts);
    if b.is_none() {
        lost(Lost::NoMemory);
    }
    b
}

/// Takes every M's batch of generation `global` (collector side). Returns
/// them sealed, empty ones dropped; prunes Ms whose thread has exited.
pub(crate) fn collect(global: u64) -> Vec<Sealed> {
    let ms: Vec<Arc<MShared>> = lock(&REGISTRY).clone();
    let mut out = Vec::new();
    for m in &ms {
        out.extend(collect_slot(&m.slot, global));
    }
    drop(ms);
    // An exited thread's `MShared` is referenced by the registry alone.
    lock(&REGISTRY).retain(|m| Arc::strong_count(m) > 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_threads_leave_the_registry() {
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| with_m(|m| m.shared.id).unwrap()))
            .collect();
        let ids: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let reg = lock(&REGISTRY);
        assert_eq!(ids.len(), 8);
        assert!(ids.iter().all(|id| !reg.iter().any(|m| m.id == *id)));
    }
}
