//! Allocation cost of `RegionAlloc` against the system allocator and bumpalo.
//!
//! - `single/<size>`: one thread allocating 8, 64 and 512 bytes in a loop,
//!   for `region-alloc` (`alloc_bytes`), `Box<[u8]>` (system malloc + free)
//!   and `bumpalo` (the single-threaded bump allocator that is the anchor for
//!   the fast path). Each iteration touches the first byte so the allocation
//!   cannot be optimised away. Regions are reset every `RESET_EVERY`
//!   allocations so memory stays bounded; the cost of mapping blocks (one in
//!   ~8000 allocations of 8 bytes) is included, as it is in real use.
//! - `two_threads/<size>`: two threads allocating from one shared region at
//!   once; the time is per allocation per thread, so contention on the
//!   block's offset shows up directly.
//!
//! Run with `cargo bench -p region-alloc`.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use region_alloc::RegionAlloc;

/// Allocations between resets of the region/bump arena in the single-thread
/// benches: enough to cross many blocks, few enough to stay in ~64 MiB.
const RESET_EVERY: u64 = 1 << 17;

const SIZES: [usize; 3] = [8, 64, 512];

fn single(c: &mut Criterion) {
    let mut group = c.benchmark_group("single");
    for size in SIZES {
        group.throughput(Throughput::Elements(1));

        group.bench_with_input(BenchmarkId::new("region-alloc", size), &size, |b, &size| {
            let mut region = RegionAlloc::new();
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(RESET_EVERY);
                    let start = Instant::now();
                    for _ in 0..n {
                        let p = region.alloc_bytes(black_box(size)).unwrap();
                        // SAFETY: `p` is valid for `size` >= 1 bytes until reset.
                        unsafe { p.as_ptr().write(1) };
                        black_box(p);
                    }
                    total += start.elapsed();
                    region.reset();
                    left -= n;
                }
                total
            });
        });

        group.bench_with_input(BenchmarkId::new("bumpalo", size), &size, |b, &size| {
            let mut bump = bumpalo::Bump::new();
            let layout = std::alloc::Layout::from_size_align(size, 8).unwrap();
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(RESET_EVERY);
                    let start = Instant::now();
                    for _ in 0..n {
                        let p = bump.alloc_layout(black_box(layout));
                        // SAFETY: `p` is valid for `size` >= 1 bytes until reset.
                        unsafe { p.as_ptr().write(1) };
                        black_box(p);
                    }
                    total += start.elapsed();
                    bump.reset();
                    left -= n;
                }
                total
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
                // Bound memory: each thread allocates `iters` in rounds of
                // RESET_EVERY / 2, with a fresh region per round.
                let per_round = RESET_EVERY / 2;
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(per_round);
                    let region = RegionAlloc::new();
                    let barrier = Barrier::new(2);
                    let elapsed = thread::scope(|s| {
                        let worker = || {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..n {
                                let p = region.alloc_bytes(black_box(size)).unwrap();
                                // SAFETY: valid for `size` >= 1 bytes while
                                // `region` lives.
                                unsafe { p.as_ptr().write(1) };
                                black_box(p);
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
    targets = single, two_threads
}
criterion_main!(benches);
