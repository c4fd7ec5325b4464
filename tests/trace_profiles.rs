//! Go's trace profiles of spool's own traces: a traced workload (sleeps,
//! yields, joins, a ping-pong over oneshot channels, tasks spawned from a
//! foreign thread, a stop-the-world) read by `spool_trace::analysis`, whose
//! net/sync/syscall/sched totals must equal `go tool trace -pprof=KIND` on
//! the same file within 1 % (Go's implementation is the judge; Go traces
//! are checked in tracer/viewer/tests/profiles.rs).

mod trace_support;

use std::time::Duration;

use spool_trace::profile::ProfileKind;

#[test]
fn spool_trace_profile_totals_match_go_tool_trace() {
    let _g = trace_support::serial();
    let path = trace_support::trace_path("profiles");
    let rt = spool::Builder::new().procs(2).build().expect("runtime");
    let handle = rt.handle().clone();
    rt.block_on(async {
        spool::trace::start_file(&path).expect("start tracing");
        let mut tasks = Vec::new();
        for i in 0..16u64 {
            tasks.push(spool::spawn(async move {
                for _ in 0..20 {
                    spool::time::sleep(Duration::from_micros(100 + 37 * i)).await;
                    spool::yield_now().await;
                }
                i
            }));
        }
        // Foreign spawns and wakes: a plain thread spawning onto the runtime.
        let foreign = std::thread::spawn(move || {
            (0..8)
                .map(|i| handle.spawn(async move { i * 2 }))
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        for r in 0..200u64 {
            let (tx, rx) = futures_channel::oneshot::channel();
            let pong = spool::spawn(async move { rx.await.unwrap_or(0) + 1 });
            tx.send(r).ok();
            pong.await.ok();
        }
        for t in tasks {
            t.await.ok();
        }
        for t in foreign {
            t.await.ok();
        }
        spool::Handle::current().stop_the_world("profiles", || ());
        spool::trace::stop().expect("stop tracing");
    });
    drop(rt);
    trace_support::go_parse(&path);
    let bytes = std::fs::read(&path).unwrap();
    let m = spool_trace::analysis::analyze(&bytes, |_, _| {}).unwrap();
    assert!(
        m.stop.is_none() && m.order_error.is_none(),
        "trace reads cleanly"
    );
    for kind in ProfileKind::ALL {
        let (want, _) = trace_support::go_pprof_total(&path, kind.name());
        let (got, samples) = m.profile_total(kind);
        assert!(
            got.abs_diff(want) as f64 <= want as f64 * 0.01,
            "{} profile: spool-trace {got} ns ({samples} samples), go tool trace {want} ns",
            kind.name()
        );
        if kind == ProfileKind::Sched {
            assert!(want > 0, "the workload has scheduling latency");
        }
    }
    let _ = std::fs::remove_file(&path);
}
