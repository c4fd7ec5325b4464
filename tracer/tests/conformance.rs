//! Conformance: traces written by driving the hooks from threads that act as
//! Ms, Ps and tasks must pass Go's own parser (`go tool trace -d=parsed`),
//! with exact event counts read from its dump.

mod sim;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sim::{SimTask, go_parse, serial, trace_path};
use spool_tracer::control::{self, StatusAtStart};
use spool_tracer::hooks::{self, BlockReason, ProcTraceState, StopReason};

/// Transitions of tasks with IDs in `ids`, as Go's parser reports them.
fn transitions(dump: &str, ids: &std::ops::RangeInclusive<u64>, what: &str) -> usize {
    dump.lines()
        .filter(|l| l.contains(what))
        .filter(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("GoID="))
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|id| ids.contains(&id))
        })
        .count()
}

#[test]
fn single_worker_lifecycle_parses() {
    let _g = serial();
    let path = trace_path("single");
    control::start_file(&path).unwrap();
    let p = ProcTraceState::new();
    hooks::proc_start(0, &p);
    let parent = SimTask::new("app::main");
    hooks::go_create(parent.id, &parent.trace, parent.site);
    hooks::go_start(parent.id, &parent.trace, parent.site);
    let child = SimTask::new("app::child");
    hooks::go_create(child.id, &child.trace, child.site);
    hooks::go_block(BlockReason::Join);
    hooks::go_start(child.id, &child.trace, child.site);
    hooks::go_stop(StopReason::Yield);
    hooks::go_start(child.id, &child.trace, child.site);
    hooks::go_destroy();
    hooks::go_unblock(parent.id, &parent.trace);
    hooks::go_start(parent.id, &parent.trace, parent.site);
    hooks::go_destroy();
    hooks::proc_stop();
    let summary = control::stop().unwrap();
    assert_eq!(summary.generations, 1);
    let dump = go_parse(&path);
    let ids = parent.id.min(child.id)..=parent.id.max(child.id);
    assert_eq!(
        transitions(&dump, &ids, "NotExist->Runnable"),
        2,
        "GoCreate"
    );
    assert_eq!(transitions(&dump, &ids, "Runnable->Running"), 4, "GoStart");
    assert_eq!(transitions(&dump, &ids, "Running->Waiting"), 1, "GoBlock");
    assert_eq!(
        transitions(&dump, &ids, "Waiting->Runnable"),
        1,
        "GoUnblock"
    );
    assert_eq!(transitions(&dump, &ids, "Running->Runnable"), 1, "GoStop");
    assert_eq!(
        transitions(&dump, &ids, "Running->NotExist"),
        2,
        "GoDestroy"
    );
    assert!(dump.contains("Reason=\"join\"") && dump.contains("Reason=\"yield\""));
}

#[test]
fn every_stop_and_block_reason_reaches_gos_parser_with_its_string() {
    let _g = serial();
    let path = trace_path("reasons");
    control::start_file(&path).unwrap();
    let p = ProcTraceState::new();
    hooks::proc_start(0, &p);
    let t = SimTask::new("app::reasons");
    hooks::go_create(t.id, &t.trace, t.site);
    for &r in StopReason::ALL {
        hooks::go_start(t.id, &t.trace, t.site);
        hooks::go_stop(r);
    }
    for &r in BlockReason::ALL {
        hooks::go_start(t.id, &t.trace, t.site);
        hooks::go_block(r);
        hooks::go_unblock(t.id, &t.trace);
    }
    hooks::go_start(t.id, &t.trace, t.site);
    hooks::go_destroy();
    hooks::proc_stop();
    control::stop().unwrap();
    let dump = go_parse(&path);
    let ids = t.id..=t.id;
    assert_eq!(
        transitions(&dump, &ids, "Running->Waiting"),
        BlockReason::ALL.len()
    );
    let reasons = |from_to: &str| -> Vec<String> {
        dump.lines()
            .filter(|l| l.contains(from_to) && l.contains(&format!("GoID={}", t.id)))
            .filter_map(|l| l.split("Reason=\"").nth(1))
            .filter_map(|r| r.split('"').next())
            .map(str::to_string)
            .collect()
    };
    let want: Vec<_> = BlockReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(reasons("Running->Waiting"), want);
    let want: Vec<_> = StopReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(reasons("Running->Runnable"), want);
}

/// A small scheduler simulation: `workers` threads with a P each, a shared
/// run queue, a foreign thread that wakes blocked tasks, another that spawns,
/// and generation flips (`control::flush`) while it all runs.
struct Sim {
    queue: Mutex<VecDeque<Arc<SimTask>>>,
    rounds: Mutex<std::collections::HashMap<u64, usize>>,
    done: AtomicUsize,
    total: usize,
    stop: AtomicBool,
}

fn worker(sim: Arc<Sim>, p: u32, wake: mpsc::Sender<Arc<SimTask>>, rounds: usize) {
    let ps = ProcTraceState::new();
    hooks::proc_start(p, &ps);
    while !sim.stop.load(Ordering::Acquire) {
        let next = sim.queue.lock().unwrap().pop_front();
        let Some(t) = next else {
            // Idle: release the P, nap, take it again.
            hooks::proc_stop();
            thread::sleep(Duration::from_micros(50));
            hooks::proc_start(p, &ps);
            continue;
        };
        hooks::go_start(t.id, &t.trace, t.site);
        let r = {
            let mut m = sim.rounds.lock().unwrap();
            let r = m.entry(t.id).or_insert(0);
            *r += 1;
            *r
        };
        if r > rounds {
            hooks::user_region_begin(0, "finish");
            hooks::user_log(0, "done", "task finished");
            hooks::user_region_end(0, "finish");
            hooks::go_destroy();
            if sim.done.fetch_add(1, Ordering::AcqRel) + 1 == sim.total {
                sim.stop.store(true, Ordering::Release);
            }
        } else if r % 2 == 0 {
            hooks::go_stop(StopReason::Yield);
            sim.queue.lock().unwrap().push_back(t);
        } else {
            hooks::go_block(BlockReason::Sleep);
            wake.send(t).unwrap();
        }
    }
    hooks::proc_stop();
}

fn run_sim(
    name: &str,
    workers: u32,
    tasks: usize,
    rounds: usize,
    flushes: usize,
) -> (String, u64, u64) {
    let path = trace_path(name);
    control::start_file(&path).unwrap();
    let sim = Arc::new(Sim {
        queue: Mutex::new(VecDeque::new()),
        rounds: Mutex::new(Default::default()),
        done: AtomicUsize::new(0),
        total: tasks,
        stop: AtomicBool::new(false),
    });
    let (wake_tx, wake_rx) = mpsc::channel::<Arc<SimTask>>();
    // Half the tasks are spawned from a foreign thread (no P).
    let first_id = {
        let t = SimTask::new("probe");
        t.id + 1
    };
    let foreign = {
        let sim = sim.clone();
        thread::spawn(move || {
            for _ in 0..tasks / 2 {
                let t = Arc::new(SimTask::new("app::foreign_spawned"));
                hooks::go_create(t.id, &t.trace, t.site);
                sim.queue.lock().unwrap().push_back(t);
            }
        })
    };
    // The other half by a task running on P 0 of this thread.
    let ps = ProcTraceState::new();
    hooks::proc_start(0, &ps);
    let main = SimTask::new("app::main");
    hooks::go_create(main.id, &main.trace, main.site);
    hooks::go_start(main.id, &main.trace, main.site);
    hooks::go_label("spawner");
    hooks::gc_begin();
    for _ in 0..tasks - tasks / 2 {
        let t = Arc::new(SimTask::new("app::spawned"));
        hooks::go_create(t.id, &t.trace, t.site);
        sim.queue.lock().unwrap().push_back(t);
    }
    hooks::gc_end();
    hooks::heap_alloc(12345);
    hooks::go_destroy();
    hooks::proc_stop();
    foreign.join().unwrap();
    let waker = {
        let sim = sim.clone();
        thread::spawn(move || {
            for t in wake_rx {
                hooks::go_unblock(t.id, &t.trace);
                sim.queue.lock().unwrap().push_back(t);
            }
        })
    };
    let ws: Vec<_> = (0..workers)
        .map(|p| {
            let (sim, tx) = (sim.clone(), wake_tx.clone());
            thread::spawn(move || worker(sim, p, tx, rounds))
        })
        .collect();
    drop(wake_tx);
    // Meanwhile: generation flips and a stop-the-world from a thread with no P.
    for i in 0..flushes {
        control::flush().unwrap();
        if i == 0 {
            hooks::stw_begin("test");
            hooks::procs_change(workers);
            hooks::stw_end();
        }
    }
    for w in ws {
        w.join().unwrap();
    }
    waker.join().unwrap();
    let summary = control::stop().unwrap();
    assert!(summary.generations > flushes as u64 / 2, "{summary:?}");
    let last_id = main.id.max(first_id + tasks as u64);
    (go_parse(&path), first_id, last_id)
}

#[test]
fn simulated_scheduler_with_generation_flips_parses_with_exact_counts() {
    let _g = serial();
    let (tasks, rounds) = (400, 4);
    let (dump, first, last) = run_sim("sim", 2, tasks, rounds, 5);
    let ids = first..=last;
    let n = tasks + 1; // plus the main task
    assert_eq!(
        transitions(&dump, &ids, "NotExist->Runnable"),
        n,
        "GoCreate"
    );
    assert_eq!(
        transitions(&dump, &ids, "Running->NotExist"),
        n,
        "GoDestroy"
    );
    // Each task runs rounds + 1 times; main once.
    assert_eq!(
        transitions(&dump, &ids, "Runnable->Running"),
        tasks * (rounds + 1) + 1,
        "GoStart"
    );
    // Odd rounds block (1, 3), even rounds yield (2, 4).
    assert_eq!(
        transitions(&dump, &ids, "Running->Waiting"),
        tasks * rounds / 2,
        "GoBlock"
    );
    assert_eq!(
        transitions(&dump, &ids, "Waiting->Runnable"),
        tasks * rounds / 2,
        "GoUnblock"
    );
    assert_eq!(
        transitions(&dump, &ids, "Running->Runnable"),
        tasks * rounds / 2,
        "GoStop"
    );
    // Annotations: one region and one log per finished task, on that task.
    let kind = |k: &str| {
        dump.lines()
            .filter(|l| l.split_whitespace().nth(3) == Some(k))
            .count()
    };
    assert_eq!(kind("Log"), tasks);
    assert_eq!(kind("RegionBegin"), tasks);
    assert_eq!(kind("RegionEnd"), tasks);
    assert_eq!(kind("Label"), 1);
    // The GC-like phase and the stop-the-world (on the runtime pseudo-task).
    assert!(dump.contains("Name=\"GC concurrent mark phase\""));
    assert!(dump.contains("Name=\"stop-the-world (test)\""));
    assert_eq!(kind("Metric"), 2, "HeapAlloc and ProcsChange");
}

#[test]
fn status_written_at_start_for_existing_tasks() {
    let _g = serial();
    // Tasks that exist before the trace: one waiting, one runnable.
    let waiting = SimTask::new("app::old_waiting");
    let runnable = SimTask::new("app::old_runnable");
    let path = trace_path("status");
    control::start_file(&path).unwrap();
    control::task_status(waiting.id, &waiting.trace, StatusAtStart::Waiting);
    control::task_status(runnable.id, &runnable.trace, StatusAtStart::Runnable);
    // Next generation: both are touched for the first time in it.
    control::flush().unwrap();
    let p = ProcTraceState::new();
    hooks::proc_start(3, &p);
    hooks::go_start(runnable.id, &runnable.trace, runnable.site);
    hooks::go_unblock(waiting.id, &waiting.trace);
    hooks::go_destroy();
    // A generation in which neither is touched, then both again.
    control::flush().unwrap();
    control::flush().unwrap();
    hooks::go_start(waiting.id, &waiting.trace, waiting.site);
    hooks::go_block(BlockReason::ChanReceive);
    hooks::proc_stop();
    hooks::go_unblock(waiting.id, &waiting.trace);
    let s = control::stop().unwrap();
    assert_eq!(s.generations, 4);
    let dump = go_parse(&path);
    let ids = waiting.id.min(runnable.id)..=waiting.id.max(runnable.id);
    assert_eq!(transitions(&dump, &ids, "Waiting->Runnable"), 2);
    assert_eq!(transitions(&dump, &ids, "Runnable->Running"), 2);
}

#[test]
fn events_needing_a_task_or_proc_are_dropped_and_counted() {
    let _g = serial();
    let path = trace_path("dropped");
    control::start_file(&path).unwrap();
    let before = control::lost();
    // No P, no task on this thread: none of these may be written.
    hooks::user_log(0, "k", "v");
    hooks::user_region_begin(0, "r");
    hooks::gc_begin();
    hooks::go_label("x");
    hooks::go_block(BlockReason::Sleep);
    hooks::heap_alloc(1);
    // With a P but no task: annotations are still dropped, HeapAlloc is fine.
    let p = ProcTraceState::new();
    hooks::proc_start(1, &p);
    hooks::user_task_begin(7, 0, "t");
    hooks::heap_alloc(2);
    // With a task: gc_end without gc_begin is misuse.
    let t = SimTask::new("app::t");
    hooks::go_create(t.id, &t.trace, t.site);
    hooks::go_start(t.id, &t.trace, t.site);
    hooks::gc_end();
    hooks::user_log(0, "k", "v");
    hooks::go_destroy();
    hooks::proc_stop();
    control::stop().unwrap();
    let after = control::lost();
    assert_eq!(after.no_task - before.no_task, 6);
    assert_eq!(after.no_proc - before.no_proc, 1);
    assert_eq!(after.gc_misuse - before.gc_misuse, 1);
    let dump = go_parse(&path);
    let kind = |k: &str| {
        dump.lines()
            .filter(|l| l.split_whitespace().nth(3) == Some(k))
            .count()
    };
    assert_eq!(kind("Log"), 1, "only the log from inside the task");
    assert_eq!(kind("Metric"), 1, "only the HeapAlloc with a P");
}
