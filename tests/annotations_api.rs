//! Round trips of the `spool::trace` annotation API: workloads annotated with
//! tasks, regions, logs, labels and GC phases are traced, read back with
//! spool's reader (exact event sequences), and checked with Go's parser.

mod annotations_support;

use std::time::Duration;

use annotations_support::*;
use futures_channel::oneshot;
use spool::trace::{
    GcGuard, Task, dropped_region_events, log as ulog, region, region_async, region_guard,
    set_label,
};
use spool::{spawn, yield_now};

/// Asserts every event was written by one G (a real task, not "none").
fn on_one_task(evs: &[UEv]) -> u64 {
    let g = evs.first().expect("events").g;
    assert_ne!(g, spool_trace::read::NONE);
    assert!(
        evs.iter().all(|e| e.g == g),
        "events on several tasks: {evs:?}"
    );
    g
}

#[test]
fn tasks_regions_logs_label_and_gc_in_exact_order() {
    let ((req, child), rec) = traced("sequence", |rt| {
        rt.block_on(rt.spawn(async {
            let req = Task::new("request");
            req.in_scope(|| region("parse", || ulog("cache", "miss")));
            let child = Task::new_child(&req, "db");
            child.log("sql", "select 1");
            let ids = (req.id(), child.id());
            child.end();
            set_label("worker-a");
            set_label(""); // ignored
            {
                let _outer = GcGuard::begin();
                let _inner = GcGuard::begin(); // nested: one phase
            }
            req.region("render", || {});
            drop(req);
            ids
        }))
        .expect("task")
    });
    go_parses(&rec.path);
    let evs = user_events(&rec);
    on_one_task(&evs);
    assert_eq!(
        kinds(&evs),
        [
            tb(req, 0, "request"),
            rb(req, "parse"),
            log(req, "cache", "miss"),
            re(req, "parse"),
            tb(child, req, "db"),
            log(child, "sql", "select 1"),
            te(child),
            U::Label("worker-a".into()),
            U::GcBegin,
            U::GcEnd,
            rb(req, "render"),
            re(req, "render"),
            te(req),
        ]
    );
}

#[test]
fn a_region_held_across_awaits_stays_on_its_task() {
    const TASKS: usize = 16;
    let (ids, rec) = traced("across-await", |rt| {
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|_| {
                    spawn(async {
                        let t = Task::new("request");
                        let id = t.id();
                        t.region_async("db query", async {
                            for _ in 0..5 {
                                yield_now().await;
                            }
                            spool::time::sleep(Duration::from_millis(1)).await;
                        })
                        .await;
                        {
                            let _g = t.region_guard("render");
                            yield_now().await;
                        }
                        id
                    })
                })
                .collect();
            let mut ids = Vec::new();
            for h in handles {
                ids.push(h.await.expect("task"));
            }
            ids
        })
    });
    go_parses(&rec.path);
    let evs = user_events(&rec);
    for id in ids {
        let mine: Vec<_> = evs
            .iter()
            .filter(|e| match &e.ev {
                U::TaskBegin { task, .. } | U::TaskEnd { task } => *task == id,
                U::RegionBegin { task, .. } | U::RegionEnd { task, .. } => *task == id,
                _ => false,
            })
            .cloned()
            .collect();
        on_one_task(&mine);
        assert_eq!(
            kinds(&mine),
            [
                tb(id, 0, "request"),
                rb(id, "db query"),
                re(id, "db query"),
                rb(id, "render"),
                re(id, "render"),
                te(id),
            ]
        );
    }
}

#[test]
fn misused_regions_are_dropped_and_counted_never_written() {
    let (dropped, rec) = traced("misuse", |rt| {
        let before = dropped_region_events();
        rt.block_on(rt.spawn(async {
            // 1. Out of order on one task: "a" cannot end while "b" is open.
            let a = region_guard("a");
            let b = region_guard("b");
            drop(a); // dropped (+1)
            drop(b); // written

            // 2. A guard moved into another task and dropped there.
            let outer = region_guard("outer");
            let moved = region_guard("moved");
            spawn(async move { drop(moved) }).await.unwrap(); // dropped (+1)
            region("inner", || {}); // nests above the stale "moved": written
            drop(outer); // "moved" is still open above it: dropped (+1)

            // 3. Two region futures awaited together, ending out of order.
            let (tx_x, rx_x) = oneshot::channel::<()>();
            let (tx_y, rx_y) = oneshot::channel::<()>();
            spawn(async move {
                tx_x.send(()).unwrap();
                yield_now().await;
                tx_y.send(()).unwrap();
            });
            let x = region_async("x", async { rx_x.await.unwrap() });
            let y = region_async("y", async { rx_y.await.unwrap() });
            futures_lite::future::zip(x, y).await; // x ends first: dropped (+1)
        }))
        .expect("task");
        dropped_region_events() - before
    });
    go_parses(&rec.path);
    assert_eq!(dropped, 4);
    let evs = user_events(&rec);
    on_one_task(&evs);
    assert_eq!(
        kinds(&evs),
        [
            rb(0, "a"),
            rb(0, "b"),
            re(0, "b"),
            rb(0, "outer"),
            rb(0, "moved"),
            rb(0, "inner"),
            re(0, "inner"),
            rb(0, "x"),
            rb(0, "y"),
            re(0, "y"),
        ]
    );
}

#[test]
fn a_reused_buffer_with_new_text_is_a_new_string() {
    // The tracer caches string IDs per thread by address and length: one
    // buffer rewritten in place (same address, same length) must still be
    // recorded with its new text each time, and a repeated name reuses its ID.
    let (id, rec) = traced("reused-buffer", |rt| {
        rt.block_on(rt.spawn(async move {
            let t = Task::new("buffers");
            let mut buf = String::from("aaaa");
            for next in ["bbbb", "aaaa", "cccc"] {
                t.log("k", &buf);
                t.region(&buf, || ());
                buf.clear();
                buf.push_str(next);
            }
            t.log("k", &buf);
            t.id()
        }))
        .expect("task")
    });
    go_parses(&rec.path);
    let mut want = vec![tb(id, 0, "buffers")];
    for text in ["aaaa", "bbbb", "aaaa"] {
        want.extend([log(id, "k", text), rb(id, text), re(id, text)]);
    }
    want.extend([log(id, "k", "cccc"), te(id)]);
    assert_eq!(kinds(&user_events(&rec)), want);
}

#[test]
fn long_and_odd_strings_are_clipped_at_char_boundaries_and_kept_byte_for_byte() {
    let long_name = "€".repeat(700); // 2100 bytes; 1023 is the last boundary <= 1024
    let odd = "nul:\0 esc:\u{1b}[31m bad:\u{fffd} crab:🦀";
    let (id, rec) = {
        let (long_name, odd) = (long_name.clone(), odd.to_owned());
        traced("strings", move |rt| {
            rt.block_on(rt.spawn(async move {
                let t = Task::new(&long_name);
                t.region(&"r".repeat(5000), || t.log(&long_name, &odd));
                t.id()
            }))
            .expect("task")
        })
    };
    go_parses(&rec.path);
    let clipped = "€".repeat(341);
    assert_eq!(clipped.len(), 1023);
    assert_eq!(
        kinds(&user_events(&rec)),
        [
            tb(id, 0, &clipped),
            rb(id, &"r".repeat(1024)),
            log(id, &clipped, odd),
            re(id, &"r".repeat(1024)),
            te(id),
        ]
    );
}

#[test]
fn calls_outside_any_task_write_nothing() {
    let (dropped, rec) = traced("outside", |rt| {
        let before = dropped_region_events();
        // The test thread runs no spool task.
        let t = Task::new("outside");
        region("r", || t.log("k", "v"));
        set_label("main");
        drop(t);
        // Something real in the same trace, so the file is not trivially empty.
        rt.block_on(rt.spawn(async { region("inside", || {}) }))
            .unwrap();
        dropped_region_events() - before
    });
    go_parses(&rec.path);
    assert_eq!(dropped, 1, "the region begin outside a task is counted");
    assert_eq!(
        kinds(&user_events(&rec)),
        [rb(0, "inside"), re(0, "inside")]
    );
}
