//! Allocation cost of `RegionAlloc` against the system allocator and bumpalo.
//!
//! - `fast_path/<size>`: the cost the issue targets (<= 3 ns, within 2x of
//!   bumpalo): allocations of 8, 64 or 512 bytes that all fit in the current
//!   block (region-alloc) or chunk (bumpalo, reset so it keeps its chunk).
//!   Block mapping happens outside the timed loop and the memory is not
//!   touched, so this is the allocator's own per-call cost.
//! - `single/<size>`: end to end, one thread. Each round starts from a fresh
//!   allocator, makes `ROUND_BYTES` worth of allocations writing the first
//!   byte of each, and drops the allocator, all timed: block mapping, page
//!   faults on fresh memory and unmapping are included, as they are for a
//!   tracer generation. `box-malloc` is `vec![0; size].into_boxed_slice()`
//!   and its drop (system malloc + free) for scale.
//! - `two_threads/<size>`: two threads allocating from one shared region at
//!   once, a fresh region per round; memory is not touched, so this shows
//!   contention on the block offset plus the amortised slow path. Time is per
//!   allocation per thread.
//!
//! Run with `cargo bench -p region-alloc`.

use std::alloc::Layout;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use region_alloc::{BLOCK_SIZE, MAX_ALLOC, RegionAlloc};

/// Bytes allocated per round (per thread in `two_threads`) before the
/// allocator is dropped: 64 blocks, enough to amortise and few enough to keep
/// memory small.
const ROUND_BYTES: usize = 64 * BLOCK_SIZE;

const SIZES: [usize; 3] = [8, 64, 512];

/// Requests of `size` bytes that fit in one fresh block after the 8 bytes
/// used to map it: every one of them takes the fast path.
fn fast_path_batch(size: usize) -> u64 {
    ((MAX_ALLOC - 8) / size) as u64
}

fn fast_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("fast_path");
    for size in SIZES {
        group.throughput(Throughput::Elements(1));
        let batch = fast_path_batch(size);

        group.bench_with_input(BenchmarkId::new("region-alloc", size), &size, |b, &size| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(batch);
                    let region = RegionAlloc::new();
                    region.alloc_bytes(8).unwrap(); // map the block, untimed
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(region.alloc_bytes(black_box(size)).unwrap());
                    }
                    total += start.elapsed();
                    debug_assert_eq!(region.stats().blocks_mapped, 1);
                    left -= n;
                }
                total
            });
        });

        group.bench_with_input(BenchmarkId::new("bumpalo", size), &size, |b, &size| {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let mut bump = bumpalo::Bump::with_capacity(BLOCK_SIZE);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(batch);
                    bump.reset(); // keeps its chunk: no allocation below
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(bump.alloc_layout(black_box(layout)));
                    }
                    total += start.elapsed();
                    left -= n;
                }
                total
            });
        });
    }
    group.finish();
}

/// Allocations of `size` bytes per round.
fn round_len(size: usize) -> u64 {
    (ROUND_BYTES / size) as u64
}

fn single(c: &mut Criterion) {
    let mut group = c.benchmark_group("single");
    for size in SIZES {
        group.throughput(Throughput::Elements(1));

        group.bench_with_input(BenchmarkId::new("region-alloc", size), &size, |b, &size| {
            b.iter_custom(|iters| {
                let mut left = iters;
                let start = Instant::now();
                while left > 0 {
                    let n = left.min(round_len(size));
                    let region = RegionAlloc::new();
                    for _ in 0..n {
                        let p = region.alloc_bytes(black_box(size)).unwrap();
                        // SAFETY: `p` is valid for `size` >= 1 bytes while
                        // `region` lives.
                        unsafe { p.as_ptr().write(1) };
                        black_box(p);
                    }
                    drop(region);
                    left -= n;
                }
                start.elapsed()
            });
        });

        group.bench_with_input(BenchmarkId::new("bumpalo", size), &size, |b, &size| {
            let layout = Layout::from_size_align(size, 8).unwrap();
            b.iter_custom(|iters| {
                let mut left = iters;
                let start = Instant::now();
                while left > 0 {
                    let n = left.min(round_len(size));
                    let bump = bumpalo::Bump::new();
                    for _ in 0..n {
                        let p = bump.alloc_layout(black_box(layout));
                        // SAFETY: `p` is valid for `size` >= 1 bytes while
                        // `bump` lives.
                        unsafe { p.as_ptr().write(1) };
                        black_box(p);
                    }
                    drop(bump);
                    left -= n;
                }
                start.elapsed()
            });
        });

        group.bench_with_input(BenchmarkId::new("box-malloc", size), &size, |b, &size| {
            b.iter(|| {
                let mut v = vec![0u8; black_box(size)].into_boxed_slice();
                v[0] = 1;
                black_box(v)
            });
        });
    }
    group.finish();
}

fn two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("two_threads");
    for size in SIZES {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("region-alloc", size), &size, |b, &size| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(round_len(size));
                    let region = RegionAlloc::new();
                    let barrier = Barrier::new(2);
                    // Each thread times its own loop; the round costs the
                    // slower of the two.
                    let elapsed = thread::scope(|s| {
                        let worker = || {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..n {
                                black_box(region.alloc_bytes(black_box(size)).unwrap());
                            }
                            start.elapsed()
                        };
                        let other = s.spawn(worker);
                        let mine = worker();
                        mine.max(other.join().unwrap())
                    });
                    total += elapsed;
                    left -= n;
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = fast_path, single, two_threads
}
criterion_main!(benches);
