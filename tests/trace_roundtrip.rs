//! Round trip: real workloads on a spool runtime, traced, read back with
//! `spool_trace::read` with exact event counts, and checked by Go's parser
//! (`go tool trace -d=parsed`, exit 0).

mod trace_support;

use std::time::Duration;

use futures_channel::oneshot;
use trace_support::{Counts, go_parse, read_timeline, serial, trace_path};

fn runtime() -> spool::Runtime {
    spool::Builder::new().procs(2).build().unwrap()
}

/// All `n` tasks of the trace were created and destroyed, and every time a
/// task became runnable it was started once (all finished).
#[track_caller]
fn assert_tasks_complete(c: &Counts, n: usize) {
    assert_eq!(c.creates, n, "GoCreate");
    assert_eq!(c.destroys, n, "GoDestroy");
    assert_eq!(c.starts, c.runnable_edges - c.runnable_at_end, "{c:?}");
}

#[test]
fn spawn_storm_counts_every_task() {
    let _s = serial();
    let path = trace_path("storm");
    let rt = runtime();
    const N: usize = 3000;
    rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        let hs: Vec<_> = (0..N).map(|i| spool::spawn(async move { i * 2 })).collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, N * (N - 1));
        spool::trace::stop().unwrap();
    });
    let t = read_timeline(&path);
    let c = t.check();
    assert_tasks_complete(&c, N);
    assert!(c.stw_begins >= 2, "start and stop trace STW ranges");
    go_parse(&path);
}

#[test]
fn ping_pong_sleep_yield_and_generations() {
    let _s = serial();
    let path = trace_path("pingpong");
    let rt = runtime();
    const ROUNDS: usize = 300;
    const SLEEPERS: usize = 20;
    const YIELDERS: usize = 10;
    const YIELDS: usize = 50;
    rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        // Ping-pong: two tasks per round bouncing a value through oneshots.
        for r in 0..ROUNDS {
            let (tx1, rx1) = oneshot::channel::<usize>();
            let (tx2, rx2) = oneshot::channel::<usize>();
            let a = spool::spawn(async move {
                tx1.send(r).unwrap();
                rx2.await.unwrap()
            });
            let b = spool::spawn(async move {
                let v = rx1.await.unwrap();
                tx2.send(v + 1).unwrap();
            });
            b.await.unwrap();
            assert_eq!(a.await.unwrap(), r + 1);
            if r % 100 == 50 {
                spool::trace::flush().unwrap(); // a generation boundary mid-run
            }
        }
        let sleepers: Vec<_> = (0..SLEEPERS)
            .map(|i| {
                spool::spawn(async move {
                    spool::time::sleep(Duration::from_millis(1 + i as u64 % 3)).await;
                })
            })
            .collect();
        let yielders: Vec<_> = (0..YIELDERS)
            .map(|_| {
                spool::spawn(async {
                    for _ in 0..YIELDS {
                        spool::yield_now().await;
                    }
                })
            })
            .collect();
        for h in sleepers.into_iter().chain(yielders) {
            h.await.unwrap();
        }
        spool::trace::stop().unwrap();
    });
    let t = read_timeline(&path);
    assert!(
        t.generations >= 4,
        "flushes make generations: {}",
        t.generations
    );
    let c = t.check();
    let n = 2 * ROUNDS + SLEEPERS + YIELDERS;
    assert_tasks_complete(&c, n);
    // Every yield is a GoStop (the budget may add more).
    assert!(c.stops >= YIELDERS * YIELDS, "{c:?}");
    // Every sleeper blocked at least once and was woken.
    assert!(c.unblocks >= SLEEPERS, "{c:?}");
    go_parse(&path);
}

#[test]
fn foreign_wakes_stw_and_start_stop_mid_run() {
    let _s = serial();
    let rt = runtime();
    // Background tasks that run across the trace's start and stop.
    let stop_bg = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bg: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop_bg.clone();
            rt.spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    spool::time::sleep(Duration::from_micros(200)).await;
                    spool::yield_now().await;
                }
            })
        })
        .collect();
    for round in 0..2 {
        let path = trace_path(&format!("midrun{round}"));
        // Started from outside the runtime, under its stop-the-world.
        spool::trace::start_on(rt.handle(), std::fs::File::create(&path).unwrap()).unwrap();
        const WAKES: usize = 50;
        rt.block_on(async {
            for _ in 0..WAKES {
                let (tx, rx) = oneshot::channel::<u32>();
                let t = std::thread::spawn(move || tx.send(7).unwrap());
                let h = spool::spawn(async move { rx.await.unwrap() });
                assert_eq!(h.await.unwrap(), 7);
                t.join().unwrap();
            }
            let live = spool::Handle::current().stop_the_world("snapshot", || 1);
            assert_eq!(live, 1);
        });
        std::thread::sleep(Duration::from_millis(5));
        spool::trace::stop().unwrap();
        let t = read_timeline(&path);
        let c = t.check();
        // The spawned tasks plus this `block_on`'s main task.
        assert_tasks_complete(&c, WAKES + 1);
        assert!(c.stw_begins >= 2, "{c:?}");
        go_parse(&path);
    }
    stop_bg.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in bg {
        rt.block_on(h).unwrap();
    }
}

#[test]
fn starting_twice_is_an_error_and_stop_without_start_too() {
    let _s = serial();
    spool::trace::start(std::io::sink()).unwrap();
    let again = spool::trace::start(std::io::sink());
    assert!(matches!(
        again,
        Err(spool::trace::TraceError::AlreadyStarted)
    ));
    spool::trace::stop().unwrap();
    assert!(matches!(
        spool::trace::stop(),
        Err(spool::trace::TraceError::NotStarted)
    ));
}

#[test]
fn long_run_rotates_generations_by_size() {
    let _s = serial();
    let path = trace_path("long");
    let rt = runtime();
    // ~5 events per task, ~5 bytes each: well over the 4 MiB generation cap.
    const CHUNKS: usize = 40;
    const PER_CHUNK: usize = 5_000;
    rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        for _ in 0..CHUNKS {
            let hs: Vec<_> = (0..PER_CHUNK)
                .map(|i| {
                    spool::spawn(async move {
                        spool::yield_now().await;
                        i
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
        spool::trace::stop().unwrap();
    });
    let t = read_timeline(&path);
    assert!(
        t.generations >= 2,
        "{} bytes in {} generation(s)",
        std::fs::metadata(&path).unwrap().len(),
        t.generations
    );
    let c = t.check();
    assert_tasks_complete(&c, CHUNKS * PER_CHUNK);
    go_parse(&path);
}

#[test]
fn generation_flips_racing_a_busy_runtime() {
    let _s = serial();
    let path = trace_path("flips");
    let rt = runtime();
    const ROUNDS: usize = 2_000;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
    });
    // A thread that keeps ending generations while tasks block, wake and
    // migrate between the two Ps: every status-event race gets exercised.
    let flipper = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut flips = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                spool::trace::flush().unwrap();
                flips += 1;
                std::thread::sleep(Duration::from_micros(300));
            }
            flips
        })
    };
    rt.block_on(async {
        for r in 0..ROUNDS {
            let (tx1, rx1) = oneshot::channel::<usize>();
            let (tx2, rx2) = oneshot::channel::<usize>();
            let a = spool::spawn(async move {
                tx1.send(r).unwrap();
                spool::yield_now().await;
                rx2.await.unwrap()
            });
            let b = spool::spawn(async move {
                let v = rx1.await.unwrap();
                tx2.send(v + 1).unwrap();
            });
            b.await.unwrap();
            assert_eq!(a.await.unwrap(), r + 1);
        }
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    spool::trace::stop().unwrap();
    let t = read_timeline(&path);
    assert!(
        t.generations as u64 > flips / 2,
        "{} generations, {flips} flips",
        t.generations
    );
    let c = t.check();
    // The two tasks of every round plus the second block_on's main task.
    assert_tasks_complete(&c, 2 * ROUNDS + 1);
    go_parse(&path);
}

#[test]
fn spawns_from_threads_without_a_p_use_one_foreign_p_per_thread() {
    use spool_trace::read::EventKind;
    let _s = serial();
    let path = trace_path("foreign-spawns");
    let rt = runtime();
    spool::trace::start_file(&path).unwrap();
    // main (no P) spawns in bursts across generation flips, takes a P in
    // `block_on` (which must stop its foreign pseudo-P first), then
    // spawns again; a second thread spawns too.
    let mut handles = Vec::new();
    for round in 0..3 {
        handles.extend((0..50).map(|i| rt.spawn(async move { round * 100 + i })));
        spool::trace::flush().unwrap();
    }
    let sum: usize = rt.block_on(async {
        let mut sum = 0;
        for h in handles.drain(..) {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(
        sum,
        (0..3).map(|r| r * 100 * 50 + 49 * 50 / 2).sum::<usize>()
    );
    let more: Vec<_> = (0..20).map(|i| rt.spawn(async move { i })).collect();
    let rt = std::sync::Arc::new(rt);
    let other = {
        let rt = rt.clone();
        std::thread::spawn(move || {
            (0..20)
                .map(|i| rt.spawn(async move { i }))
                .collect::<Vec<_>>()
        })
    };
    let theirs = other.join().unwrap();
    rt.block_on(async {
        for h in more.into_iter().chain(theirs) {
            h.await.unwrap();
        }
    });
    spool::trace::stop().unwrap();

    let t = read_timeline(&path);
    let c = t.check();
    // The spawned tasks plus the two `block_on` main tasks.
    assert_tasks_complete(&c, 3 * 50 + 20 + 20 + 2);
    // One foreign pseudo-P per spawning thread: main holds its own from the
    // first spawn until `block_on` takes a P, again for the second burst;
    // the other thread starts its own once.
    let foreign = spool::tracer::control::FOREIGN_PROC_ID;
    let starts: Vec<u64> = t
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ProcStart { p, .. } if p >= foreign => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 3, "foreign ProcStarts: {starts:?}");
    assert_eq!(starts[0], starts[1], "main keeps its foreign P id");
    assert_ne!(starts[0], starts[2], "another thread gets its own");
    go_parse(&path);
}

#[test]
fn block_on_woken_by_many_threads_at_once() {
    use futures_channel::mpsc;
    let _s = serial();
    let path = trace_path("block-on-wakers");
    let rt = runtime();
    spool::trace::start_file(&path).unwrap();
    // The main task blocks on a channel that four plain threads feed at
    // once: their wakes race each other (BLOCKED -> WAKING is won by one)
    // and the main task's own re-polls.
    const THREADS: usize = 4;
    const PER: usize = 2_000;
    let (tx, mut rx) = mpsc::unbounded::<usize>();
    let feeders: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..PER {
                    tx.unbounded_send(t * PER + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let sum = rt.block_on(async move {
        use futures_lite::StreamExt;
        let mut sum = 0;
        while let Some(v) = rx.next().await {
            sum += v;
        }
        sum
    });
    for f in feeders {
        f.join().unwrap();
    }
    spool::trace::stop().unwrap();
    let n = THREADS * PER;
    assert_eq!(sum, n * (n - 1) / 2);
    let c = read_timeline(&path).check();
    // The main task: created, destroyed, and started once per time it
    // became runnable; each of its GoUnblocks followed a GoBlock.
    assert_tasks_complete(&c, 1);
    assert!(c.unblocks <= c.blocks, "{c:?}");
    go_parse(&path);
}
