//! The blocking pool: the threads that run `spawn_blocking` closures (Go
//! would run each in its own goroutine, in a syscall, on an M of its own).
//!
//! Threads are started on demand, up to `Builder::max_blocking_threads`
//! (default 512); past that, work waits in the queue (FIFO). A thread that
//! finds no work for `Builder::blocking_keep_alive` (default 10 s) exits.
//! State, all under one mutex (nothing here is on the scheduler's path):
//! the queue of `Notified`s, how many threads are alive and idle, the
//! closures running (their task ids and spawn sites, for the shutdown
//! report) and the threads' join handles.
//!
//! Invariants:
//! - A job is pushed only while the pool is open; after [`Pool::shutdown`]
//!   closed it, a push drops the `Notified` and the registry drain cancels
//!   the task (as the Ms' queues are dropped at shutdown).
//! - `alive` counts threads from their start (by the pusher, under the
//!   lock) to their exit (by the thread, under the lock): at most `max`.
//! - A pool thread serves the runtime in the thread context (spawns and
//!   `Handle::current` work, wakes go to the injector) but is no P and no
//!   stop-the-world participant (`context::set_in_call`), and outside the
//!   closure it runs nothing else.
//! - For the tracer each thread holds a pseudo-P of its own (an id from
//!   `trace_ids`, like `block_on`'s) from `ProcStart` before a job to
//!   `ProcStop` when the queue is empty (see `blocking/mod.rs` for why).

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use spool_tracer::hooks::{self, ProcTraceState};

use crate::context;
use crate::loom::lock_std;
use crate::sched::{Shared, trace_ids};
use crate::task::Notified;
use crate::task::harness;

/// Default `Builder::max_blocking_threads` (tokio's value).
pub const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;
/// Default `Builder::blocking_keep_alive` (tokio's value).
pub const DEFAULT_BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    queue: VecDeque<Notified>,
    alive: usize,
    idle: usize,
    /// Idle threads already signalled for a job (so one push wakes one).
    woken: usize,
    closed: bool,
    /// The closures running now: (task id, spawn site).
    running: Vec<(u64, &'static Location<'static>)>,
    threads: Vec<thread::JoinHandle<()>>,
    next_name: u64,
}

/// One runtime's blocking pool (in its `Shared`).
pub(crate) struct Pool {
    state: Mutex<State>,
    cond: Condvar,
    max: usize,
    keep_alive: Duration,
    /// `State::alive`, readable without the lock (`RuntimeMetrics`).
    alive: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(max: usize, keep_alive: Duration) -> Pool {
        Pool {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            max,
            keep_alive,
            alive: AtomicUsize::new(0),
        }
    }

    /// Threads alive now (`RuntimeMetrics::blocking_threads`).
    pub(crate) fn threads(&self) -> usize {
        self.alive.load(Ordering::Relaxed)
    }

    /// Queues a blocking task; wakes an idle thread or starts one.
    pub(crate) fn push(&self, shared: &Arc<Shared>, task: Notified) {
        let mut st = lock_std(&self.state);
        if st.closed {
            drop(st);
            // The registry drain (or `cancel_unbound`) cancels it.
            drop(task);
            return;
        }
        st.queue.push_back(task);
        if st.idle > st.woken {
            st.woken += 1;
            drop(st);
            self.cond.notify_one();
            return;
        }
        if st.alive == self.max {
            // It waits for a busy thread (excess work queues).
            return;
        }
        st.alive += 1;
        self.alive.store(st.alive, Ordering::Relaxed);
        st.next_name += 1;
        let name = format!("{}-blocking-{}", shared.thread_name, st.next_name);
        let sh = Arc::clone(shared);
        match thread::Builder::new().name(name).spawn(move || run(sh)) {
            Ok(t) => {
                st.threads.retain(|t| !t.is_finished());
                st.threads.push(t);
            }
            Err(e) => {
                st.alive -= 1;
                self.alive.store(st.alive, Ordering::Relaxed);
                if st.alive == 0 {
                    // Nobody will run it: fail loudly rather than hang the joiner.
                    let t = st.queue.pop_back();
                    drop(st);
                    drop(t);
                    panic!("spool: spawn_blocking could not start a thread: {e}");
                }
            }
        }
    }

    /// Closes the pool and waits for its threads until `deadline` (`None`:
    /// for ever). Queued closures never run (their tasks are cancelled by
    /// the registry drain); running ones still alive at the deadline are
    /// reported on stderr and abandoned (their threads finish them later).
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let (queued, threads) = {
            let mut st = lock_std(&self.state);
            st.closed = true;
            (
                std::mem::take(&mut st.queue),
                std::mem::take(&mut st.threads),
            )
        };
        self.cond.notify_all();
        drop(queued);
        let me = thread::current().id();
        for t in threads {
            if t.thread().id() == me {
                // Shut down from inside a blocking closure.
                continue;
            }
            if let Some(d) = deadline {
                while !t.is_finished() && Instant::now() < d {
                    thread::sleep(Duration::from_millis(1));
                }
                if !t.is_finished() {
                    continue;
                }
            }
            let _ = t.join();
        }
        let st = lock_std(&self.state);
        if !st.running.is_empty() {
            let sites: Vec<String> = st
                .running
                .iter()
                .map(|(id, at)| format!("G{id} spawned at {at}"))
                .collect();
            eprintln!(
                "spool: shutdown timed out with {} spawn_blocking closure(s) still running; \
                 they were abandoned (their threads finish them, their results are dropped): {}",
                sites.len(),
                sites.join(", ")
            );
        }
    }
}

/// Ends the thread's pseudo-P run when dropped (also if a job unwinds).
struct PseudoP {
    id: u32,
    trace: ProcTraceState,
    held: bool,
}

impl PseudoP {
    fn start(&mut self) {
        if !self.held {
            hooks::proc_start(self.id, &self.trace);
            self.held = true;
        }
    }

    fn stop(&mut self) {
        if self.held {
            hooks::proc_stop();
            self.held = false;
        }
    }
}

impl Drop for PseudoP {
    fn drop(&mut self) {
        self.stop();
        // After the ProcStop: the next holder starts from idle.
        trace_ids::release_pseudo(self.id);
    }
}

/// A pool thread's body.
fn run(shared: Arc<Shared>) {
    let pool = &shared.blocking;
    let _enter = context::enter(Arc::as_ptr(&shared), std::ptr::null());
    // No stop-the-world participant (a closure may run for minutes).
    context::set_in_call(true);
    let mut p = PseudoP {
        id: trace_ids::take_pseudo(),
        trace: ProcTraceState::new(),
        held: false,
    };
    let mut st = lock_std(&pool.state);
    loop {
        if let Some(task) = st.queue.pop_front() {
            let h = task.header();
            st.running.push((h.id(), h.location()));
            let id = h.id();
            drop(st);
            p.start();
            // A closure never returns `Pending`: the poll completes it
            // (or finds it cancelled).
            let out = harness::run::<true, false>(task, false);
            debug_assert!(matches!(out, harness::RunOutcome::Done));
            drop(out);
            st = lock_std(&pool.state);
            if let Some(i) = st.running.iter().position(|r| r.0 == id) {
                st.running.swap_remove(i);
            }
            continue;
        }
        if st.closed {
            break;
        }
        drop(st);
        p.stop();
        st = lock_std(&pool.state);
        // Wait for a job, shutdown or the end of the keep-alive.
        let until = Instant::now() + pool.keep_alive;
        st.idle += 1;
        let expired = loop {
            if !st.queue.is_empty() || st.closed {
                break false;
            }
            let now = Instant::now();
            if now >= until {
                break true;
            }
            st = pool
                .cond
                .wait_timeout(st, until - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        };
        st.idle -= 1;
        // One push's signal is used up (by this thread or, if it was meant
        // for another that timed out first, by this one taking the job).
        st.woken = st.woken.saturating_sub(1);
        if expired && st.queue.is_empty() {
            break;
        }
    }
    st.alive -= 1;
    pool.alive.store(st.alive, Ordering::Relaxed);
}
