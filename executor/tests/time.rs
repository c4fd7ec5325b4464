//! Timers: deadline order, never early, `timeout` cancels, timers from
//! `block_on` and from many Ps, `interval`'s schedule. Only "not early" is a time check.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spool_executor::time::{Instant, sleep, sleep_until, timeout};
use spool_executor::{Builder, spawn};

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    // One P, so "order" is well defined: every task's sleep is in one heap.
    let rt = Builder::new().procs(1).build().unwrap();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let early = Arc::new(AtomicUsize::new(0));
    let base = Instant::now() + Duration::from_millis(20);
    // Deadlines registered in a scrambled order, 2 ms apart.
    let order: Vec<u64> = (0..40u64).map(|i| (i * 17) % 40).collect();
    rt.block_on(async {
        let hs: Vec<_> = order
            .iter()
            .map(|&k| {
                let (fired, early) = (fired.clone(), early.clone());
                let deadline = base + Duration::from_millis(2 * k);
                spawn(async move {
                    sleep_until(deadline).await;
                    if Instant::now() < deadline {
                        early.fetch_add(1, SeqCst);
                    }
                    fired.lock().unwrap().push(k);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(early.load(SeqCst), 0, "a timer fired before its deadline");
    let fired = fired.lock().unwrap().clone();
    let mut sorted = fired.clone();
    sorted.sort();
    assert_eq!(fired, sorted, "timers fired out of deadline order");
    assert_eq!(fired.len(), 40);
}

#[test]
fn sleeps_on_many_ps_are_never_early() {
    let rt = Builder::new().procs(2).build().unwrap();
    let early = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let hs: Vec<_> = (0..2000u64)
            .map(|i| {
                let early = early.clone();
                spawn(async move {
                    let d = Duration::from_micros(100 * (i % 37));
                    let start = Instant::now();
                    sleep(d).await;
                    if start.elapsed() < d {
                        early.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(early.load(SeqCst), 0);
}

#[test]
fn sleep_in_block_on() {
    let rt = Builder::new().procs(2).build().unwrap();
    for ms in [0, 1, 3] {
        let d = Duration::from_millis(ms);
        let start = Instant::now();
        rt.block_on(sleep(d));
        assert!(start.elapsed() >= d);
    }
}

#[test]
fn timeout_cancels_the_inner_future() {
    let rt = Builder::new().procs(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let polls_after = Arc::new(AtomicUsize::new(0));
    let (d, p) = (DropCount(drops.clone()), polls_after.clone());
    let r = rt.block_on(timeout(Duration::from_millis(2), async move {
        let _d = d;
        sleep(Duration::from_secs(3600)).await;
        p.fetch_add(1, SeqCst);
    }));
    assert!(r.is_err());
    assert_eq!(drops.load(SeqCst), 1, "the timed-out future was dropped");
    assert_eq!(polls_after.load(SeqCst), 0);
    // A future that finishes first wins.
    let r = rt.block_on(timeout(Duration::from_secs(3600), async { 5 }));
    assert_eq!(r, Ok(5));
    // Inside tasks.
    let r = rt.block_on(async {
        spawn(timeout(
            Duration::from_millis(1),
            std::future::pending::<()>(),
        ))
        .await
        .unwrap()
    });
    assert!(r.is_err());
}

#[test]
fn dropped_sleeps_release_their_task() {
    // A task that times out of a long sleep must be freed at once, not
    // kept alive by the timer heap until the hour passes.
    let rt = Builder::new().procs(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let d = DropCount(drops.clone());
            rt.spawn(async move {
                let _d = d;
                let _ = timeout(Duration::from_millis(1), sleep(Duration::from_secs(3600))).await;
            })
        })
        .collect();
    for h in hs {
        rt.block_on(h).unwrap();
    }
    assert_eq!(drops.load(SeqCst), 100);
    assert_eq!(rt.handle().alive_tasks(), 0);
}

#[test]
fn interval_ticks_on_schedule_and_bursts_after_a_stall() {
    use spool_executor::time::{MissedTickBehavior, interval};
    let rt = spool_executor::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let period = Duration::from_millis(5);
        let mut iv = interval(period);
        let first = iv.tick().await;
        for k in 1..=3u32 {
            let t = iv.tick().await;
            assert_eq!(t, first + period * k, "tick {k} keeps the schedule");
            assert!(spool_executor::time::Instant::now() >= t, "never early");
        }
        // Stall past two deadlines: Burst catches up at once, on schedule.
        std::thread::sleep(period * 3);
        let t = iv.tick().await;
        assert_eq!(t, first + period * 4);
        // Skip jumps to the next deadline after now.
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        std::thread::sleep(period * 3);
        let _late = iv.tick().await;
        let next = iv.tick().await;
        assert!(
            next > first + period * 6,
            "missed ticks skipped: {:?}",
            next - first
        );
    });
}
