//! Two runtimes alive while one trace runs: every P and `block_on` pseudo-P
//! of the process needs its own trace P id, or Go's parser rejects the trace
//! ("inconsistent status for proc 0"). Checked by `go tool trace -d=parsed`
//! and by spool's reader.

mod trace_support;

use std::collections::HashSet;
use std::fs::File;

use spool_trace::read::EventKind;
use trace_support::{go_parse, read_timeline, serial, trace_path};

const ROUNDS: usize = 50;

async fn yielder() -> usize {
    for _ in 0..3 {
        spool::yield_now().await;
    }
    1
}

#[test]
fn two_runtimes_traced_at_once_give_a_valid_trace() {
    let _s = serial();
    let path = trace_path("two-runtimes");
    let a = spool::Builder::new().procs(2).build().unwrap();
    let b = spool::Builder::new().procs(2).build().unwrap();
    // Both runtimes' Ps carry distinct trace ids.
    let mut ids = HashSet::new();
    a.handle().for_each_proc(|id, _, _| assert!(ids.insert(id)));
    b.handle()
        .for_each_proc(|id, _, _| assert!(ids.insert(id), "P id {id} used twice"));
    assert_eq!(ids.len(), 4);

    spool::trace::start_on(a.handle(), File::create(&path).unwrap()).unwrap();
    let mut done = 0;
    for _ in 0..ROUNDS {
        done += a.block_on(async { spool::spawn(yielder()).await.unwrap() });
        done += b.block_on(async { spool::spawn(yielder()).await.unwrap() });
    }
    // Every task's last event is in before the trace stops: `b` shuts down
    // (joining its Ms) while tracing, and the stop runs under `a`'s
    // stop-the-world (every P of `a` parked between tasks).
    drop(b);
    a.block_on(async { spool::trace::stop() }).unwrap();
    assert_eq!(done, 2 * ROUNDS);

    go_parse(&path);
    let t = read_timeline(&path);
    let c = t.check();
    // Per round: two `block_on` main tasks and two spawned tasks, all ended;
    // plus the main task of the `block_on` that stops the trace, still alive.
    assert_eq!(c.creates, 4 * ROUNDS + 1, "{c:?}");
    assert_eq!(c.destroys, 4 * ROUNDS, "{c:?}");
    // The trace shows Ps of both runtimes (a block_on also runs on a
    // pseudo-P of its own, distinct from every P).
    let procs: HashSet<u64> = t
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ProcStart { p, .. } => Some(p),
            _ => None,
        })
        .collect();
    assert!(procs.len() >= 4, "Ps seen: {procs:?}");
}
