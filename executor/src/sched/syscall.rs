//! `block_in_place`: a blocking call inside a task, with Go's syscall
//! hand-off (`entersyscall`, `exitsyscall`; protocol in `sched/mod.rs`).
//!
//! The M keeps its P through the call (the P's word says `SYSCALL`,
//! `pstate.rs`); sysmon may take it meanwhile (`sysmon.rs`). Invariants:
//! - During the call the thread's context has no core: wakes and spawns
//!   from the call go to the injector, and nothing here touches the P's
//!   core until the word says the M still holds it.
//! - Before the call the P's `runnext` G moves to the back of its queue,
//!   where other Ms can steal it (a G there could otherwise wait for the
//!   whole call).
//! - A call that panics ends like one that returns (a drop guard), so the
//!   task's `catch_unwind` finds the M holding a P again.

use spool_tracer::hooks;

use super::Shared;
use super::pstate::Exit;
use super::worker::{Core, core_of};
use crate::context;

/// Runs `f`, a blocking call, on the current M without stalling the other
/// tasks of its P: Go's hand-off of a P in a syscall.
///
/// The M keeps its P while `f` runs. If `f` returns within sysmon's first
/// look (20 µs) nothing else happens; if it takes longer, sysmon retakes
/// the P and hands it, with its queued tasks, to another M, so they keep
/// running. When `f` returns, the M takes its old P back if it is still
/// its own, else waits for any P (another M hands one over at its next
/// scheduling point). In the trace the call is a `GoSyscallBegin` …
/// `GoSyscallEnd` section, or, after a retake, `ProcSteal` and
/// `GoSyscallEndBlocked`.
///
/// Outside a task of a spool runtime (on any other thread, or in
/// `block_on`'s own future) it just runs `f`. A panic of `f` propagates
/// after the M has its P back.
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let n = rt.block_on(rt.spawn(async {
///     spool_executor::block_in_place(|| {
///         std::thread::sleep(std::time::Duration::from_millis(5));
///         7
///     })
/// }));
/// assert_eq!(n.unwrap(), 7);
/// assert_eq!(spool_executor::block_in_place(|| 1), 1); // no runtime: just runs
/// ```
pub fn block_in_place<R>(f: impl FnOnce() -> R) -> R {
    let core = context::core_ptr();
    if core.is_null() || !context::is_polling() {
        return f();
    }
    // SAFETY: a non-null core means this thread is an M holding that P, of
    // the runtime in the context, which the M keeps alive.
    let (shared, core) = unsafe { (&*context::current_shared(), &*core) };
    let call = enter(shared, core);
    let _exit = ExitGuard {
        shared,
        p: core.index,
        call,
    };
    f()
}

/// Ends the call when dropped (return or unwind).
struct ExitGuard<'a> {
    shared: &'a Shared,
    p: usize,
    call: usize,
}

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        exit(self.shared, self.p, self.call);
    }
}

/// Go's `entersyscall`. Returns the P's word naming this call.
#[inline]
fn enter(shared: &Shared, core: &Core) -> usize {
    let p = &shared.procs[core.index];
    // The event before the state change that lets sysmon see the call.
    hooks::go_syscall_begin(&p.trace);
    if let Some(t) = core.runnext.take() {
        core.worker.push(t);
        shared.notify_parked();
    }
    core.polling.set(false);
    // The P stops counting as polling (sysmon's long-poll check).
    p.counters.poll_pause();
    context::set_core(std::ptr::null());
    context::set_in_call(true);
    let call = p.status.enter();
    shared.sysmon.syscall_entered();
    call
}

/// Go's `exitsyscall`: the fast path keeps the P.
#[inline]
fn exit(shared: &Shared, p: usize, call: usize) {
    context::set_in_call(false);
    let proc = &shared.procs[p];
    match proc.status.exit(call) {
        Exit::Kept => {
            hooks::go_syscall_end(&proc.trace);
            // SAFETY: the P's word says we still hold it.
            let core = unsafe { core_of(shared, p) };
            core.polling.set(true);
            proc.counters.poll_resume(current_task_id());
            context::set_core(core);
        }
        Exit::Lost => exit_lost(shared, p),
    }
}

/// The id of the task being polled (0: none, which no task has).
fn current_task_id() -> u64 {
    // SAFETY: the task being polled is alive for the whole poll.
    unsafe { context::current_task().as_ref() }.map_or(0, |h| h.id())
}

/// The P was retaken during the call: get one back, then go on with the
/// poll on it (Go's `exitsyscall0`, except that the task's poll cannot
/// move: this M waits for a P instead of queueing the task).
#[cold]
#[inline(never)]
fn exit_lost(shared: &Shared, old: usize) {
    let restart = hooks::go_syscall_end_blocked();
    let Some(p) = shared.acquire_p(old) else {
        // Shutdown: the poll finishes without a P; the M then exits.
        return;
    };
    // SAFETY: `acquire_p` handed us P `p`.
    let core = unsafe { core_of(shared, p) };
    core.polling.set(true);
    let proc = &shared.procs[p];
    proc.counters.poll_resume(current_task_id());
    context::set_core(core);
    hooks::proc_start(proc.id, &proc.trace);
    if restart {
        // SAFETY: the task being polled is alive for the whole poll.
        if let Some(h) = unsafe { context::current_task().as_ref() } {
            hooks::go_start(h.id(), &h.trace, h.site());
        }
    }
}
