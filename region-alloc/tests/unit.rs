//! Single-threaded behaviour of `RegionAlloc` through its public API: sizes,
//! limits, alignment, block turnover, reset and statistics.
#![cfg(not(loom))]

use std::alloc::Layout;

use region_alloc::{AllocError, BLOCK_SIZE, MAX_ALIGN, MAX_ALLOC, RegionAlloc, Stats};

/// Header bytes per block (the difference the constants must keep).
const HEADER: usize = BLOCK_SIZE - MAX_ALLOC;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("valid test layout")
}

/// Asserts that no two `(addr, len)` ranges overlap.
fn assert_disjoint(mut ranges: Vec<(usize, usize)>) {
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        let ((a, alen), (b, _)) = (pair[0], pair[1]);
        assert!(a + alen <= b, "range {a:#x}+{alen} overlaps {b:#x}");
    }
}

#[test]
fn constants_are_consistent() {
    assert_eq!(BLOCK_SIZE, 65536);
    assert_eq!(HEADER, 64);
    assert_eq!(MAX_ALLOC, 65472);
    assert_eq!(MAX_ALIGN, 64);
}

#[test]
fn new_maps_nothing() {
    let region = RegionAlloc::new();
    assert_eq!(region.stats(), Stats::default());
}

#[test]
fn size_zero_takes_nothing_and_is_aligned() {
    let region = RegionAlloc::new();
    let p = region.alloc_bytes(0).unwrap();
    assert_eq!(p.as_ptr() as usize % 8, 0);
    for align in [1, 2, 8, 16, 64] {
        let p = region.alloc(layout(0, align)).unwrap();
        assert_eq!(p.as_ptr() as usize % align, 0, "align {align}");
    }
    assert_eq!(region.alloc_copy(&[]).unwrap(), &[] as &[u8]);
    assert!(region.alloc_slice_zeroed(0).unwrap().is_empty());
    assert_eq!(
        region.stats(),
        Stats::default(),
        "size 0 must not map a block"
    );

    // After a block exists, size 0 still takes no bytes.
    region.alloc_bytes(8).unwrap();
    region.alloc_bytes(0).unwrap();
    assert_eq!(region.stats().bytes_allocated, 8);
}

#[test]
fn small_sizes_round_to_eight_and_do_not_overlap() {
    let region = RegionAlloc::new();
    let mut ranges = Vec::new();
    for (i, size) in [1usize, 7, 8, 1, 7, 8].into_iter().enumerate() {
        let p = region.alloc_bytes(size).unwrap();
        assert_eq!(p.as_ptr() as usize % 8, 0, "size {size}");
        assert!(region.contains(p.as_ptr()));
        // SAFETY: `p` is valid for `size` bytes while `region` lives.
        unsafe { p.as_ptr().write_bytes(i as u8, size) };
        ranges.push((p.as_ptr() as usize, size));
    }
    // Every byte written is still intact.
    for (i, &(addr, size)) in ranges.iter().enumerate() {
        // SAFETY: written above, still allocated.
        let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, size) };
        assert!(
            bytes.iter().all(|&b| b == i as u8),
            "allocation {i} clobbered"
        );
    }
    assert_disjoint(ranges);
    assert_eq!(region.stats().bytes_allocated, 6 * 8);
}

#[test]
fn exactly_max_alloc_fits_in_one_block() {
    let region = RegionAlloc::new();
    let buf = region.alloc_slice_zeroed(MAX_ALLOC).unwrap();
    assert_eq!(buf.len(), MAX_ALLOC);
    assert!(buf.iter().all(|&b| b == 0));
    buf.fill(0xab);
    assert_eq!(
        region.stats(),
        Stats {
            blocks_mapped: 1,
            bytes_allocated: MAX_ALLOC,
            bytes_reserved: BLOCK_SIZE
        }
    );
    // With a small allocation in the way, a MAX_ALLOC request needs a fresh
    // block, even with the largest alignment.
    region.alloc_bytes(8).unwrap();
    let p = region.alloc(layout(MAX_ALLOC, MAX_ALIGN)).unwrap();
    assert_eq!(p.as_ptr() as usize % MAX_ALIGN, 0);
    assert_eq!(region.stats().blocks_mapped, 3);
    assert!(buf.iter().all(|&b| b == 0xab));
}

#[test]
fn max_alloc_plus_one_is_too_large() {
    let region = RegionAlloc::new();
    for size in [MAX_ALLOC + 1, BLOCK_SIZE, isize::MAX as usize] {
        let want = Err(AllocError::TooLarge {
            requested: size,
            max: MAX_ALLOC,
        });
        assert_eq!(region.alloc_bytes(size), want);
        assert_eq!(region.alloc(layout(size, 1)), want);
    }
    assert_eq!(
        region.alloc_bytes(usize::MAX),
        Err(AllocError::TooLarge {
            requested: usize::MAX,
            max: MAX_ALLOC
        })
    );
    assert_eq!(
        region.alloc(layout(MAX_ALLOC + 1, 16)),
        Err(AllocError::TooLarge {
            requested: MAX_ALLOC + 1,
            max: MAX_ALLOC
        })
    );
    let huge = vec![0u8; MAX_ALLOC + 1];
    assert!(matches!(
        region.alloc_copy(&huge),
        Err(AllocError::TooLarge { .. })
    ));
    assert!(matches!(
        region.alloc_slice_zeroed(MAX_ALLOC + 1),
        Err(AllocError::TooLarge { .. })
    ));
    assert_eq!(
        region.stats(),
        Stats::default(),
        "refused requests map nothing"
    );

    let msg = AllocError::TooLarge {
        requested: MAX_ALLOC + 1,
        max: MAX_ALLOC,
    }
    .to_string();
    assert!(msg.contains("65473") && msg.contains("65472"), "{msg}");
}

#[test]
fn alignment_above_max_align_is_refused() {
    let region = RegionAlloc::new();
    for align in [128, 4096] {
        assert_eq!(
            region.alloc(layout(8, align)),
            Err(AllocError::AlignTooLarge {
                requested: align,
                max: MAX_ALIGN
            })
        );
    }
    let msg = AllocError::AlignTooLarge {
        requested: 128,
        max: 64,
    }
    .to_string();
    assert!(msg.contains("128") && msg.contains("64"), "{msg}");
    let err: Box<dyn std::error::Error> = Box::new(AllocError::OutOfMemory);
    assert!(err.to_string().contains("out of memory"));
}

#[test]
fn every_pointer_is_aligned_in_bounds_and_disjoint() {
    let region = RegionAlloc::new();
    let mut ranges = Vec::new();
    let mut i = 0usize;
    for round in 0..40 {
        for align in [1, 2, 4, 8, 16, 32, 64] {
            for size in [1, 3, 8, 13, 64, 100, 777] {
                let size = size + round;
                let p = region.alloc(layout(size, align)).unwrap();
                let addr = p.as_ptr() as usize;
                assert_eq!(addr % align.max(8), 0, "size {size} align {align}");
                assert!(region.contains(p.as_ptr()), "start out of bounds");
                // SAFETY: `size - 1` stays inside the allocation of `size` bytes.
                let last = unsafe { p.as_ptr().add(size - 1) };
                assert!(region.contains(last), "end out of bounds");
                // SAFETY: `p` is valid for `size` bytes while `region` lives.
                unsafe { p.as_ptr().write_bytes(i as u8, size) };
                ranges.push((addr, size, i as u8));
                i += 1;
            }
        }
    }
    assert!(region.stats().blocks_mapped > 1, "test must cross blocks");
    for &(addr, size, tag) in &ranges {
        // SAFETY: written above, still allocated.
        let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, size) };
        assert!(
            bytes.iter().all(|&b| b == tag),
            "allocation at {addr:#x} clobbered"
        );
    }
    assert_disjoint(ranges.into_iter().map(|(a, s, _)| (a, s)).collect());
}

#[test]
fn many_blocks_are_counted_exactly() {
    let region = RegionAlloc::new();
    // 65 allocations of 1000 bytes fit in one data area (65,000 <= 65,472),
    // the 66th does not, so 1000 allocations take ceil(1000 / 65) = 16 blocks.
    let mut ptrs = Vec::new();
    for i in 0..1000u32 {
        let bytes = region.alloc_slice_zeroed(1000).unwrap();
        bytes[..4].copy_from_slice(&i.to_le_bytes());
        ptrs.push(bytes);
    }
    assert_eq!(
        region.stats(),
        Stats {
            blocks_mapped: 16,
            bytes_allocated: 1_000_000,
            bytes_reserved: 16 * BLOCK_SIZE
        }
    );
    for (i, bytes) in ptrs.iter().enumerate() {
        assert_eq!(bytes[..4], (i as u32).to_le_bytes());
        assert!(bytes[4..].iter().all(|&b| b == 0));
    }
}

#[test]
fn stats_skip_the_tail_and_count_padding() {
    let region = RegionAlloc::new();
    region.alloc_bytes(60_000).unwrap();
    // Does not fit in the 5,472 bytes left: a new block; the tail is unused.
    region.alloc_bytes(10_000).unwrap();
    assert_eq!(
        region.stats(),
        Stats {
            blocks_mapped: 2,
            bytes_allocated: 70_000,
            bytes_reserved: 2 * BLOCK_SIZE
        }
    );
    // An over-aligned request reserves `align - 8` bytes of padding; after
    // 10,000 bytes (offset 10,000 = 156 * 64 + 16) the 64-aligned start is
    // 10,048, so it takes 8 + 56 bytes from the block.
    let p = region.alloc(layout(8, 64)).unwrap();
    assert_eq!(p.as_ptr() as usize % 64, 0);
    assert_eq!(region.stats().bytes_allocated, 70_000 + 64);
    assert!(format!("{region:?}").contains("blocks_mapped: 2"));
}

#[test]
fn reset_unmaps_and_region_is_reusable() {
    let mut region = RegionAlloc::new();
    for _ in 0..3 {
        for i in 0..200u32 {
            let s = region.alloc_copy(&i.to_le_bytes().repeat(100)).unwrap();
            assert_eq!(&s[..4], i.to_le_bytes());
        }
        assert_eq!(region.stats().blocks_mapped, 2);
        region.reset();
        assert_eq!(region.stats(), Stats::default());
        // Memory handed out after a reset is fresh: zeroed, not the old bytes.
        let z = region.alloc_slice_zeroed(MAX_ALLOC).unwrap();
        assert!(z.iter().all(|&b| b == 0));
        region.reset();
    }
    region.reset(); // resetting an empty region is fine
    assert_eq!(region.alloc_copy(b"again").unwrap(), b"again");
}

#[test]
fn region_is_send_sync_and_static_friendly() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RegionAlloc>();
    static REGION: RegionAlloc = RegionAlloc::new();
    let s = REGION.alloc_copy(b"static").unwrap();
    assert_eq!(s, b"static");
    let moved = std::thread::spawn(|| {
        let region = RegionAlloc::default();
        region.alloc_bytes(8).unwrap();
        region
    })
    .join()
    .unwrap();
    assert_eq!(moved.stats().blocks_mapped, 1);
}
