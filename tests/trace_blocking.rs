//! `block_in_place` in traces: Go's syscall flow. Short calls are
//! `GoSyscallBegin`/`GoSyscallEnd`; a retaken call is `ProcSteal` (by
//! sysmon's M) then `GoSyscallEndBlocked`, including a steal in the
//! generation after the call began and a call that ends in the generation
//! after its steal. Go's parser accepts the file and its syscall profile
//! shows the blocked time.

mod trace_support;

use std::time::Duration;

use spool_trace::read::EventKind;
use trace_support::{go_parse, go_pprof_total, read_timeline, serial, trace_path};

#[test]
fn blocking_calls_follow_gos_syscall_flow_across_generations() {
    let _s = serial();
    let path = trace_path("blocking");
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let before = rt.handle().sched_stats();
    rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        let h = spool::spawn(async {
            // Fast path: back before sysmon's second look.
            for i in 0..100u64 {
                assert_eq!(spool::block_in_place(|| i + 1), i + 1);
            }
            // Begins in one generation; with the other M idle and nothing
            // queued, sysmon waits 10 ms before retaking: the steal is in
            // the next generation.
            spool::block_in_place(|| {
                spool::trace::flush().unwrap();
                std::thread::sleep(Duration::from_millis(40));
            });
            spool::yield_now().await;
            // Stolen after 10 ms, ends in the generation after the steal.
            spool::block_in_place(|| {
                std::thread::sleep(Duration::from_millis(25));
                spool::trace::flush().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            });
            spool::yield_now().await;
        });
        h.await.unwrap();
        spool::trace::stop().unwrap();
    });
    let stats = rt.handle().sched_stats();
    drop(rt);
    assert!(stats.retakes - before.retakes >= 2, "{stats:?}");
    let t = read_timeline(&path);
    let (mut begins, mut ends, mut blocked, mut steals) = (0, 0, 0, 0);
    for e in &t.events {
        match e.kind {
            EventKind::GoSyscallBegin { .. } => begins += 1,
            EventKind::GoSyscallEnd => ends += 1,
            EventKind::GoSyscallEndBlocked => blocked += 1,
            EventKind::ProcSteal { .. } => steals += 1,
            _ => {}
        }
    }
    assert_eq!(begins, 102);
    assert_eq!(ends + blocked, begins, "every call ended");
    assert!(blocked >= 2, "the two long calls were retaken: {blocked}");
    assert_eq!(steals, blocked, "one ProcSteal per blocked end");
    assert!(t.generations >= 3, "{} generations", t.generations);
    go_parse(&path);
    let (syscall_ns, _) = go_pprof_total(&path, "syscall");
    assert!(
        syscall_ns >= 60_000_000,
        "go tool trace -pprof=syscall shows the blocked time: {syscall_ns} ns"
    );
}

#[test]
fn a_long_poll_is_one_spool_long_poll_log_naming_the_task_and_its_site() {
    let _s = serial();
    let path = trace_path("long-poll");
    let rt = spool::Builder::new()
        .procs(2)
        .long_poll_threshold(Duration::from_millis(10))
        .build()
        .unwrap();
    let line = line!() + 3;
    let id = rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        let h = spool::spawn(async {
            let t = std::time::Instant::now();
            while t.elapsed() < Duration::from_millis(50) {
                std::hint::spin_loop();
            }
        });
        let id = h.id();
        h.await.unwrap();
        spool::trace::stop().unwrap();
        id
    });
    assert!(rt.handle().metrics().long_polls >= 1);
    drop(rt);
    go_parse(&path);
    let bytes = std::fs::read(&path).unwrap();
    let m = spool_trace::analysis::analyze(&bytes, |_, _| {}).unwrap();
    let logs: Vec<&str> = m
        .logs
        .iter()
        .filter(|l| m.str(l.key) == spool::LONG_POLL_CATEGORY)
        .map(|l| m.str(l.value))
        .filter(|v| v.contains(&format!("task G{id} ")))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].contains(&format!("trace_blocking.rs:{line}")),
        "{}",
        logs[0]
    );
    // The viewer's problems summary counts it.
    let p = spool_trace::problems::Problems::new(&m, 5);
    assert!(p.long_poll_logs.count >= 1);
}

#[test]
fn spawn_blocking_closures_are_gs_on_pseudo_ps_of_the_pool_threads() {
    let _s = serial();
    let path = trace_path("spawn-blocking");
    let rt = spool::Builder::new()
        .procs(2)
        .max_blocking_threads(4)
        .build()
        .unwrap();
    let mut ps = Vec::new();
    rt.handle().for_each_proc(|id, _, pseudo| {
        if !pseudo {
            ps.push(u64::from(id));
        }
    });
    let ids = rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        let hs: Vec<_> = (0..50u64)
            .map(|i| {
                spool::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_micros(200));
                    i
                })
            })
            .collect();
        let ids: Vec<u64> = hs.iter().map(|h| h.id()).collect();
        // One that panics: still a GoDestroy.
        assert!(
            spool::spawn_blocking(|| panic!("on purpose"))
                .await
                .is_err()
        );
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i as u64);
        }
        spool::trace::stop().unwrap();
        ids
    });
    drop(rt);
    go_parse(&path);
    let t = read_timeline(&path);
    let (mut created, mut destroyed) = (0, 0);
    let mut running = std::collections::HashSet::new();
    for e in &t.events {
        match e.kind {
            EventKind::GoCreate { g, .. } if ids.contains(&g) => created += 1,
            EventKind::GoStart { g, .. } if ids.contains(&g) => {
                assert!(!ps.contains(&e.ctx.p), "G{g} started on a runtime P");
                running.insert(e.ctx.m);
            }
            EventKind::GoDestroy if ids.contains(&e.ctx.g) => destroyed += 1,
            _ => {}
        }
    }
    assert_eq!((created, destroyed), (50, 50));
    assert!(running.len() <= 4, "closures ran on {} Ms", running.len());
}
