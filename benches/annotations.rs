//! What `SpoolLayer` costs while spool is *not* tracing, on the ping-pong
//! workload with one `tracing` span per round (issue 5: target <= 5%).
//!
//! The ping-pong is the scheduler bench's shape (1,000 rounds; each round a
//! task that spawns a partner and bounces a message to it and back through
//! two oneshots) on a 2-P spool runtime, with the round's task instrumented
//! by an `info_span!("round")`. Spool tracing stays off throughout.
//!
//! A global `tracing` subscriber can be installed once per process, so one
//! run measures two things side by side: `no_subscriber` first (spans are
//! disabled callsites), then, after installing the subscriber chosen by
//! `SPOOL_ANN_BENCH`, the same workload under it:
//! - `none`: nothing (the run-to-run drift of the second measurement);
//! - `registry`: `tracing_subscriber::registry()` alone (what any subscriber costs);
//! - `layer` (default): `registry().with(SpoolLayer::new())`;
//! - `layer_gated`: `registry().with(SpoolLayer::new().gate_when_off(true))`.
//!
//! A second group, `annotations_span_round`, measures just one round's span
//! work (make, enter/exit twice, drop) on one thread under each subscriber.
//!
//! Run each: `SPOOL_ANN_BENCH=registry cargo bench --bench annotations`, then
//! `=layer`, `=layer_gated`, `=none`; compare each mode's median with the
//! `no_subscriber` median of the same run (`none` shows the drift between
//! two measurements of one run, which on a loaded 2-core machine is larger
//! than the effect being measured; the span group is the steadier number).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_channel::oneshot;
use spool::trace::SpoolLayer;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// Rounds per workload run (as in the scheduler bench).
const NUM_PINGS: usize = 1_000;

/// One ping-pong run with a span per round.
fn ping_pong(rt: &spool::Runtime) {
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let remaining = Arc::new(AtomicUsize::new(NUM_PINGS));
    let done = Arc::new(std::sync::Mutex::new(Some(done_tx)));
    rt.spawn(async move {
        for _ in 0..NUM_PINGS {
            let remaining = remaining.clone();
            let done = done.clone();
            let round = async move {
                let (tx1, rx1) = oneshot::channel::<()>();
                let (tx2, rx2) = oneshot::channel::<()>();
                spool::spawn(async move {
                    rx1.await.unwrap();
                    tx2.send(()).unwrap();
                });
                tx1.send(()).unwrap();
                rx2.await.unwrap();
                if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(tx) = done.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                }
            };
            spool::spawn(round.instrument(tracing::info_span!("round")));
        }
    });
    rt.block_on(done_rx).unwrap();
}

fn bench(c: &mut Criterion) {
    assert!(
        !spool::trace::is_tracing(),
        "this bench measures tracing off"
    );
    let mode = std::env::var("SPOOL_ANN_BENCH").unwrap_or_else(|_| "layer".into());
    let rt = spool::Builder::new().procs(2).build().expect("runtime");
    let mut group = c.benchmark_group("annotations_ping_pong");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("no_subscriber", |b| b.iter(|| ping_pong(&rt)));
    let installed = match mode.as_str() {
        // The same workload again with nothing installed: shows how much
        // the second measurement of a run drifts on its own.
        "none" => Ok(()),
        "registry" => tracing_subscriber::registry().try_init(),
        "layer" => tracing_subscriber::registry()
            .with(SpoolLayer::new())
            .try_init(),
        "layer_gated" => tracing_subscriber::registry()
            .with(SpoolLayer::new().gate_when_off(true))
            .try_init(),
        other => panic!("SPOOL_ANN_BENCH={other}: expected none, registry, layer or layer_gated"),
    };
    installed.expect("install the global subscriber");
    group.bench_function(&mode, |b| b.iter(|| ping_pong(&rt)));
    group.finish();
}

/// One round's worth of span work, single-threaded: make a span, enter and
/// exit it twice (a ping-pong round's task is polled about twice), drop it.
fn span_round() {
    let span = tracing::info_span!("round");
    for _ in 0..2 {
        let _entered = span.enter();
        std::hint::black_box(&span);
    }
}

/// The per-round span cost under each subscriber, measured on this thread
/// (`with_default` is thread-local, so all four run in one process, back to
/// back, far less exposed to scheduling noise than the ping-pong).
fn bench_span(c: &mut Criterion) {
    assert!(
        !spool::trace::is_tracing(),
        "this bench measures tracing off"
    );
    let mut group = c.benchmark_group("annotations_span_round");
    let subscribers: [(&str, tracing::Dispatch); 4] = [
        ("no_subscriber", tracing::Dispatch::none()),
        (
            "registry",
            tracing::Dispatch::new(tracing_subscriber::registry()),
        ),
        (
            "layer",
            tracing::Dispatch::new(tracing_subscriber::registry().with(SpoolLayer::new())),
        ),
        (
            "layer_gated",
            tracing::Dispatch::new(
                tracing_subscriber::registry().with(SpoolLayer::new().gate_when_off(true)),
            ),
        ),
    ];
    for (name, dispatch) in &subscribers {
        tracing::dispatcher::with_default(dispatch, || {
            group.bench_function(*name, |b| b.iter(span_round));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_span, bench);
criterion_main!(benches);
