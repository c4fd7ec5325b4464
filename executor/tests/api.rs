//! Executor API semantics: join values, abort, panics, nesting, foreign
//! threads, block_on, wakes, yield fairness and stop-the-world.
//!
//! Scenario tests that count events (polls, drops, completions); none
//! asserts a duration.

use std::future::{Future, pending};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use spool_executor::{Builder, Handle, Runtime, spawn, yield_now};

mod support;
use support::within_secs;

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// Increments a counter when dropped.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Blocks the only M of a `procs(1)` runtime until `release` is sent, so
/// that tasks spawned meanwhile are known not to have run.
fn block_the_m(rt: &Runtime) -> (mpsc::Sender<()>, spool_executor::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let h = rt.spawn(async move {
        started_tx.send(()).unwrap();
        rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    (tx, h)
}

#[test]
fn join_values() {
    let rt = rt(2);
    let out = rt.block_on(async {
        let a = spawn(async { 1u8 });
        let b = spawn(async { String::from("two") });
        let c = spawn(async { vec![3u64; 3] });
        (a.await.unwrap(), b.await.unwrap(), c.await.unwrap())
    });
    assert_eq!(out, (1, "two".to_string(), vec![3, 3, 3]));
    // Joined from outside the runtime too.
    let h = rt.spawn(async { 99i32 });
    assert_eq!(rt.block_on(h).unwrap(), 99);
}

#[test]
fn abort_before_running() {
    let rt = rt(1);
    let (release, blocker) = block_the_m(&rt);
    let polled = Arc::new(AtomicBool::new(false));
    let drops = Arc::new(AtomicUsize::new(0));
    let (p, d) = (polled.clone(), DropCount(drops.clone()));
    let h = rt.spawn(async move {
        let _d = d;
        p.store(true, SeqCst);
    });
    h.abort();
    release.send(()).unwrap();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert!(!polled.load(SeqCst), "an aborted task must not be polled");
    assert_eq!(drops.load(SeqCst), 1, "the aborted future is dropped once");
    rt.block_on(blocker).unwrap();
}

#[test]
fn abort_while_waiting_and_while_running() {
    let rt = rt(2);
    // Waiting: pending forever, aborted from outside.
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let h = rt.spawn(async move {
        let _d = d;
        pending::<()>().await
    });
    h.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);

    // Running: the task aborts itself during its own poll.
    let slot: Arc<Mutex<Option<spool_executor::JoinHandle<()>>>> = Arc::default();
    let go = Arc::new(Signal::default());
    let polls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (sl, p, d, wait) = (
        slot.clone(),
        polls.clone(),
        DropCount(drops.clone()),
        go.wait(),
    );
    let h = rt.spawn(async move {
        let _d = d;
        wait.await;
        p.fetch_add(1, SeqCst);
        sl.lock().unwrap().as_ref().unwrap().abort();
        // Still running: the abort takes effect when this poll returns.
        yield_now().await;
        p.fetch_add(100, SeqCst);
    });
    *slot.lock().unwrap() = Some(h);
    go.set();
    let h = loop {
        if drops.load(SeqCst) == 1 {
            break slot.lock().unwrap().take().unwrap();
        }
        std::thread::yield_now();
    };
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert_eq!(polls.load(SeqCst), 1, "the task never ran past its abort");
}

#[test]
fn abort_after_completion_keeps_output() {
    let rt = rt(2);
    let h = rt.spawn(async { 5 });
    while !h.is_finished() {
        std::thread::yield_now();
    }
    h.abort();
    assert_eq!(rt.block_on(h).unwrap(), 5);
}

#[test]
fn abort_racing_a_running_task() {
    // Tasks that never finish on their own (they yield forever), aborted
    // while they run on both Ps: every join must report the cancellation.
    // If `abort` were a no-op no join would return; the watchdog turns that
    // hang into a failure.
    let (drops, alive) = within_secs(30, "joining aborted tasks", || {
        let rt = rt(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..200)
            .map(|_| {
                let d = DropCount(drops.clone());
                let started = started.clone();
                rt.spawn(async move {
                    let _d = d;
                    started.fetch_add(1, SeqCst);
                    loop {
                        yield_now().await;
                    }
                })
            })
            .collect();
        // Let some of them run first, so aborts race running tasks too.
        while started.load(SeqCst) < 10 {
            std::thread::yield_now();
        }
        for h in &handles {
            h.abort();
        }
        for h in handles {
            let e = rt
                .block_on(h)
                .expect_err("an aborted endless task cannot finish");
            assert!(e.is_cancelled(), "{e:?}");
        }
        (drops.load(SeqCst), rt.handle().alive_tasks())
    });
    assert_eq!(drops, 200);
    assert_eq!(alive, 0);
}

#[test]
fn panic_is_isolated() {
    let rt = rt(1);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let errs: Vec<_> = (0..50)
        .map(|i| rt.spawn(async move { panic!("task {i} failed") }))
        .collect();
    let ok = rt.spawn(async { 7 });
    for (i, h) in errs.into_iter().enumerate() {
        let e = rt.block_on(h).unwrap_err();
        assert!(e.is_panic());
        assert!(e.to_string().contains(&format!("task {i} failed")), "{e}");
        let payload = e.into_panic();
        assert_eq!(
            payload.downcast_ref::<String>().unwrap(),
            &format!("task {i} failed")
        );
    }
    std::panic::set_hook(prev);
    // The single worker survived 50 panics and still runs tasks.
    assert_eq!(rt.block_on(ok).unwrap(), 7);
    assert_eq!(rt.block_on(rt.spawn(async { 8 })).unwrap(), 8);
}

fn tree(depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let a = spawn(tree(depth - 1));
        let b = spawn(tree(depth - 1));
        a.await.unwrap() + b.await.unwrap()
    })
}

#[test]
fn nested_spawns() {
    let rt = rt(2);
    assert_eq!(rt.block_on(tree(12)), 4096);
    assert_eq!(rt.handle().alive_tasks(), 0);
}

#[test]
fn spawn_from_foreign_threads() {
    let rt = rt(2);
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let h = rt.handle().clone();
            let c = count.clone();
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..250)
                    .map(|_| {
                        let c = c.clone();
                        h.spawn(async move {
                            c.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                hs
            })
        })
        .collect();
    for t in threads {
        for h in t.join().unwrap() {
            rt.block_on(h).unwrap();
        }
    }
    assert_eq!(count.load(SeqCst), 1000);
}

#[test]
fn block_on_from_many_threads_at_once() {
    let rt = rt(2);
    let barrier = Barrier::new(8);
    let sums: Vec<u64> = std::thread::scope(|s| {
        let ts: Vec<_> = (0..8u64)
            .map(|t| {
                let (rt, barrier) = (&rt, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    rt.block_on(async move {
                        let hs: Vec<_> = (0..100u64)
                            .map(|i| {
                                spawn(async move {
                                    yield_now().await;
                                    i * t
                                })
                            })
                            .collect();
                        let mut sum = 0;
                        for h in hs {
                            sum += h.await.unwrap();
                        }
                        spool_executor::time::sleep(Duration::from_millis(1)).await;
                        sum
                    })
                })
            })
            .collect();
        ts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (t, s) in sums.into_iter().enumerate() {
        assert_eq!(s, 4950 * t as u64);
    }
}

#[test]
fn block_on_inside_a_task_panics_clearly() {
    let rt = rt(1);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let h = rt.spawn(async { Handle::current().block_on(async {}) });
    let err = rt.block_on(h).unwrap_err();
    std::panic::set_hook(prev);
    assert!(err.is_panic());
    let msg = err.to_string();
    assert!(
        msg.contains("block_on") && msg.contains("inside a spool task"),
        "{msg}"
    );
    // The runtime still works afterwards.
    assert_eq!(rt.block_on(async { 1 }), 1);
}

#[test]
fn handle_current() {
    assert!(Handle::try_current().is_none());
    let rt = rt(1);
    let procs = rt.block_on(async { spawn(async { Handle::current().procs() }).await.unwrap() });
    assert_eq!(procs, 1);
}

/// A tiny one-shot signal for tests: `set` wakes the waiter.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}
impl Signal {
    fn set(&self) {
        let w = {
            let mut s = self.state.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
    fn wait(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let me = Arc::clone(self);
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            let mut s = me.state.lock().unwrap();
            if s.0 {
                Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

#[test]
fn wake_from_foreign_thread_and_after_completion() {
    let rt = rt(2);
    for _ in 0..200 {
        let sig = Arc::new(Signal::default());
        let h = rt.spawn(sig.wait());
        let s2 = sig.clone();
        std::thread::spawn(move || s2.set()).join().unwrap();
        rt.block_on(h).unwrap();
    }
    // Keep a waker past the task's completion, then wake it: a no-op.
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let s = slot.clone();
    let h = rt.spawn(std::future::poll_fn(move |cx| {
        *s.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(())
    }));
    rt.block_on(h).unwrap();
    let w = slot.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    let w2 = w.clone();
    w2.wake();
    w.wake();
    assert_eq!(rt.handle().alive_tasks(), 0);
}

#[test]
fn ping_pong_pair_does_not_starve_others() {
    // One P; two tasks wake each other forever through runnext. A third task
    // (queued behind them) must still run: the runnext cap sends the pair to
    // the back of the queue.
    let rt = rt(1);
    let stop = Arc::new(AtomicBool::new(false));
    let a_waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let b_waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let bouncer =
        |me: Arc<Mutex<Option<Waker>>>, other: Arc<Mutex<Option<Waker>>>, stop: Arc<AtomicBool>| {
            std::future::poll_fn(move |cx| {
                if stop.load(SeqCst) {
                    return Poll::Ready(());
                }
                *me.lock().unwrap() = Some(cx.waker().clone());
                if let Some(w) = other.lock().unwrap().take() {
                    w.wake();
                }
                Poll::Pending
            })
        };
    let (release, blocker) = block_the_m(&rt);
    let a = rt.spawn(bouncer(a_waker.clone(), b_waker.clone(), stop.clone()));
    let b = rt.spawn(bouncer(b_waker.clone(), a_waker.clone(), stop.clone()));
    let s = stop.clone();
    let third = rt.spawn(async move { s.store(true, SeqCst) });
    release.send(()).unwrap();
    rt.block_on(third).unwrap();
    // Wake both so they see `stop`.
    for w in [&a_waker, &b_waker] {
        if let Some(w) = w.lock().unwrap().take() {
            w.wake();
        }
    }
    rt.block_on(a).unwrap();
    rt.block_on(b).unwrap();
    rt.block_on(blocker).unwrap();
}

#[test]
fn budget_stops_a_task_that_is_always_ready() {
    // One P. Task A awaits already-elapsed sleeps in a loop until B sets a
    // flag; each await is `Ready`, so only the cooperative budget makes A
    // return `Pending` and lets B (queued behind it) run. Without a budget
    // A never yields and B never runs: the watchdog fails the test.
    let rounds = within_secs(30, "a task that is always ready", || {
        let rt = rt(1);
        let flag = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let (f, r) = (flag.clone(), rounds.clone());
        let (release, blocker) = block_the_m(&rt);
        let a = rt.spawn(async move {
            while !f.load(SeqCst) {
                spool_executor::time::sleep(Duration::ZERO).await;
                r.fetch_add(1, SeqCst);
            }
        });
        let f = flag.clone();
        let b = rt.spawn(async move { f.store(true, SeqCst) });
        release.send(()).unwrap();
        rt.block_on(b).unwrap();
        rt.block_on(a).unwrap();
        rt.block_on(blocker).unwrap();
        rounds.load(SeqCst)
    });
    // A runs at most BUDGET (128) rounds per poll. Re-queued on its P's
    // local queue, it is polled again until the M checks the global queue
    // where B waits (every 61 scheduler ticks), so B runs after at most
    // about 62 polls of A: a bound that only a working budget keeps.
    const BUDGET: usize = 128;
    assert!(
        (BUDGET..=62 * BUDGET + 1).contains(&rounds),
        "A ran {rounds} rounds before B"
    );
}

#[test]
fn yield_now_lets_others_run() {
    // One P; three tasks spawned from a task (so all are in the local
    // queue) each yield three times. Every yield goes to the back of the
    // queue, so all tasks finish round r before any starts round r + 1.
    let rt = rt(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    rt.block_on(async move {
        let spawner = spawn(async move {
            (0..3)
                .map(|i| {
                    let o = o.clone();
                    spawn(async move {
                        for round in 0..3 {
                            o.lock().unwrap().push((round, i));
                            yield_now().await;
                        }
                    })
                })
                .collect::<Vec<_>>()
        });
        for h in spawner.await.unwrap() {
            h.await.unwrap();
        }
    });
    let rounds: Vec<u32> = order.lock().unwrap().iter().map(|&(r, _)| r).collect();
    assert_eq!(
        rounds,
        vec![0, 0, 0, 1, 1, 1, 2, 2, 2],
        "{:?}",
        order.lock().unwrap()
    );
}

#[test]
fn stop_the_world_parks_every_p() {
    let rt = rt(2);
    let in_stw = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let (in_stw, v, stop) = (in_stw.clone(), violations.clone(), stop.clone());
            rt.spawn(async move {
                while !stop.load(SeqCst) {
                    if in_stw.load(SeqCst) {
                        v.fetch_add(1, SeqCst);
                    }
                    yield_now().await;
                }
            })
        })
        .collect();
    // From a foreign thread.
    for _ in 0..20 {
        let r = rt.handle().stop_the_world("test", || {
            in_stw.store(true, SeqCst);
            std::thread::sleep(Duration::from_micros(200));
            in_stw.store(false, SeqCst);
            42
        });
        assert_eq!(r, 42);
    }
    // From inside tasks, two at once (must not deadlock).
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let in_stw = in_stw.clone();
            rt.spawn(async move {
                for _ in 0..10 {
                    Handle::current().stop_the_world("from-task", || {
                        in_stw.store(true, SeqCst);
                        std::thread::sleep(Duration::from_micros(100));
                        in_stw.store(false, SeqCst);
                    });
                    yield_now().await;
                }
            })
        })
        .collect();
    for h in hs {
        rt.block_on(h).unwrap();
    }
    // From block_on.
    rt.block_on(async {
        Handle::current().stop_the_world("from-block-on", || in_stw.store(false, SeqCst));
    });
    stop.store(true, SeqCst);
    for h in spinners {
        rt.block_on(h).unwrap();
    }
    assert_eq!(
        violations.load(SeqCst),
        0,
        "a task was polled during stop-the-world"
    );
}

#[test]
fn stop_the_world_propagates_panics_and_resumes() {
    let rt = rt(2);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.handle().stop_the_world("boom", || panic!("inside stw"))
    }));
    assert!(r.is_err());
    // The world resumed.
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn for_each_task_sees_live_tasks() {
    let rt = rt(2);
    let hs: Vec<_> = (0..10).map(|_| rt.spawn(pending::<()>())).collect();
    let ids: Vec<u64> = hs.iter().map(|h| h.id()).collect();
    let mut seen = Vec::new();
    rt.handle().stop_the_world("snapshot", || {
        rt.handle().for_each_task(|t| seen.push((t.id, t.status)))
    });
    for id in &ids {
        assert!(seen.iter().any(|(s, _)| s == id), "task {id} missing");
    }
    let mut procs = Vec::new();
    rt.handle()
        .for_each_proc(|id, _, pseudo| procs.push((id, pseudo)));
    // Trace P ids are process-wide (other tests' runtimes hold theirs): two
    // consecutive ids, neither a pseudo-P.
    assert_eq!(procs.len(), 2);
    assert_eq!(procs[1], (procs[0].0 + 1, false));
    assert!(!procs[0].1);
    for h in hs {
        h.abort();
    }
}
