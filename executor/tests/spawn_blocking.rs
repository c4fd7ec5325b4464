//! `spawn_blocking`: results, panics and cancellation through the
//! `JoinHandle`, the pool's bound and keep-alive, shutdown with running and
//! queued closures. Every scenario runs under a watchdog.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use spool_executor::{Builder, Handle, spawn, spawn_blocking};

mod support;
use support::within_secs;

#[test]
fn ten_thousand_closures_on_a_pool_of_8_right_results_bounded_threads_idle_exit() {
    within_secs(60, "10,000 closures", || {
        let rt = Builder::new()
            .procs(2)
            .max_blocking_threads(8)
            .blocking_keep_alive(Duration::from_millis(200))
            .build()
            .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let peak_threads = Arc::new(AtomicUsize::new(0));
        let (r, p, pt) = (running.clone(), peak.clone(), peak_threads.clone());
        let sum = rt.block_on(async move {
            let hs: Vec<_> = (0..10_000u64)
                .map(|i| {
                    let (r, p, pt) = (r.clone(), p.clone(), pt.clone());
                    spawn_blocking(move || {
                        let now = r.fetch_add(1, SeqCst) + 1;
                        p.fetch_max(now, SeqCst);
                        pt.fetch_max(Handle::current().metrics().blocking_threads, SeqCst);
                        // Long enough that the pool has to grow.
                        std::thread::sleep(Duration::from_micros(50));
                        r.fetch_sub(1, SeqCst);
                        i * 3
                    })
                })
                .collect();
            let mut sum = 0;
            for (i, h) in hs.into_iter().enumerate() {
                let v = h.await.unwrap();
                assert_eq!(v, i as u64 * 3);
                sum += v;
            }
            sum
        });
        assert_eq!(sum, 3 * (10_000 * 9_999 / 2));
        let (peak, peak_threads) = (peak.load(SeqCst), peak_threads.load(SeqCst));
        assert!(peak <= 8, "{peak} closures ran at once on a pool of 8");
        assert!(
            peak_threads <= 8,
            "{peak_threads} pool threads alive at once"
        );
        assert!(peak >= 2, "the pool never grew past one thread");
        assert!(rt.handle().metrics().blocking_threads <= 8);
        // Idle threads exit after the keep-alive (200 ms).
        let t = Instant::now();
        while rt.handle().metrics().blocking_threads > 0 {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "idle pool threads never exited"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "exited before the keep-alive"
        );
    });
}

#[test]
fn a_panic_is_the_handles_join_error_and_the_pool_goes_on() {
    within_secs(60, "panicking closure", || {
        let rt = Builder::new().procs(2).build().unwrap();
        rt.block_on(async {
            let e = spawn_blocking(|| -> u32 { panic!("a blocking closure panics") })
                .await
                .unwrap_err();
            assert!(e.is_panic());
            assert_eq!(
                e.into_panic().downcast_ref::<&str>(),
                Some(&"a blocking closure panics")
            );
            assert_eq!(spawn_blocking(|| 5).await.unwrap(), 5);
        });
    });
}

#[test]
fn closures_beyond_the_bound_queue_and_abort_cancels_a_queued_one() {
    within_secs(60, "queueing and abort", || {
        let rt = Builder::new()
            .procs(2)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        rt.block_on(async move {
            // The pool's only thread is busy until `go`.
            let busy = spawn_blocking(move || go_rx.recv().unwrap());
            let queued = spawn_blocking(move || r.store(true, SeqCst));
            queued.abort();
            go_tx.send(()).unwrap();
            busy.await.unwrap();
            assert!(queued.await.unwrap_err().is_cancelled());
        });
        assert!(!ran.load(SeqCst), "an aborted queued closure ran");
    });
}

#[test]
fn closures_may_spawn_block_on_and_see_their_runtime() {
    within_secs(60, "runtime from a closure", || {
        let rt = Builder::new().procs(2).build().unwrap();
        let v = rt.block_on(async {
            spawn_blocking(|| {
                let h = Handle::current();
                // Plain blocking code: block_on is allowed here.
                h.block_on(spawn(async { 20 })).unwrap() + 1
            })
            .await
            .unwrap()
        });
        assert_eq!(v, 21);
    });
}

#[test]
fn shutdown_waits_for_running_closures_and_cancels_queued_ones() {
    within_secs(60, "shutdown", || {
        let rt = Builder::new()
            .procs(2)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let (d, started) = (done.clone(), Arc::new(AtomicBool::new(false)));
        let s = started.clone();
        let running = rt.handle().spawn_blocking(move || {
            s.store(true, SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            d.store(true, SeqCst);
        });
        let queued = rt.handle().spawn_blocking(|| ());
        while !started.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let weak = rt.handle().downgrade();
        drop(rt);
        assert!(
            done.load(SeqCst),
            "drop returned before the running closure finished"
        );
        let rt2 = Builder::new().procs(1).build().unwrap();
        assert!(rt2.block_on(running).is_ok());
        assert!(rt2.block_on(queued).unwrap_err().is_cancelled());
        assert!(
            weak.upgrade().is_none(),
            "a task or thread kept the runtime"
        );
    });
}

#[test]
fn shutdown_timeout_abandons_a_closure_that_outlives_it() {
    within_secs(60, "shutdown timeout", || {
        let rt = Builder::new().procs(2).build().unwrap();
        let (started, done) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (s, d) = (started.clone(), done.clone());
        drop(rt.handle().spawn_blocking(move || {
            s.store(true, SeqCst);
            std::thread::sleep(Duration::from_millis(1500));
            d.store(true, SeqCst);
        }));
        while !started.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        rt.shutdown_timeout(Duration::from_millis(100));
        // Returned at the timeout, the closure still running.
        assert!(!done.load(SeqCst));
    });
}
