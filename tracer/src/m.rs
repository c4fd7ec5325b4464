//! One M (OS thread) as the tracer sees it: its buffer slot, shared with the
//! collector, and its thread-local scheduling context.
//!
//! # Fields and who may touch them
//! - [`MShared::slot`] (the open batch and the M's last timestamp): the owning
//!   thread inside [`with_section`], or a collector (writer thread, `stop`),
//!   always under the slot's lock.
//! - Everything else in [`MLocal`] (current P, current task, re-entrancy flag,
//!   stack cache): the owning thread only (`Cell`s in a `thread_local!`).
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

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::buf::Batch;
use crate::clock;
use crate::generation::Generation;
use crate::global::{self, GEN, Lost, current_generation, lock, lost, push_sealed};
use crate::hooks::SpawnSite;
use crate::slot::Slot;

/// The part of an M the collector reaches.
#[derive(Debug)]
pub(crate) struct MShared {
    /// The M's ID in the trace (small, never reused).
    pub(crate) id: u64,
    pub(crate) slot: Slot<MBuf>,
}

/// The M's open batch and clock, guarded by the slot lock.
#[derive(Debug, Default)]
pub(crate) struct MBuf {
    pub(crate) batch: Option<Batch>,
    /// `batch`'s generation (process-wide number), 0 without a batch: saves
    /// a pointer chase per event.
    batch_gen: u64,
    /// Last timestamp handed out on this M (stamps never go below it).
    last_ts: u64,
}

impl MBuf {
    /// The next timestamp: now, but never before the previous one.
    #[inline(always)]
    fn tick(&mut self) -> u64 {
        let t = clock::now().max(self.last_ts);
        self.last_ts = t;
        t
    }
}

/// Every live M (a thread that used a hook); a thread removes itself when it
/// exits, and the writer also prunes entries whose `Arc` is the registry's alone.
pub(crate) static REGISTRY: Mutex<Vec<Arc<MShared>>> = Mutex::new(Vec::new());

/// Next M ID. IDs start at 1 and are never reused.
static NEXT_M: AtomicU64 = AtomicU64::new(1);

/// The P an M holds, as reported by `proc_start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PCtx {
    pub(crate) id: u64,
}

/// The task an M is running, as reported by `go_start`.
///
/// Deliberately no pointer to the task's `GoTraceState`: the tracer never
/// touches a task's slot after `go_start` returns, so a task freed between
/// its last poll and `go_block`/`go_destroy` cannot be a use-after-free.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GCtx {
    pub(crate) id: u64,
    pub(crate) site: SpawnSite,
    /// `BASE_GEN` of the trace that recorded the `go_start`.
    pub(crate) trace: u64,
    /// The task's stack ID in generation `stack_gen` (0 = not looked up yet).
    pub(crate) stack: u64,
    pub(crate) stack_gen: u64,
}

/// A borrowed runtime pseudo-P/pseudo-task (see `emit.rs`), held by this thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Borrow {
    /// The thread had no P and took the runtime pseudo-P.
    pub(crate) took_proc: bool,
    /// `BASE_GEN` of the trace the borrow belongs to.
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

/// Thread-local state of an M.
#[derive(Debug)]
pub(crate) struct MLocal {
    pub(crate) shared: Arc<MShared>,
    /// True while this thread is inside a section (re-entrancy guard).
    busy: Cell<bool>,
    pub(crate) p: Cell<Option<PCtx>>,
    /// Generation in which this M last wrote its P's status (or bound it).
    pub(crate) p_gen: Cell<u64>,
    pub(crate) g: Cell<Option<GCtx>>,
    /// Generation in which this M last wrote its task's status (or bound it).
    pub(crate) g_gen: Cell<u64>,
    pub(crate) borrow: Cell<Option<Borrow>>,
    /// `BASE_GEN` of the trace in which this thread opened a stop-the-world
    /// range (`STWBegin`) not yet closed; 0 = none.
    pub(crate) stw: Cell<u64>,
    /// Generation of this M's last section if that section ended a task's
    /// run (its timestamp is `MBuf::last_ts`); 0 otherwise. Cleared by every
    /// section, so a `go_start_next` reuses a timestamp only when nothing
    /// else was written on this M in between.
    end_of_run: Cell<u64>,
    cache: [Cell<CacheEntry>; CACHE_SLOTS],
}

impl MLocal {
    fn new() -> Self {
        let shared = Arc::new(MShared {
            id: NEXT_M.fetch_add(1, Ordering::Relaxed),
            slot: Slot::new(MBuf::default()),
        });
        lock(&REGISTRY).push(shared.clone());
        MLocal {
            shared,
            busy: Cell::new(false),
            p: Cell::new(None),
            p_gen: Cell::new(0),
            g: Cell::new(None),
            g_gen: Cell::new(0),
            borrow: Cell::new(None),
            stw: Cell::new(0),
            end_of_run: Cell::new(0),
            cache: [const { Cell::new(EMPTY_ENTRY) }; CACHE_SLOTS],
        }
    }

    /// The running task, if it was recorded by the current trace.
    #[inline]
    pub(crate) fn running(&self) -> Option<GCtx> {
        self.g
            .get()
            .filter(|g| g.trace == global::BASE_GEN.load(Ordering::Relaxed))
    }

    /// Marks this thread as the tracer's own (its hooks write nothing).
    pub(crate) fn set_internal(&self) {
        self.busy.set(true);
    }
}

impl Drop for MLocal {
    fn drop(&mut self) {
        // Thread exit: hand the open batch to the writer if its generation is
        // still being recorded (older ones were collected already).
        self.shared.slot.with_locked(|buf| {
            if let Some(b) = buf.batch.take() {
                let live = b.generation().global() == GEN.load(Ordering::Acquire);
                if live && !b.is_empty() {
                    push_sealed(b.seal());
                }
            }
        });
        // Leave the registry, so threads that come and go (e.g. short-lived
        // `block_on` callers) do not accumulate while tracing is off.
        lock(&REGISTRY).retain(|m| !Arc::ptr_eq(m, &self.shared));
    }
}

thread_local! {
    // Built with HeapAlloc reports off: `MLocal::new` allocates, and a
    // report from inside it would re-enter this thread-local mid-init.
    static M: MLocal = crate::alloc::without_reports(MLocal::new);
}

/// Runs `f` with this thread's M state (`None` during thread teardown).
#[inline]
pub(crate) fn with_m<R>(f: impl FnOnce(&MLocal) -> R) -> Option<R> {
    M.try_with(f).ok()
}

/// An open write section: the M's slot is locked and its batch belongs to
/// generation `gen`.
pub(crate) struct Section<'a> {
    pub(crate) m: &'a MLocal,
    buf: &'a mut MBuf,
    /// Process-wide number of the generation being written.
    pub(crate) generation: u64,
    /// Timestamp for the events of this section.
    pub(crate) ts: u64,
}

impl Section<'_> {
    /// The generation's tables. `None` only after a failed batch refill.
    fn gen_ref(&self) -> Option<&Arc<Generation>> {
        self.buf.batch.as_ref().map(Batch::generation)
    }

    /// Marks this section as the end of a task's run (see
    /// [`section_chained`]).
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
    pub(crate) fn intern(&self, s: &str) -> u64 {
        self.gen_ref().map_or(0, |g| g.intern(s))
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

impl Section<'_> {
    /// The running task's stack ID in this generation, remembered with the
    /// task so a task that spawns or annotates a lot looks it up once.
    #[inline]
    pub(crate) fn running_stack(&self, g: GCtx) -> u64 {
        if g.stack_gen == self.generation {
            return g.stack;
        }
        let stack = self.site_stack(g.site);
        self.m.g.set(Some(GCtx {
            stack,
            stack_gen: self.generation,
            ..g
        }));
        stack
    }
}

/// Runs `f` in a write section of the calling thread's M. Returns `None` (and
/// writes nothing) when tracing is off, when called re-entrantly from inside
/// the tracer, or during thread teardown.
#[inline]
pub(crate) fn with_section<R>(f: impl FnOnce(&mut Section<'_>) -> R) -> Option<R> {
    match M.try_with(|m| section(m, f)) {
        Ok(r) => r,
        Err(_) => {
            lost(Lost::Reentrant);
            None
        }
    }
}

/// [`with_section`] for a caller that already holds this thread's `MLocal`
/// (saves a second thread-local lookup on the hot path).
#[inline]
pub(crate) fn section<R>(m: &MLocal, f: impl FnOnce(&mut Section<'_>) -> R) -> Option<R> {
    section_chained(m, false, f)
}

/// [`section`]; with `chained`, the section reuses the timestamp of this
/// M's previous section instead of reading the clock, if that section ended
/// a task's run in the current generation ([`Section::end_of_run`]) and the
/// M's batch is still open. The caller (`go_start_next`) vouches that no
/// more than a queue pop happened since.
#[inline]
pub(crate) fn section_chained<R>(
    m: &MLocal,
    chained: bool,
    f: impl FnOnce(&mut Section<'_>) -> R,
) -> Option<R> {
    if m.busy.replace(true) {
        lost(Lost::Reentrant);
        return None;
    }
    // Clear the flag even if `f` unwinds.
    struct Idle<'a>(&'a Cell<bool>);
    impl Drop for Idle<'_> {
        fn drop(&mut self) {
            self.0.set(false);
        }
    }
    let _idle = Idle(&m.busy);
    m.shared.slot.with_locked(|buf| {
        // Which generation is being recorded? Acquire pairs with the Release
        // store in the writer's flip, so `CURRENT` is at least this new.
        let gen_now = GEN.load(Ordering::Acquire);
        if gen_now == 0 {
            return None;
        }
        let reuse = chained && m.end_of_run.get() == gen_now && buf.batch_gen == gen_now;
        m.end_of_run.set(0);
        let ts = if reuse { buf.last_ts } else { buf.tick() };
        if buf.batch_gen != gen_now || buf.batch.is_none() {
            open_batch(m, buf, ts)?;
        }
        let generation = buf.batch_gen;
        let mut s = Section {
            m,
            buf,
            generation,
            ts,
        };
        Some(f(&mut s))
    })
}

/// Replaces the M's batch by a fresh one in the current generation.
#[cold]
#[inline(never)]
fn open_batch(m: &MLocal, buf: &mut MBuf, ts: u64) -> Option<()> {
    if let Some(old) = buf.batch.take() {
        if !old.is_empty() {
            push_sealed(old.seal());
        }
    }
    buf.batch_gen = 0;
    let generation = current_generation()?;
    let global = generation.global();
    match Batch::open(generation, m.shared.id, ts) {
        Some(b) => {
            buf.batch = Some(b);
            buf.batch_gen = global;
            Some(())
        }
        None => {
            lost(Lost::NoMemory);
            None
        }
    }
}

/// Takes every M's batch of generation `global` (collector side). Returns
/// them sealed, empty ones dropped; prunes Ms whose thread has exited.
pub(crate) fn collect(global: u64) -> Vec<crate::buf::Sealed> {
    let ms: Vec<Arc<MShared>> = lock(&REGISTRY).clone();
    let mut out = Vec::new();
    for m in &ms {
        m.slot.with_locked(|buf| {
            let mine = buf
                .batch
                .as_ref()
                .is_some_and(|b| b.generation().global() <= global);
            if mine {
                buf.batch_gen = 0;
                if let Some(b) = buf.batch.take() {
                    if !b.is_empty() {
                        out.push(b.seal());
                    }
                }
            }
        });
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
