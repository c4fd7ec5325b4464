//! Traces of `spool::sync` waits, judged by Go's own parser: each wait is
//! a GoBlock with Go's reason string, each wake a GoUnblock emitted by the
//! waking task (the event's G is the waker), and a wake from a thread
//! outside the runtime is a GoUnblock from no task.

mod sync_support;
#[path = "trace_support/mod.rs"]
mod trace_support;

use std::collections::HashMap;
use std::process::Command;

use spool::sync::chan;
use spool::{select, spawn, yield_now};
use sync_support::{rt, watchdog};
use trace_support::{go_binary, go_parse, serial, trace_path};

/// One `StateTransition` line of `go tool trace -d=parsed`.
#[derive(Debug)]
struct Transition {
    /// The G in whose context the event was written (-1: none).
    ctx_g: i64,
    go_id: i64,
    from: String,
    to: String,
    reason: String,
}

fn transitions(parsed: &str) -> Vec<Transition> {
    let mut out = Vec::new();
    for line in parsed
        .lines()
        .filter(|l| l.contains("StateTransition") && l.contains("GoID="))
    {
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap_or("")
                .to_string()
        };
        let (from, to) = line
            .split_whitespace()
            .find(|w| w.contains("->"))
            .and_then(|w| w.split_once("->"))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap_or_default();
        let reason = line
            .split("Reason=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        out.push(Transition {
            ctx_g: field("G=").parse().unwrap_or(-1),
            go_id: field("GoID=").parse().unwrap_or(-1),
            from,
            to,
            reason,
        });
    }
    out
}

#[test]
fn waits_carry_go_reasons_and_wakes_name_the_waker() {
    let _s = serial();
    let _w = watchdog("waits_carry_go_reasons_and_wakes_name_the_waker", 120);
    let path = trace_path("sync_reasons");
    let rt = rt(2);
    rt.block_on(async { spool::trace::start_file(&path) })
        .unwrap();
    let (echo_id, driver_id, selector_id) = rt.block_on(async {
        // Ping-pong: "chan receive" blocks, woken by the other task.
        let (a_tx, a_rx) = chan::<u64>(0);
        let (b_tx, b_rx) = chan::<u64>(0);
        let echo = spawn(async move {
            while let Some(v) = a_rx.recv().await {
                b_tx.send(v).await.unwrap();
            }
        });
        let driver = spawn(async move {
            for i in 0..50 {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await, Some(i));
            }
        });
        let (echo_id, driver_id) = (echo.id(), driver.id());
        driver.await.unwrap();
        echo.await.unwrap();
        // A sender with no receiver: "chan send". A rendezvous try_recv
        // succeeds only once the sender is queued, i.e. its poll blocked.
        let (tx, rx) = chan::<u64>(0);
        let sender = spawn(async move { tx.send(7).await });
        let got = loop {
            match rx.try_recv() {
                Ok(v) => break v,
                Err(_) => yield_now().await,
            }
        };
        assert_eq!(got, 7);
        sender.await.unwrap().unwrap();
        // A select with nothing ready: "select". A rendezvous try_send
        // succeeds only once the select's waiter is queued.
        let (s_tx, s_rx) = chan::<u64>(0);
        let (_t_tx, t_rx) = chan::<u64>(0);
        let selector = spawn(async move {
            select! {
                v = s_rx.recv() => v,
                v = t_rx.recv() => v,
            }
        });
        let selector_id = selector.id();
        while s_tx.try_send(1).is_err() {
            yield_now().await;
        }
        assert_eq!(selector.await.unwrap(), Some(1));
        (echo_id, driver_id, selector_id)
    });
    // A wake from a plain thread: it hands the value to the queued
    // receiver (a rendezvous try_send succeeds only then).
    let (f_tx, f_rx) = chan::<u64>(0);
    let waiter = rt.spawn(async move { f_rx.recv().await });
    let waiter_id = waiter.id();
    std::thread::spawn(move || {
        while f_tx.try_send(3).is_err() {
            std::thread::yield_now();
        }
    })
    .join()
    .unwrap();
    assert_eq!(rt.block_on(waiter).unwrap(), Some(3));
    rt.block_on(async { spool::trace::stop() }).unwrap();

    let parsed = go_parse(&path);
    let ts = transitions(&parsed);
    let mut reasons: HashMap<&str, usize> = HashMap::new();
    for t in &ts {
        if t.from == "Running" && t.to == "Waiting" {
            *reasons.entry(t.reason.as_str()).or_default() += 1;
        }
    }
    for r in ["chan receive", "chan send", "select"] {
        assert!(
            reasons.get(r).copied().unwrap_or(0) > 0,
            "no GoBlock {r:?}; saw {reasons:?}"
        );
    }
    // Every wake of the echo task comes from the driver and vice versa.
    let wakes = |g: u64| {
        ts.iter()
            .filter(move |t| t.go_id == g as i64 && t.from == "Waiting" && t.to == "Runnable")
    };
    let echo_wakers: Vec<i64> = wakes(echo_id).map(|t| t.ctx_g).collect();
    assert!(
        echo_wakers.len() >= 40,
        "echo woken {} times",
        echo_wakers.len()
    );
    assert!(
        echo_wakers.iter().all(|&g| g == driver_id as i64),
        "echo woken by {echo_wakers:?}, expected only the driver G{driver_id}"
    );
    assert!(
        wakes(driver_id)
            .filter(|t| t.ctx_g == echo_id as i64)
            .count()
            >= 40
    );
    assert!(wakes(selector_id).count() >= 1);
    // The plain thread's wake is written by no task.
    let foreign: Vec<i64> = wakes(waiter_id).map(|t| t.ctx_g).collect();
    assert_eq!(foreign.len(), 1, "waiter woken {foreign:?}");
    assert!(
        foreign[0] < 0,
        "a foreign thread's wake carries G{}",
        foreign[0]
    );

    // `go tool trace -pprof=sync` counts the channel waits.
    let out = Command::new(go_binary())
        .args(["tool", "trace", "-pprof=sync"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "empty sync profile");
    let _ = std::fs::remove_file(&path);
}

/// A deadlock found while tracing is one `spool.deadlock` log naming both
/// tasks; Go's parser accepts the file and spool's viewer counts it in its
/// problems view.
#[test]
fn a_traced_deadlock_is_one_spool_deadlock_log() {
    let _s = serial();
    let _w = watchdog("a_traced_deadlock_is_one_spool_deadlock_log", 60);
    let path = trace_path("sync-deadlock");
    let reports = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = reports.clone();
    let rt = spool::Builder::new()
        .procs(2)
        .detect_deadlock(true)
        .on_deadlock(move |_| {
            r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .build()
        .unwrap();
    spool::trace::start_file(&path).unwrap();
    let (a_tx, a_rx) = chan::<u32>(0);
    let (b_tx, b_rx) = chan::<u32>(0);
    let a = rt.spawn(async move {
        let v = a_rx.recv().await;
        let _ = b_rx.recv().await;
        v
    });
    let b = rt.spawn(async move {
        let _ = b_tx.send(1).await;
        let _ = a_tx.send(2).await;
    });
    while reports.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let (ida, idb) = (a.id(), b.id());
    a.abort();
    b.abort();
    rt.block_on(async {
        let _ = a.await;
        let _ = b.await;
    });
    spool::trace::stop().unwrap();
    drop(rt);
    go_parse(&path);
    let bytes = std::fs::read(&path).unwrap();
    let m = spool_trace::analysis::analyze(&bytes, |_, _| {}).unwrap();
    let logs: Vec<&str> = m
        .logs
        .iter()
        .filter(|l| m.str(l.key) == spool::DEADLOCK_CATEGORY)
        .map(|l| m.str(l.value))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].starts_with(spool::DEADLOCK_MESSAGE), "{}", logs[0]);
    assert!(
        logs[0].contains(&format!(
            "task G{ida} [chan receive]: spawned at tests/sync_trace.rs:"
        )),
        "{}",
        logs[0]
    );
    assert!(
        logs[0].contains(&format!(
            "task G{idb} [chan send]: spawned at tests/sync_trace.rs:"
        )),
        "{}",
        logs[0]
    );
    let p = spool_trace::problems::Problems::new(&m, 5);
    assert_eq!(p.deadlocks.count, 1);
    assert!(
        p.deadlocks.items[0]
            .text
            .starts_with(spool::DEADLOCK_MESSAGE)
    );
    let _ = std::fs::remove_file(&path);
}
