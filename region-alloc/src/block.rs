//! One block of a region: a 64-byte header followed by the data area, mapped
//! anonymously from the OS and bumped by offset.
//!
//! # Layout
//!
//! ```text
//! base (page-aligned from mmap, 64-aligned from the heap)
//! ├─ Header (64 bytes, one cache line)  off · used · next · magic
//! └─ data area: MAX_ALLOC bytes, starts 64-aligned at base + HEADER_SIZE
//! ```
//!
//! # Fields of the header (who may touch what)
//!
//! - `off`: offset of the next free byte of the data area. Any thread that
//!   loaded the block from the region's `current` pointer may `fetch_add` it
//!   (Relaxed: it only arbitrates disjoint ranges; the total modification
//!   order of one atomic gives every successful adder its own range). It only
//!   grows, and may run past the end of the data area: a failed add marks the
//!   block full for everyone after it.
//! - `used`: written once, by the unique thread whose add crossed the end of
//!   the data area ("the crosser"); it records the exact high-water mark so
//!   [`Stats`](crate::Stats) need not count the abandoned tail.
//! - `next`: the intrusive link of the region's full list or spare list (a
//!   block is on at most one). Only touched with the region's lock held (or
//!   through `&mut RegionAlloc`).
//! - `magic`: written when the header is built (mapped, or rebuilt when a
//!   spare block is reused), before the block is published, and never again
//!   while it is published. Debug and loom builds read it on every use, so
//!   the loom model proves the header is visible to every thread that bumps
//!   into the block.
//!
//! A block taken off the spare list gets a whole new header
//! ([`Block::reinit`]) under the region's lock, then is published exactly
//! like a freshly mapped one.
//!
//! # Invariants
//!
//! 1. Every byte of the data area is zero when the block becomes the
//!    region's current block (fresh from the OS, or a spare block:
//!    `RegionAlloc::recycle` zeroes the bytes that were handed out, see
//!    [`Block::zero_used`]), and is handed out at most once until the next
//!    reset or recycle (offsets only grow). `alloc_slice_zeroed` relies on
//!    this instead of writing zeros again.
//! 2. A block is unmapped, zeroed or given a new header only through
//!    `&mut RegionAlloc` (`reset`, `recycle`, `Drop`) or, for a spare block,
//!    which no pointer handed out since the last recycle points into, under
//!    the region's lock. So no thread can hold a pointer into it, or be
//!    inside `bump`, then.
//!
//! # Why libc's mmap and not memmap2
//!
//! memmap2's `MmapMut` is an owning handle (pointer and length) meant to live
//! outside the mapping, with no way to rebuild it from a raw pointer. A region
//! wants the opposite: the header lives *inside* the mapping, one pointer per
//! block, linked intrusively as in Go's `traceRegionAlloc`. With memmap2 we
//! would need a side vector of handles (a heap allocation on the slow path)
//! or `mem::forget` and manual unmapping anyway. Two libc calls (`mmap`,
//! `munmap`) do exactly what we need, libc is already a workspace dependency,
//! and a failed `mmap` is an ordinary `MAP_FAILED` we turn into
//! [`AllocError::OutOfMemory`](crate::AllocError::OutOfMemory).
//! Under `cfg(loom)` (loom needs its atomics built inside the model and cannot
//! see mmap) and on non-unix targets, blocks come from the global allocator,
//! zeroed, with the same layout.

use core::ptr::{self, NonNull};

use crate::loom::{AtomicPtr, AtomicUsize, Ordering, UnsafeCell};

/// Size of one block in bytes, header included: 64 KiB, as in Go's trace
/// regions (`traceRegionAllocBlockData = 64<<10 - header`).
///
/// Under `cfg(loom)` a block is shrunk to the header plus 128 data bytes so
/// that models cross a block boundary in two or three allocations.
#[cfg(not(loom))]
pub const BLOCK_SIZE: usize = 64 << 10;
/// Size of one block in bytes, header included (shrunk under `cfg(loom)`: the
/// header plus 128 data bytes, so models cross a block boundary quickly).
#[cfg(loom)]
pub const BLOCK_SIZE: usize = HEADER_SIZE + 128;

/// Size of the block header that precedes each data area (one cache line).
pub(crate) const HEADER_SIZE: usize = size_of::<Header>();

/// The largest single request in bytes: the whole data area of one block,
/// `BLOCK_SIZE - 64` = 65,472 bytes.
pub const MAX_ALLOC: usize = BLOCK_SIZE - HEADER_SIZE;

/// The largest alignment [`RegionAlloc::alloc`](crate::RegionAlloc::alloc)
/// honours: 64 bytes, one cache line.
///
/// Every data area starts 64-aligned, so a request with any alignment up to
/// `MAX_ALIGN` fits at the start of a fresh block, even one of `MAX_ALLOC`
/// bytes. Larger alignments are refused with
/// [`AllocError::AlignTooLarge`](crate::AllocError::AlignTooLarge).
pub const MAX_ALIGN: usize = 64;

/// Every pointer handed out is at least this aligned (Go's regions promise 8
/// bytes "regardless of platform"; so do we).
pub(crate) const MIN_ALIGN: usize = 8;

/// Written into every header before publication; checked on use in debug and
/// loom builds. ASCII "spoolreg".
const MAGIC: u64 = u64::from_le_bytes(*b"spoolreg");

/// Alignment of a block's base address (and of its data area).
const BLOCK_ALIGN: usize = align_of::<Header>();

// Layout facts the fast path relies on, checked at compile time.
const _: () = assert!(
    BLOCK_ALIGN == MAX_ALIGN,
    "data areas must start MAX_ALIGN-aligned"
);
const _: () = assert!(
    HEADER_SIZE % MAX_ALIGN == 0,
    "header must keep data MAX_ALIGN-aligned"
);
const _: () = assert!(
    MAX_ALLOC % MIN_ALIGN == 0,
    "rounded requests must fit exactly"
);
#[cfg(not(loom))]
const _: () = assert!(HEADER_SIZE == 64, "header is one cache line");

/// The header at the start of every block. See the module docs for who may
/// touch each field.
#[repr(C, align(64))]
pub(crate) struct Header {
    /// Offset of the next free byte in the data area; only grows.
    off: AtomicUsize,
    /// Exact bytes used, recorded by the thread whose add crossed the end.
    used: AtomicUsize,
    /// Next block in the region's full list (lock holder only).
    next: AtomicPtr<Header>,
    /// [`MAGIC`], written before the block is published.
    magic: UnsafeCell<u64>,
}

/// A mapped block, named by its base address (which is also its header).
///
/// `Block` is a plain copyable handle: it does not own the mapping. The
/// region owns every block it has mapped (current, full or spare) and unmaps
/// them in `reset`/`Drop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Block(NonNull<Header>);

impl Block {
    /// Maps a fresh block whose first `initial` data bytes are already taken
    /// (the request that caused the mapping), or `None` if the OS refused.
    ///
    /// The header is fully written before this returns, so publishing the
    /// handle with a Release store makes it visible to Acquire loaders.
    pub(crate) fn map(initial: usize) -> Option<Block> {
        debug_assert!(
            initial <= MAX_ALLOC,
            "initial {initial} > MAX_ALLOC {MAX_ALLOC}"
        );
        let base = os::map(BLOCK_SIZE)?.cast::<Header>();
        let header = Header {
            off: AtomicUsize::new(initial),
            used: AtomicUsize::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
            magic: UnsafeCell::new(MAGIC),
        };
        // SAFETY: `base` is a fresh, writable, BLOCK_ALIGN-aligned mapping of
        // BLOCK_SIZE >= HEADER_SIZE bytes that nothing else references yet.
        unsafe { base.as_ptr().write(header) };
        Some(Block(base))
    }

    /// Gives a mapped block a fresh header whose first `initial` data bytes
    /// are taken, as [`Block::map`] does, so a spare block can be published
    /// like a new one.
    ///
    /// # Safety
    ///
    /// - The block is mapped, and its data area is all zero (invariant 1:
    ///   `zero_used` ran since it was last bumped).
    /// - Nothing else references the block: it is on no list and not
    ///   `current`, and no pointer into it handed out before the last
    ///   recycle is used any more (the region guarantees it: the block was
    ///   unlinked from the spare list under the lock, and recycle took
    ///   `&mut self`).
    pub(crate) unsafe fn reinit(self, initial: usize) {
        debug_assert!(
            initial <= MAX_ALLOC,
            "initial {initial} > MAX_ALLOC {MAX_ALLOC}"
        );
        // SAFETY: the old header was initialised by `map` or an earlier
        // `reinit`, and by the caller's contract nothing references it.
        unsafe { ptr::drop_in_place(self.0.as_ptr()) };
        let header = Header {
            off: AtomicUsize::new(initial),
            used: AtomicUsize::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
            magic: UnsafeCell::new(MAGIC),
        };
        // SAFETY: the header slot is mapped, aligned, and its old value was
        // dropped just above; nothing else references it.
        unsafe { self.0.as_ptr().write(header) };
    }

    /// Zeroes the bytes of the data area handed out since the header was
    /// built (`used()`), restoring invariant 1 so the block can be reused.
    /// Bytes past the high-water mark were never handed out and are still
    /// zero. Costs one `memset` of the used bytes, instead of the page
    /// faults and kernel page clearing a fresh mapping would cost.
    ///
    /// # Safety
    ///
    /// The block is mapped and no pointer into its data area is used during
    /// or after this call (the caller holds `&mut RegionAlloc`), so every
    /// `bump` on it has returned and `used()` is exact.
    pub(crate) unsafe fn zero_used(self) {
        // SAFETY: the caller keeps the block mapped.
        let used = unsafe { self.used() };
        debug_assert!(used <= MAX_ALLOC, "used {used} > MAX_ALLOC {MAX_ALLOC}");
        // SAFETY: `[data, data + used)` lies inside this block's data area
        // (used <= MAX_ALLOC), and by the caller's contract nothing else
        // reads or writes it now.
        unsafe { self.data().as_ptr().write_bytes(0, used) };
    }

    /// Rebuilds a handle from a non-null pointer loaded from `current` or a
    /// `next` link.
    #[inline(always)]
    pub(crate) fn from_ptr(ptr: *mut Header) -> Option<Block> {
        NonNull::new(ptr).map(Block)
    }

    /// The raw header pointer, for storing in `current` or a `next` link.
    #[inline(always)]
    pub(crate) fn as_ptr(self) -> *mut Header {
        self.0.as_ptr()
    }

    /// Unmaps the block.
    ///
    /// # Safety
    ///
    /// - The block was returned by [`Block::map`] and is not unmapped yet.
    /// - No pointer into the block, and no reference to its header, is used
    ///   after this call (the region guarantees it with `&mut self`).
    pub(crate) unsafe fn unmap(self) {
        // SAFETY: the header was initialised by `map` and, by the caller's
        // contract, nothing references it any more.
        unsafe { ptr::drop_in_place(self.0.as_ptr()) };
        // SAFETY: `map` obtained exactly BLOCK_SIZE bytes at this address from
        // `os::map`, and the caller guarantees it is unmapped only once.
        unsafe { os::unmap(self.0.cast::<u8>(), BLOCK_SIZE) };
    }

    /// The block's header.
    ///
    /// # Safety
    ///
    /// The block must stay mapped for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn header<'a>(self) -> &'a Header {
        // SAFETY: the header was initialised by `map` before the handle
        // escaped, and the caller keeps the block mapped for 'a.
        let header = unsafe { self.0.as_ref() };
        header.check_magic();
        header
    }

    /// The first byte of the data area.
    #[inline(always)]
    pub(crate) fn data(self) -> NonNull<u8> {
        // SAFETY: a block spans BLOCK_SIZE > HEADER_SIZE bytes, so base +
        // HEADER_SIZE stays inside the same mapping and is non-null.
        unsafe { self.0.cast::<u8>().add(HEADER_SIZE) }
    }

    /// Whether `ptr` points into this block's data area.
    pub(crate) fn contains(self, ptr: *const u8) -> bool {
        let start = self.data().as_ptr() as usize;
        let addr = ptr as usize;
        addr >= start && addr - start < MAX_ALLOC
    }

    /// Tries to carve `size` bytes (a multiple of [`MIN_ALIGN`], at most
    /// [`MAX_ALLOC`]) aligned to `align` (a power of two,
    /// `MIN_ALIGN..=MAX_ALIGN`) with one `fetch_add` on the block's offset.
    ///
    /// For `align > MIN_ALIGN` it reserves `size + align - MIN_ALIGN` bytes
    /// and aligns inside the reservation, so the single `fetch_add` stays the
    /// only shared write. Returns `None` when the block cannot hold the
    /// request; the block is then full for every later request of this size
    /// or more (offsets only grow).
    ///
    /// # Safety
    ///
    /// - The block must stay mapped for as long as the returned pointer is
    ///   used.
    /// - `size` and `align` must meet the bounds above (debug-asserted): the
    ///   end check `old > MAX_ALLOC - reserve` relies on `reserve <= MAX_ALLOC`.
    #[inline(always)]
    pub(crate) unsafe fn bump(self, size: usize, align: usize) -> Option<NonNull<u8>> {
        debug_assert!(
            size % MIN_ALIGN == 0 && size <= MAX_ALLOC,
            "bad size {size}"
        );
        debug_assert!(
            align.is_power_of_two() && (MIN_ALIGN..=MAX_ALIGN).contains(&align),
            "bad align {align}"
        );
        // `align` is a constant at every fast-path call site, so for
        // MIN_ALIGN the padding, this check and the align-up below fold away.
        let reserve = size + (align - MIN_ALIGN);
        if align > MIN_ALIGN && reserve > MAX_ALLOC {
            // Only a fresh block can hold this; let the slow path map one.
            return None;
        }
        // SAFETY: the caller keeps the block mapped.
        let header = unsafe { self.header() };
        // Claim [old, old + reserve): the only shared write of an allocation.
        let old = header.off.fetch_add(reserve, Ordering::Relaxed);
        if old > MAX_ALLOC - reserve {
            header.note_full(old);
            return None;
        }
        // Offsets are relative to a MAX_ALIGN-aligned data area, so aligning
        // the offset aligns the address. Offsets are multiples of MIN_ALIGN,
        // so the padding is at most `align - MIN_ALIGN`, inside the reserve.
        let start = if align > MIN_ALIGN {
            (old + align - 1) & !(align - 1)
        } else {
            old
        };
        debug_assert!(
            start + size <= old + reserve,
            "old {old} start {start} size {size}"
        );
        // SAFETY: start + size <= old + reserve <= MAX_ALLOC, so the pointer
        // stays inside this block's data area.
        Some(unsafe { self.data().add(start) })
    }

    /// Bytes of the data area handed out so far (including rounding and
    /// alignment padding, excluding the abandoned tail of a full block).
    ///
    /// Exact once every `bump` on this block has returned; a snapshot
    /// otherwise.
    ///
    /// # Safety
    ///
    /// The block must be mapped.
    pub(crate) unsafe fn used(self) -> usize {
        // SAFETY: the caller keeps the block mapped.
        let header = unsafe { self.header() };
        let off = header.off.load(Ordering::Relaxed);
        if off <= MAX_ALLOC {
            off
        } else {
            header.used.load(Ordering::Relaxed)
        }
    }

    /// The next block in the full or spare list. Caller holds the region's
    /// lock.
    ///
    /// # Safety
    ///
    /// The block must be mapped.
    pub(crate) unsafe fn next(self) -> Option<Block> {
        // SAFETY: the caller keeps the block mapped.
        let header = unsafe { self.header() };
        // Relaxed: `next` is only accessed under the region's lock, which
        // orders these accesses.
        Block::from_ptr(header.next.load(Ordering::Relaxed))
    }

    /// Links `next` after this block in the full or spare list. Caller holds
    /// the region's lock.
    ///
    /// # Safety
    ///
    /// The block must be mapped.
    pub(crate) unsafe fn set_next(self, next: Option<Block>) {
        // SAFETY: the caller keeps the block mapped.
        let header = unsafe { self.header() };
        let next = next.map_or(ptr::null_mut(), Block::as_ptr);
        // Relaxed: ordered by the region's lock, like `next()`.
        header.next.store(next, Ordering::Relaxed);
    }
}

impl Header {
    /// Records the exact high-water mark if this failed add (which started at
    /// `old`) was the one that crossed the end of the data area. Exactly one
    /// add can do that, so `used` is written at most once.
    #[cold]
    fn note_full(&self, old: usize) {
        if old <= MAX_ALLOC {
            // Relaxed: read by `stats`, which promises exactness only after
            // every allocation has returned (and is otherwise a snapshot).
            self.used.store(old, Ordering::Relaxed);
        }
    }

    /// Checks that the header written by `Block::map` (or `reinit`) is
    /// visible here. A no-op in release builds; under loom it is a tracked
    /// read that fails the model if the header write does not happen-before
    /// it.
    #[inline(always)]
    fn check_magic(&self) {
        #[cfg(any(loom, debug_assertions))]
        self.magic.with(|magic| {
            // SAFETY: `magic` is written only when the header is built, which
            // happens-before any handle to the block escapes (Release publish,
            // Acquire load, or the region's lock).
            let magic = unsafe { magic.read() };
            assert_eq!(magic, MAGIC, "region block header not visible or corrupted");
        });
    }
}

/// Raw block memory from the OS: anonymous private mappings.
#[cfg(all(unix, not(loom)))]
mod os {
    use core::ptr::{self, NonNull};

    /// Maps `len` zeroed, readable and writable bytes, page-aligned, or
    /// `None` if the kernel refuses (ENOMEM, a resource limit, ...).
    pub(super) fn map(len: usize) -> Option<NonNull<u8>> {
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing aliases nothing; all arguments are valid for mmap(2).
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return None;
        }
        NonNull::new(addr.cast::<u8>())
    }

    /// Unmaps a mapping made by [`map`].
    ///
    /// # Safety
    ///
    /// `ptr` and `len` are exactly a live mapping returned by [`map`], and
    /// nothing uses it afterwards.
    pub(super) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
        // SAFETY: guaranteed by the caller.
        let rc = unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
        // munmap of a whole mapping we made cannot fail; if it somehow did,
        // the only consequence is leaked address space, so do not panic in
        // release builds (this runs in Drop).
        debug_assert_eq!(rc, 0, "munmap failed: {}", std::io::Error::last_os_error());
    }
}

/// Raw block memory from the global allocator (loom models, non-unix).
#[cfg(any(loom, not(unix)))]
mod os {
    use core::ptr::NonNull;
    use std::alloc::{self, Layout};

    fn layout(len: usize) -> Option<Layout> {
        Layout::from_size_align(len, super::BLOCK_ALIGN).ok()
    }

    /// Allocates `len` zeroed bytes aligned like a block, or `None`.
    pub(super) fn map(len: usize) -> Option<NonNull<u8>> {
        let layout = layout(len)?;
        // SAFETY: `layout` has a non-zero size (a block is never empty).
        NonNull::new(unsafe { alloc::alloc_zeroed(layout) })
    }

    /// Frees memory from [`map`].
    ///
    /// # Safety
    ///
    /// `ptr` and `len` are exactly a live allocation returned by [`map`], and
    /// nothing uses it afterwards.
    pub(super) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
        if let Some(layout) = layout(len) {
            // SAFETY: guaranteed by the caller; same layout as in `map`.
            unsafe { alloc::dealloc(ptr.as_ptr(), layout) };
        }
    }
}
