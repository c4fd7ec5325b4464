//! A waker that panics when the runtime calls it (a timer firing, a task
//! completing) must not take an M down: the panic is caught and counted,
//! the rest of the wake batch is still woken, the completing task still
//! finishes, and the runtime keeps serving spawns, sleeps and `block_on`.
//! Each scenario runs untraced and traced (the trace must still parse with
//! Go's parser and hold the `spool.panic` log).
//!
//! Every wait is bounded (a watchdog fails the test instead of hanging).

mod trace_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use spool::time::{Instant, sleep, sleep_until};
use spool::{Builder, Runtime, spawn};

/// A foreign waker whose `wake` panics (user code, or a buggy library's).
struct PanicOnWake;

impl Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("spool test: this waker panics in wake");
    }
}

/// A foreign waker whose destructor panics.
struct PanicOnDrop;

impl Wake for PanicOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("spool test: this waker panics when dropped");
        }
    }
}

/// Runs `f` on a thread of its own and fails the test if it has not
/// returned within 10 s (the scenarios take well under a second).
fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} did not finish within 10 s: the runtime hangs"))
}

/// Waits (at most 10 s) until `done()`; returns whether it became true.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        if std::time::Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Polls `f` once with `waker`, asserting it is pending.
fn poll_once_with<F: Future + Unpin>(f: &mut F, waker: &Waker) {
    let mut cx = Context::from_waker(waker);
    assert!(Pin::new(f).poll(&mut cx).is_pending());
}

/// After a waker panicked: a plain spawned task, a task with a 1 ms sleep,
/// 100 spawns, and `block_on` of a 1 ms sleep all complete.
fn runtime_still_serves(rt: &Arc<Runtime>) {
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a plain spawned task did not run");
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        sleep(Duration::from_millis(1)).await;
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a task sleeping 1 ms did not wake");
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let done = done.clone();
        rt.spawn(async move {
            done.fetch_add(1, SeqCst);
        });
    }
    assert!(
        wait_for(|| done.load(SeqCst) == 100),
        "only {} of 100 spawned tasks ran",
        done.load(SeqCst)
    );
    let rt2 = rt.clone();
    within_10s("block_on(sleep(1 ms))", move || {
        rt2.block_on(sleep(Duration::from_millis(1)))
    });
}

/// The first reproduction: 2 Ps; 4 tasks poll a sleep with a waker
/// that panics in `wake`, and 10 ordinary tasks sleep until the same
/// instant. When the timers fire, all 10 ordinary sleepers must wake.
fn timer_batch_with_panicking_wakers(rt: &Arc<Runtime>) {
    let deadline = Instant::now() + Duration::from_millis(50);
    let bad = Waker::from(Arc::new(PanicOnWake));
    let held = Arc::new(AtomicUsize::new(0));
    // Registered first, so they sit ahead of the ordinary sleepers in the
    // heaps' (deadline, registration) order: the same batch.
    let panickers: Vec<_> = (0..4)
        .map(|_| {
            let (bad, held) = (bad.clone(), held.clone());
            rt.spawn(async move {
                let mut s = sleep_until(deadline);
                poll_once_with(&mut s, &bad);
                held.fetch_add(1, SeqCst);
                // Keep the registration alive past its deadline.
                sleep_until(deadline + Duration::from_millis(100)).await;
                drop(s);
            })
        })
        .collect();
    assert!(
        wait_for(|| held.load(SeqCst) == 4),
        "panicking sleeps not registered"
    );
    let woke = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let woke = woke.clone();
        rt.spawn(async move {
            sleep_until(deadline).await;
            woke.fetch_add(1, SeqCst);
        });
    }
    assert!(
        wait_for(|| woke.load(SeqCst) == 10),
        "only {} of the 10 ordinary sleepers woke",
        woke.load(SeqCst)
    );
    assert!(
        wait_for(|| rt.handle().waker_panics() == 4),
        "caught {} waker panics, expected 4",
        rt.handle().waker_panics()
    );
    let rt2 = rt.clone();
    within_10s("the panicking wakers' tasks", move || {
        for h in panickers {
            rt2.block_on(h).expect("the task itself did not panic");
        }
    });
    runtime_still_serves(rt);
}

/// The second reproduction: a JoinHandle polled with a waker that
/// panics in `wake`; the awaited task completes on an M, which calls it.
/// The task must still complete (its output readable, nothing leaked).
fn join_handle_with_panicking_waker(rt: &Arc<Runtime>) {
    let before = rt.handle().waker_panics();
    let outer = rt.spawn(async {
        let mut child = spawn(async {
            sleep(Duration::from_millis(10)).await;
            7
        });
        poll_once_with(&mut child, &Waker::from(Arc::new(PanicOnWake)));
        // The child completes meanwhile and wakes the panicking waker.
        sleep(Duration::from_millis(50)).await;
        assert!(child.is_finished(), "the child never reached completion");
        child.await
    });
    let rt2 = rt.clone();
    let out = within_10s("the JoinHandle scenario", move || rt2.block_on(outer));
    assert_eq!(out.expect("outer task").expect("child's output"), 7);
    assert_eq!(rt.handle().waker_panics(), before + 1);
    runtime_still_serves(rt);
}

/// A join waker whose destructor panics, dropped when the finished task is
/// freed on an M (the JoinHandle is dropped first).
fn join_waker_that_panics_when_dropped(rt: &Arc<Runtime>) {
    let before = rt.handle().waker_panics();
    let finished = Arc::new(AtomicUsize::new(0));
    let f2 = finished.clone();
    let outer = rt.spawn(async move {
        let mut child = spawn(async {
            sleep(Duration::from_millis(10)).await;
        });
        poll_once_with(&mut child, &Waker::from(Arc::new(PanicOnDrop)));
        drop(child); // the task, not the handle, now frees the waker
        sleep(Duration::from_millis(50)).await;
        f2.fetch_add(1, SeqCst);
    });
    let rt2 = rt.clone();
    within_10s("the join-waker drop scenario", move || rt2.block_on(outer)).unwrap();
    assert_eq!(finished.load(SeqCst), 1);
    assert!(
        wait_for(|| rt.handle().waker_panics() == before + 1),
        "the destructor's panic was not caught"
    );
    runtime_still_serves(rt);
}

/// Every scenario on one two-P runtime; then no task may be left alive.
fn all_scenarios(rt: Runtime) {
    let rt = Arc::new(rt);
    timer_batch_with_panicking_wakers(&rt);
    join_handle_with_panicking_waker(&rt);
    join_waker_that_panics_when_dropped(&rt);
    assert!(
        wait_for(|| rt.handle().alive_tasks() == 0),
        "{} tasks never finished",
        rt.handle().alive_tasks()
    );
    let weak = rt.handle().downgrade();
    let rt = Arc::into_inner(rt).expect("one owner");
    within_10s("runtime shutdown", move || drop(rt));
    assert!(weak.upgrade().is_none(), "a task leaked");
}

#[test]
fn panicking_wakers_do_not_kill_an_m() {
    // Tracing is process-wide: keep the traced test's file free of this one.
    let _serial = trace_support::serial();
    all_scenarios(Builder::new().procs(2).build().unwrap());
}

#[test]
fn panicking_wakers_do_not_kill_an_m_traced() {
    let _serial = trace_support::serial();
    let rt = Builder::new().procs(2).build().unwrap();
    let path = trace_support::trace_path("waker-panic");
    let file = std::fs::File::create(&path).unwrap();
    spool::trace::start_on(rt.handle(), file).expect("start tracing");
    // Stop the trace even if a scenario fails, for the next test.
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = spool::trace::stop();
        }
    }
    let stop = Stop;
    all_scenarios(rt);
    drop(stop);
    let dump = trace_support::go_parse(&path);
    let logs = dump
        .lines()
        .filter(|l| l.contains("Category=\"spool.panic\""))
        .count();
    assert_eq!(
        logs, 6,
        "expected one spool.panic log per caught panic (4 + 1 + 1)"
    );
}
