//! sysmon's long-poll detection: a poll that runs past
//! `Builder::long_poll_threshold` is reported once (callback, metrics) with
//! its spawn site, and the tasks queued behind it on its P are moved to
//! other Ps while it lasts. Short polls and blocking calls are no long
//! polls. Every scenario runs under a watchdog.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spool_executor::{Builder, LongPoll, block_in_place, spawn, yield_now};

mod support;
use support::within_secs;

/// The reports about task `id` (on a loaded machine an M descheduled for
/// longer than the threshold in the middle of another task's poll makes
/// that poll a long one too, so tests look at their own task).
fn about(reports: &Mutex<Vec<LongPoll>>, id: u64) -> Vec<LongPoll> {
    reports
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.task == id)
        .cloned()
        .collect()
}

/// A runtime of 2 Ps with threshold `threshold` whose reports land in the
/// returned list.
fn runtime(threshold: Duration) -> (spool_executor::Runtime, Arc<Mutex<Vec<LongPoll>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let rt = Builder::new()
        .procs(2)
        .long_poll_threshold(threshold)
        .on_long_poll(move |lp| r.lock().unwrap().push(lp.clone()))
        .build()
        .unwrap();
    (rt, reports)
}

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_50ms_spin_is_reported_once_with_its_site_and_its_ps_queue_runs_meanwhile() {
    within_secs(30, "the long-poll scenario", || {
        let (rt, reports) = runtime(Duration::from_millis(10));
        const N: usize = 100;
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (done.clone(), stop.clone());
        let line = line!() + 1;
        let spinner = rt.spawn(async move {
            // A task that always yields: whichever M runs it always has
            // local work, so it never steals from the spinner's P. Spawned
            // first, it is at the front of this P's queue, where the other
            // M's steal (woken by the spawns below) takes it from.
            let s2 = s.clone();
            let yielder = spawn(async move {
                while !s2.load(SeqCst) {
                    yield_now().await;
                }
            });
            for _ in 0..N {
                let d = d.clone();
                drop(spawn(async move {
                    d.fetch_add(1, SeqCst);
                }));
            }
            // One poll of at least 50 ms: the tasks queued behind it on
            // this P run only if sysmon moves them away (the other M is
            // kept busy). It ends once they did (or after 5 s), so a
            // loaded machine that starves the other M only makes it longer.
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(50)
                || (d.load(SeqCst) < N - 1 && t.elapsed() < Duration::from_secs(5))
            {
                std::hint::spin_loop();
            }
            let seen = d.load(SeqCst);
            s.store(true, SeqCst);
            yielder.await.unwrap();
            seen
        });
        let id = spinner.id();
        let seen = rt.block_on(spinner).unwrap();
        // The last task spawned is in the P's `runnext` slot, which no
        // other M may take: it runs after the spin.
        assert!(
            seen >= N - 1,
            "only {seen} of {N} tasks queued behind the spin finished during it"
        );
        let mine = about(&reports, id);
        assert_eq!(mine.len(), 1, "{:?}", reports.lock().unwrap());
        let r = &mine[0];
        assert!(r.location.file().ends_with("long_poll.rs"), "{r:?}");
        assert_eq!(r.location.line(), line, "{r:?}");
        assert!(r.elapsed >= Duration::from_millis(10), "{r:?}");
        assert!(r.to_string().contains(&format!("G{id}")), "{r}");
        let m = rt.handle().metrics();
        assert!(m.long_polls >= 1, "{m:?}");
        let st = rt.handle().sched_stats();
        assert!(st.long_poll_rescues >= 1, "{st:?}");
        assert_eq!(st.sysmon_wakes, 0, "{st:?}");
    });
}

#[test]
fn short_polls_and_blocking_calls_are_not_long_polls() {
    within_secs(30, "the short-poll scenario", || {
        // A threshold well above the polls here, and well above how long a
        // loaded machine deschedules an M in the middle of one.
        let (rt, reports) = runtime(Duration::from_millis(200));
        rt.block_on(async {
            // 200 polls of 1 ms each (the same tasks polled again and
            // again: each poll is a new one for sysmon).
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    spawn(async {
                        for _ in 0..50 {
                            spin(Duration::from_millis(1));
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            // A 400 ms blocking call lends its P: not a poll of the P, and
            // the short poll around it is no long poll either.
            spawn(async { block_in_place(|| std::thread::sleep(Duration::from_millis(400))) })
                .await
                .unwrap();
        });
        // sysmon's next round sees the ends; give it a few.
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            reports.lock().unwrap().is_empty(),
            "{:?}",
            reports.lock().unwrap()
        );
        assert_eq!(rt.handle().metrics().long_polls, 0);
    });
}

#[test]
fn a_spin_after_a_blocking_call_is_still_a_long_poll() {
    within_secs(30, "spin after a call", || {
        let (rt, reports) = runtime(Duration::from_millis(10));
        let h = rt.spawn(async {
            block_in_place(|| std::thread::sleep(Duration::from_millis(30)));
            spin(Duration::from_millis(50));
        });
        let id = h.id();
        rt.block_on(h).unwrap();
        assert_eq!(
            about(&reports, id).len(),
            1,
            "{:?}",
            reports.lock().unwrap()
        );
    });
}

#[test]
fn a_panicking_callback_does_not_stop_sysmon() {
    within_secs(30, "panicking callback", || {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let rt = Builder::new()
            .procs(2)
            .long_poll_threshold(Duration::from_millis(10))
            .on_long_poll(move |_| {
                c.fetch_add(1, SeqCst);
                panic!("spool test: the long-poll callback panics");
            })
            .build()
            .unwrap();
        for i in 1..=2 {
            // Spin until reported: the panic hook (a backtrace, say) of
            // the first report may outlast a fixed spin.
            let c = calls.clone();
            rt.block_on(rt.spawn(async move {
                while c.load(SeqCst) < i {
                    std::hint::spin_loop();
                }
            }))
            .unwrap();
        }
        assert_eq!(calls.load(SeqCst), 2);
        assert_eq!(rt.handle().metrics().long_polls, 2);
        // sysmon still retakes blocking calls (a 30 ms call is retaken
        // after 10 ms even with an idle M and nothing queued).
        rt.block_on(
            rt.spawn(async { block_in_place(|| std::thread::sleep(Duration::from_millis(30))) }),
        )
        .unwrap();
        assert!(rt.handle().sched_stats().retakes >= 1);
    });
}
