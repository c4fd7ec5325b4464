//! The scheduler: Go's G/M/P model over crossbeam-deque run queues.
//!
//! # Vocabulary
//!
//! - **G** — a task (`crate::task`): one allocation, a state word, a future.
//! - **M** — an OS thread that runs Gs. spool starts one M per P; more are
//!   started when sysmon takes the P of an M blocked in `block_in_place`
//!   (Go's hand-off). An M holds at most one P at a time, and a P is held
//!   by at most one M; an M without a P is *spare* (parked on its own
//!   `handoff::MSlot` until sysmon hands it a retaken P) or *waiting* (back
//!   from a blocking call, its poll still on its stack, until any M hands
//!   it a P). Spare Ms live until shutdown.
//! - **sysmon** — one background thread per runtime (`sysmon.rs`): retakes
//!   Ps from long blocking calls, reports long polls and moves the tasks
//!   queued behind them (`long_poll.rs`), repairs lost wake-ups (it never
//!   should), checks the Ms' health.
//! - **P** — the right to run Gs: a local FIFO run queue (crossbeam-deque
//!   `Worker`, stolen from through its `Stealer`), a one-task `runnext`
//!   slot, and a timer heap. `procs` of them, from `Builder::procs`,
//!   `SPOOL_PROCS` or the number of cores.
//!   A P is two structs, split by who may touch what (tokio's split):
//!   [`Proc`] is the shared half, in `Shared::procs` (the queue's
//!   `Stealer`, the timer heap, the parker, the tracer's per-P slot),
//!   reached by any thread, plus the P's state word (`pstate.rs`: held, or
//!   lent to a blocking call); `worker::Core` is the M-local half (the queue's
//!   owner end, `runnext`, the tick and steal state), kept in the `Proc`
//!   (`worker::CoreCell`) but touched only by the M that holds the P, which
//!   finds it through its thread-local context. The M itself has no type:
//!   it is the thread running `worker::run` ("worker" in file and thread
//!   names), plus an `MSlot` while it has no P. An idle M keeps its P while
//!   it sleeps, on the P's parker (Go puts the P on `pidle` and the M on
//!   `midle`; pairing them keeps a wake-up to one unpark).
//! - **netpoller** — the runtime's OS readiness poller (`netpoll/driver.rs`,
//!   mio: epoll/kqueue), polled by the Ms themselves, never by a thread of
//!   its own: at most one M holds it at a time (a `try_lock`).
//! - **blocking pool** — the threads of `spawn_blocking` (`blocking/`):
//!   no Ms (they hold no P and never run the scheduling loop); each runs
//!   closures, Gs of their own, one at a time, and for the tracer holds a
//!   pseudo-P while it does. Up to `Builder::max_blocking_threads`.
//! - **main task** — `Runtime::run`'s future (`#[spool::main]`): an
//!   ordinary G, spawned from the calling thread, which then parks on the
//!   G's `JoinHandle` (Go's main goroutine; no pseudo-P).
//! - **pseudo-P** — a thread inside `block_on`. It polls one future (the
//!   "main task") and, for the tracer, looks like a P (process-wide id from
//!   `trace_ids.rs`, like every P's) running a G of its own (see `block_on.rs`).
//!
//! # Modules, and the circles among them
//!
//! `sched` (this scheduler), `task` (the G: allocation, state word,
//! harness), `context` (the per-thread "which runtime, which P, why
//! pending" slots) and `time` (the per-P timer heaps and `Sleep`) import
//! each other: the harness polls a G and hands the outcome to the
//! scheduler, the scheduler runs the harness and fires its Ps' timers, and
//! all of them read and fill the poll context around each poll. They are
//! one unit split into files for size, as tokio's `scheduler`, `task` and
//! `time` are. The only other pair is `runtime` ↔ `trace_ctl`: a runtime
//! starts and stops the `SPOOL_TRACE` trace when it is built and shut
//! down, and `trace_ctl`'s API takes its `Handle`. Everything else (`panics`,
//! `loom`) sits below; `.ci/check-imports executor/src --unit
//! context,sched,task,time` shows what is left.
//!
//! # Scheduling a G (Go's `runqput`, `findRunnable`)
//!
//! 1. A wake or spawn on an M of this runtime *during a poll* puts the G in
//!    `runnext`; the G that was there moves to the back of the local queue
//!    (and an idle M is woken to steal it). A wake on an M outside a poll
//!    (timers) goes to the local queue; anything from another thread goes to
//!    the global injector and wakes an idle M.
//! 2. An M picks, in order: every 61st tick the injector (so a busy P cannot
//!    starve it; 61 is Go's prime) and, if sockets are registered, a
//!    zero-timeout netpoll (so Gs waiting for I/O are not starved by a busy
//!    P: tokio's event interval; Go leaves this to sysmon); `runnext`,
//!    unless the last [`MAX_RUNNEXT_POLLS`] Gs all came from it (then it is
//!    pushed to the back: two Gs waking each other cannot starve the
//!    queue); the local queue; the injector (a batch); its own due timers;
//!    then, if sockets are registered and no other M holds the poller, a
//!    zero-timeout netpoll (Go's `netpoll(0)` in `findRunnable`, before
//!    stealing).
//! 3. Otherwise the M *searches* — if fewer than half the Ps already do
//!    (`idle.rs`) — stealing half of a random victim's queue, then the
//!    injector, then other Ps' due timers. A searcher that finds work stops
//!    searching; the last one to stop wakes another M, so a burst of work
//!    spreads (Go's spinning-M hand-off).
//! 4. Otherwise it parks: it joins the sleeper list, and if it was the last
//!    searcher it re-checks every queue first (the #StoreLoad pair with the
//!    submitter's check in `Idle::notify_should_wakeup`, so no wake is
//!    lost). It sleeps until woken or until the earliest timer deadline of
//!    any P, whichever is first. `ProcStop`/`ProcStart` bracket the sleep.
//!    The sleep is one of two (step 5); never both.
//!
//! # The netpoller in the park path (Go's `netpoll`, `injectglist`)
//!
//! 5. A parking M whose runtime has sockets registered (`Driver::
//!    has_registrations`, one relaxed load) and that finds the poller free
//!    sleeps *in the poller* instead of on its condvar: its parker goes
//!    `EMPTY → POLLING` (`park.rs`), it blocks in `epoll_wait` with the next
//!    timer deadline of any P as the timeout, then `POLLING → EMPTY`. Every
//!    other parking M sleeps on its condvar as before. So while I/O is
//!    registered the first idle M to park is the one in the poll (Go's "an M
//!    that finds `sched.lastpoll` non-zero"); with nothing registered the
//!    poller is never touched.
//! 6. Waking: every unpark of an M goes through `Shared::unpark_m`; if the
//!    M's parker was `POLLING`, the unparker writes the poller's waker
//!    (eventfd) — the only place it is written. An M on its condvar is
//!    woken as before. So the eventfd is never written when no M blocks in
//!    the poll (`Handle::net_stats().waker_writes`).
//! 7. After the poll the M takes its P back (`ProcStart`) and dispatches
//!    the events with its P held: readiness is latched on each registration
//!    (a token of a closed socket's old generation is dropped) and the
//!    waiters' wakers called; Gs of this runtime go to this P's local queue
//!    with no per-G wake of another M (`Core::injecting`), and one M is
//!    woken for the batch if more than one G became runnable (Go's
//!    `injectglist`). The `GoUnblock`s are recorded by this M on its P,
//!    outside any G: the poller is the cause. Then the usual checks: picked
//!    by a submitter, or work in its queue, or sleep again.
//! 8. The first registration (count 0 → 1) may come from a thread that is
//!    no M (`block_on`); if every M sleeps on its condvar, none would poll,
//!    so the registering thread unparks the last sleeper
//!    (`Shared::io_registered`), which re-reads the count and moves into
//!    the poll. The #StoreLoad pair: the SeqCst increment then the sleeper
//!    list's lock, against a parking M's join of the list then its read of
//!    the count.
//!
//! The poll stays in the park path of an M that holds a P (it sleeps with
//! its P, see "P"), so P hand-off does not change steps 5–8. sysmon does
//! not poll the network (Go's does when no M polled for 10 ms); step 2's
//! every-61-ticks poll covers a runtime whose Ms are all busy.
//!
//! # Blocking calls: P hand-off (Go's `entersyscall`, `retake`, `handoffp`, `exitsyscall`)
//!
//! 9. `block_in_place(f)` in a task (`syscall.rs`): `GoSyscallBegin`; the
//!    P's `runnext` G moves to its queue (stealable); the thread's context
//!    drops the core (wakes and spawns from `f` go to the injector); the
//!    P's word goes `HELD → SYSCALL` with a new call number (Release). `f`
//!    runs. The P's word goes back `SYSCALL → HELD` by CAS: won = Go's
//!    fast path (`GoSyscallEnd`, the core is back in the context).
//! 10. sysmon's round (`sysmon.rs`) sees a P in the same call as on an
//!     earlier round ≥ 20 µs ago and, unless the P's queue is empty, some M
//!     is idle and the call is < 10 ms old (and no stop-the-world waits),
//!     CASes `SYSCALL → STEALING` (Acquire): it holds the P. It records
//!     `ProcSteal` (the blocked M's trace id from the P's trace slot), stores
//!     `HELD` (Release) and hands the P, queue and core, to a waiting M, a
//!     spare M or a new thread (`handoff.rs`; `MSlot::give` Release, `take`
//!     Acquire). Exactly one of step 9's CAS and this one wins (loom model
//!     `tests/loom/syscall.rs`).
//! 11. The blocked M, its CAS lost, waits while the word says `STEALING`
//!     (so its `GoSyscallEndBlocked` follows the `ProcSteal`, in the same
//!     generation or a later one), records `GoSyscallEndBlocked`, then
//!     needs a P to finish its poll (the poll is on its stack: unlike Go it
//!     cannot queue its G and run another): a free P if one is listed, else
//!     it joins the waiters and sets the runtime's `WAITING` bit, wakes the
//!     last sleeping M, and parks. Every M sees the bit at its next task (it
//!     is in the `sched_state` word the loop already compares) or before it
//!     sleeps; the first hands its P over (`ProcStop`, `MSlot::give`) and
//!     becomes spare. The waiter records `ProcStart` and `GoStart` and goes
//!     on with the poll; the M loop then sees the context's core changed and
//!     carries on with the new P.
//! 12. Stop-the-world counts Ps' seats, not threads: a seat moves with its
//!     P, so a retake or hand-off leaves the count as it is; a thread inside
//!     `block_in_place` is no participant (even as a requester), and while
//!     a stop-the-world waits sysmon retakes a call's P at once, so its new
//!     M stops for it.
//!
//! # Long polls (Go's sysmon preemption, without the preemption)
//!
//! 13. An M marks each poll on its P's counters (`metrics::PCounters`, one
//!     writer): `poll_task` and `polls += 1` (Release) before, `poll_ended
//!     = polls` after; a P lent to a blocking call is marked not polling.
//!     sysmon's round (`long_poll.rs`) remembers, per P, the poll number it
//!     first saw running and when (Go's `schedtick`/`schedwhen`); once the
//!     same poll has run `Builder::long_poll_threshold` (10 ms) it reports
//!     it once (a `spool.long_poll` log on the runtime pseudo-task,
//!     `RuntimeMetrics::long_polls`, the flight recorder's trigger, the
//!     user's callback), reading the spawn site from the registry under its
//!     lock. Go would now preempt the G; a future cannot be, so on that
//!     round and every later one while the poll lasts sysmon steals the
//!     P's queue into the injector and wakes an M: the tasks behind the
//!     long poll run on other Ps (busy Ms take them at their 61st tick).
//!     `runnext` stays (at most one G, see below).
//!
//! # Deadlock detection (Go's `checkdead`, as a report)
//!
//! 14. Only on a runtime built with `Builder::detect_deadlock(true)`, whose
//!     Ms run the `DETECT` copy of their loop (`worker::schedule`): a
//!     `Pending` poll records what the task waits on in its state word
//!     (`WAIT`, in the CAS that releases it). An M that parks and finds
//!     every M parked (`Idle::all_parked`), again each time it goes back
//!     to sleep with nothing to run, and a `block_on` thread that blocks
//!     while every M is parked, call `deadlock::check`: nothing queued, no
//!     timer, no socket, and every live task idle and waiting on a spool
//!     primitive means a report (`deadlock.rs`), once until a task runs
//!     again. The runtime goes on: a foreign thread may still wake a task.
//!
//! A G that returns `Pending` after waking itself (yield, budget, or woken by
//! another thread while running) goes to the *back* of the local queue: a
//! yield lets the others run.
//!
//! # Cooperative budget
//!
//! Each poll gets 128 units; spool's primitives (`JoinHandle`, `Sleep`)
//! spend one per poll and, when the budget is gone, wake the task and return
//! `Pending`, which the scheduler treats as a yield (`GoStop` "budget").
//!
//! # Stop-the-world, shutdown
//!
//! See `stw.rs` for STW. Shutdown (`Runtime` drop or `shutdown_timeout`):
//! 1. set the `SHUTDOWN` bit and unpark every M (the one in the poll
//!    through its waker); each M leaves its loop at the next safe point,
//!    drops its queued `Notified`s and exits;
//! 2. join the M threads (up to the timeout);
//! 3. close the registry and cancel every unfinished task, running the
//!    futures' destructors on the calling thread (their sockets deregister
//!    and close);
//! 4. drain the injector and the timer heaps, and shut the netpoller down:
//!    sockets still alive outside tasks are marked dead (their waiters are
//!    woken and fail). The epoll and eventfd close with the last socket.
//!
//! # Panics
//!
//! User code never unwinds into the M: a poll runs under `catch_unwind`
//! (the panic becomes the task's output), and a waker the runtime did not
//! create is called through `Panics::guard` (`panics.rs`). An M that dies
//! anyway (a bug) is replaced by a new thread for its P (`worker::replace`).
//!
//! # Rejected alternatives
//!
//! - A stealable `runnext` (Go lets thieves take it after a short delay):
//!   an M that blocks inside a poll does so through `block_in_place`, which
//!   moves `runnext` to the stealable queue first, so the owner otherwise
//!   runs it right after the current poll; keeping it unstealable avoids an
//!   atomic per wake. Cost: a woken G waits for the current poll to end,
//!   also the one G a long poll last woke (step 13 rescues the rest).
//! - tokio's `block_in_place`, which hands the core to a new thread at
//!   once, on every call: a 1 µs call would pay a thread wake-up and a
//!   hand-back. Go's way (keep the P, let sysmon retake it after 20 µs)
//!   makes the short call cost two uncontended atomics.
//! - Letting the M that lost its P finish its poll without one (tokio):
//!   the task would run beyond `procs` and, in a trace, outside any P,
//!   which Go's format cannot express. The M waits for a P instead; the
//!   `WAITING` bit makes a busy M hand its P over at its next task.
//! - Idle Ps on a list of their own, Ms parking apart from them (Go's
//!   `pidle`/`midle`): a wake-up would take an idle P and an idle M and
//!   pair them; keeping the pair together (an idle M sleeps with its P)
//!   keeps steps 1–8 as they were, at the cost of a two-step hand-over when
//!   a waiter needs a sleeping M's P.
//! - Our own ring buffer instead of crossbeam-deque: crossbeam's FIFO worker
//!   already does batch stealing with one CAS.
//! - A Go-style bounded local queue (256 slots, the older half spilled to the
//!   injector when full), to stop crossbeam's buffer from resizing during
//!   spawn bursts: measured worse, 1,050 against 909 instructions per task
//!   (callgrind, a task spawning and joining 10,000 tasks, 2 Ps), because
//!   every spilled G pays for an injector push and its block allocation.
//! - A per-thread cache of freed task cells (Go's `gFree`), 64 per size
//!   class: 927 against 909 instructions per task on the same driver: a
//!   burst of 10,000 spawns outruns any small cache, so malloc is called
//!   anyway.
//! - One shared timer heap: one lock for every sleep of every P. Per-P heaps
//!   keep registration local; idle Ms fire other Ps' due timers.
//! - A reactor thread blocked in epoll that wakes tasks from outside (the
//!   async-io design): every ready socket then costs a cross-thread wake
//!   (injector push plus an unpark of an idle M) and a context switch.
//!   With the poll in the M's park path the M that sees the event runs the
//!   task itself.
//! - Writing the eventfd on every unpark while I/O is registered (simpler
//!   than the `POLLING` state): the yield and ping-pong workloads would
//!   then pay a syscall per wake of an idle M even when it sleeps on its
//!   condvar.
//!
//! # References
//!
//! Go `runtime/proc.go` (findRunnable, runqput, runqsteal, wakep, stopm, the
//! "Worker thread parking/unparking" comment, injectglist, entersyscall,
//! exitsyscall, retake, handoffp, sysmon), `runtime/netpoll.go`
//! and `netpoll_epoll.go` (netpoll, netpollBreak); tokio
//! `runtime/scheduler/multi_thread/{worker,idle}.rs`; Chase and Lev,
//! "Dynamic circular work-stealing deque" (crossbeam-deque).

pub(crate) mod block_on;
pub(crate) mod deadlock;
pub(crate) mod handoff;
pub(crate) mod idle;
pub(crate) mod long_poll;
pub(crate) mod metrics;
pub(crate) mod park;
pub(crate) mod pstate;
pub(crate) mod stw;
pub(crate) mod syscall;
pub(crate) mod sysmon;
pub(crate) mod table;
pub(crate) mod trace_ids;
pub(crate) mod worker;

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use spool_tracer::hooks::{self, ProcTraceState};

use crate::context;
use crate::loom::lock_std;
use crate::netpoll::driver::Driver;
use crate::panics::Panics;
use crate::task::{self, JoinHandle, Notified, Registry, harness};
use crate::time::heap::{Entry, TimerHeap};
use block_on::BlockOnSlot;
use handoff::Handoff;
use idle::Idle;
use metrics::PCounters;
use park::Parker;
use pstate::PState;
use stw::Stw;
use sysmon::Sysmon;
use worker::CoreCell;

/// Consecutive Gs an M may take from `runnext` before it must take one from
/// the local queue (tokio's `MAX_LIFO_POLLS_PER_TICK`).
pub(crate) const MAX_RUNNEXT_POLLS: u32 = 3;

/// How often (in scheduling ticks) an M looks at the injector first, even
/// with local work (Go's `schedtick%61`).
pub(crate) const INJECTOR_INTERVAL: u32 = 61;

/// Bit of [`Shared::sched_state`]: the runtime is shutting down.
pub(crate) const SHUTDOWN: u32 = 1;
/// Bit of [`Shared::sched_state`]: an M back from a blocking call waits
/// for a P (`handoff.rs`); the first M to see it hands its P over.
pub(crate) const WAITING: u32 = 2;
/// [`Shared::sched_state`] above [`WAITING`] counts trace switches: each
/// [`Shared::trace_switched`] adds this.
const TRACE_SWITCH: u32 = 4;

/// The shared part of one P (the M-local part is `worker::Core`).
pub(crate) struct Proc {
    /// The P's id in traces: process-wide, from a block of consecutive ids
    /// the runtime reserved at build (`trace_ids.rs`).
    pub(crate) id: u32,
    /// Steal end of the P's local queue.
    pub(crate) stealer: Stealer<Notified>,
    /// The tracer's per-P slot.
    pub(crate) trace: ProcTraceState,
    /// Where the P's M sleeps.
    pub(crate) parker: Parker,
    /// The P's timers.
    pub(crate) timers: TimerHeap,
    /// The P's scheduler counters (`metrics.rs`), on their own cache line.
    pub(crate) counters: CachePadded<PCounters>,
    /// Held, or lent to a blocking call (`pstate.rs`).
    pub(crate) status: PState,
    /// The M-local half, touched only by the M holding the P.
    pub(crate) core: CoreCell,
}

/// Everything the Ms, handles and tasks of one runtime share.
pub(crate) struct Shared {
    /// Slot in the global runtime table (`table.rs`).
    pub(crate) index: usize,
    pub(crate) procs: Box<[Proc]>,
    pub(crate) injector: Injector<Notified>,
    pub(crate) idle: Idle,
    pub(crate) registry: Registry,
    pub(crate) stw: Stw,
    /// The netpoller (`netpoll/driver.rs`); an `Arc` because sockets keep it
    /// (not the whole runtime) alive.
    pub(crate) driver: Arc<Driver>,
    /// Bit [`SHUTDOWN`], plus a count of trace switches in the bits above
    /// it ([`Shared::trace_switched`]). One word, so the M loop's one check
    /// per task of "is anything to do besides running tasks" covers both.
    state: AtomicU32,
    /// Timer deadlines are nanoseconds since this instant.
    pub(crate) epoch: Instant,
    /// Threads inside `block_on` (pseudo-Ps).
    pub(crate) block_ons: Mutex<BlockOns>,
    /// Round-robin choice of a P for timers registered off-runtime.
    timer_rr: AtomicUsize,
    /// Panics caught from wakers, and Ms lost to panics (`panics.rs`).
    pub(crate) panics: Panics,
    /// Threads of Ms started to replace Ms that died (`worker::replace`);
    /// shutdown joins them after the original Ms.
    replacements: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Ps whose M died and could not be replaced.
    lost_ps: AtomicU32,
    /// Ms without a P (`handoff.rs`).
    pub(crate) handoff: Handoff,
    /// The background monitor's wake-up slot and counters (`sysmon.rs`).
    pub(crate) sysmon: Sysmon,
    /// Prefix of the M threads' names (`Builder::thread_name`).
    pub(crate) thread_name: String,
    /// The threads of `spawn_blocking` (`blocking/pool.rs`).
    pub(crate) blocking: crate::blocking::pool::Pool,
    /// The deadlock detector (`deadlock.rs`), if `Builder::detect_deadlock`
    /// asked for one; fixed at build, so the Ms choose their loop by it.
    pub(crate) deadlock: Option<deadlock::Detector>,
}

#[derive(Default)]
pub(crate) struct BlockOns {
    pub(crate) active: Vec<Arc<BlockOnSlot>>,
}

impl Shared {
    pub(crate) fn new(
        index: usize,
        procs: Box<[Proc]>,
        driver: Driver,
        thread_name: String,
        sysmon: Sysmon,
        blocking: crate::blocking::pool::Pool,
        deadlock: Option<deadlock::Detector>,
    ) -> Shared {
        let n = procs.len();
        Shared {
            index,
            driver: Arc::new(driver),
            injector: Injector::new(),
            idle: Idle::new(n),
            registry: Registry::new(n),
            stw: Stw::new(n),
            state: AtomicU32::new(0),
            epoch: Instant::now(),
            block_ons: Mutex::new(BlockOns::default()),
            timer_rr: AtomicUsize::new(0),
            panics: Panics::new(),
            replacements: Mutex::new(Vec::new()),
            lost_ps: AtomicU32::new(0),
            handoff: Handoff::default(),
            sysmon,
            thread_name,
            blocking,
            deadlock,
            procs,
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.sched_state() & SHUTDOWN != 0
    }

    /// The shutdown bit and the trace-switch count. An M compares it with
    /// the value it saw when it last looked at the tracing flag; any change
    /// (shutdown, or a trace started or stopped) sends it back to the top of
    /// its loop (`worker::run`). Acquire: pairs with the Release in
    /// [`Shared::trace_switched`], so an M that sees the new count also sees
    /// the tracing flag that was set before it.
    #[inline]
    pub(crate) fn sched_state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }

    /// Sets or clears the [`WAITING`] bit (under the waiters' lock).
    pub(crate) fn set_waiting(&self, on: bool) {
        // SeqCst: the store half of the #StoreLoad pair in `handoff.rs`.
        if on {
            self.state.fetch_or(WAITING, Ordering::SeqCst);
        } else {
            self.state.fetch_and(!WAITING, Ordering::SeqCst);
        }
    }

    /// Tracing was switched on or off (or may have been): every M of this
    /// runtime re-reads the tracing flag before its next task.
    pub(crate) fn trace_switched(&self) {
        // Wrapping add; SHUTDOWN and WAITING (bits 0-1) are never carried into.
        self.state.fetch_add(TRACE_SWITCH, Ordering::Release);
    }

    /// Spawns `future` as a new G.
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = task::next_task_id();
        table::task_ref(self);
        let ptr = task::raw::allocate(future, task::id_in_runtime(id, self.index), location);
        // SAFETY: freshly allocated; we hold all three initial references.
        let h = unsafe { ptr.as_ref() };
        // Build the site (an indirect call) only when a trace is recorded.
        if hooks::enabled() {
            hooks::go_create(id, &h.trace, h.site());
        }
        if self.registry.insert(ptr) {
            // SAFETY: the initial state's Notified reference.
            self.schedule(unsafe { Notified::from_raw(ptr) });
        } else {
            // SAFETY: not linked, initial state; we keep the JoinHandle's reference.
            unsafe { harness::cancel_unbound(ptr) };
        }
        // SAFETY: the initial state's JoinHandle reference, output type F::Output.
        unsafe { JoinHandle::new(ptr) }
    }

    /// Queues a runnable G (step 1 of the module doc).
    pub(crate) fn schedule(&self, task: Notified) {
        let remote = context::with_core(self, |core| match core {
            Some(core) => {
                core.schedule(self, task);
                None
            }
            None => Some(task),
        });
        if let Some(task) = remote {
            if self.is_shutdown() {
                // Nobody will run it; the registry drain cancels the G.
                drop(task);
                return;
            }
            self.injector.push(task);
            // SeqCst: pairs with the `fetch_or` in `begin_shutdown`: either the
            // drain sees this G or we see the flag and drain it ourselves
            // (a G left in the injector would keep the runtime alive).
            if self.state.load(Ordering::SeqCst) & SHUTDOWN != 0 {
                self.drain_injector();
            } else {
                self.notify_parked();
            }
        }
    }

    /// Shutdown step 1.
    pub(crate) fn begin_shutdown(&self) {
        self.state.fetch_or(SHUTDOWN, Ordering::SeqCst);
        self.unpark_all();
    }

    fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                crossbeam_deque::Steal::Success(t) => drop(t),
                crossbeam_deque::Steal::Empty => break,
                crossbeam_deque::Steal::Retry => {}
            }
        }
    }

    /// Wakes an idle M if work appeared and nobody is looking for it.
    pub(crate) fn notify_parked(&self) {
        if let Some(i) = self.idle.worker_to_notify() {
            self.unpark_m(i);
        }
    }

    /// Unparks M `i`, through the netpoller's waker if it sleeps in the
    /// poll (the only place the waker is written).
    pub(crate) fn unpark_m(&self, i: usize) {
        if self.procs[i].parker.unpark() {
            self.driver.wake();
        }
    }

    /// The first socket was registered (the count went 0 -> 1): if every M
    /// sleeps on its condvar, none polls; unpark one so it moves into the
    /// poll (its park loop re-reads the count). The #StoreLoad pair: the
    /// registration's SeqCst increment then our read of the sleeper list,
    /// against a parking M's join of the list then its read of the count.
    pub(crate) fn io_registered(&self) {
        if let Some(i) = self.idle.last_sleeper() {
            self.unpark_m(i);
        }
    }

    /// The last searcher re-checks every queue before it sleeps.
    pub(crate) fn notify_if_work_pending(&self) {
        let pending = !self.injector.is_empty() || self.procs.iter().any(|p| !p.stealer.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    /// Unparks every M and `block_on` thread (STW, shutdown), and sysmon.
    pub(crate) fn unpark_all(&self) {
        for i in 0..self.procs.len() {
            self.unpark_m(i);
        }
        self.unpark_unheld();
        self.sysmon.wake();
        for b in lock_std(&self.block_ons).active.iter() {
            // A block_on thread never sleeps in the netpoller.
            let _ = b.parker.unpark();
        }
    }

    /// Nanoseconds since the epoch at `t`, rounded up (a timer never fires early).
    pub(crate) fn nanos(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        let ns = d.as_nanos();
        u64::try_from(ns).unwrap_or(u64::MAX - 1)
    }

    /// Registers a timer entry on this thread's P (or a round-robin one).
    pub(crate) fn add_timer(&self, deadline: Instant, entry: Arc<Entry>) {
        let when = self.nanos(deadline);
        let own = context::with_core(self, |core| core.map(|c| c.index));
        let i =
            own.unwrap_or_else(|| self.timer_rr.fetch_add(1, Ordering::Relaxed) % self.procs.len());
        let earliest = self.procs[i].timers.insert(when, entry);
        if earliest && own.is_none() {
            // The P's M may sleep past this deadline: make it recompute.
            self.unpark_m(i);
        }
    }

    /// Earliest timer deadline over all Ps.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        let min = self
            .procs
            .iter()
            .map(|p| p.timers.next())
            .min()
            .unwrap_or(u64::MAX);
        (min != u64::MAX).then(|| self.epoch + std::time::Duration::from_nanos(min))
    }

    /// Runs `f` with the world stopped (see `stw.rs`).
    pub(crate) fn stop_the_world<R>(&self, reason: &'static str, f: impl FnOnce() -> R) -> R {
        assert!(
            !context::set_in_stw(true),
            "spool: `stop_the_world` called inside a stop-the-world closure"
        );
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                context::set_in_stw(false);
            }
        }
        let _reset = Reset;
        // A thread inside `block_in_place` is no participant: its P's seat
        // moves to whoever sysmon hands the P to (a retake is due at once
        // while a stop-the-world waits), and that M stops as usual.
        let is_participant = std::ptr::eq(context::current_shared(), self) && !context::in_call();
        self.stw
            .run(reason, is_participant, || self.unpark_all(), f)
    }

    /// Keeps the thread of a replacement M for shutdown to join.
    pub(crate) fn add_replacement(&self, t: std::thread::JoinHandle<()>) {
        lock_std(&self.replacements).push(t);
    }

    /// Takes the replacement Ms' threads started so far (shutdown joins
    /// them; a replacement that dies itself adds another, so the caller
    /// loops until none is left).
    pub(crate) fn take_replacements(&self) -> Vec<std::thread::JoinHandle<()>> {
        std::mem::take(&mut *lock_std(&self.replacements))
    }

    /// A P lost its M and no replacement could be started: wake every
    /// `block_on` thread so it notices ([`Shared::check_ms`]).
    pub(crate) fn lose_p(&self) {
        self.lost_ps.fetch_add(1, Ordering::SeqCst);
        self.unpark_all();
    }

    /// The health check of the Ms, cheap enough for every park: one load.
    /// Panics (fails loudly) when a P has lost its M for good, rather than
    /// letting the caller wait forever for tasks nobody runs. Called by
    /// `block_on` after each wake; sysmon (issue 12) is meant to call it on
    /// every tick too.
    pub(crate) fn check_ms(&self) {
        let lost = self.lost_ps();
        if lost != 0 {
            lost_ps_panic(lost);
        }
    }

    /// Ps lost for good ([`Shared::check_ms`] without the panic, for sysmon).
    pub(crate) fn lost_ps(&self) -> u32 {
        self.lost_ps.load(Ordering::Relaxed)
    }

    /// Shutdown steps 3 and 4 (after the Ms are gone or given up on).
    pub(crate) fn drain(&self) {
        self.registry.close_and_drain(|t| {
            // SAFETY: the drain hands us the registry's reference.
            unsafe { harness::shutdown(t) }
        });
        self.drain_injector();
        for p in self.procs.iter() {
            p.timers.clear(&self.panics);
        }
        // Sockets still alive outside any task (held by `block_on` code or
        // another thread) are marked dead, so nothing waits on them forever.
        self.driver.shutdown(&self.panics);
    }
}

#[cold]
#[inline(never)]
fn lost_ps_panic(lost: u32) -> ! {
    panic!(
        "spool: {lost} P(s) of this runtime lost their M to a panic and no replacement M could be \
         started (see the report on stderr); their tasks cannot run"
    )
}

impl Drop for Shared {
    fn drop(&mut self) {
        table::clear(self.index);
        // Every M held an `Arc<Shared>`, so all have stopped their Ps: the
        // block of trace P ids can go to the next runtime.
        if let Some(first) = self.procs.first() {
            trace_ids::release_procs(first.id, self.procs.len() as u32);
        }
    }
}
