//! The flight recorder end to end: dumps of a window that starts in the
//! middle of a recording are valid traces (Go's parser and spool's reader),
//! the window spans `min_age` under load, dumps during heavy tracing, many
//! dumps and stop/start cycles stay bounded, and a recorder and a normal
//! trace run at once.

mod trace_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spool::trace::{FlightRecorder, FlightRecorderConfig};
use spool_trace::read::{self, EventKind};
use trace_support::{go_parse, read_timeline, serial, trace_path};

/// Runs `f` on a thread; fails the test if it takes longer than `secs`.
fn watchdog<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("test hung ({secs} s watchdog)"),
    }
}

/// Writes a dump to a file, checks it with Go's parser and spool's reader
/// (whose `check` asserts every start follows a creation, unblock, stop or
/// runnable status), and returns the decoded trace.
fn check_dump(name: &str, bytes: &[u8]) -> read::Trace {
    let path = trace_path(name);
    std::fs::write(&path, bytes).unwrap();
    go_parse(&path);
    read_timeline(&path).check();
    read::read(bytes).unwrap()
}

fn config(min_age: Duration, max_bytes: u64) -> FlightRecorderConfig {
    FlightRecorderConfig {
        min_age,
        max_bytes,
        ..Default::default()
    }
}

fn dump(fr: &FlightRecorder) -> Vec<u8> {
    let mut out = Vec::new();
    let n = fr.write_to(&mut out).unwrap();
    assert_eq!(n as usize, out.len());
    out
}

/// Tasks created before the window and first met in it through a status
/// (waiters woken late, a poll that blocks its M across generations, the
/// `block_on` task sleeping across them) need the statuses the dump adds
/// to its first generation; without them Go's parser rejects the dump
/// ("found goroutine status for new goroutine after the first generation").
#[test]
fn a_window_that_starts_late_is_a_valid_trace() {
    let _s = serial();
    watchdog(60, || {
        let rt = spool::Builder::new().procs(3).build().unwrap();
        let fr = FlightRecorder::new(config(Duration::from_secs(1), 0));
        let bytes = rt.block_on(async {
            fr.start().unwrap();
            let blocked = Arc::new(AtomicUsize::new(0));
            let mut wakers = Vec::new();
            let mut joins = Vec::new();
            for _ in 0..10 {
                let (tx, rx) = futures_channel::oneshot::channel::<()>();
                wakers.push(tx);
                let b = blocked.clone();
                joins.push(spool::spawn(async move {
                    b.fetch_add(1, Ordering::SeqCst);
                    rx.await.unwrap();
                }));
            }
            let (hog_tx, hog_rx) = std::sync::mpsc::channel::<()>();
            let b = blocked.clone();
            let hog = spool::spawn(async move {
                b.fetch_add(1, Ordering::SeqCst);
                // Blocks its M: one poll that spans generations.
                hog_rx.recv().unwrap();
            });
            // Events in every generation (Go's parser takes the first
            // generation with an event as the trace's first).
            let ticking = Arc::new(AtomicBool::new(true));
            let t = ticking.clone();
            let ticker = spool::spawn(async move {
                while t.load(Ordering::SeqCst) {
                    spool::time::sleep(Duration::from_millis(5)).await;
                }
            });
            while blocked.load(Ordering::SeqCst) < 11 {
                spool::yield_now().await;
            }
            spool::trace::flush().unwrap();
            // A quiet stretch longer than min_age: the generations that
            // created the tasks fall out of the window.
            std::thread::sleep(Duration::from_millis(1500));
            spool::trace::flush().unwrap();
            hog_tx.send(()).unwrap();
            for tx in wakers {
                tx.send(()).unwrap();
            }
            for j in joins {
                j.await.unwrap();
            }
            hog.await.unwrap();
            ticking.store(false, Ordering::SeqCst);
            ticker.await.unwrap();
            dump(&fr)
        });
        fr.stop();
        let trace = check_dump("flight-late-window", &bytes);
        assert!(
            trace.generations.len() >= 2,
            "{} generation(s)",
            trace.generations.len()
        );
        let events: Vec<_> = trace
            .generations
            .iter()
            .flat_map(|g| g.events.iter())
            .collect();
        let creates = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::GoCreate { .. }))
            .count();
        let unblocks = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::GoUnblock { .. }))
            .count();
        // The waiters were created outside the window and woken inside it
        // (the ticker's sleeps create no task).
        assert_eq!(
            creates, 0,
            "the window should start after the tasks were created"
        );
        assert!(unblocks >= 10, "{unblocks} unblocks");
    });
}

/// Under a steady load the window reaches back at least `min_age`.
#[test]
fn the_window_holds_min_age_under_load() {
    let _s = serial();
    watchdog(60, || {
        let min_age = Duration::from_millis(1500);
        let rt = spool::Builder::new().procs(2).build().unwrap();
        // Room for the whole min_age, so min_age is what binds.
        let fr = FlightRecorder::new(config(min_age, 512 << 20));
        let bytes = rt.block_on(async {
            fr.start().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let stop = stop.clone();
                    spool::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..100 {
                                spool::yield_now().await;
                            }
                            spool::time::sleep(Duration::from_millis(1)).await;
                        }
                    })
                })
                .collect();
            spool::time::sleep(Duration::from_millis(3000)).await;
            let out = dump(&fr);
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                w.await.unwrap();
            }
            out
        });
        fr.stop();
        let path = trace_path("flight-min-age");
        std::fs::write(&path, &bytes).unwrap();
        go_parse(&path);
        let t = read_timeline(&path);
        let first = t.events.first().unwrap().time;
        let last = t.events.last().unwrap().time;
        let span = Duration::from_nanos(last - first);
        assert!(
            span >= min_age,
            "window spans {span:?} < min_age {min_age:?}"
        );
    });
}

/// Yield loops on every P while dumps are taken: each dump is valid.
#[test]
fn dumps_during_heavy_tracing_are_valid() {
    let _s = serial();
    watchdog(90, || {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let fr = FlightRecorder::new(config(Duration::from_millis(200), 0));
        let dumps = rt.block_on(async {
            fr.start().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..8)
                .map(|i| {
                    let stop = stop.clone();
                    spool::spawn(async move {
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            spool::yield_now().await;
                            n += 1;
                            if n % 1000 == i {
                                drop(spool::spawn(async {}));
                            }
                        }
                    })
                })
                .collect();
            let mut dumps = Vec::new();
            for _ in 0..3 {
                spool::time::sleep(Duration::from_millis(300)).await;
                let fr = fr.clone();
                // From a plain thread too: write_to needs no runtime.
                dumps.push(std::thread::spawn(move || dump(&fr)).join().unwrap());
            }
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                w.await.unwrap();
            }
            dumps
        });
        fr.stop();
        for (i, d) in dumps.iter().enumerate() {
            check_dump(&format!("flight-heavy-{i}"), d);
        }
    });
}

/// Resident memory of this process, from /proc (Linux).
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// 100 dumps in a loop: the window and the process stay bounded.
#[test]
fn a_hundred_dumps_do_not_leak() {
    let _s = serial();
    watchdog(120, || {
        let max = spool::trace::flight::MIN_MAX_BYTES * 2;
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let fr = FlightRecorder::new(config(Duration::from_millis(100), max));
        let (after_10, after_100, window_max) = rt.block_on(async {
            fr.start().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let w = spool::spawn(async move {
                while !s.load(Ordering::Relaxed) {
                    spool::yield_now().await;
                }
            });
            let mut after_10 = 0;
            let mut window_max = 0;
            for i in 0..100 {
                let mut sink = std::io::sink();
                fr.write_to(&mut sink).unwrap();
                window_max = window_max.max(fr.window_bytes());
                if i == 9 {
                    after_10 = rss_bytes();
                }
            }
            let after_100 = rss_bytes();
            stop.store(true, Ordering::Relaxed);
            w.await.unwrap();
            (after_10, after_100, window_max)
        });
        fr.stop();
        assert_eq!(fr.window_bytes(), 0);
        // The window: max_bytes plus at most one generation (4 MiB of
        // batches plus each M's open batch and the tables).
        let bound = max as usize + spool::trace::flight::MIN_MAX_BYTES as usize + (2 << 20);
        assert!(window_max <= bound, "window {window_max} > {bound}");
        let growth = after_100.saturating_sub(after_10);
        assert!(
            growth < 16 << 20,
            "RSS grew {growth} bytes over 90 dumps ({after_10} -> {after_100})"
        );
    });
}

/// Start, dump, stop, five times: each dump is valid and `enabled` follows.
#[test]
fn stop_start_cycles() {
    let _s = serial();
    watchdog(60, || {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let fr = FlightRecorder::new(config(Duration::from_millis(500), 0));
        for i in 0..5 {
            assert!(!fr.enabled());
            let bytes = rt.block_on(async {
                fr.start().unwrap();
                assert!(fr.start().is_err(), "started twice");
                let hs: Vec<_> = (0..50)
                    .map(|k| {
                        spool::spawn(async move {
                            spool::yield_now().await;
                            k
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
                dump(&fr)
            });
            assert!(fr.enabled());
            fr.stop();
            assert!(
                fr.write_to(&mut Vec::new()).is_err(),
                "dump of a stopped recorder"
            );
            check_dump(&format!("flight-cycle-{i}"), &bytes);
        }
        assert!(!spool::trace::is_tracing());
    });
}

/// A normal trace that joins the recorder's recording and one the recorder
/// joins: two valid traces each time.
#[test]
fn a_recorder_and_a_trace_at_once() {
    let _s = serial();
    watchdog(60, || {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let work = || async {
            let hs: Vec<_> = (0..200)
                .map(|k| {
                    spool::spawn(async move {
                        for _ in 0..3 {
                            spool::yield_now().await;
                        }
                        spool::time::sleep(Duration::from_millis(1)).await;
                        k
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        };
        for order in ["recorder-first", "trace-first"] {
            let fr = FlightRecorder::new(config(Duration::from_secs(5), 0));
            let path = trace_path(&format!("flight-both-{order}"));
            let parked: Vec<_> = (0..20)
                .map(|_| rt.spawn(spool::time::sleep(Duration::from_millis(400))))
                .collect();
            let bytes = rt.block_on(async {
                if order == "recorder-first" {
                    fr.start().unwrap();
                    work().await;
                    spool::trace::start_file(&path).unwrap();
                } else {
                    spool::trace::start_file(&path).unwrap();
                    work().await;
                    fr.start().unwrap();
                }
                work().await;
                for p in parked {
                    p.await.unwrap();
                }
                spool::trace::stop().unwrap();
                assert!(fr.enabled(), "stopping the trace stopped the recorder");
                work().await;
                dump(&fr)
            });
            fr.stop();
            assert!(!spool::trace::is_tracing());
            go_parse(&path);
            read_timeline(&path).check();
            check_dump(&format!("flight-both-{order}-dump"), &bytes);
        }
    });
}

/// Concurrent `write_to` calls each get a whole dump.
#[test]
fn concurrent_dumps_are_serialised() {
    let _s = serial();
    watchdog(60, || {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let fr = FlightRecorder::new(config(Duration::from_millis(500), 0));
        rt.block_on(async { fr.start().unwrap() });
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let w = rt.spawn(async move {
            while !s.load(Ordering::Relaxed) {
                spool::yield_now().await;
            }
        });
        let started = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let fr = fr.clone();
                std::thread::spawn(move || dump(&fr))
            })
            .collect();
        let dumps: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        rt.block_on(w).unwrap();
        fr.stop();
        assert!(started.elapsed() < Duration::from_secs(30));
        for (i, d) in dumps.iter().enumerate() {
            check_dump(&format!("flight-concurrent-{i}"), d);
        }
    });
}

/// A recorder attached inside a stop-the-world (the user's, while a trace
/// runs) starts its window inside that range: the dump opens it.
#[test]
fn a_recorder_started_inside_a_stop_the_world() {
    let _s = serial();
    watchdog(60, || {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let fr = FlightRecorder::new(config(Duration::from_secs(5), 0));
        let h = rt.handle().clone();
        let bytes = rt.block_on(async {
            spool::trace::start(std::io::sink()).unwrap();
            h.stop_the_world("user", || fr.start()).unwrap();
            let hs: Vec<_> = (0..20).map(|k| spool::spawn(async move { k })).collect();
            for j in hs {
                j.await.unwrap();
            }
            spool::trace::stop().unwrap();
            dump(&fr)
        });
        fr.stop();
        check_dump("flight-inside-stw", &bytes);
    });
}
