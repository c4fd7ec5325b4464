//! What tracing costs: spool's scheduler workloads with tracing off vs on,
//! the cost of one event write in isolation, and trace bytes per event.
//!
//! - `trace_<workload>/{off,on}`: the six workloads of `workloads/mod.rs` on
//!   spool (2 Ps). `on` records a trace into a file in the system temp dir
//!   for the whole measurement (the file is deleted afterwards); `off` is the
//!   same runtime with no trace. The ratio on/off is the tracing overhead.
//! - `trace_event/heap_alloc_{off,on}`: `BATCH` HeapAlloc events (one varint
//!   argument) written from inside a task; per event = time / `BATCH`.
//! - `trace_event/region_on`: `BATCH / 2` `spool::trace::region` calls (a
//!   `UserRegionBegin` and a `UserRegionEnd` each, named by one `&'static
//!   str`) from inside a task; per event = time / `BATCH`.
//! - `trace_clock/rdtsc` (x86_64): `BATCH` back-to-back `rdtsc` reads, the
//!   clock the tracer reads once per event (per task switch with
//!   `go_start_next`): the floor of an event that reads the clock when
//!   nothing else overlaps it.
//! - Bytes per event: one iteration of each workload is traced into a fresh
//!   file, read back with `spool_trace::read`, and `file bytes / events` is
//!   printed (tables and batch headers included).
//!
//! Run: `cargo bench --bench tracer`. Results: `docs/benchmarks.md`.

mod workloads;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use workloads::{Exec, Spool};

/// Events per measured iteration of the isolated-event bench.
const BATCH: u64 = 10_000;

/// A trace file path unique to this process and `name`.
fn trace_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("spool-bench-{}-{name}.trace", std::process::id()))
}

/// Starts a trace into `path` from inside `rt` (under its stop-the-world).
fn start(rt: &Spool, path: &PathBuf) {
    rt.0.block_on(async { spool::trace::start_file(path) })
        .unwrap_or_else(|e| panic!("start trace into {}: {e}", path.display()));
}

/// Stops the trace started by [`start`] and deletes its file.
fn stop(rt: &Spool, path: &PathBuf) {
    rt.0.block_on(async { spool::trace::stop() })
        .unwrap_or_else(|e| panic!("stop trace into {}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
}

/// Scheduler workloads with tracing off and on.
fn workloads_off_on(c: &mut Criterion) {
    let rt = Spool::build();
    for (name, work) in workloads::all::<Spool>() {
        let mut g = c.benchmark_group(format!("trace_{name}"));
        g.sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        work(&rt);
        g.bench_function("off", |b| b.iter(|| work(&rt)));
        let path = trace_path(name);
        start(&rt, &path);
        g.bench_function("on", |b| b.iter(|| work(&rt)));
        stop(&rt, &path);
        g.finish();
    }
}

/// `BATCH` HeapAlloc events from inside a task, timed inside the task.
fn heap_alloc_events(rt: &Spool, iters: u64) -> Duration {
    rt.0.block_on(rt.0.spawn(async move {
        let t = Instant::now();
        for i in 0..iters * BATCH {
            spool::tracer::hooks::heap_alloc(std::hint::black_box(i));
        }
        t.elapsed()
    }))
    .expect("event task panicked")
}

/// `BATCH / 2` user regions (`BATCH` events) from inside a task.
fn region_events(rt: &Spool, iters: u64) -> Duration {
    rt.0.block_on(rt.0.spawn(async move {
        let t = Instant::now();
        for _ in 0..iters * BATCH / 2 {
            spool::trace::region("handle request", || std::hint::black_box(1));
        }
        t.elapsed()
    }))
    .expect("region task panicked")
}

/// One event write in isolation, tracing off (the hook's load) and on.
fn one_event(c: &mut Criterion) {
    let rt = Spool::build();
    let mut g = c.benchmark_group("trace_event");
    g.throughput(Throughput::Elements(BATCH))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("heap_alloc_off", |b| {
        b.iter_custom(|iters| heap_alloc_events(&rt, iters))
    });
    let path = trace_path("event");
    start(&rt, &path);
    g.bench_function("heap_alloc_on", |b| {
        b.iter_custom(|iters| heap_alloc_events(&rt, iters))
    });
    g.bench_function("region_on", |b| {
        b.iter_custom(|iters| region_events(&rt, iters))
    });
    stop(&rt, &path);
    g.finish();
    clock(c);
}

/// `BATCH` back-to-back reads of the TSC.
#[cfg(target_arch = "x86_64")]
fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace_clock");
    g.throughput(Throughput::Elements(BATCH))
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("rdtsc", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for _ in 0..BATCH {
                // SAFETY: `rdtsc` has no preconditions on x86_64.
                sum = sum.wrapping_add(unsafe { std::arch::x86_64::_rdtsc() });
            }
            sum
        })
    });
    g.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn clock(_: &mut Criterion) {}

/// Traces one iteration of each workload and prints bytes per event.
fn bytes_per_event(_: &mut Criterion) {
    let rt = Spool::build();
    eprintln!("\ntrace bytes per event (one iteration, tables and headers included):");
    for (name, work) in workloads::all::<Spool>() {
        work(&rt);
        let path = trace_path(name);
        start(&rt, &path);
        work(&rt);
        rt.0.block_on(async { spool::trace::stop() })
            .unwrap_or_else(|e| panic!("stop trace into {}: {e}", path.display()));
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("read trace {}: {e}", path.display()));
        let _ = std::fs::remove_file(&path);
        let trace = spool_trace::read::read(&bytes)
            .unwrap_or_else(|e| panic!("decode trace of {name}: {e}"));
        let events = trace.event_count();
        eprintln!(
            "  {name:<18} {:>9} bytes {events:>8} events {:>5.2} bytes/event",
            bytes.len(),
            bytes.len() as f64 / events.max(1) as f64
        );
    }
}

criterion_group!(tracer, bytes_per_event, one_event, workloads_off_on);
criterion_main!(tracer);
