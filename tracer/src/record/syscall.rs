//! Hook bodies of blocking calls: `GoSyscallBegin`, `GoSyscallEnd`,
//! `GoSyscallEndBlocked` on the calling M, `ProcSteal` on sysmon's.
//!
//! Go's flow (`go-trace-format.md` §1.10, runtime/traceruntime.go
//! `GoSysCall`, `GoSysExit`, `ProcSteal`):
//! - The M keeps its P through the call; while [`MState::in_syscall`] is
//!   set, the statuses it restates in a new generation are `Syscall`.
//! - A P taken away during the call gets a `ProcSteal` from the taker, who
//!   claims the P's status for the generation with `SyscallAbandoned` if
//!   nobody wrote one yet (the parser promotes it to `Syscall` when it
//!   knows the P was in one). The taker records it *before* the blocked M
//!   can see the P is gone (the executor's `STEALING` state), so its
//!   `GoSyscallEndBlocked` is never in an earlier generation than the steal.
//! - After `GoSyscallEndBlocked` the M has neither P nor task in the trace;
//!   it records `ProcStart` and `GoStart` when it gets a P again.

use std::sync::atomic::Ordering;

use spool_trace_wire::ev;

use super::{PROC_RUNNING, PROC_SYSCALL_ABANDONED, ensure_ctx};
use crate::lost::{Lost, lost};
use crate::mstate::{with_m, with_writer, writer_on};
use crate::seq::next_seq;
use crate::vocab::{ProcTraceState, UNSET};

pub(crate) fn go_syscall_begin(state: &ProcTraceState) {
    with_m(|m| {
        if !m.running() {
            lost(Lost::NoTask);
            return;
        }
        writer_on(m, |w| {
            let Some(p) = w.m.proc() else {
                lost(Lost::NoProc);
                return;
            };
            ensure_ctx(w);
            let q = next_seq(&state.0, w.generation);
            if q.needs_status {
                w.event(ev::PROC_STATUS, &[p, PROC_RUNNING]);
            }
            let stack = w.task_stack();
            // Scribble down the M the P is attached to, for a ProcSteal;
            // Release pairs with the taker's Acquire swap (the executor's
            // state word orders it before any taker looks, too).
            state.1.store(w.m_id(), Ordering::Release);
            w.event(ev::GO_SYSCALL_BEGIN, &[q.seq, stack]);
            w.m.in_syscall.set(true);
        });
    });
}

pub(crate) fn go_syscall_end(state: &ProcTraceState) {
    with_m(|m| {
        if !m.in_syscall.replace(false) {
            return;
        }
        // The P was not taken: nobody will record a steal of this call.
        state.1.store(UNSET, Ordering::Relaxed);
        if !m.running() {
            // The trace that saw the call begin has stopped.
            return;
        }
        m.in_syscall.set(true);
        writer_on(m, |w| {
            ensure_ctx(w);
            w.event(ev::GO_SYSCALL_END, &[]);
        });
        m.in_syscall.set(false);
    });
}

pub(crate) fn go_syscall_end_blocked(traced: bool) -> bool {
    with_m(|m| {
        let mut written = false;
        if traced && m.in_syscall.get() && m.running() {
            // The P is gone (stolen): restate only the task, as `Syscall`.
            m.set_proc(None);
            written = writer_on(m, |w| {
                ensure_ctx(w);
                w.event(ev::GO_SYSCALL_END_BLOCKED, &[]);
            })
            .is_some();
        }
        m.in_syscall.set(false);
        m.set_proc(None);
        m.clear_running();
        written
    })
    .unwrap_or(false)
}

pub(crate) fn proc_steal(p: u32, state: &ProcTraceState) {
    // Take the victim's ID (Acquire pairs with go_syscall_begin's Release).
    let victim = state.1.swap(UNSET, Ordering::Acquire);
    if victim == UNSET {
        // The call began while no trace was recorded.
        return;
    }
    with_writer(|w| {
        let q = next_seq(&state.0, w.generation);
        if q.needs_status {
            w.event(ev::PROC_STATUS, &[u64::from(p), PROC_SYSCALL_ABANDONED]);
        }
        w.event(ev::PROC_STEAL, &[u64::from(p), q.seq, victim]);
    });
}
