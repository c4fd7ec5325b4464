//! The problems summary, display names and profile rules on a hand-crafted
//! trace with known facts: spool's runtime pseudo-task on the runtime
//! pseudo-P, a foreign pseudo-P, `spool.long_poll` / `spool.panic` /
//! `spool.deadlock` logs, a 20 ms poll, a "chan receive" wait (in Go's sync
//! profile) and a "semacquire" wait (not in it, as in Go).
#![cfg(feature = "cli")]

mod common;

use common::{Gen, TraceBuilder, ev::*};
use spool_trace::analysis;
use spool_trace::names;
use spool_trace::problems::Problems;
use spool_trace::profile::ProfileKind;
use spool_trace_wire::ids::{FOREIGN_PROC_ID, RUNTIME_PROC_ID, RUNTIME_TASK_ID};

const LONG: u64 = 20_000_000;

fn trace() -> Vec<u8> {
    let mut g = Gen::default();
    let worker = g.stack("app::serve::{{closure}}", "/src/app/net.rs", 42);
    let site = g.stack("app::main", "/src/app/main.rs", 5);
    let waker = g.stack("app::Sender::send", "/src/app/chan.rs", 7);
    let rt = g.stack("runtime.spool", "src/emit.rs", 71);
    let chan = g.string("chan receive");
    let sem = g.string("semacquire");
    let forever = g.string("forever");
    let (lp, pn, dl) = (
        g.string("spool.long_poll"),
        g.string("spool.panic"),
        g.string("spool.deadlock"),
    );
    let (m1, m2, m3) = (
        g.string("G2 polled for 20ms"),
        g.string("waker panicked"),
        g.string("all tasks are asleep - possible deadlock!"),
    );
    let _ = rt;
    g.ev(1, 90, PROC_STATUS, &[0, 1])
        .ev(1, 100, GO_STATUS, &[1, 1, 2])
        .ev(1, 200, GO_CREATE, &[2, worker, site])
        .ev(1, 300, USER_LOG, &[0, lp, m1, 0])
        .ev(1, 310, USER_LOG, &[0, pn, m2, 0])
        .ev(1, 320, USER_LOG, &[0, dl, m3, 0])
        .ev(1, 400, GO_BLOCK, &[chan, 0])
        .ev(1, 450, GO_START, &[2, 1])
        .ev(1, LONG + 450, GO_UNBLOCK, &[1, 1, waker])
        .ev(1, LONG + 500, GO_BLOCK, &[sem, 0])
        .ev(1, LONG + 600, GO_START, &[1, 2])
        .ev(1, LONG + 700, GO_UNBLOCK, &[2, 2, 0])
        .ev(1, LONG + 800, GO_DESTROY, &[])
        .ev(1, LONG + 900, GO_START, &[2, 3])
        .ev(1, LONG + 1000, GO_DESTROY, &[])
        .ev(1, LONG + 1100, PROC_STOP, &[]);
    g.ev(3, 150, PROC_STATUS, &[RUNTIME_PROC_ID, 1])
        .ev(3, 160, GO_STATUS, &[RUNTIME_TASK_ID, 3, 2])
        .ev(3, 170, GO_BLOCK, &[forever, 0])
        .ev(3, 180, PROC_STOP, &[]);
    g.ev(4, 190, PROC_STATUS, &[FOREIGN_PROC_ID, 1])
        .ev(4, 195, PROC_STOP, &[]);
    let mut b = TraceBuilder::new(22);
    b.generation(&g);
    b.bytes()
}

#[test]
fn problems_names_and_profile_rules() {
    let m = analysis::analyze(&trace(), |_, _| {}).unwrap();
    assert!(
        m.order_error.is_none() && m.stop.is_none(),
        "{:?}",
        m.order_error
    );
    let p = Problems::new(&m, 10);
    assert_eq!(p.long_poll_logs.count, 1);
    assert_eq!(p.panics.count, 1);
    assert_eq!(p.deadlocks.count, 1);
    assert_eq!(
        p.deadlocks.items[0].text,
        "all tasks are asleep - possible deadlock!"
    );
    assert_eq!(p.long_polls.count, 1, "the 20 ms poll");
    assert_eq!(p.long_polls.items[0].dur, LONG + 50);
    assert_eq!(p.lost.count, 0);
    // Names.
    let task = |id| m.tasks.iter().position(|t| t.id == id).unwrap() as u32;
    assert_eq!(names::task_name(&m, task(RUNTIME_TASK_ID)), "runtime");
    assert_eq!(names::task_name(&m, task(2)), "G2 serve{…} app/net.rs:42");
    let procs: Vec<String> = m.procs.iter().map(names::proc_name).collect();
    assert_eq!(procs, ["P0", "runtime (no P)", "thread 4 (no P)"]);
    // Profiles: chan receive counts as sync, semacquire does not; the first
    // wait after a creation is not scheduler latency, later ones are.
    assert_eq!(m.profile_total(ProfileKind::Sync), (LONG + 50, 1));
    assert_eq!(m.profile_total(ProfileKind::Sched), (150 + 200, 2));
    assert_eq!(m.profile_total(ProfileKind::Net), (0, 0));
    // The sync sample is attributed to the blocking event's stack (none here),
    // the wake carries the waker's stack for the wake graph.
    let w = m
        .wakes
        .iter()
        .find(|w| !w.spawn && w.to == task(1))
        .unwrap();
    let f = m.stacks.frames(w.stack);
    assert_eq!(m.str(f[0].func), "app::Sender::send");
    // The summary prints them first; the page carries them.
    let s = spool_trace::summary::Summary::new(&m, 10);
    let text = spool_trace::summary::render(&m, &s);
    assert!(text.starts_with("Problems\n"), "{text}");
    for want in [
        "possible deadlocks: 1",
        "panics: 1",
        "long polls reported (spool.long_poll): 1",
        "polls longer than 10ms: 1",
        "G2 serve{…} app/net.rs:42",
    ] {
        assert!(text.contains(want), "summary lacks {want:?}:\n{text}");
    }
    let page = spool_trace::web::payload(&m, "t");
    assert!(
        page.contains("\"possible deadlocks\",\"count\":1"),
        "{page}"
    );
    assert!(page.contains("\"thread 4 (no P)\""));
}
