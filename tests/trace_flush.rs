//! `spool::trace::flush()` inside a running workload: it costs the time to
//! write one generation, not a stall. Checked in ways that hold on a noisy
//! machine (no wall-clock thresholds on the flush itself):
//! - the trace's own clock agrees with the wall clock across every flush
//!   (a generation boundary must not shift times: a `Frequency` estimate per
//!   generation applied to absolute ticks once squeezed or stretched times
//!   around each flush, e.g. a 130 µs flush drawn as 4 ns, or as an 85 ms
//!   poll with every other task's 200 µs sleep stuck across it);
//! - tasks sleeping on the workers keep waking between repeated flushes by
//!   the main task (the flush takes no stop-the-world and holds no worker P).

mod trace_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use trace_support::{go_parse, serial, trace_path};

const FLUSHES: usize = 8;

/// `Time=` of every `Log` event with this message in Go's parsed dump.
fn log_times(dump: &str, message: &str) -> Vec<u64> {
    let needle = format!("Message=\"{message}\"");
    dump.lines()
        .filter(|l| l.contains(" Log ") && l.contains(&needle))
        .map(|l| {
            let t = l.split("Time=").nth(1).expect("Time= in a Log line");
            t.split_whitespace().next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn flush_mid_run_keeps_times_and_sleepers_going() {
    let _s = serial();
    let path = trace_path("flush-mid-run");
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let (walls, wakes_after_each) = rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        let wakes = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let sleepers: Vec<_> = (0..4)
            .map(|_| {
                let (wakes, done) = (wakes.clone(), done.clone());
                spool::spawn(async move {
                    while !done.load(Ordering::Relaxed) {
                        spool::time::sleep(Duration::from_micros(200)).await;
                        wakes.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let mut walls = Vec::new();
        let mut wakes_after_each = Vec::new();
        for _ in 0..FLUSHES {
            // The sleepers make progress between flushes: wait (by sleeping,
            // not by a timer assert) until one of them woke again.
            let seen = wakes.load(Ordering::Relaxed);
            while wakes.load(Ordering::Relaxed) == seen {
                spool::time::sleep(Duration::from_micros(100)).await;
            }
            wakes_after_each.push(wakes.load(Ordering::Relaxed));
            // Spread the flushes out, so the run spans several ms of wall time.
            spool::time::sleep(Duration::from_millis(2)).await;
            // The wall-clock interval [start, start + took] holds both logs.
            let start = Instant::now();
            spool::trace::log("flush", "before");
            spool::trace::flush().unwrap();
            spool::trace::log("flush", "after");
            walls.push((start.elapsed(), start));
        }
        done.store(true, Ordering::Relaxed);
        for s in sleepers {
            s.await.unwrap();
        }
        spool::trace::stop().unwrap();
        (walls, wakes_after_each)
    });
    // Each flush waited for at least one sleeper wake-up after the previous
    // one: the workers never stalled for good.
    assert!(
        wakes_after_each.windows(2).all(|w| w[1] > w[0]),
        "{wakes_after_each:?}"
    );

    let dump = go_parse(&path);
    let before = log_times(&dump, "before");
    let after = log_times(&dump, "after");
    assert_eq!((before.len(), after.len()), (FLUSHES, FLUSHES));
    for i in 0..FLUSHES {
        // Both logs are written between the outer wall-clock reads, so in
        // trace time they are at most `outer` apart, up to the clock
        // conversion's error (a measured frequency's error times the time
        // since the trace started: far inside the 10% + 1 ms allowed here).
        let (outer, _) = walls[i];
        let traced = Duration::from_nanos(after[i].saturating_sub(before[i]));
        assert!(
            traced <= outer + outer / 10 + Duration::from_millis(1),
            "flush {i}: {traced:?} between its logs in the trace, at most {outer:?} by the wall clock"
        );
    }
    // Across the whole run too (sleeps between flushes included): the first
    // "before" is at most `outer` after flush 0 began, the last "after" is
    // later than the last flush began.
    let (outer0, start0) = walls[0];
    let start_last = walls[FLUSHES - 1].1;
    let at_least = (start_last - start0).saturating_sub(outer0);
    let traced_run = Duration::from_nanos(after[FLUSHES - 1].saturating_sub(before[0]));
    assert!(
        traced_run >= at_least * 9 / 10,
        "{traced_run:?} in the trace from the first flush to the last, at least {at_least:?} by the wall clock"
    );
}
