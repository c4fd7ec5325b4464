//! sysmon's lost-wake safety net (issue 12): it wakes a parked M when the
//! injector has held work for two of its rounds while no M searched, which
//! the scheduler's wake protocols say never happens; the count must stay 0
//! under the scheduler benchmarks' shapes. A file of its own, so its
//! runtime does not share the cores with another test's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use spool_executor::{Builder, spawn, time::sleep, yield_now};

mod support;
use support::within_secs;

#[test]
fn the_lost_wake_safety_net_never_fires_under_the_scheduler_workloads() {
    // sysmon wakes a parked M when the injector has held work for two of
    // its rounds with no M searching: a wake-up the scheduler's protocols
    // lost. The shapes of the six scheduler benchmarks, with idle gaps
    // between them so the Ms park and sysmon looks at a quiet runtime too;
    // the count must stay 0 (Handle::sched_stats().sysmon_wakes).
    within_secs(60, "the test", || {
        let rt = Builder::new().procs(2).build().unwrap();
        let h = rt.handle().clone();
        for _ in 0..10 {
            // spawn_many_remote: from a thread outside the runtime (the injector).
            let n = Arc::new(AtomicU64::new(0));
            let hs: Vec<_> = (0..2_000)
                .map(|_| {
                    let n = n.clone();
                    h.spawn(async move {
                        n.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            for j in hs {
                rt.block_on(j).unwrap();
            }
            assert_eq!(n.load(Ordering::Relaxed), 2_000);
            std::thread::sleep(Duration::from_millis(3));
            rt.run(async {
                // spawn_many_local, chained_spawn, yield_many, ping_pong, timers.
                let hs: Vec<_> = (0..2_000).map(|i| spawn(async move { i })).collect();
                for (i, j) in hs.into_iter().enumerate() {
                    assert_eq!(j.await.unwrap(), i);
                }
                fn chain(n: u32) -> spool_executor::JoinHandle<u32> {
                    spawn(async move {
                        if n == 0 {
                            0
                        } else {
                            chain(n - 1).await.unwrap() + 1
                        }
                    })
                }
                assert_eq!(chain(200).await.unwrap(), 200);
                let ys: Vec<_> = (0..4)
                    .map(|_| {
                        spawn(async {
                            for _ in 0..200 {
                                yield_now().await;
                            }
                        })
                    })
                    .collect();
                for y in ys {
                    y.await.unwrap();
                }
                for i in 0..200u32 {
                    let (tx, rx) = spool_executor::sync::oneshot::channel();
                    let (tx2, rx2) = spool_executor::sync::oneshot::channel();
                    spawn(async move { tx2.send(rx.await.unwrap() + 1).unwrap() });
                    tx.send(i).unwrap();
                    assert_eq!(rx2.await.unwrap(), i + 1);
                }
                let ts: Vec<_> = (0..200)
                    .map(|_| spawn(sleep(Duration::from_millis(1))))
                    .collect();
                for t in ts {
                    t.await.unwrap();
                }
            });
            std::thread::sleep(Duration::from_millis(3));
        }
        let st = rt.handle().sched_stats();
        assert!(st.sysmon_rounds > 0, "sysmon never looked: {st:?}");
        assert_eq!(st.sysmon_wakes, 0, "{st:?}");
    });
}
