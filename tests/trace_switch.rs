//! A trace started while a runtime's Ms are busy, from outside the runtime:
//! the Ms run a scheduling loop compiled for tracing off and must switch to
//! the traced one (`executor/src/sched/worker.rs`). Through spool's API the
//! switch reaches every M before its next task (at most the poll already
//! under way on each M goes unrecorded); when the tracer is started
//! directly (`spool::tracer::control`), each M notices within 61 tasks.
//! Checked by counting the tasks' yields against the `GoStop`s in the file,
//! and by `go tool trace -d=parsed`.

mod trace_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use trace_support::{go_parse, read_timeline, serial, trace_path};

const PROCS: usize = 2;
/// Ticks after which an M re-reads the tracing flag on its own
/// (`INJECTOR_INTERVAL` in the executor).
const RECHECK_TICKS: usize = 61;
/// Yields to wait for before and after the start.
const YIELDS: usize = 20_000;

/// Runs `2 × PROCS` tasks that yield until told to stop; calls `start`
/// (outside the runtime) once they are running, lets them yield `YIELDS`
/// more times, then stops them and the trace. Returns the yields counted
/// after `start` returned and the `GoStop`s recorded.
fn busy_runtime_traced_from_outside(
    name: &str,
    start: impl FnOnce(&std::path::Path),
    stop: impl FnOnce(),
) -> (usize, usize) {
    let path = trace_path(name);
    let rt = spool::Builder::new().procs(PROCS).build().unwrap();
    let yields = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..2 * PROCS)
        .map(|_| {
            let (yields, done) = (yields.clone(), done.clone());
            rt.spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    yields.fetch_add(1, Ordering::Relaxed);
                    spool::yield_now().await;
                }
            })
        })
        .collect();
    while yields.load(Ordering::Relaxed) < YIELDS {
        std::thread::yield_now();
    }
    start(&path);
    let after_start = yields.load(Ordering::Relaxed);
    while yields.load(Ordering::Relaxed) < after_start + YIELDS {
        std::thread::yield_now();
    }
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    let at_end = yields.load(Ordering::Relaxed);
    stop();

    go_parse(&path);
    let c = read_timeline(&path).check();
    (at_end - after_start, c.stops)
}

#[test]
fn start_outside_the_runtime_reaches_busy_ms_before_their_next_task() {
    let _s = serial();
    let (yields, stops) = busy_runtime_traced_from_outside(
        "switch-api",
        |p| spool::trace::start_file(p).unwrap(),
        || {
            spool::trace::stop().unwrap();
        },
    );
    // Every yield after the start is a GoStop, except the one poll each M
    // had under way when the start happened.
    assert!(
        stops + PROCS >= yields,
        "{yields} yields after the start, only {stops} GoStops recorded"
    );
}

#[test]
fn start_through_the_tracer_directly_reaches_busy_ms_within_61_tasks() {
    let _s = serial();
    let (yields, stops) = busy_runtime_traced_from_outside(
        "switch-direct",
        |p| spool::tracer::control::start_file(p).unwrap(),
        || {
            spool::tracer::control::stop().unwrap();
        },
    );
    assert!(
        stops + PROCS * (RECHECK_TICKS + 1) >= yields,
        "{yields} yields after the start, only {stops} GoStops recorded"
    );
}
