//! Hook bodies: turn one scheduler transition into the events Go's parser
//! needs, including the lazy status events and pseudo-P/pseudo-task flows.
//!
//! Invariants (the format's rules, `go-trace-format.md` §1.7-1.9):
//! - Before an M writes an event that needs its P or task, the P's and task's
//!   status for the current generation has been written once ([`ensure_ctx`]);
//!   a `Running` status is only ever written by the M that holds the P / runs
//!   the task, because it binds the resource to the writing M.
//! - Sequence numbers come from [`next_seq`]; whoever moves a resource's slot
//!   into a new generation writes its status first, in the same section.
//! - A task unknown to the current trace (it existed before the trace started
//!   and got no status in the first generation) can only be introduced by a
//!   `GoCreate` when it is next started; until then its events are dropped
//!   and counted (`Lost::Untraced`).
//! - Threads without a P never write P-bound events: a spawn from such a
//!   thread starts that thread's own *foreign* pseudo-P (one per thread, IDs
//!   from [`FOREIGN_PROC_ID`] up, never reused) and keeps it until the
//!   thread starts another P (`proc_start`, or the runtime pseudo-P), so a
//!   burst of spawns from `main` costs one `GoCreate` each; a
//!   stop-the-world or `ProcsChange` on a thread without a running task
//!   borrows the *runtime* pseudo-P and pseudo-task, used by one thread at
//!   a time (a spin flag), so its sequence numbers follow real time.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spool_trace_wire::{GoState, NONE, ProcState, ev};

use crate::lost::{Lost, lost};
use crate::mstate::{
    EventWriter, MState, RuntimeLoan, with_m, with_writer, writer_on, writer_on_chained,
};
use crate::publish::BASE_GEN;
use crate::seq::{
    bump_owned, claim_status, next_seq, next_seq_from, next_seq_owned, pack, slot_gen,
};
use crate::vocab::{
    BlockReason, GoTraceState, ProcTraceState, SpawnSite, StatusAtStart, StopReason, UNSET,
};

// The pseudo-resources' IDs are part of the format the viewer reads: one declaration, in the wire crate.
pub use spool_trace_wire::ids::{FOREIGN_PROC_ID, RUNTIME_PROC_ID, RUNTIME_TASK_ID};

static RUNTIME_P: ProcTraceState = ProcTraceState::new();
/// Next foreign pseudo-P ID.
static NEXT_FOREIGN: AtomicU64 = AtomicU64::new(FOREIGN_PROC_ID);
static RUNTIME_G: GoTraceState = GoTraceState::new();
/// Held by the thread using the runtime pseudo-P/task (Acquire on take pairs
/// with the Release on give-back, ordering the two users' slot updates).
static RUNTIME_BUSY: AtomicBool = AtomicBool::new(false);

/// Open GC-like phase (at most one at a time, as in Go) and its sequence.
static GC_ACTIVE: AtomicBool = AtomicBool::new(false);
static GC_SEQ: AtomicU64 = AtomicU64::new(0);

// Status values (the wire crate's, from tracev2).
const GO_RUNNABLE: u64 = GoState::Runnable.wire();
const GO_RUNNING: u64 = GoState::Running.wire();
const GO_WAITING: u64 = GoState::Waiting.wire();
const PROC_RUNNING: u64 = ProcState::Running.wire();
const PROC_IDLE: u64 = ProcState::Idle.wire();
const GO_SYSCALL: u64 = GoState::Syscall.wire();
const PROC_SYSCALL: u64 = ProcState::Syscall.wire();
const PROC_SYSCALL_ABANDONED: u64 = ProcState::SyscallAbandoned.wire();

mod syscall;
pub(crate) use syscall::{go_syscall_begin, go_syscall_end, go_syscall_end_blocked, proc_steal};

/// The one-frame "stack" of the runtime pseudo-task. Its function name starts
/// with `runtime.`, which Go's tools classify as a system goroutine.
fn runtime_site() -> SpawnSite {
    SpawnSite {
        location: Location::caller(),
        type_name: "runtime.spool",
    }
}

/// Resets per-trace state; called by `start` under stop-the-world.
pub(crate) fn reset_for_trace() {
    RUNTIME_BUSY.store(false, Ordering::Release);
    GC_ACTIVE.store(false, Ordering::Relaxed);
    GC_SEQ.store(0, Ordering::Relaxed);
}

/// Spins until `flag` is ours.
fn take_flag(flag: &AtomicBool) {
    let mut spins = 0u32;
    // Take the flag; Acquire pairs with the Release in `give_flag`.
    while flag
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        crate::loom::spin_wait(spins);
        spins = spins.saturating_add(1);
    }
}

fn give_flag(flag: &AtomicBool) {
    // Hand the pseudo resource on (pairs with the Acquire in `take_flag`).
    flag.store(false, Ordering::Release);
}

/// Whether a task whose slot holds `cur` may get a status event in
/// `generation`: it is known to the current trace, or this is the trace's
/// first generation.
#[inline]
fn introducible(cur: u64, generation: u64) -> bool {
    let base = BASE_GEN.load(Ordering::Relaxed);
    generation == base || slot_gen(cur) >= base
}

/// Writes this M's P and task statuses if this generation has not seen
/// them (one compare when it has: `MState::ctx_gen`).
#[inline(always)]
fn ensure_ctx(w: &mut EventWriter<'_>) {
    if w.m.ctx_gen.get() != w.generation {
        ctx_slow(w);
    }
}

/// Writes the statuses [`ensure_ctx`] found missing.
///
/// A `Running` status binds the P/task to this M, and only this M may write
/// it, so no claim on the resource's slot is needed: nobody else writes a
/// status for a P this M holds or a task it runs (seam rules 3 and 4). The
/// slot is not stamped either (we hold no reference to it here); a later
/// first touch by another M then writes one more, consistent, status.
#[cold]
#[inline(never)]
fn ctx_slow(w: &mut EventWriter<'_>) {
    let m = w.m;
    // Inside a blocking call both are restated as `Syscall` (Go's
    // eventWriter(GoSyscall, ProcSyscall)).
    let (p_status, g_status) = if m.in_syscall.get() {
        (PROC_SYSCALL, GO_SYSCALL)
    } else {
        (PROC_RUNNING, GO_RUNNING)
    };
    if let Some(p) = m.proc() {
        if m.p_gen.get() != w.generation {
            w.event(ev::PROC_STATUS, &[p, p_status]);
            m.p_gen.set(w.generation);
        }
    }
    if let Some(g) = m.running_id() {
        if m.g_gen.get() != w.generation {
            w.event(ev::GO_STATUS, &[g, w.m_id(), g_status]);
            m.g_gen.set(w.generation);
        }
    }
    m.ctx_gen.set(w.generation);
}

pub(crate) fn go_create(id: u64, state: &GoTraceState, site: SpawnSite) {
    with_writer(|w| {
        if !w.m.has_proc() {
            foreign_create(w, id, site);
        } else {
            ensure_ctx(w);
            let new_stack = w.site_stack(site);
            let creator = w.running_stack();
            w.event(ev::GO_CREATE, &[id, new_stack, creator]);
        }
        // A created task is Runnable with sequence 0 in this generation.
        state.0.store(pack(w.generation, 0), Ordering::Release);
    });
}

/// `GoCreate` from a thread without a P, on its foreign pseudo-P.
fn foreign_create(w: &mut EventWriter<'_>, id: u64, site: SpawnSite) {
    hold_foreign(w);
    let stack = w.site_stack(site);
    w.event(ev::GO_CREATE, &[id, stack, 0]);
}

/// Makes this M hold its foreign pseudo-P in the trace: `ProcStart` the
/// first time in this trace (or after [`drop_foreign`]), its `Running`
/// status once per later generation, nothing otherwise.
fn hold_foreign(w: &mut EventWriter<'_>) {
    let m = w.m;
    if holds_foreign(m) {
        restate_foreign(w);
        return;
    }
    let p = match m.foreign_p.get() {
        UNSET => {
            let p = NEXT_FOREIGN.fetch_add(1, Ordering::Relaxed);
            m.foreign_p.set(p);
            p
        }
        p => p,
    };
    // Only this thread touches its foreign P's slot.
    let q = next_seq_owned(
        &m.foreign_slot,
        m.foreign_slot.load(Ordering::Relaxed),
        w.generation,
    );
    if q.needs_status {
        w.event(ev::PROC_STATUS, &[p, PROC_IDLE]);
    }
    w.event(ev::PROC_START, &[p, q.seq]);
    m.foreign_held.set(BASE_GEN.load(Ordering::Relaxed));
}

/// Stops this M's foreign pseudo-P if it holds one in this trace: called
/// before the M starts any other P (the format binds one P to an M).
fn drop_foreign(w: &mut EventWriter<'_>) {
    if !holds_foreign(w.m) {
        return;
    }
    restate_foreign(w);
    w.event(ev::PROC_STOP, &[]);
    w.m.foreign_held.set(0);
}

/// Whether this M holds its foreign pseudo-P in the current trace.
fn holds_foreign(m: &MState) -> bool {
    m.foreign_held.get() == BASE_GEN.load(Ordering::Relaxed)
}

/// Writes the held foreign P's `Running` status if this generation has not
/// seen it yet (the slot's generation is that of its last start or status).
fn restate_foreign(w: &mut EventWriter<'_>) {
    let m = w.m;
    if slot_gen(m.foreign_slot.load(Ordering::Relaxed)) != w.generation {
        w.event(ev::PROC_STATUS, &[m.foreign_p.get(), PROC_RUNNING]);
        m.foreign_slot
            .store(pack(w.generation, 0), Ordering::Relaxed);
    }
}

pub(crate) fn go_start(id: u64, state: &GoTraceState, site: SpawnSite) {
    start_run(id, state, site, false);
}

pub(crate) fn go_start_next(id: u64, state: &GoTraceState, site: SpawnSite) {
    start_run(id, state, site, true);
}

/// `GoStart` of task `id`; `chained`: reuse the timestamp of this M's
/// previous event if that was the end of a run ([`writer_on_chained`]).
fn start_run(id: u64, state: &GoTraceState, site: SpawnSite, chained: bool) {
    with_m(|m| {
        m.clear_running();
        let started = writer_on_chained(m, chained, |w| {
            if !w.m.has_proc() {
                lost(Lost::NoProc);
                return false;
            }
            ensure_ctx(w);
            let slot = &state.0;
            // One load serves both the check and the update.
            let cur = slot.load(Ordering::Acquire);
            let seq = if slot_gen(cur) == w.generation {
                // Seen in this generation already (every start but a
                // task's first in it): known to the trace, status written.
                // This M owns the task until its run ends (seam rule 3).
                bump_owned(slot, cur)
            } else if introducible(cur, w.generation) {
                // This M took the task from a queue: nobody else records an
                // event for it until its run ends (seam rule 3).
                let q = next_seq_owned(slot, cur, w.generation);
                if q.needs_status {
                    w.event(ev::GO_STATUS, &[id, NONE, GO_RUNNABLE]);
                }
                q.seq
            } else {
                // Existed before the trace and never seen in it: introduce it.
                let stack = w.site_stack(site);
                w.event(ev::GO_CREATE, &[id, stack, 0]);
                slot.store(pack(w.generation, 1), Ordering::Release);
                1
            };
            w.event(ev::GO_START, &[id, seq]);
            w.m.g_gen.set(w.generation);
            true
        });
        if started == Some(true) {
            m.set_running(id, site, BASE_GEN.load(Ordering::Relaxed));
        }
    });
}

/// Writes an event of the running task that ends its run (`GoStop`,
/// `GoBlock`, `GoDestroy`), then forgets the task. Inlined into each of the
/// three so the event type and the reason's presence are constants there.
#[inline(always)]
fn end_run(ty: u8, reason: Option<u64>) {
    with_m(|m| {
        if !m.running() {
            lost(Lost::NoTask);
        } else {
            writer_on(m, |w| {
                if !w.m.has_proc() {
                    lost(Lost::Untraced);
                    return;
                }
                ensure_ctx(w);
                match reason {
                    Some(r) => {
                        let stack = w.task_stack();
                        w.event(ty, &[r, stack]);
                    }
                    None => w.event(ty, &[]),
                }
                // A `go_start_next` right after this may reuse its timestamp.
                w.end_of_run();
            });
        }
        m.clear_running();
    });
}

pub(crate) fn go_stop(reason: StopReason) {
    end_run(ev::GO_STOP, Some(reason.str_id()));
}

pub(crate) fn go_block(reason: BlockReason) {
    end_run(ev::GO_BLOCK, Some(reason.str_id()));
}

pub(crate) fn go_destroy() {
    end_run(ev::GO_DESTROY, None);
}

pub(crate) fn go_unblock(id: u64, state: &GoTraceState) {
    with_writer(|w| {
        let slot = &state.0;
        let cur = slot.load(Ordering::Acquire);
        if !introducible(cur, w.generation) {
            lost(Lost::Untraced);
            return;
        }
        let q = next_seq_from(slot, cur, w.generation);
        if q.needs_status {
            w.event(ev::GO_STATUS, &[id, NONE, GO_WAITING]);
        }
        let stack = w.running_stack();
        w.event(ev::GO_UNBLOCK, &[id, q.seq, stack]);
    });
}

/// Records the M's P (always, also with tracing off) and writes `ProcStart`.
pub(crate) fn proc_start(p: u32, state: &ProcTraceState, traced: bool) {
    with_m(|m| {
        m.set_proc(Some(u64::from(p)));
        if traced {
            writer_on(m, |w| {
                drop_foreign(w);
                let q = next_seq(&state.0, w.generation);
                if q.needs_status {
                    w.event(ev::PROC_STATUS, &[u64::from(p), PROC_IDLE]);
                }
                w.event(ev::PROC_START, &[u64::from(p), q.seq]);
                w.m.p_gen.set(w.generation);
            });
        }
    });
}

/// Writes `ProcStop` and forgets the M's P (always, also with tracing off).
pub(crate) fn proc_stop(traced: bool) {
    with_m(|m| {
        if traced && m.has_proc() {
            writer_on(m, |w| {
                ensure_ctx(w);
                w.event(ev::PROC_STOP, &[]);
            });
        }
        m.set_proc(None);
    });
}

/// Runs `f` on the running task of this M (with its stack ID), or counts a
/// lost event if there is none (the format requires one).
fn with_task(f: impl FnOnce(&mut EventWriter<'_>, u64)) {
    with_m(|m| task_section(m, f));
}

/// [`with_task`] for a caller that already holds this thread's `MState`.
fn task_section(m: &MState, f: impl FnOnce(&mut EventWriter<'_>, u64)) {
    if !m.running() {
        lost(Lost::NoTask);
        return;
    }
    writer_on(m, |w| {
        if !w.m.has_proc() {
            lost(Lost::Untraced);
            return;
        }
        ensure_ctx(w);
        let stack = w.task_stack();
        f(w, stack);
    });
}

/// Runs `f` on the running task, or on the runtime pseudo-task when the
/// thread runs none.
fn with_task_or_runtime(f: impl FnOnce(&mut EventWriter<'_>, u64)) {
    with_m(|m| {
        if m.running() {
            task_section(m, f);
        } else if runtime_enter(m) {
            task_section(m, f);
            runtime_exit(m);
        }
    });
}

/// Makes the runtime pseudo-task run on this thread (borrowing the runtime
/// pseudo-P if the thread has no P). False if nothing could be written.
fn runtime_enter(m: &MState) -> bool {
    take_flag(&RUNTIME_BUSY);
    let took_proc = !m.has_proc();
    let trace = BASE_GEN.load(Ordering::Relaxed);
    let site = runtime_site();
    let ok = with_writer(|w| {
        if took_proc {
            drop_foreign(w);
            let q = next_seq(&RUNTIME_P.0, w.generation);
            if q.needs_status {
                w.event(ev::PROC_STATUS, &[RUNTIME_PROC_ID, PROC_IDLE]);
            }
            w.event(ev::PROC_START, &[RUNTIME_PROC_ID, q.seq]);
            w.m.set_proc(Some(RUNTIME_PROC_ID));
            w.m.p_gen.set(w.generation);
        } else {
            ensure_ctx(w);
        }
        let slot = &RUNTIME_G.0;
        let seq = if slot_gen(slot.load(Ordering::Acquire)) < trace {
            // First use in this trace: create it (Runnable).
            let stack = w.site_stack(site);
            w.event(ev::GO_CREATE, &[RUNTIME_TASK_ID, stack, 0]);
            slot.store(pack(w.generation, 1), Ordering::Release);
            1
        } else {
            // Parked ("forever") since its last use: wake it, then start it.
            let q = next_seq(slot, w.generation);
            if q.needs_status {
                w.event(ev::GO_STATUS, &[RUNTIME_TASK_ID, NONE, GO_WAITING]);
            }
            w.event(ev::GO_UNBLOCK, &[RUNTIME_TASK_ID, q.seq, 0]);
            next_seq(slot, w.generation).seq
        };
        w.event(ev::GO_START, &[RUNTIME_TASK_ID, seq]);
        w.m.g_gen.set(w.generation);
    });
    if ok.is_none() {
        if took_proc {
            m.set_proc(None);
        }
        give_flag(&RUNTIME_BUSY);
        return false;
    }
    m.set_running(RUNTIME_TASK_ID, site, trace);
    m.ctx_gen.set(0);
    m.runtime_loan.set(Some(RuntimeLoan { took_proc, trace }));
    true
}

/// Parks the runtime pseudo-task again and gives the pseudo resources back.
fn runtime_exit(m: &MState) {
    let Some(b) = m.runtime_loan.take() else {
        return;
    };
    if b.trace == BASE_GEN.load(Ordering::Relaxed) {
        with_writer(|w| {
            ensure_ctx(w);
            let stack = w.site_stack(runtime_site());
            if w.m.running() {
                w.event(ev::GO_BLOCK, &[BlockReason::Forever.str_id(), stack]);
            }
            if b.took_proc {
                w.event(ev::PROC_STOP, &[]);
            }
        });
        give_flag(&RUNTIME_BUSY);
    }
    m.clear_running();
    if b.took_proc {
        m.set_proc(None);
    }
}

pub(crate) fn procs_change(procs: u32) {
    with_task_or_runtime(|w, stack| w.event(ev::PROCS_CHANGE, &[u64::from(procs), stack]));
}

pub(crate) fn stw_begin(kind: &str) {
    with_m(|m| {
        if m.stw.get() == BASE_GEN.load(Ordering::Relaxed) {
            // This thread's range is open in this recording already (a
            // trace that joins a flight recorder's recording under
            // stop-the-world restates the range the recording has).
            return;
        }
        if !m.running() && !runtime_enter(m) {
            return;
        }
        task_section(m, |w, stack| {
            let k = w.intern(kind);
            w.event(ev::STW_BEGIN, &[k, stack]);
            w.m.stw.set(BASE_GEN.load(Ordering::Relaxed));
        });
    });
}

/// Closes the stop-the-world range this thread opened in the current trace
/// (nothing if it opened none, e.g. the STW started before tracing did).
pub(crate) fn stw_end() {
    let open = with_m(|m| m.stw.replace(0)).unwrap_or(0);
    if open != 0 && open == BASE_GEN.load(Ordering::Relaxed) {
        with_task(|w, _| w.event(ev::STW_END, &[]));
    }
    with_m(runtime_exit);
}

pub(crate) fn gc_begin() {
    with_task(|w, stack| {
        // Only one phase at a time (Go's parser rejects nested GCBegin).
        if GC_ACTIVE.swap(true, Ordering::AcqRel) {
            lost(Lost::GcMisuse);
            return;
        }
        let seq = GC_SEQ.fetch_add(1, Ordering::AcqRel) + 1;
        w.event(ev::GC_BEGIN, &[seq, stack]);
    });
}

pub(crate) fn gc_end() {
    with_task(|w, _| {
        if !GC_ACTIVE.load(Ordering::Acquire) {
            lost(Lost::GcMisuse);
            return;
        }
        let seq = GC_SEQ.fetch_add(1, Ordering::AcqRel) + 1;
        // Close the phase after taking its sequence number, so the next
        // `gc_begin` gets a larger one.
        GC_ACTIVE.store(false, Ordering::Release);
        w.event(ev::GC_END, &[seq]);
    });
}

pub(crate) fn heap_alloc(bytes: u64) {
    with_m(|m| {
        if !m.has_proc() {
            lost(Lost::NoProc);
            return;
        }
        writer_on(m, |w| {
            ensure_ctx(w);
            w.event(ev::HEAP_ALLOC, &[bytes]);
        });
    });
}

pub(crate) fn user_task_begin(id: u64, parent: u64, name: &str) {
    with_task(|w, stack| {
        let n = w.intern(name);
        w.event(ev::USER_TASK_BEGIN, &[id, parent, n, stack]);
    });
}

pub(crate) fn user_task_end(id: u64) {
    with_task(|w, stack| w.event(ev::USER_TASK_END, &[id, stack]));
}

pub(crate) fn user_region_begin(task: u64, name: &str) {
    with_task(|w, stack| {
        let n = w.intern(name);
        w.event(ev::USER_REGION_BEGIN, &[task, n, stack]);
    });
}

pub(crate) fn user_region_end(task: u64, name: &str) {
    with_task(|w, stack| {
        let n = w.intern(name);
        w.event(ev::USER_REGION_END, &[task, n, stack]);
    });
}

pub(crate) fn user_log(task: u64, category: &str, message: &str) {
    with_task(|w, stack| {
        let k = w.intern(category);
        let v = w.intern(message);
        w.event(ev::USER_LOG, &[task, k, v, stack]);
    });
}

pub(crate) fn runtime_log(category: &str, message: &str) {
    with_task_or_runtime(|w, stack| {
        let k = w.intern(crate::vocab::clip(category));
        let v = w.intern(crate::vocab::clip(message));
        w.event(ev::USER_LOG, &[0, k, v, stack]);
    });
}

pub(crate) fn go_label(label: &str) {
    with_task(|w, _| {
        let l = w.intern(label);
        w.event(ev::GO_LABEL, &[l]);
    });
}

/// Writes the status of a task that exists when a trace starts (called for
/// every live task under stop-the-world, before the world resumes).
pub(crate) fn task_status(id: u64, state: &GoTraceState, status: StatusAtStart) {
    with_writer(|w| {
        if claim_status(&state.0, w.generation) {
            let st = match status {
                StatusAtStart::Runnable => GO_RUNNABLE,
                StatusAtStart::Waiting => GO_WAITING,
            };
            w.event(ev::GO_STATUS, &[id, NONE, st]);
        }
    });
}

/// Writes `ProcStatus(Idle)` for a P no M holds when a trace starts.
pub(crate) fn proc_idle_status(p: u32, state: &ProcTraceState) {
    with_writer(|w| {
        if claim_status(&state.0, w.generation) {
            w.event(ev::PROC_STATUS, &[u64::from(p), PROC_IDLE]);
        }
    });
}

/// The task running on this thread, as the tracer sees it.
pub(crate) fn running_task() -> Option<u64> {
    with_m(MState::running_id).flatten()
}
