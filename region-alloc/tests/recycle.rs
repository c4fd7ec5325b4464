//! `RegionAlloc::recycle` through the public API: recycled blocks stay mapped
//! (stats count them), the next allocations reuse the same memory, zeroed,
//! before anything new is mapped; `reset` after `recycle` unmaps everything;
//! and threads allocating concurrently into a recycled region, round after
//! round, get disjoint, intact, zeroed ranges without the region growing past
//! what one round needs.
#![cfg(not(loom))]

use std::alloc::Layout;
use std::collections::BTreeSet;
use std::sync::Barrier;
use std::thread;

use region_alloc::{BLOCK_SIZE, MAX_ALLOC, RegionAlloc, Stats};

/// Fills `blocks` whole blocks with `byte` (one `MAX_ALLOC` request each)
/// and returns their data-area addresses.
fn fill_whole_blocks(region: &RegionAlloc, blocks: usize, byte: u8) -> BTreeSet<usize> {
    (0..blocks)
        .map(|_| {
            let buf = region.alloc_slice_zeroed(MAX_ALLOC).unwrap();
            assert!(buf.iter().all(|&b| b == 0), "handed out dirty memory");
            buf.fill(byte);
            buf.as_ptr() as usize
        })
        .collect()
}

#[test]
fn recycle_keeps_blocks_mapped_and_reuses_them() {
    let mut region = RegionAlloc::new();
    let first = fill_whole_blocks(&region, 3, 0xab);
    assert_eq!(first.len(), 3);

    region.recycle();
    assert_eq!(
        region.stats(),
        Stats {
            blocks_mapped: 3,
            bytes_allocated: 0,
            bytes_reserved: 3 * BLOCK_SIZE
        }
    );

    // The same three data areas come back, zeroed, and nothing is mapped.
    let second = fill_whole_blocks(&region, 3, 0xcd);
    assert_eq!(second, first);
    assert_eq!(
        region.stats(),
        Stats {
            blocks_mapped: 3,
            bytes_allocated: 3 * MAX_ALLOC,
            bytes_reserved: 3 * BLOCK_SIZE
        }
    );

    // Only once the spares are used up is a new block mapped.
    let fourth = region.alloc_bytes(8).unwrap().as_ptr() as usize;
    assert!(!first.contains(&fourth));
    assert_eq!(region.stats().blocks_mapped, 4);
}

#[test]
fn recycle_zeroes_partly_used_and_crossed_blocks() {
    let mut region = RegionAlloc::new();
    // 1000-byte requests: each block takes 65 of them and abandons a
    // 472-byte tail (the crosser's), so both the exact-`used` path and the
    // current block's plain offset are zeroed.
    for _ in 0..150 {
        region.alloc_slice_zeroed(1000).unwrap().fill(0xff);
    }
    let mapped = region.stats().blocks_mapped;
    assert_eq!(mapped, 3);

    region.recycle();
    assert_eq!(region.stats().blocks_mapped, mapped);
    for _ in 0..mapped {
        let buf = region.alloc_slice_zeroed(MAX_ALLOC).unwrap();
        assert!(
            buf.iter().all(|&b| b == 0),
            "recycled block not zeroed at {:?}",
            buf.iter().position(|&b| b != 0)
        );
    }
    assert_eq!(region.stats().blocks_mapped, mapped, "mapped a new block");
}

#[test]
fn recycle_of_an_empty_region_maps_nothing() {
    let mut region = RegionAlloc::new();
    region.recycle();
    assert_eq!(region.stats(), Stats::default());
    region.alloc_bytes(0).unwrap();
    region.recycle();
    assert_eq!(region.stats(), Stats::default());
}

#[test]
fn unused_spares_survive_another_recycle() {
    let mut region = RegionAlloc::new();
    fill_whole_blocks(&region, 4, 1);
    region.recycle();
    // Use one of the four, recycle again: still four, all spare.
    fill_whole_blocks(&region, 1, 2);
    region.recycle();
    assert_eq!(
        region.stats(),
        Stats {
            blocks_mapped: 4,
            bytes_allocated: 0,
            bytes_reserved: 4 * BLOCK_SIZE
        }
    );
    fill_whole_blocks(&region, 4, 3);
    assert_eq!(region.stats().blocks_mapped, 4);
}

#[test]
fn reset_after_recycle_unmaps_everything() {
    let mut region = RegionAlloc::new();
    fill_whole_blocks(&region, 3, 7);
    region.recycle();
    region.reset();
    assert_eq!(region.stats(), Stats::default());

    // Spare and in-use blocks together: two spares left, one in use.
    fill_whole_blocks(&region, 3, 7);
    region.recycle();
    let p = region.alloc_bytes(8).unwrap();
    assert!(region.contains(p.as_ptr()));
    assert_eq!(region.stats().blocks_mapped, 3);
    region.reset();
    assert_eq!(region.stats(), Stats::default());

    // Still usable: maps afresh.
    region.alloc_bytes(8).unwrap();
    assert_eq!(region.stats().blocks_mapped, 1);
}

#[test]
fn contains_ignores_spare_blocks() {
    let mut region = RegionAlloc::new();
    let addr = region.alloc_bytes(64).unwrap().as_ptr() as usize;
    region.recycle();
    assert!(!region.contains(addr as *const u8));
    let again = region.alloc_bytes(64).unwrap();
    assert_eq!(again.as_ptr() as usize, addr);
    assert!(region.contains(again.as_ptr()));
}

const THREADS: usize = 4;
const PER_THREAD: usize = 5_000;
const ROUNDS: usize = 4;

/// The byte at `offset` of allocation `seq` of `thread` in `round`.
fn pattern(round: usize, thread: usize, seq: usize, offset: usize) -> u8 {
    (round * 131 + thread * 31 + seq * 7 + offset) as u8
}

/// One round's request sizes for a thread: deterministic, mixed, some
/// over-aligned, a few of a quarter block (kept below a whole block so the
/// waste bound in the test stays tight).
fn request(thread: usize, seq: usize) -> (usize, usize) {
    let x = (thread * 7919 + seq * 104_729) % 1000;
    match x {
        0..=899 => (1 + x % 200, 8),
        900..=989 => (1000 + x * 3, 16 << (x % 3)),
        _ => (MAX_ALLOC / 4 - 64 * (x % 4), 8),
    }
}

#[test]
fn threads_allocate_into_a_recycled_region_round_after_round() {
    let mut region = RegionAlloc::new();
    let barrier = Barrier::new(THREADS);
    // Blocks one round can need at most: every block but the last holds more
    // than MAX_ALLOC minus the largest reservation (waste < one request).
    let (mut total, mut max_reserve) = (0, 0);
    for thread in 0..THREADS {
        for seq in 0..PER_THREAD {
            let (len, align) = request(thread, seq);
            let reserve = len.div_ceil(8) * 8 + align - 8;
            total += reserve;
            max_reserve = max_reserve.max(reserve);
        }
    }
    let round_bound = total / (MAX_ALLOC - max_reserve) + 1;

    let mut peak = 0;
    for round in 0..ROUNDS {
        let ranges: Vec<(usize, usize, usize, usize)> = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let (region, barrier) = (&region, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let mut out = Vec::with_capacity(PER_THREAD);
                        for seq in 0..PER_THREAD {
                            let (len, align) = request(thread, seq);
                            let p = if align == 8 && seq % 2 == 0 {
                                let buf = region.alloc_slice_zeroed(len).unwrap();
                                assert!(buf.iter().all(|&b| b == 0), "round {round}: dirty");
                                buf.as_mut_ptr()
                            } else {
                                let layout = Layout::from_size_align(len, align).unwrap();
                                region.alloc(layout).unwrap().as_ptr()
                            };
                            assert_eq!(p as usize % align, 0, "misaligned");
                            for offset in 0..len {
                                // SAFETY: `p` is valid for `len` bytes and
                                // only this thread has it.
                                unsafe { p.add(offset).write(pattern(round, thread, seq, offset)) };
                            }
                            out.push((p as usize, len, thread, seq));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });

        for &(addr, len, thread, seq) in &ranges {
            // SAFETY: a live allocation of `len` bytes from `region`, written
            // by a thread that has been joined.
            let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
            for (offset, &b) in bytes.iter().enumerate() {
                assert_eq!(
                    b,
                    pattern(round, thread, seq, offset),
                    "round {round} thread {thread} seq {seq} byte {offset} clobbered"
                );
            }
        }
        let mut sorted = ranges.clone();
        sorted.sort_unstable();
        for pair in sorted.windows(2) {
            assert!(
                pair[0].0 + pair[0].1 <= pair[1].0,
                "round {round}: {:?} overlaps {:?}",
                pair[0],
                pair[1]
            );
        }

        // Reuse, not growth: the region never holds more blocks than the
        // hungriest round needed, and recycling never unmaps.
        let stats = region.stats();
        assert!(stats.blocks_mapped >= peak, "round {round}: {stats:?}");
        assert!(
            stats.blocks_mapped <= round_bound,
            "round {round}: {stats:?} > {round_bound} blocks: spares not reused"
        );
        peak = stats.blocks_mapped;
        region.recycle();
        assert_eq!(region.stats().blocks_mapped, peak);
        assert_eq!(region.stats().bytes_allocated, 0);
    }
}
