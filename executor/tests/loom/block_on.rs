//! `block_on`'s main-task wake state (`sched/block_on.rs`, `MainState`):
//! the thread's `start_poll`/`block`/park loop against concurrent wakes.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::{MainState, Parker};

/// The main task's trace sequence number: the tracer's per-task slot, which
/// the thread's GoStart/GoBlock and the winning waker's GoUnblock write. A
/// loom `UnsafeCell`, so any two writes not ordered by the protocol are
/// reported as a data race.
struct Seq(UnsafeCell<u32>);

// SAFETY: the protocol under test orders every access; loom checks it.
unsafe impl Sync for Seq {}

impl Seq {
    fn event(&self) {
        // SAFETY: exclusive by the protocol under test (loom reports a
        // concurrent access as a failure).
        self.0.with_mut(|s| unsafe { *s += 1 });
    }
}

/// Interleaving: two wakers race each other and the thread. One may arrive
/// during the poll (RUNNING -> NOTIFIED: `block` fails and the thread polls
/// again without parking), one after `block` (BLOCKED -> WAKING, GoUnblock,
/// NOTIFIED, unpark), both at once on a BLOCKED task (exactly one wins
/// WAKING). The thread must never sleep through a wake (loom reports the
/// lost wake as a deadlock), and the winning waker's GoUnblock must be
/// ordered after the thread's GoBlock and before its next GoStart (the
/// `Seq` cell: a race there is a failure).
#[test]
fn block_on_wakers_racing_poll_and_park() {
    loom::model(|| {
        let state = Arc::new(MainState::new());
        let parker = Arc::new(Parker::new());
        let seq = Arc::new(Seq(UnsafeCell::new(0)));
        // Wakes that happened: the "future" is ready once it sees both.
        let woken = Arc::new(AtomicUsize::new(0));
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let (state, parker, seq, woken) =
                    (state.clone(), parker.clone(), seq.clone(), woken.clone());
                thread::spawn(move || {
                    woken.fetch_add(1, SeqCst);
                    if state.wake(|| seq.event()) {
                        let _ = parker.unpark(); // a block_on thread never polls
                    }
                })
            })
            .collect();
        // The `block_on` loop (`sched/block_on.rs`) with its hooks as `Seq`
        // events.
        loop {
            state.start_poll();
            seq.event(); // GoStart
            if woken.load(SeqCst) == 2 {
                break; // Ready: GoDestroy
            }
            seq.event(); // GoBlock, before the task becomes wakeable
            if !state.block() {
                seq.event(); // woken during the poll: our own GoUnblock
                continue;
            }
            loop {
                parker.park(None);
                if state.is_notified() {
                    break;
                }
            }
        }
        for w in wakers {
            w.join().unwrap();
        }
    });
}
