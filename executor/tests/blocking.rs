//! `block_in_place`: Go's syscall hand-off. A long call's P is retaken by
//! sysmon and its queued tasks run on another M; a short call keeps its P;
//! a call that panics, a stop-the-world during a call, shutdown during a
//! call. Every scenario runs under a watchdog (a lost P would hang).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use spool_executor::{Builder, JoinError, block_in_place, spawn, yield_now};

mod support;
use support::within_secs;

/// Starts a task that holds a P in one endless poll (no yield) until
/// `stop` is set, and waits until it runs. Returns its join handle.
fn occupy_a_p(
    rt: &spool_executor::Runtime,
    stop: &Arc<AtomicBool>,
) -> spool_executor::JoinHandle<()> {
    let started = Arc::new(AtomicBool::new(false));
    let (s, st) = (stop.clone(), started.clone());
    let h = rt.spawn(async move {
        st.store(true, SeqCst);
        while !s.load(SeqCst) {
            std::hint::spin_loop();
        }
    });
    while !started.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    h
}

#[test]
fn tasks_queued_behind_a_long_call_all_finish_before_it_returns() {
    within_secs(30, "the retake scenario", || {
        let rt = Builder::new().procs(2).build().unwrap();
        // One P is stuck in a poll that never yields, so the 1,000 tasks
        // queued on the other P can only run if sysmon retakes that P from
        // the blocking call and hands it to another M.
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = occupy_a_p(&rt, &stop);
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let s = stop.clone();
        let blocked = rt.spawn(async move {
            for _ in 0..1000 {
                let d = d.clone();
                drop(spawn(async move {
                    d.fetch_add(1, SeqCst);
                }));
            }
            let seen = block_in_place(|| {
                std::thread::sleep(Duration::from_millis(200));
                d.load(SeqCst)
            });
            s.store(true, SeqCst);
            // The task goes on after the call, on whichever P it got back.
            yield_now().await;
            seen
        });
        let seen = rt.block_on(blocked).unwrap();
        rt.block_on(spinner).unwrap();
        assert_eq!(
            seen, 1000,
            "tasks finished before the blocking call returned"
        );
        let st = rt.handle().sched_stats();
        assert!(st.retakes >= 1, "{st:?}");
        assert_eq!(st.sysmon_wakes, 0, "{st:?}");
    });
}

#[test]
fn short_calls_keep_their_p_and_results_come_back() {
    within_secs(30, "short calls", || {
        let rt = Builder::new().procs(2).build().unwrap();
        let sum = rt.block_on(async {
            let hs: Vec<_> = (0..64u64)
                .map(|i| {
                    spawn(async move {
                        let mut s = 0;
                        for k in 0..100 {
                            s += block_in_place(|| i * k);
                            if k % 10 == 0 {
                                yield_now().await;
                            }
                        }
                        s
                    })
                })
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, (0..64u64).sum::<u64>() * 4950);
        assert_eq!(rt.handle().sched_stats().sysmon_wakes, 0);
    });
}

#[test]
fn a_panicking_call_panics_its_task_and_the_m_goes_on() {
    within_secs(30, "a panicking call", || {
        let rt = Builder::new().procs(1).build().unwrap();
        let h = rt.spawn(async {
            block_in_place(|| {
                std::thread::sleep(Duration::from_millis(30));
                panic!("boom in a blocking call")
            })
        });
        let err: JoinError = rt.block_on(h).unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        // The M holds a P again: more tasks run.
        let v = rt.block_on(rt.spawn(async { block_in_place(|| 5) + 1 }));
        assert_eq!(v.unwrap(), 6);
    });
}

#[test]
fn outside_a_task_it_just_runs_the_closure() {
    assert_eq!(block_in_place(|| 3), 3);
    let rt = Builder::new().procs(1).build().unwrap();
    // block_on's own future is not on a P.
    assert_eq!(rt.block_on(async { block_in_place(|| 4) }), 4);
    assert_eq!(rt.handle().sched_stats().retakes, 0);
}

#[test]
fn stop_the_world_does_not_wait_for_a_blocking_call() {
    within_secs(30, "stop-the-world during a call", || {
        let rt = Builder::new().procs(1).build().unwrap();
        let in_call = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let (i, r) = (in_call.clone(), release.clone());
        let h = rt.spawn(async move {
            block_in_place(|| {
                i.store(true, SeqCst);
                while !r.load(SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            7
        });
        while !in_call.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The call only ends after the stop-the-world: if the world waited
        // for it, this would hang (and the watchdog fail the test).
        let v = rt.handle().stop_the_world("during a call", || 1);
        release.store(true, SeqCst);
        assert_eq!(v, 1);
        assert_eq!(rt.block_on(h).unwrap(), 7);
        assert!(rt.handle().sched_stats().retakes >= 1);
    });
}

#[test]
fn many_long_calls_at_once_all_complete_and_the_runtime_shuts_down_clean() {
    within_secs(30, "many calls", || {
        let rt = Builder::new().procs(2).build().unwrap();
        let weak = rt.handle().downgrade();
        let total = rt.block_on(async {
            let hs: Vec<_> = (0..16u64)
                .map(|i| {
                    spawn(async move {
                        let mut s = 0;
                        for _ in 0..3 {
                            s += block_in_place(|| {
                                std::thread::sleep(Duration::from_millis(5));
                                i
                            });
                            yield_now().await;
                        }
                        s
                    })
                })
                .collect();
            let mut t = 0;
            for h in hs {
                t += h.await.unwrap();
            }
            t
        });
        assert_eq!(total, 3 * (0..16u64).sum::<u64>());
        let st = rt.handle().sched_stats();
        assert_eq!(st.sysmon_wakes, 0, "{st:?}");
        drop(rt);
        assert!(weak.upgrade().is_none(), "a task, M or sysmon leaked");
    });
}
