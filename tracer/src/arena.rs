//! Memory for one generation: its batch buffers and its table strings, carved
//! from a `region_alloc::RegionAlloc` and released together when the
//! generation has been written.
//!
//! Released, not unmapped: [`Arena::reset`] recycles the region, so the
//! writer's spare arena serves generation g+2 from the blocks generation g
//! used, already mapped and faulted in. Unmapping them instead made every
//! batch a fresh `mmap` and every 4 KiB of trace a page fault.
//!
//! Invariants: every pointer handed out ([`Arena::alloc_batch`],
//! [`Arena::alloc_str`]) stays valid until [`Arena::reset`] or drop, and is
//! never handed out twice before a reset. Reset and drop take `&mut self`, so
//! they cannot race an allocation; the arena lives inside a `Generation`
//! that every batch holds an `Arc` to, and the tables that point at its
//! strings are dropped before it is reset (see `Generation::into_arena`), so
//! "nothing outlives a reset" is checked by ownership, not by convention.

use std::ptr::NonNull;

use region_alloc::RegionAlloc;

/// Bytes per batch buffer, header included: the largest allocation a
/// `RegionAlloc` block serves (65,472 bytes), just under Go's 64 KiB payload
/// limit; the header (≤ 27 bytes) is amortised to nothing.
pub(crate) const BATCH_CAP: usize = region_alloc::MAX_ALLOC;

/// A string stored in an [`Arena`]; compares and hashes by content.
///
/// Only valid while its arena is not reset: the generation's tables, which
/// alone hold these, are dropped before the reset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArenaStr {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: an `ArenaStr` is a shared view of immutable bytes owned by an
// arena that is `Sync`; the generation that owns both keeps it alive.
unsafe impl Send for ArenaStr {}
// SAFETY: as above (the bytes are never written after `alloc_str`).
unsafe impl Sync for ArenaStr {}

impl ArenaStr {
    /// The string.
    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: `ptr[..len]` was copied from a `&str` by `alloc_str` and is
        // never written again; the arena is not reset while tables (the only
        // holders of `ArenaStr`) exist, per the module invariants.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr.as_ptr(), self.len))
        }
    }
}

impl PartialEq for ArenaStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ArenaStr {}

impl std::hash::Hash for ArenaStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for ArenaStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// One generation's memory.
#[derive(Debug)]
pub(crate) struct Arena {
    region: RegionAlloc,
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Arena {
    /// An empty arena (maps nothing until the first allocation).
    pub(crate) fn new() -> Self {
        Arena {
            region: RegionAlloc::new(),
        }
    }

    /// A zero-filled `BATCH_CAP`-byte buffer, or `None` if the OS refused memory.
    pub(crate) fn alloc_batch(&self) -> Option<NonNull<u8>> {
        let buf = self.region.alloc_slice_zeroed(BATCH_CAP).ok()?;
        NonNull::new(buf.as_mut_ptr())
    }

    /// Copies `s` into the arena; `None` if the OS refused memory.
    pub(crate) fn alloc_str(&self, s: &str) -> Option<ArenaStr> {
        let bytes = self.region.alloc_copy(s.as_bytes()).ok()?;
        Some(ArenaStr {
            ptr: NonNull::new(bytes.as_ptr().cast_mut())?,
            len: bytes.len(),
        })
    }

    /// Bytes mapped from the OS for this arena (every block, spare ones
    /// included): the memory it holds.
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.region.stats().bytes_reserved
    }

    /// Releases everything handed out since the last reset, keeping the
    /// memory mapped for the next generation (`RegionAlloc::recycle`: the
    /// used bytes are zeroed, so batches still start zero-filled).
    ///
    /// Memory stays bounded because the writer (`writer.rs`) keeps at most
    /// two arenas in rotation, the current generation's and one spare, and
    /// an arena holds as many 64 KiB blocks as the largest generation it
    /// served needed. Each batch takes a whole block (`BATCH_CAP` is
    /// `MAX_ALLOC`), and a generation is closed after `GEN_PERIOD` (1 s) or
    /// once `GEN_MAX_BYTES` (4 MiB) of batches were written; so a busy
    /// generation holds about 4 MiB of full batches plus the batches Ms fill
    /// before the writer notices and flips, one open batch per M, and its
    /// strings. (If the writer still shares a finished generation when it
    /// flips, it opens a new arena and the old one is unmapped when its last
    /// batch is dropped.) Nothing is returned to the OS while tracing runs;
    /// all of it is when tracing stops: the writer thread returns, dropping
    /// its spare arena and its reference to the last generation, and
    /// dropping an arena unmaps its blocks (`RegionAlloc`'s `Drop`).
    pub(crate) fn reset(&mut self) {
        self.region.recycle();
    }
}

/// Batches must fit one region allocation and Go's payload limit.
const _: () =
    assert!(BATCH_CAP <= region_alloc::MAX_ALLOC && BATCH_CAP <= spool_trace_wire::MAX_BATCH_SIZE);
