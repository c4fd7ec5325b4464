//! Concurrency stress: 4 threads × 100k allocations of mixed sizes and
//! alignments from one region, each filled with a thread/sequence pattern
//! and verified after all threads join: every pointer aligned and inside a
//! block, no two allocations overlap, every byte intact, stats exact.
#![cfg(not(loom))]

use std::alloc::Layout;
use std::sync::Barrier;
use std::thread;

use region_alloc::{BLOCK_SIZE, MAX_ALLOC, RegionAlloc};

const THREADS: usize = 4;
const PER_THREAD: usize = 100_000;

/// One allocation as recorded by the thread that made it.
#[derive(Clone, Copy)]
struct Record {
    addr: usize,
    len: usize,
    thread: usize,
    seq: usize,
}

/// The byte at `offset` of allocation `seq` of `thread`: differs between
/// neighbouring allocations and along each one, so overlaps and shifted
/// writes both show up.
fn pattern(thread: usize, seq: usize, offset: usize) -> u8 {
    (thread as u8).wrapping_mul(67) ^ (seq as u8).wrapping_mul(13) ^ (seq >> 8) as u8 ^ offset as u8
}

/// Small xorshift so each thread's size sequence is deterministic.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A request: mostly small, sometimes medium, rarely large or over-aligned.
fn request(state: &mut u64) -> (usize, usize) {
    let r = next(state);
    let size = match r % 100 {
        0 => 2_000 + (r >> 8) as usize % 14_000,
        1..=10 => 256 + (r >> 8) as usize % 768,
        _ => 1 + (r >> 8) as usize % 128,
    };
    let align = match (r >> 32) % 16 {
        0 => 16,
        1 => 64,
        _ => 8,
    };
    (size, align)
}

#[test]
fn four_threads_mixed_sizes_no_overlap_bytes_intact() {
    let region = RegionAlloc::new();
    let barrier = Barrier::new(THREADS);
    let per_thread: Vec<Vec<(Record, usize)>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (region, barrier) = (&region, &barrier);
                s.spawn(move || {
                    let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (thread as u64 + 1);
                    let mut out = Vec::with_capacity(PER_THREAD);
                    barrier.wait();
                    for seq in 0..PER_THREAD {
                        let (len, align) = request(&mut rng);
                        let layout = Layout::from_size_align(len, align).unwrap();
                        let p = region.alloc(layout).unwrap();
                        assert_eq!(p.as_ptr() as usize % align, 0, "misaligned");
                        for offset in 0..len {
                            // SAFETY: `p` is valid for `len` bytes and only
                            // this thread has it.
                            unsafe { p.as_ptr().add(offset).write(pattern(thread, seq, offset)) };
                        }
                        let record = Record {
                            addr: p.as_ptr() as usize,
                            len,
                            thread,
                            seq,
                        };
                        out.push((record, align));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut records: Vec<Record> = Vec::with_capacity(THREADS * PER_THREAD);
    let mut rounded_total = 0;
    let mut padding_bound = 0;
    let mut max_reserve = 0;
    for &(r, align) in per_thread.iter().flatten() {
        records.push(r);
        let rounded = r.len.div_ceil(8) * 8;
        rounded_total += rounded;
        padding_bound += align - 8;
        max_reserve = max_reserve.max(rounded + align - 8);
    }
    assert_eq!(records.len(), THREADS * PER_THREAD);

    // Every byte intact and every allocation inside a mapped block.
    for r in &records {
        // SAFETY: each record is a live allocation of `len` bytes from
        // `region`, written by a thread that has been joined.
        let bytes = unsafe { std::slice::from_raw_parts(r.addr as *const u8, r.len) };
        for (offset, &b) in bytes.iter().enumerate() {
            assert_eq!(
                b,
                pattern(r.thread, r.seq, offset),
                "thread {} seq {} byte {offset} clobbered",
                r.thread,
                r.seq
            );
        }
    }
    // `contains` walks every block, so check a sample of starts and ends.
    for r in records.iter().step_by(997) {
        assert!(region.contains(r.addr as *const u8));
        assert!(region.contains((r.addr + r.len - 1) as *const u8));
    }

    // No two allocations overlap.
    records.sort_unstable_by_key(|r| r.addr);
    for pair in records.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            a.addr + a.len <= b.addr,
            "thread {} seq {} overlaps thread {} seq {}",
            a.thread,
            a.seq,
            b.thread,
            b.seq
        );
    }

    // Stats are exact now that every thread has joined: allocated bytes are
    // the rounded sizes plus at most the alignment padding, and every full
    // block wasted less than one request.
    let stats = region.stats();
    assert_eq!(stats.bytes_reserved, stats.blocks_mapped * BLOCK_SIZE);
    assert!(
        stats.bytes_allocated >= rounded_total,
        "{stats:?} < {rounded_total}"
    );
    assert!(
        stats.bytes_allocated <= rounded_total + padding_bound,
        "{stats:?}"
    );
    let full_blocks = stats.blocks_mapped - 1;
    assert!(
        stats.bytes_allocated > full_blocks * (MAX_ALLOC - max_reserve),
        "more than one request wasted per block: {stats:?}, max request {max_reserve}"
    );
}

#[test]
fn threads_racing_on_an_empty_region_all_progress() {
    // Every thread's first request hits the slow path at once; each request
    // takes more than half a block, so every one needs its own block.
    for _ in 0..50 {
        let region = RegionAlloc::new();
        let barrier = Barrier::new(THREADS);
        thread::scope(|s| {
            for thread in 0..THREADS {
                let (region, barrier) = (&region, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let buf = region.alloc_slice_zeroed(MAX_ALLOC / 2 + 8).unwrap();
                    assert!(buf.iter().all(|&b| b == 0));
                    buf.fill(thread as u8);
                });
            }
        });
        let stats = region.stats();
        assert_eq!(stats.blocks_mapped, THREADS);
        assert_eq!(stats.bytes_allocated, THREADS * (MAX_ALLOC / 2 + 8));
    }
}
