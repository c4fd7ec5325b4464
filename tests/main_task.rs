//! `Runtime::run` and `#[spool::main]`: the main future is an ordinary task
//! on a P (it sees its runtime through `Handle::current`, runs on an M
//! thread, and in a trace its G starts only on the runtime's Ps), its
//! panics propagate as from `block_on`, and `procs = N` sets the Ps.

mod trace_support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use spool_trace::read::EventKind;
use trace_support::{go_parse, read_timeline, serial, trace_path};

#[spool::main(procs = 3)]
async fn main_with_three_ps() -> (usize, Option<String>, u64) {
    let h = spool::spawn(async { 40 });
    let v = h.await.unwrap() + 2;
    (
        spool::Handle::current().procs(),
        std::thread::current().name().map(String::from),
        v,
    )
}

#[spool::main]
async fn main_that_panics() {
    spool::spawn(async {}).await.unwrap();
    panic!("main panics on purpose");
}

#[test]
fn spool_main_runs_the_body_on_an_m_of_a_runtime_with_procs_ps() {
    let (procs, thread, v) = main_with_three_ps();
    assert_eq!(procs, 3);
    assert_eq!(v, 42);
    // An M thread (`spool-m-N`), not the test's thread.
    assert!(
        thread.as_deref().unwrap_or("").starts_with("spool-m-"),
        "{thread:?}"
    );
}

#[test]
fn a_panic_in_main_propagates_with_its_payload() {
    let err = catch_unwind(main_that_panics).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"main panics on purpose"));
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| {
        rt.run(async { panic!("{}", String::from("a String payload")) })
    }))
    .unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("a String payload")
    );
    // The runtime goes on.
    assert_eq!(rt.run(async { 7 }), 7);
}

#[test]
fn run_inside_a_task_is_refused_like_block_on() {
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let h = rt.handle().clone();
    let r = rt.run(async move {
        spool::spawn(async move { catch_unwind(AssertUnwindSafe(|| h.run(async {}))).is_err() })
            .await
            .unwrap()
    });
    assert!(r, "run inside a task must panic");
}

#[test]
fn the_main_tasks_g_starts_on_the_runtimes_ps_only() {
    let _s = serial();
    let path = trace_path("main-task");
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let mut ps = Vec::new();
    rt.handle().for_each_proc(|id, _, pseudo| {
        if !pseudo {
            ps.push(u64::from(id));
        }
    });
    spool::trace::start_file(&path).unwrap();
    let me = rt.run(async {
        let me = spool::tracer::hooks::running_task().expect("main runs as a traced task");
        for _ in 0..100 {
            let a = spool::spawn(async { 1 });
            let b = spool::spawn(async { 2 });
            assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
        }
        me
    });
    spool::trace::stop().unwrap();
    drop(rt);
    go_parse(&path);
    let t = read_timeline(&path);
    let starts: Vec<u64> = t
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::GoStart { g, .. } if g == me => Some(e.ctx.p),
            _ => None,
        })
        .collect();
    // Started once, then once per await that blocked.
    assert!(!starts.is_empty());
    assert!(
        starts.iter().all(|p| ps.contains(p)),
        "main's GoStarts on {starts:?}, the runtime's Ps are {ps:?}"
    );
}
