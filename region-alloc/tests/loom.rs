//! Loom models of the region protocol: a bump racing the installation of a
//! new block, fresh or taken from the spare list after a recycle.
//!
//! Under `cfg(loom)` a block holds 128 data bytes, so two or three requests
//! cross a block boundary. Each model checks, over every interleaving loom
//! explores (`LOOM_MAX_PREEMPTIONS=2` in CI), that:
//!
//! - no two allocations overlap and each lies inside a mapped block;
//! - every thread sees the header of a block it bumps into: the allocator
//!   reads the header's `magic` through a loom `UnsafeCell` on each use, so a
//!   publish that does not happen-before the use fails the model;
//! - stats are exact after the threads join (the crosser protocol for
//!   `used`), and the number of blocks is what the sizes force;
//! - a recycled block, given a new header under the lock and published, is
//!   seen whole (header and zeroed data) by the thread that bumps into it.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//! cargo test --release -p region-alloc --test loom`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use region_alloc::{BLOCK_SIZE, MAX_ALLOC, RegionAlloc};

/// One allocation: start address, length, and the tag written into it.
type Range = (usize, usize, u8);

/// Allocates `size` bytes, fills them with `tag`, and records the range.
fn alloc_tagged(region: &RegionAlloc, size: usize, tag: u8) -> Range {
    let p = region.alloc_bytes(size).expect("loom model allocation");
    assert_eq!(p.as_ptr() as usize % 8, 0, "misaligned");
    // SAFETY: `p` is valid for `size` bytes and exclusive to this thread.
    unsafe { p.as_ptr().write_bytes(tag, size) };
    (p.as_ptr() as usize, size, tag)
}

/// Checks ranges after every thread joined: inside mapped blocks, tags
/// intact, pairwise disjoint.
fn check(region: &RegionAlloc, mut ranges: Vec<Range>) {
    for &(addr, len, tag) in &ranges {
        assert!(region.contains(addr as *const u8), "start outside blocks");
        assert!(
            region.contains((addr + len - 1) as *const u8),
            "end outside blocks"
        );
        // SAFETY: a live allocation of `len` bytes written by a joined thread.
        let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
        assert!(
            bytes.iter().all(|&b| b == tag),
            "allocation {tag} clobbered"
        );
    }
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        assert!(
            pair[0].0 + pair[0].1 <= pair[1].0,
            "overlap: {:?} {:?}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn block_size_is_shrunk_for_models() {
    assert_eq!(MAX_ALLOC, 128);
}

/// Two threads bump a block that has room for one more request; both make
/// two requests, so one of them crosses the end and installs a new block
/// that the other then bumps into (reading the header another thread wrote)
/// while it may still be failing on the old one.
#[test]
fn two_threads_cross_a_block_boundary() {
    loom::model(|| {
        let region = Arc::new(RegionAlloc::new());
        let first = alloc_tagged(&region, 80, 1);

        let r = region.clone();
        let t = thread::spawn(move || [alloc_tagged(&r, 40, 2), alloc_tagged(&r, 40, 3)]);
        let mut ranges = vec![
            first,
            alloc_tagged(&region, 40, 4),
            alloc_tagged(&region, 40, 5),
        ];
        ranges.extend(t.join().unwrap());

        check(&region, ranges);
        let stats = region.stats();
        // Block 1 holds 80 + 40; the crosser carves its 40 from block 2,
        // which then has room for the remaining two: exactly two blocks,
        // whoever wins each race, and the tail of block 1 is not counted.
        assert_eq!(stats.blocks_mapped, 2, "{stats:?}");
        assert_eq!(stats.bytes_allocated, 80 + 4 * 40, "{stats:?}");
        assert_eq!(stats.bytes_reserved, 2 * BLOCK_SIZE);
    });
}

/// Three threads race on an empty region with requests of more than half a
/// block: every request needs its own block, so the losers of each race to
/// install one must find the winner's block under the lock, fail to fit,
/// and install another; nobody's request is lost.
#[test]
fn three_threads_race_to_install_blocks() {
    loom::model(|| {
        let region = Arc::new(RegionAlloc::new());
        let handles: Vec<_> = (0..2u8)
            .map(|tag| {
                let r = region.clone();
                thread::spawn(move || alloc_tagged(&r, 72, tag))
            })
            .collect();
        let mut ranges = vec![alloc_tagged(&region, 72, 9)];
        for h in handles {
            ranges.push(h.join().unwrap());
        }

        check(&region, ranges);
        let stats = region.stats();
        assert_eq!(stats.blocks_mapped, 3, "{stats:?}");
        assert_eq!(stats.bytes_allocated, 3 * 72, "{stats:?}");
    });
}

/// A reset after the threads join unmaps every block and the region serves
/// the next allocation from a fresh block.
#[test]
fn reset_after_concurrent_use() {
    loom::model(|| {
        let region = Arc::new(RegionAlloc::new());
        let r = region.clone();
        let t = thread::spawn(move || alloc_tagged(&r, 96, 1));
        let mine = alloc_tagged(&region, 96, 2);
        let theirs = t.join().unwrap();
        check(&region, vec![mine, theirs]);

        let mut region = Arc::try_unwrap(region).unwrap_or_else(|_| panic!("thread joined"));
        region.reset();
        assert_eq!(region.stats().blocks_mapped, 0);
        let again = alloc_tagged(&region, 8, 3);
        check(&region, vec![again]);
        assert_eq!(region.stats().blocks_mapped, 1);
    });
}

/// Two blocks are filled and recycled; then two threads race to allocate more
/// than half a block each, so each needs a block of its own. Both must come
/// off the spare list (nothing new is mapped), with a rebuilt header and a
/// zeroed data area visible to the other thread that may bump into it.
#[test]
fn two_threads_allocate_into_a_recycled_region() {
    loom::model(|| {
        let mut region = RegionAlloc::new();
        alloc_tagged(&region, MAX_ALLOC, 1);
        alloc_tagged(&region, MAX_ALLOC, 2);
        region.recycle();
        assert_eq!(region.stats().blocks_mapped, 2);
        assert_eq!(region.stats().bytes_allocated, 0);

        let region = Arc::new(region);
        let zeroed_tagged = |region: &RegionAlloc, tag: u8| -> Range {
            let buf = region
                .alloc_slice_zeroed(72)
                .expect("loom model allocation");
            assert!(buf.iter().all(|&b| b == 0), "recycled block not zeroed");
            buf.fill(tag);
            (buf.as_ptr() as usize, buf.len(), tag)
        };
        let r = region.clone();
        let t = thread::spawn(move || zeroed_tagged(&r, 3));
        let mine = zeroed_tagged(&region, 4);
        let theirs = t.join().unwrap();

        check(&region, vec![mine, theirs]);
        let stats = region.stats();
        assert_eq!(
            stats.blocks_mapped, 2,
            "mapped instead of reusing: {stats:?}"
        );
        assert_eq!(stats.bytes_allocated, 2 * 72, "{stats:?}");

        let mut region = Arc::try_unwrap(region).unwrap_or_else(|_| panic!("thread joined"));
        region.reset();
        assert_eq!(region.stats().blocks_mapped, 0);
    });
}
