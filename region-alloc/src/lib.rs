//! A thread-safe bump-pointer region allocator on mmap'd blocks, freed all at
//! once.
//!
//! `region-alloc` backs spool's tracer: per-thread trace buffers and the
//! per-generation string and stack tables are carved from a [`RegionAlloc`]
//! and released together when the generation has been written. It follows
//! the idea of Go's `runtime/traceregion.go`:
//!
//! - memory comes in fixed blocks of [`BLOCK_SIZE`] (64 KiB, a 64-byte header
//!   included), mapped anonymously from the OS;
//! - an allocation bumps the current block's offset with **one atomic
//!   `fetch_add`** and no lock;
//! - when the block is full, a `#[cold]` slow path takes a mutex, re-checks,
//!   maps a fresh block, carves the request from it before publishing it, and
//!   retires the old block;
//! - nothing is freed individually: everything is released at once, either
//!   by [`RegionAlloc::reset`] (or `Drop`), which unmaps every block, or by
//!   [`RegionAlloc::recycle`], which zeroes the used bytes and keeps the
//!   blocks mapped on a spare list that the slow path takes from before it
//!   maps anything (no `mmap`, `munmap` or page faults for a region that is
//!   filled again and again). Both take `&mut self`, so the compiler proves
//!   no allocation outlives them.
//!
//! Requests are 8-aligned (larger alignments up to [`MAX_ALIGN`] are
//! honoured) and at most [`MAX_ALLOC`] bytes; anything else, and a failed
//! mapping, is an [`AllocError`], never a panic or an abort.
//!
//! # Example
//!
//! ```
//! use std::thread;
//! use region_alloc::RegionAlloc;
//!
//! let region = RegionAlloc::new();
//! thread::scope(|s| {
//!     for t in 0..4u8 {
//!         let region = &region;
//!         s.spawn(move || {
//!             for i in 0..1000u32 {
//!                 let bytes = region.alloc_copy(&i.to_le_bytes()).unwrap();
//!                 assert_eq!(bytes, i.to_le_bytes());
//!             }
//!             let buf = region.alloc_slice_zeroed(512).unwrap();
//!             buf.fill(t);
//!         });
//!     }
//! });
//! let stats = region.stats();
//! assert_eq!(stats.bytes_allocated, 4 * (1000 * 8 + 512));
//! assert!(stats.bytes_reserved >= stats.bytes_allocated);
//! ```
//!
//! # Modules
//!
//! - `region`: [`RegionAlloc`], its fast and slow paths, reset and recycle,
//!   and the invariants of the protocol (who may touch `current`, where a
//!   block lives, how a block is published).
//! - `block`: the block layout, its header fields and who may touch each,
//!   and the choice of libc `mmap` over memmap2.
//! - `loom`: std atomics and `Mutex`, or loom's under `cfg(loom)`; the loom
//!   model lives in `tests/loom.rs`.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod block;
mod error;
mod loom;
mod region;

pub use block::{BLOCK_SIZE, MAX_ALIGN, MAX_ALLOC};
pub use error::AllocError;
pub use region::{RegionAlloc, Stats};
