//! A failed mapping is an `AllocError::OutOfMemory`, never an abort or a
//! panic, and leaves the region usable.
//!
//! Linux only: the test caps this process's address space (`RLIMIT_AS`) just
//! above its current size, so `mmap` fails after a few blocks. It lives in
//! its own test binary (one test, so no other test allocates while the cap
//! is in force) and restores the limit before asserting anything.
#![cfg(all(target_os = "linux", not(loom)))]

use region_alloc::{AllocError, BLOCK_SIZE, MAX_ALLOC, RegionAlloc};

/// Blocks' worth of address space allowed above the current size.
const HEADROOM_BLOCKS: usize = 32;

/// This process's current address-space size in bytes (`/proc/self/statm`
/// field 1, in pages).
fn address_space_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("unexpected /proc/self/statm contents: {statm:?}"));
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * usize::try_from(page).expect("page size is positive")
}

#[test]
fn failed_mapping_returns_out_of_memory_and_region_stays_usable() {
    let region = RegionAlloc::new();
    let mut saved = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `saved` is a valid rlimit to write into.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut saved) }, 0);

    let cap = (address_space_bytes() + HEADROOM_BLOCKS * BLOCK_SIZE) as libc::rlim_t;
    let capped = libc::rlimit {
        rlim_cur: cap.min(saved.rlim_max),
        rlim_max: saved.rlim_max,
    };
    // SAFETY: lowering the soft limit of our own process; `capped` is valid.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &capped) }, 0);

    // Nothing in this loop allocates from the heap, so only the region's
    // mappings can hit the cap.
    let mut mapped = 0;
    let mut outcome = None;
    for _ in 0..100 * HEADROOM_BLOCKS {
        match region.alloc_bytes(MAX_ALLOC) {
            Ok(_) => mapped += 1,
            Err(err) => {
                outcome = Some(err);
                break;
            }
        }
    }

    // SAFETY: restores the limits read above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &saved) }, 0);

    assert_eq!(
        outcome,
        Some(AllocError::OutOfMemory),
        "after {mapped} blocks"
    );
    assert!(mapped <= HEADROOM_BLOCKS, "cap allowed {mapped} blocks");
    assert_eq!(
        region.stats().blocks_mapped,
        mapped,
        "a failed mapping must not count"
    );
    // With the limit lifted the same region maps again.
    let s = region.alloc_copy(b"after oom").unwrap();
    assert_eq!(s, b"after oom");
    assert_eq!(region.stats().blocks_mapped, mapped + 1);
}
