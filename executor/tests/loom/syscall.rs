//! A P's state word (`sched/pstate.rs`, `PState`): an M's blocking call
//! against sysmon's retake. Exactly one of them ends the call holding the
//! P, the loser never touches the P's core afterwards, the core's data
//! reaches the winner, and a returning M waits out a steal in progress
//! (the trace needs the `ProcSteal` before its `GoSyscallEndBlocked`).

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::{PState, SyscallExit};

/// A P: its word, and its core (a loom cell: two threads touching it
/// without the protocol's ordering fail the model).
struct P {
    word: PState,
    core: UnsafeCell<u64>,
    /// Set by sysmon between its retake and `stolen` (its `ProcSteal`).
    steal_recorded: AtomicUsize,
}

/// sysmon's round on one P: look, and if in a call, retake it. Returns
/// whether it took it.
fn sysmon_round(p: &P) -> bool {
    let seen = p.word.load();
    if !p.word.retake(seen) {
        return false;
    }
    // sysmon holds the P now: it may read the core (the hand-off reads the
    // queue), and sees what the M wrote before the call.
    let v = p.core.with(|c| unsafe { *c });
    assert_eq!(v, 1, "the core's write before the call reached sysmon");
    p.steal_recorded.store(1, SeqCst);
    p.word.stolen(seen);
    true
}

/// sysmon retakes while the M returns: exactly one owns the P after.
#[test]
fn retake_races_the_return_exactly_one_owns_the_p() {
    loom::model(|| {
        let p = Arc::new(P {
            word: PState::new(),
            core: UnsafeCell::new(0),
            steal_recorded: AtomicUsize::new(0),
        });
        // The M holds the P: writes its core, enters a call.
        p.core.with_mut(|c| unsafe { *c = 1 });
        let call = p.word.enter();
        let p2 = p.clone();
        let sysmon = thread::spawn(move || sysmon_round(&p2));
        let exit = p.word.exit(call);
        match exit {
            SyscallExit::Kept => {
                // Still ours: the core is ours to write.
                p.core.with_mut(|c| unsafe { *c = 2 });
            }
            SyscallExit::Lost => {
                // The steal was recorded before we learnt of it.
                assert_eq!(p.steal_recorded.load(SeqCst), 1);
            }
        }
        let took = sysmon.join().unwrap();
        assert_eq!(
            took,
            exit == SyscallExit::Lost,
            "exactly one of the M and sysmon owns the P"
        );
    });
}

/// Two calls in a row on the same P: sysmon's look at the first call can
/// never retake the second one (the word's call count), and the second
/// call's exit is unaffected by a stale retake attempt.
#[test]
fn a_retake_of_an_old_call_misses_the_next_call() {
    loom::model(|| {
        let p = Arc::new(P {
            word: PState::new(),
            core: UnsafeCell::new(1),
            steal_recorded: AtomicUsize::new(0),
        });
        let first = p.word.enter();
        let seen = p.word.load();
        let p2 = p.clone();
        let sysmon = thread::spawn(move || {
            // sysmon looked during the first call, acts later.
            if p2.word.retake(seen) {
                p2.word.stolen(seen);
                true
            } else {
                false
            }
        });
        let e1 = p.word.exit(first);
        let mut e2 = None;
        if e1 == SyscallExit::Kept {
            let second = p.word.enter();
            e2 = Some(p.word.exit(second));
        }
        let took = sysmon.join().unwrap();
        assert_eq!(took, e1 == SyscallExit::Lost);
        assert_ne!(
            e2,
            Some(SyscallExit::Lost),
            "a stale look retook a newer call"
        );
    });
}
