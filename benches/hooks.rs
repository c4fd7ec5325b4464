//! Cost of the executor → tracer hooks while tracing is off.
//!
//! The contract (DESIGN.md, issue 4): with tracing off each hook costs one
//! relaxed atomic load. This bench checks it against a baseline loop that does
//! the same work without the hook calls, so the difference is the hooks' cost.
//! Each measured iteration runs `BATCH` rounds so the per-call cost is large
//! enough to measure; criterion reports the time for the whole batch.

use std::hint::black_box;
use std::panic::Location;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spool::tracer::hooks::{self, BlockReason, GoTraceState, SpawnSite, StopReason};

/// Rounds per measured iteration.
const BATCH: u64 = 1_000;

/// The hooks one task's simplest life calls: create, start, stop (yield),
/// start, block, unblock, start, destroy.
const HOOKS_PER_ROUND: u64 = 8;

fn hook_cost(c: &mut Criterion) {
    assert!(
        !hooks::enabled(),
        "tracing must be off for the hook-overhead bench"
    );
    let state = GoTraceState::new();
    let site = SpawnSite {
        location: Location::caller(),
        type_name: "bench",
    };

    let mut g = c.benchmark_group("hooks_off");
    g.throughput(Throughput::Elements(BATCH * HOOKS_PER_ROUND));

    // Baseline: the same loop with the same data dependencies, no hooks.
    g.bench_function("baseline", |b| {
        b.iter(|| {
            for id in 0..BATCH {
                black_box((id, &state, site));
            }
        })
    });

    // One task's life worth of hooks per round.
    g.bench_function("task_life_8_hooks", |b| {
        b.iter(|| {
            for id in 0..BATCH {
                let id = black_box(id);
                hooks::go_create(id, &state, site);
                hooks::go_start(id, &state, site);
                hooks::go_stop(StopReason::Yield);
                hooks::go_start(id, &state, site);
                hooks::go_block(BlockReason::Pending);
                hooks::go_unblock(id, &state);
                hooks::go_start(id, &state, site);
                hooks::go_destroy();
                black_box((id, &state, site));
            }
        })
    });

    g.finish();
}

criterion_group!(benches, hook_cost);
criterion_main!(benches);
