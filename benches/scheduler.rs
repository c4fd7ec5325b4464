//! Comparative scheduler benchmarks: spool vs tokio vs async-executor.
//!
//! Six workloads (`workloads/mod.rs`), the same logic for each executor,
//! two workers each. Each runtime is built once per benchmark group, not per
//! iteration, and dropped at the end of the group. Groups are named after
//! the workload and hold the three executors side by side, so criterion
//! prints comparable medians (`target/criterion/<workload>/<executor>/new/estimates.json`).
//!
//! Run: `cargo bench --bench scheduler` (about 2–3 minutes on 2 cores).
//! Results and how to read them: `docs/benchmarks.md`.

mod workloads;

use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use workloads::{AsyncExecutor, Exec, Spool, Tokio, Work};

/// Runs `work` for executor `E` inside `group`, building `E` once.
fn run<E: Exec>(group: &mut BenchmarkGroup<'_, WallTime>, work: Work<E>) {
    let e = E::build();
    // Warm the runtime (threads started, caches and allocator primed).
    work(&e);
    group.bench_function(E::NAME, |b| b.iter(|| work(&e)));
    drop(e);
}

fn benches(c: &mut Criterion) {
    let spool = workloads::all::<Spool>();
    let tokio = workloads::all::<Tokio>();
    let async_executor = workloads::all::<AsyncExecutor>();
    for i in 0..spool.len() {
        let mut g = c.benchmark_group(spool[i].0);
        g.sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        run::<Spool>(&mut g, spool[i].1);
        run::<Tokio>(&mut g, tokio[i].1);
        run::<AsyncExecutor>(&mut g, async_executor[i].1);
        g.finish();
    }
}

criterion_group!(scheduler, benches);
criterion_main!(scheduler);
