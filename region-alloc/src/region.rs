//! The region: a current block bumped lock-free, mutex-guarded lists of full
//! and spare blocks, the slow path that replaces the current block, and the
//! two ways to release everything (`reset` unmaps, `recycle` keeps the
//! blocks mapped for reuse).
//!
//! # Protocol
//!
//! Fast path (any thread, `&self`, no lock):
//!
//! 1. Load `current` (Acquire). Null means nothing is mapped yet: go to the
//!    slow path.
//! 2. `fetch_add` the rounded size on the block's `off` (Relaxed). If the
//!    returned offset leaves room, the range is this thread's alone: done.
//! 3. Otherwise the block is full: go to the slow path.
//!
//! Slow path (`#[cold]`, under the `lists` mutex):
//!
//! 1. Load `current` again: another thread may have installed a fresh block
//!    while we waited for the lock ("someone may have gotten here first", as
//!    Go puts it). Try the bump on it; if that works, return.
//! 2. Pop a spare block (left by [`RegionAlloc::recycle`]) and rebuild its
//!    header; if there is none, map a new block. If the OS refuses, return
//!    [`AllocError::OutOfMemory`] and change nothing.
//! 3. Carve this request from the new block *before* publishing it (its
//!    header starts with `off` = the request's size), so the caller always
//!    makes progress even if other threads fill the block at once.
//! 4. Push the old current block onto the full list.
//! 5. Publish the new block with a Release store to `current`.
//!
//! # Invariants
//!
//! - **Who may touch `current`.** Any thread may load it. Only the holder of
//!   the `lists` mutex stores to it (slow path step 5), or a caller with
//!   `&mut self` (`reset`, `recycle`, `Drop`). So at most one new block is
//!   installed at a time, and a block is retired (pushed to the full list)
//!   exactly once each time it was current.
//! - **Where a block lives.** Every mapped block is in exactly one place:
//!   `current`, the full list, or the spare list. Blocks move current → full
//!   (slow path step 4), spare → current (steps 2 and 5), and current/full →
//!   spare (`recycle`, `&mut self`); `reset` and `Drop` unmap all three.
//! - **What ordering publishes a block.** `Block::map` (or `Block::reinit`
//!   for a spare block) writes the whole header with plain writes; the
//!   Release store to `current` (step 5) pairs with the Acquire load in fast
//!   path step 1 and slow path step 1, so every thread that reaches a block
//!   through `current` sees its initialised header. The zeros `recycle`
//!   writes are ordered before any reuse by `&mut self` (whatever shares the
//!   region with threads again synchronises with them) and by the lock. The
//!   lists need no ordering of their own: they are only read and written
//!   under the mutex.
//! - **Why a thread that loses the race wastes at most its own request.**
//!   Offsets only grow. Of the failed adds on a block, exactly one starts
//!   inside the data area (the *crosser*); every later add starts past the
//!   end and takes nothing anyone could have used. The crosser abandons the
//!   tail `[old, MAX_ALLOC)`, which is smaller than its own request (else
//!   its add would have fit). Threads that lose the race to install the next
//!   block map nothing: under the lock they find the fresh block in step 1
//!   and bump into it (they map another only if that one has filled up too,
//!   which makes them its crosser). So per block the waste is less than one
//!   request, and no request is ever lost.
//! - **Blocks outlive every pointer into them.** Blocks are unmapped only by
//!   `reset(&mut self)` and `Drop`, and zeroed for reuse only by
//!   `recycle(&mut self)`. Every pointer handed out comes from a `&self`
//!   call, so the borrow checker proves no allocation (and no thread inside
//!   `alloc`) is alive then. Go's `traceRegionAlloc.drop` can only
//!   document "not safe to call concurrently" and check a `dropping` flag at
//!   run time (`throw("traceRegion: alloc with concurrent drop")`); here the
//!   compiler enforces it, so there is no flag and no check on the fast path.
//! - **Offsets cannot overflow.** Each `alloc` call adds to a given block at
//!   most twice (fast path, then under the lock), each add at most
//!   `MAX_ALLOC`, and a block stops being `current` at the first slow path
//!   that finds it full; overflowing `usize` would take ~2^47 threads stuck
//!   between their load of `current` and their add.

use core::alloc::Layout;
use core::fmt;
use core::ptr::{self, NonNull};
use std::sync::PoisonError;

use crate::block::{Block, Header, MAX_ALIGN, MAX_ALLOC, MIN_ALIGN};
use crate::error::AllocError;
use crate::loom::{AtomicPtr, Mutex, MutexGuard, Ordering};

/// A thread-safe bump-pointer region allocator: memory comes in 64 KiB blocks
/// mapped from the OS, is handed out by bumping an offset, and is released
/// all at once by [`reset`](RegionAlloc::reset) (blocks unmapped),
/// [`recycle`](RegionAlloc::recycle) (blocks kept mapped for the next
/// allocations) or `Drop`.
///
/// Allocation takes `&self` and is lock-free on the fast path (one atomic
/// `fetch_add`); the memory stays valid until the region is reset, recycled
/// or dropped, which takes `&mut self`. Individual allocations are never
/// freed.
///
/// # Examples
///
/// ```
/// use std::alloc::Layout;
/// use region_alloc::RegionAlloc;
///
/// let region = RegionAlloc::new();
/// let p = region.alloc(Layout::new::<u64>())?;
/// // SAFETY: `p` is valid for 8 bytes and 8-aligned until the region is
/// // reset or dropped, and nothing else uses it.
/// unsafe { p.cast::<u64>().write(42) };
///
/// let name = region.alloc_copy(b"GoCreate")?;
/// assert_eq!(name, b"GoCreate");
/// # Ok::<(), region_alloc::AllocError>(())
/// ```
pub struct RegionAlloc {
    /// The block fast-path allocations bump into; null until the first
    /// allocation and after `reset`/`recycle`. Loaded by any thread
    /// (Acquire); stored only under `lists`' lock (Release) or through
    /// `&mut self`.
    current: AtomicPtr<Header>,
    /// Blocks retired from `current`, and spare blocks. The mutex is also the
    /// slow-path lock: holding it is the right to store `current`.
    lists: Mutex<Lists>,
}

/// The blocks that are mapped but not `current`.
struct Lists {
    /// Blocks retired from `current`, holding live allocations.
    full: List,
    /// Blocks released by `recycle`: mapped, data area zero, handed out to
    /// no one; the slow path reuses them before mapping new ones.
    spare: List,
}

/// A stack of blocks linked through their headers' `next` field.
struct List {
    /// Most recently pushed block.
    head: Option<Block>,
    /// Number of blocks in the list.
    len: usize,
}

// SAFETY: `Lists` only names blocks (raw pointers to mappings owned by the
// region, not by the thread); its contents are accessed only under the mutex
// or through `&mut RegionAlloc`, so moving it between threads is sound.
unsafe impl Send for Lists {}

impl List {
    /// An empty list.
    const EMPTY: List = List { head: None, len: 0 };

    /// Pushes `block`. Caller holds the region's lock (or `&mut` region).
    ///
    /// # Safety
    ///
    /// `block` is mapped, owned by this region, and on no list.
    unsafe fn push(&mut self, block: Block) {
        // SAFETY: the caller keeps `block` mapped; we hold the lock that
        // guards `next`.
        unsafe { block.set_next(self.head) };
        self.head = Some(block);
        self.len += 1;
    }

    /// Pops the most recently pushed block. Caller holds the region's lock
    /// (or `&mut` region).
    fn pop(&mut self) -> Option<Block> {
        let block = self.head?;
        // SAFETY: every block on a list is mapped and owned by the region,
        // and we hold the lock that guards `next`.
        self.head = unsafe { block.next() };
        self.len -= 1;
        Some(block)
    }

    /// Pops every block, most recently pushed first.
    fn drain(&mut self) -> impl Iterator<Item = Block> + '_ {
        core::iter::from_fn(|| self.pop())
    }
}

/// A snapshot of a region's memory use, from [`RegionAlloc::stats`].
///
/// Exact once every allocation call on the region has returned (for example
/// after joining the allocating threads); while allocations are in flight it
/// is a snapshot that may lag by those allocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Blocks currently mapped: the current block, the full ones, and the
    /// spare ones kept by [`RegionAlloc::recycle`] (mapped, holding no
    /// allocation).
    pub blocks_mapped: usize,
    /// Bytes handed out from the blocks' data areas: each request's size
    /// rounded up to 8, plus alignment padding for requests aligned to more
    /// than 8. Zero-size requests take nothing. The unused tail of a full
    /// block is not counted, nor is anything in a spare block.
    pub bytes_allocated: usize,
    /// Bytes mapped from the OS, headers included, spare blocks included:
    /// `blocks_mapped * BLOCK_SIZE`.
    pub bytes_reserved: usize,
}

impl RegionAlloc {
    /// Creates an empty region. Maps nothing: the first block is mapped by
    /// the first allocation. `const`, so a region can live in a `static`.
    ///
    /// ```
    /// use region_alloc::RegionAlloc;
    ///
    /// static STRINGS: RegionAlloc = RegionAlloc::new();
    /// assert_eq!(STRINGS.stats().blocks_mapped, 0);
    /// ```
    #[cfg(not(loom))]
    #[must_use]
    pub const fn new() -> RegionAlloc {
        RegionAlloc {
            current: AtomicPtr::new(ptr::null_mut()),
            lists: Mutex::new(Lists {
                full: List::EMPTY,
                spare: List::EMPTY,
            }),
        }
    }

    /// Creates an empty region. Maps nothing: the first block is mapped by
    /// the first allocation. (Not `const` under loom.)
    #[cfg(loom)]
    #[must_use]
    pub fn new() -> RegionAlloc {
        RegionAlloc {
            current: AtomicPtr::new(ptr::null_mut()),
            lists: Mutex::new(Lists {
                full: List::EMPTY,
                spare: List::EMPTY,
            }),
        }
    }

    /// Allocates memory for `layout`.
    ///
    /// The returned pointer is aligned to `max(layout.align(), 8)` and valid
    /// for reads and writes of `layout.size()` bytes until the region is
    /// [reset](RegionAlloc::reset), [recycled](RegionAlloc::recycle) or
    /// dropped. Its contents are unspecified.
    ///
    /// A zero-size request takes no memory and maps nothing: it returns a
    /// non-null, suitably aligned dangling pointer that must not be read or
    /// written (like [`NonNull::dangling`]).
    ///
    /// # Errors
    ///
    /// - [`AllocError::AlignTooLarge`] if `layout.align() > MAX_ALIGN` (64).
    /// - [`AllocError::TooLarge`] if `layout.size() > MAX_ALLOC`.
    /// - [`AllocError::OutOfMemory`] if a new block was needed and the OS
    ///   refused to map it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::alloc::Layout;
    /// use region_alloc::RegionAlloc;
    ///
    /// let region = RegionAlloc::new();
    /// let line = region.alloc(Layout::from_size_align(100, 64).unwrap())?;
    /// assert_eq!(line.as_ptr() as usize % 64, 0);
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    #[inline(always)]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if layout.align() <= MIN_ALIGN {
            self.alloc_bytes(layout.size())
        } else {
            self.alloc_overaligned(layout)
        }
    }

    /// Allocates `size` bytes aligned to 8.
    ///
    /// Same contract as [`alloc`](RegionAlloc::alloc) with a layout of
    /// `size` bytes and alignment 8 (including size 0). This is the fast path
    /// the tracer uses.
    ///
    /// # Errors
    ///
    /// [`AllocError::TooLarge`] if `size > MAX_ALLOC`;
    /// [`AllocError::OutOfMemory`] if the OS refused a new block.
    #[inline(always)]
    pub fn alloc_bytes(&self, size: usize) -> Result<NonNull<u8>, AllocError> {
        self.alloc_aligned(size, MIN_ALIGN)
    }

    /// The path both alignments share: size check, rounding, one bump of the
    /// current block, else the slow path. `align` is a power of two in
    /// `8..=MAX_ALIGN` (inlined, so `align == 8` folds away for `alloc_bytes`).
    #[inline(always)]
    fn alloc_aligned(&self, size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
        // One compare sends both size 0 and size > MAX_ALLOC off the fast path.
        if size.wrapping_sub(1) >= MAX_ALLOC {
            return zero_or_too_large(size, align);
        }
        // Cannot overflow: size <= MAX_ALLOC, a multiple of MIN_ALIGN.
        let size = (size + (MIN_ALIGN - 1)) & !(MIN_ALIGN - 1);
        // Load the current block; pairs with the Release store in `alloc_slow`.
        if let Some(block) = Block::from_ptr(self.current.load(Ordering::Acquire)) {
            // SAFETY: `block` came from `current`, so it stays mapped until
            // `&mut self` (reset/drop), which cannot happen while the returned
            // pointer's borrow of `self` is usable; `size` is a multiple of 8
            // in 1..=MAX_ALLOC (checked and rounded above) and `align` a power
            // of two in 8..=MAX_ALIGN (the callers' contract).
            if let Some(ptr) = unsafe { block.bump(size, align) } {
                return Ok(ptr);
            }
        }
        self.alloc_slow(size, align)
    }

    /// [`alloc`](RegionAlloc::alloc) for alignments above 8: still one
    /// `fetch_add`, reserving `align - 8` bytes of padding.
    #[inline(never)]
    fn alloc_overaligned(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let align = layout.align();
        if align > MAX_ALIGN {
            return Err(AllocError::AlignTooLarge {
                requested: align,
                max: MAX_ALIGN,
            });
        }
        self.alloc_aligned(layout.size(), align)
    }

    /// The slow path: re-check `current` under the lock, else take a spare
    /// block or map a new one, carve this request from it, retire the old
    /// one and publish the new.
    /// `size` is already rounded to a multiple of 8 in `1..=MAX_ALLOC`, and
    /// `align` is a power of two in `8..=MAX_ALIGN`.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
        let mut lists = self.lock_lists();

        // Check again under the lock: someone may have installed a fresh block
        // while we waited. Acquire pairs with the Release store below, made by
        // an earlier holder of the lock (the lock orders it as well).
        let old = Block::from_ptr(self.current.load(Ordering::Acquire));
        if let Some(block) = old {
            // SAFETY: blocks from `current` stay mapped until `&mut self`;
            // `size` and `align` were checked by the fast path that called us.
            if let Some(ptr) = unsafe { block.bump(size, align) } {
                return Ok(ptr);
            }
        }

        // Take a spare block, or map a new one, with this request already
        // carved from its start (offset 0 is MAX_ALIGN-aligned), so we always
        // make progress. On failure nothing has changed.
        let fresh = match lists.spare.pop() {
            Some(block) => {
                // SAFETY: a spare block is mapped and its data area was zeroed
                // by `recycle`; popping it under the lock made it ours alone
                // (on no list, not `current`), and every pointer into it died
                // with `recycle`'s `&mut self` borrow.
                unsafe { block.reinit(size) };
                block
            }
            None => Block::map(size).ok_or(AllocError::OutOfMemory)?,
        };

        // Retire the old block to the full list (we hold the lock).
        if let Some(block) = old {
            // SAFETY: `block` is mapped (owned by this region until &mut
            // self), and it was `current`, so it is on no list.
            unsafe { lists.full.push(block) };
        }

        // Publish the new block: its header was fully written by `map`.
        // Release pairs with the Acquire loads of `current`.
        self.current.store(fresh.as_ptr(), Ordering::Release);
        Ok(fresh.data())
    }

    /// Copies `bytes` into the region and returns the copy, which lives as
    /// long as this borrow of the region.
    ///
    /// # Errors
    ///
    /// As [`alloc_bytes`](RegionAlloc::alloc_bytes) for `bytes.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use region_alloc::RegionAlloc;
    ///
    /// let region = RegionAlloc::new();
    /// let s = region.alloc_copy("main.worker".as_bytes())?;
    /// assert_eq!(s, b"main.worker");
    /// assert_eq!(region.alloc_copy(&[])?, &[] as &[u8]);
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    pub fn alloc_copy(&self, bytes: &[u8]) -> Result<&[u8], AllocError> {
        let dst = self.alloc_bytes(bytes.len())?;
        // SAFETY: `dst` is valid for writes of bytes.len() bytes (a fresh,
        // exclusive range, or dangling for length 0 where a zero-length copy
        // is allowed), and cannot overlap `bytes`, which the caller borrows.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), bytes.len()) };
        // SAFETY: the range is initialised just above, handed out only once,
        // and stays mapped while `self` is borrowed (unmapping needs &mut).
        Ok(unsafe { core::slice::from_raw_parts(dst.as_ptr(), bytes.len()) })
    }

    /// Allocates `len` zeroed bytes, 8-aligned, borrowed mutably for as long
    /// as this borrow of the region.
    ///
    /// No zeros are written: freshly mapped blocks are zero and every byte is
    /// handed out at most once per mapping, so the memory is already zero.
    ///
    /// # Errors
    ///
    /// As [`alloc_bytes`](RegionAlloc::alloc_bytes) for `len`.
    ///
    /// # Examples
    ///
    /// ```
    /// use region_alloc::RegionAlloc;
    ///
    /// let region = RegionAlloc::new();
    /// let buf = region.alloc_slice_zeroed(16)?;
    /// assert!(buf.iter().all(|&b| b == 0));
    /// buf[0] = 0xff;
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    #[allow(clippy::mut_from_ref)] // each call hands out a fresh, disjoint range
    pub fn alloc_slice_zeroed(&self, len: usize) -> Result<&mut [u8], AllocError> {
        let ptr = self.alloc_bytes(len)?;
        // SAFETY: the range is fresh and exclusive to this call, zero-filled
        // (block invariant 1), valid for `len` bytes (or dangling and aligned
        // for len 0), and stays mapped while `self` is borrowed.
        let slice = unsafe { core::slice::from_raw_parts_mut(ptr.as_ptr(), len) };
        debug_assert!(
            slice.iter().all(|&b| b == 0),
            "region memory handed out twice"
        );
        Ok(slice)
    }

    /// Unmaps every block (spare ones from [`recycle`](RegionAlloc::recycle)
    /// too) and leaves the region empty and reusable, as after
    /// [`new`](RegionAlloc::new).
    ///
    /// Takes `&mut self`, so the borrow checker proves that no allocation from
    /// this region is still in use and no other thread is allocating. (Go's
    /// `traceRegionAlloc.drop` checks this at run time with a `dropping` flag
    /// and throws; here misuse does not compile.) `Drop` does the same.
    ///
    /// ```
    /// use region_alloc::RegionAlloc;
    ///
    /// let mut region = RegionAlloc::new();
    /// region.alloc_bytes(100)?;
    /// region.reset();
    /// assert_eq!(region.stats().blocks_mapped, 0);
    /// region.alloc_bytes(100)?; // reusable
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    pub fn reset(&mut self) {
        // &mut self: no other thread can touch `current` or the lists now.
        let current = Block::from_ptr(self.current.swap(ptr::null_mut(), Ordering::Relaxed));
        let lists = self.lists.get_mut().unwrap_or_else(PoisonError::into_inner);
        let blocks = current
            .into_iter()
            .chain(lists.full.drain())
            .chain(lists.spare.drain());
        for block in blocks {
            // SAFETY: mapped by `Block::map`; taken from `current` (swapped to
            // null) or popped off its list, so unmapped once; and `&mut self`
            // proves no pointer into it is still usable.
            unsafe { block.unmap() };
        }
    }

    /// Releases every allocation, like [`reset`](RegionAlloc::reset), but
    /// keeps the blocks mapped: they go on a spare list, and the next
    /// allocations are carved from them before any new block is mapped.
    ///
    /// Use it when a region is filled again and again (the tracer's
    /// per-generation arenas): a reused block costs no `mmap`/`munmap` and
    /// no page faults. In exchange, `recycle` writes zeros over the bytes
    /// that were handed out (so that
    /// [`alloc_slice_zeroed`](RegionAlloc::alloc_slice_zeroed) still needs
    /// no zeroing of its own), and the blocks stay mapped until
    /// [`reset`](RegionAlloc::reset) or `Drop`: a region that is only ever
    /// recycled holds as many blocks as it needed at its peak.
    /// [`Stats::blocks_mapped`] and [`Stats::bytes_reserved`] count the
    /// spare blocks.
    ///
    /// Takes `&mut self`, for the same reason as `reset`: no allocation from
    /// this region can still be in use, and no thread can be allocating.
    ///
    /// ```
    /// use region_alloc::RegionAlloc;
    ///
    /// let mut region = RegionAlloc::new();
    /// let first = region.alloc_slice_zeroed(100)?;
    /// first.fill(0xff);
    /// let first = first.as_ptr();
    /// region.recycle();
    /// let stats = region.stats();
    /// assert_eq!(stats.blocks_mapped, 1); // still mapped...
    /// assert_eq!(stats.bytes_allocated, 0); // ...but holding nothing
    ///
    /// // The next allocation reuses the same memory, zeroed again.
    /// let again = region.alloc_slice_zeroed(100)?;
    /// assert_eq!(again.as_ptr(), first);
    /// assert!(again.iter().all(|&b| b == 0));
    /// assert_eq!(region.stats().blocks_mapped, 1); // nothing new mapped
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    pub fn recycle(&mut self) {
        // &mut self: no other thread can touch `current` or the lists now.
        let current = Block::from_ptr(self.current.swap(ptr::null_mut(), Ordering::Relaxed));
        let lists = self.lists.get_mut().unwrap_or_else(PoisonError::into_inner);
        // The current block goes on top, so the block touched last (likely
        // still in cache) is reused first.
        let Lists { full, spare } = lists;
        for block in full.drain().chain(current) {
            // SAFETY: the block is mapped and owned by this region, and
            // `&mut self` proves no pointer into it is still usable and every
            // bump on it has returned (so `used` is exact).
            unsafe { block.zero_used() };
            // SAFETY: mapped, owned, and popped off `full` or taken from
            // `current` (swapped to null), so on no list.
            unsafe { spare.push(block) };
        }
    }

    /// Returns how much memory the region holds and has handed out.
    ///
    /// Takes the slow-path lock and walks the blocks: meant for diagnostics
    /// and tests, not for hot paths. See [`Stats`] for when it is exact.
    ///
    /// ```
    /// use region_alloc::{BLOCK_SIZE, RegionAlloc, Stats};
    ///
    /// let region = RegionAlloc::new();
    /// region.alloc_bytes(5)?; // rounded up to 8
    /// region.alloc_bytes(16)?;
    /// assert_eq!(
    ///     region.stats(),
    ///     Stats { blocks_mapped: 1, bytes_allocated: 24, bytes_reserved: BLOCK_SIZE }
    /// );
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let spare = self.for_each_block(|block| {
            stats.blocks_mapped += 1;
            // SAFETY: `for_each_block` only yields mapped blocks, under the lock.
            stats.bytes_allocated += unsafe { block.used() };
        });
        // Spare blocks are mapped but hold nothing.
        stats.blocks_mapped += spare;
        stats.bytes_reserved = stats.blocks_mapped * crate::BLOCK_SIZE;
        stats
    }

    /// Whether `ptr` points into the data area of a block this region has
    /// handed memory out of (the current and full blocks; spare blocks from
    /// [`recycle`](RegionAlloc::recycle) hold no allocation and are not
    /// searched). Takes the lock and walks the blocks (O(blocks)): meant for
    /// debug assertions and tests. Dangling pointers from zero-size requests
    /// are not contained.
    ///
    /// ```
    /// use region_alloc::RegionAlloc;
    ///
    /// let region = RegionAlloc::new();
    /// let p = region.alloc_bytes(8)?;
    /// assert!(region.contains(p.as_ptr()));
    /// assert!(!region.contains(&0u8));
    /// # Ok::<(), region_alloc::AllocError>(())
    /// ```
    pub fn contains(&self, ptr: *const u8) -> bool {
        let mut found = false;
        self.for_each_block(|block| found |= block.contains(ptr));
        found
    }

    /// Calls `f` on every block that holds allocations (current first, then
    /// the full list), holding the lock so the set of blocks cannot change
    /// meanwhile, and returns the number of spare blocks.
    fn for_each_block(&self, mut f: impl FnMut(Block)) -> usize {
        let lists = self.lock_lists();
        // Acquire pairs with the Release publish (also ordered by the lock).
        if let Some(block) = Block::from_ptr(self.current.load(Ordering::Acquire)) {
            f(block);
        }
        let mut next = lists.full.head;
        let mut seen = 0;
        while let Some(block) = next {
            f(block);
            seen += 1;
            // SAFETY: blocks on the full list stay mapped until `&mut self`,
            // and we hold the lock, so the list cannot change.
            next = unsafe { block.next() };
        }
        debug_assert_eq!(seen, lists.full.len, "full list length out of sync");
        lists.spare.len
    }

    /// Locks the block lists. Nothing panics while the lock is held (mapping
    /// failures are values), but if a panic ever did, the lists are only
    /// changed after every fallible step, so a poisoned lock is still
    /// consistent and we take it anyway.
    fn lock_lists(&self) -> MutexGuard<'_, Lists> {
        self.lists.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handles the two requests that skip the fast path: size 0 (a dangling,
/// `align`-aligned pointer; no memory) and size > MAX_ALLOC (an error).
#[cold]
#[inline(never)]
fn zero_or_too_large(size: usize, align: usize) -> Result<NonNull<u8>, AllocError> {
    if size == 0 {
        // `align` is a non-zero power of two, so this is non-null and aligned;
        // it carries no provenance and must never be dereferenced.
        NonNull::new(ptr::without_provenance_mut(align)).ok_or(AllocError::OutOfMemory)
    } else {
        Err(AllocError::TooLarge {
            requested: size,
            max: MAX_ALLOC,
        })
    }
}

impl Default for RegionAlloc {
    fn default() -> Self {
        RegionAlloc::new()
    }
}

impl Drop for RegionAlloc {
    /// Unmaps every block (spare ones too), like
    /// [`reset`](RegionAlloc::reset).
    fn drop(&mut self) {
        self.reset();
    }
}

impl fmt::Debug for RegionAlloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegionAlloc")
            .field("stats", &self.stats())
            .finish()
    }
}
