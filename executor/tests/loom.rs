//! Loom models of the executor's lock-free protocols: the task state
//! machine and the park/unpark (idle M) protocol here; `block_on`'s wake
//! state, stop-the-world, the runtime table, the timer heap's `next`, the
//! netpoller park (`Parker::park_polling`) and a socket registration's
//! readiness/waker protocol (`ScheduledIo`) and a P's blocking-call state
//! word against sysmon's retake (`PState`) in `loom/`.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p spool-executor --test loom`. Each model drives the real types
//! (`State`, `Idle`, `Parker`, `MainState`, `Stw`, `TimerHeap`, the table's
//! `reserve`/`clear`), exported under `cfg(loom)` by `spool_executor::__loom`;
//! the run queue is a loom-visible stand-in (crossbeam-deque's spin loops
//! cannot run under loom). Each model's doc names the interleaving it must
//! survive.
#![cfg(loom)]

#[path = "loom/block_on.rs"]
mod block_on;
#[path = "loom/net.rs"]
mod net;
#[path = "loom/stw.rs"]
mod stw;
#[path = "loom/syscall.rs"]
mod syscall;
#[path = "loom/table.rs"]
mod table;
#[path = "loom/timers.rs"]
mod timers;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::{
    Idle, Parker, State, TransitionToIdle, TransitionToNotified, TransitionToRunning,
};

/// A model task: the real state word plus counters of what happened to it.
struct Task {
    state: State,
    /// The "future" completes once it sees this set.
    ready: AtomicBool,
    /// Polls that happened.
    polls: AtomicUsize,
    /// The future was dropped by cancellation.
    cancels: AtomicUsize,
    /// The output was dropped.
    output_drops: AtomicUsize,
    /// The task was deallocated (refcount reached zero).
    deallocs: AtomicUsize,
}

impl Task {
    fn new(ready: bool) -> Arc<Task> {
        Arc::new(Task {
            state: State::new(),
            ready: AtomicBool::new(ready),
            polls: AtomicUsize::new(0),
            cancels: AtomicUsize::new(0),
            output_drops: AtomicUsize::new(0),
            deallocs: AtomicUsize::new(0),
        })
    }

    fn dealloc(&self) {
        assert_eq!(self.deallocs.fetch_add(1, SeqCst), 0, "double free");
    }

    /// Completes a task whose RUNNING bit we hold: as `harness::complete`
    /// with the poller's and the registry's references.
    fn complete(&self) {
        let snap = self.state.transition_to_complete();
        if !snap.is_join_interested() {
            self.output_drops.fetch_add(1, SeqCst);
        }
        if self.state.transition_to_terminal(2) {
            self.dealloc();
        }
    }

    /// What a worker does with a popped `Notified` (`harness::run`), looping
    /// while the task is re-notified during its poll.
    fn run(&self) {
        loop {
            match self.state.transition_to_running() {
                TransitionToRunning::Success => {}
                TransitionToRunning::Cancelled => {
                    self.cancels.fetch_add(1, SeqCst);
                    self.complete();
                    return;
                }
                TransitionToRunning::Failed => return,
                TransitionToRunning::Dealloc => return self.dealloc(),
            }
            self.polls.fetch_add(1, SeqCst);
            if self.ready.load(SeqCst) {
                return self.complete();
            }
            match self.state.transition_to_idle() {
                TransitionToIdle::Ok => return,
                TransitionToIdle::OkNotified => continue,
                TransitionToIdle::OkDealloc => return self.dealloc(),
                TransitionToIdle::Cancelled => {
                    self.cancels.fetch_add(1, SeqCst);
                    return self.complete();
                }
            }
        }
    }

    /// `Waker::wake` on a waker reference; runs the task if it must be queued.
    fn wake_by_val(&self) {
        match self.state.transition_to_notified_by_val() {
            TransitionToNotified::Submit => self.run(),
            TransitionToNotified::DoNothing => {}
            TransitionToNotified::Dealloc => self.dealloc(),
        }
    }

    /// `JoinHandle::drop`.
    fn drop_join_handle(&self) {
        if self.state.drop_join_handle_fast().is_ok() {
            return;
        }
        if self.state.unset_join_interested().is_err() {
            self.output_drops.fetch_add(1, SeqCst);
        }
        if self.state.ref_dec() {
            self.dealloc();
        }
    }
}

/// Runs `f` on a new loom thread with its own handle to `t` (one of the racing
/// parties of a model).
fn on_thread(t: &Arc<Task>, f: impl FnOnce(&Task) + Send + 'static) -> thread::JoinHandle<()> {
    let t = t.clone();
    thread::spawn(move || f(&t))
}

#[test]
fn wake_during_poll_is_not_lost() {
    loom::model(|| {
        let t = Task::new(false);
        t.state.ref_inc(); // the waker B holds
        let a = on_thread(&t, |t| t.run());
        let b = on_thread(&t, |t| {
            t.ready.store(true, SeqCst);
            t.wake_by_val();
        });
        a.join().unwrap();
        b.join().unwrap();
        let s = t.state.load();
        assert!(s.is_complete(), "the wake was lost: {s:?}");
        t.drop_join_handle();
        assert_eq!(t.deallocs.load(SeqCst), 1);
        assert_eq!(t.output_drops.load(SeqCst), 1);
    });
}

#[test]
fn wake_after_completion_is_a_no_op() {
    loom::model(|| {
        let t = Task::new(true);
        t.state.ref_inc(); // waker 1
        t.state.ref_inc(); // waker 2
        let a = on_thread(&t, |t| t.run());
        let b = on_thread(&t, |t| {
            // wake_by_ref never submits a task that is queued, running or done.
            assert_eq!(
                t.state.transition_to_notified_by_ref(),
                TransitionToNotified::DoNothing
            );
            t.wake_by_val();
            t.wake_by_val();
        });
        a.join().unwrap();
        b.join().unwrap();
        t.drop_join_handle();
        assert_eq!(t.polls.load(SeqCst), 1);
        assert_eq!(t.deallocs.load(SeqCst), 1);
    });
}

#[test]
fn join_handle_drop_racing_completion() {
    loom::model(|| {
        let t = Task::new(true);
        let a = on_thread(&t, |t| t.run());
        let c = on_thread(&t, |t| t.drop_join_handle());
        a.join().unwrap();
        c.join().unwrap();
        assert_eq!(
            t.output_drops.load(SeqCst),
            1,
            "the output is dropped exactly once"
        );
        assert_eq!(t.deallocs.load(SeqCst), 1);
    });
}

#[test]
fn abort_racing_poll() {
    loom::model(|| {
        // A task that never completes by itself.
        let t = Task::new(false);
        let a = on_thread(&t, |t| t.run());
        let c = on_thread(&t, |t| {
            // JoinHandle::abort: submit when idle, else the poller or the
            // queued Notified sees CANCELLED.
            if t.state.transition_to_notified_and_cancel() == TransitionToNotified::Submit {
                t.run();
            }
        });
        a.join().unwrap();
        c.join().unwrap();
        let s = t.state.load();
        assert!(s.is_complete(), "aborted task never finished: {s:?}");
        assert_eq!(
            t.cancels.load(SeqCst),
            1,
            "the future is dropped exactly once"
        );
        t.drop_join_handle();
        assert_eq!(t.deallocs.load(SeqCst), 1);
    });
}

#[test]
fn join_waker_registration_racing_completion() {
    loom::model(|| {
        let t = Task::new(true);
        let woken = Arc::new(AtomicBool::new(false));
        let a = {
            let (t, woken) = (t.clone(), woken.clone());
            thread::spawn(move || {
                // `harness::run` + `complete`, with the join-waker step.
                assert_eq!(
                    t.state.transition_to_running(),
                    TransitionToRunning::Success
                );
                let snap = t.state.transition_to_complete();
                assert!(snap.is_join_interested());
                if snap.is_join_waker_set() {
                    woken.store(true, SeqCst);
                }
                if t.state.transition_to_terminal(2) {
                    t.dealloc();
                }
            })
        };
        // The JoinHandle's poll: register a waker unless already complete.
        let registered = t.state.set_join_waker().is_ok();
        a.join().unwrap();
        assert!(t.state.load().is_complete());
        // Either the handle saw completion (and reads the output now), or
        // its waker was published in time for the completer to wake it.
        assert!(!registered || woken.load(SeqCst), "join waker lost");
        // The handle reads the output and lets go.
        t.output_drops.fetch_add(1, SeqCst);
        if t.state.ref_dec() {
            t.dealloc();
        }
        assert_eq!(t.deallocs.load(SeqCst), 1);
    });
}

/// The park/unpark model: two Ms following the worker's idle protocol
/// (`sched/worker.rs`: search, park, re-check if last searcher) and a third
/// thread submitting one G (push, then `notify_parked`). A lost wake leaves
/// both Ms asleep forever, which loom reports as a deadlock.
#[test]
fn park_unpark_never_loses_a_wake() {
    loom::model(|| {
        const MS: usize = 2;
        let idle = Arc::new(Idle::new(MS));
        let parkers: Arc<Vec<Parker>> = Arc::new((0..MS).map(|_| Parker::new()).collect());
        let queue = Arc::new(AtomicUsize::new(0)); // stand-in run queue: a count of Gs
        let done = Arc::new(AtomicBool::new(false));

        let notify = |idle: &Idle, parkers: &[Parker]| {
            if let Some(i) = idle.worker_to_notify() {
                let _ = parkers[i].unpark();
            }
        };
        let pop = |queue: &AtomicUsize| {
            let mut n = queue.load(SeqCst);
            while n > 0 {
                match queue.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                    Ok(_) => return true,
                    Err(actual) => n = actual,
                }
            }
            false
        };

        let ms: Vec<_> = (0..MS)
            .map(|i| {
                let (idle, parkers, queue, done) =
                    (idle.clone(), parkers.clone(), queue.clone(), done.clone());
                thread::spawn(move || {
                    let mut searching = false;
                    loop {
                        if done.load(SeqCst) {
                            return;
                        }
                        if pop(&queue) {
                            if searching && idle.transition_worker_from_searching() {
                                notify(&idle, &parkers);
                            }
                            // The only G is done: release everyone.
                            done.store(true, SeqCst);
                            for p in parkers.iter() {
                                let _ = p.unpark();
                            }
                            return;
                        }
                        if !searching && idle.transition_worker_to_searching() {
                            searching = true;
                            continue; // steal attempt: look at the queue again
                        }
                        if idle.transition_worker_to_parked(i, searching) && queue.load(SeqCst) > 0
                        {
                            notify(&idle, &parkers);
                        }
                        loop {
                            parkers[i].park(None);
                            if done.load(SeqCst) {
                                return;
                            }
                            if !idle.is_parked(i) {
                                searching = true;
                                break;
                            }
                        }
                    }
                })
            })
            .collect();

        let submitter = {
            let (idle, parkers, queue) = (idle.clone(), parkers.clone(), queue.clone());
            thread::spawn(move || {
                queue.fetch_add(1, SeqCst);
                notify(&idle, &parkers);
            })
        };
        submitter.join().unwrap();
        for m in ms {
            m.join().unwrap();
        }
        assert_eq!(queue.load(SeqCst), 0);
    });
}
