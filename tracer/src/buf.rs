//! Batch encoding: event type bytes, LEB128 varints, and one M's open batch.
//!
//! A batch is `EventBatch gen m base_time size` followed by `size` payload
//! bytes of events (Go's v2 framing). Invariants of [`Batch`]:
//! - The header is written when the batch is opened; `size` is a reserved
//!   [`SIZE_SLOT`]-byte padded varint back-patched by [`Batch::seal`], because
//!   the size is only known when the batch is full or collected, and the
//!   header must come first in the file. Padded varints are legal LEB128 and
//!   Go's parser accepts them (its own runtime does the same with 10 bytes);
//!   3 bytes hold every legal size (≤ 65,536).
//! - `size` excludes the header: the parser reads the header, then skips
//!   exactly `size` bytes to the next batch.
//! - Event timestamps are deltas from the previous event of the batch (the
//!   first from the header's base time), so they never decrease within a batch.
//! - [`Batch::try_event`] checks room for the event's worst case (1 + 10
//!   bytes per varint) once, then writes unchecked, so writes never overflow.

use std::ptr::NonNull;
use std::sync::Arc;

use spool_trace_wire::ev;
use spool_trace_wire::varint::{put as varint, put_padded as varint_at};

use crate::arena::BATCH_CAP;
use crate::generation::Generation;

/// The 16-byte file header (the version spool writes, 1.22).
pub(crate) const FILE_HEADER: &[u8; 16] = &spool_trace_wire::Version::WRITTEN.header();

/// Width of the reserved, back-patched size varint (3 × 7 bits ≥ 65,536).
pub(crate) const SIZE_SLOT: usize = 3;

/// Worst-case encoded size of an event with `nargs` varint arguments
/// (including its timestamp delta).
#[inline(always)]
pub(crate) const fn max_event_len(nargs: usize) -> usize {
    1 + 10 * (nargs + 1)
}

/// Writes `v` as LEB128 at `p`; returns the pointer after it.
///
/// Values below 2^28 (one to four bytes: timestamp deltas, sequence
/// numbers, string and stack IDs, task IDs, most heap sizes in HeapAlloc)
/// are written without a loop, as one unaligned 1-, 2- or 4-byte store;
/// longer ones go through the byte loop.
///
/// # Safety
/// `p` must be valid for writing 10 bytes (the longest LEB128 of a `u64`).
#[inline(always)]
unsafe fn put_varint(p: *mut u8, v: u64) -> *mut u8 {
    // SAFETY: in every branch at most 10 bytes are written at `p` (the
    // 3-byte case stores 4, the 4th being scratch later overwritten or left
    // past the event's end), which the caller guarantees.
    unsafe {
        if v < 1 << 7 {
            p.write(v as u8);
            p.add(1)
        } else if v < 1 << 14 {
            let w = (v & 0x7f) as u16 | 0x80 | ((v >> 7) as u16) << 8;
            p.cast::<[u8; 2]>().write_unaligned(w.to_le_bytes());
            p.add(2)
        } else if v < 1 << 21 {
            let w = (v & 0x7f) as u32
                | 0x80
                | (((v >> 7) & 0x7f) as u32 | 0x80) << 8
                | ((v >> 14) as u32) << 16;
            p.cast::<[u8; 4]>().write_unaligned(w.to_le_bytes());
            p.add(3)
        } else if v < 1 << 28 {
            let w = (v & 0x7f) as u32
                | 0x80
                | (((v >> 7) & 0x7f) as u32 | 0x80) << 8
                | (((v >> 14) & 0x7f) as u32 | 0x80) << 16
                | ((v >> 21) as u32) << 24;
            p.cast::<[u8; 4]>().write_unaligned(w.to_le_bytes());
            p.add(4)
        } else {
            put_varint_loop(p, v)
        }
    }
}

/// The byte-at-a-time LEB128 writer behind [`put_varint`].
///
/// # Safety
/// As for [`put_varint`].
#[inline(never)]
unsafe fn put_varint_loop(mut p: *mut u8, mut v: u64) -> *mut u8 {
    // SAFETY: at most 10 bytes are written, which the caller guarantees.
    unsafe {
        while v >= 0x80 {
            p.write((v as u8) | 0x80);
            v >>= 7;
            p = p.add(1);
        }
        p.write(v as u8);
        p.add(1)
    }
}

/// One M's open batch, in a buffer carved from its generation's arena.
///
/// # Fields
/// - `generation` keeps the arena (and so `mem`) alive; the arena is reset only
///   once every `Arc` to the generation is gone.
/// - `mem`/`len`: only touched by the holder of the M's slot lock.
#[derive(Debug)]
pub(crate) struct Batch {
    generation: Arc<Generation>,
    mem: NonNull<u8>,
    len: usize,
    /// Offset of the reserved size varint; the payload starts right after it.
    size_at: usize,
    /// Timestamp of the last event written (or the base time).
    last_ts: u64,
}

// SAFETY: `mem` points into memory owned by `generation`'s arena, which is
// `Sync` and outlives the batch (we hold an `Arc`); the batch is the only
// user of its `BATCH_CAP` bytes, so moving it to another thread is sound.
unsafe impl Send for Batch {}

impl Batch {
    /// Opens a batch for M `m` in `generation` with base time `ts`; `None`
    /// if the arena could not provide memory.
    pub(crate) fn open(generation: Arc<Generation>, m: u64, ts: u64) -> Option<Batch> {
        let mem = generation.alloc_batch()?;
        let mut b = Batch {
            generation,
            mem,
            len: 0,
            size_at: 0,
            last_ts: ts,
        };
        let file_gen = b.generation.file_gen();
        let base_time = b.generation.file_time(ts);
        let buf = b.bytes_mut();
        let mut pos = 0;
        buf[pos] = ev::EVENT_BATCH;
        pos += 1;
        pos = varint(buf, pos, file_gen);
        pos = varint(buf, pos, m);
        pos = varint(buf, pos, base_time);
        b.size_at = pos;
        b.len = pos + SIZE_SLOT;
        Some(b)
    }

    /// The whole buffer.
    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `mem` is a live allocation of `BATCH_CAP` bytes owned by
        // `self.generation`'s arena and handed to this batch alone.
        unsafe { std::slice::from_raw_parts_mut(self.mem.as_ptr(), BATCH_CAP) }
    }

    /// The generation this batch belongs to.
    #[inline(always)]
    pub(crate) fn generation(&self) -> &Arc<Generation> {
        &self.generation
    }

    /// Whether `n` more bytes fit.
    #[inline(always)]
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.len + n <= BATCH_CAP
    }

    /// True if no event has been written yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == self.size_at + SIZE_SLOT
    }

    /// Appends one event if its worst case (`max_event_len(args.len())`)
    /// fits; returns false (and writes nothing) otherwise. The caller
    /// guarantees `ts` is not before the previous event's.
    ///
    /// One capacity check per event, then unchecked writes: this is the
    /// tracer's hottest code (every event of every M goes through it).
    #[inline(always)]
    pub(crate) fn try_event(&mut self, ts: u64, ty: u8, args: &[u64]) -> bool {
        if !self.has_room(max_event_len(args.len())) {
            return false;
        }
        debug_assert_eq!(
            spool_trace_wire::timed_arg_count(ty),
            Some(args.len() + 1),
            "{} written with {} arguments",
            spool_trace_wire::type_name(ty),
            args.len()
        );
        debug_assert!(
            ts >= self.last_ts,
            "time went backwards: {ts} < {}",
            self.last_ts
        );
        let dt = ts.wrapping_sub(self.last_ts);
        self.last_ts = ts;
        // SAFETY: `mem` is a live `BATCH_CAP`-byte allocation owned by this
        // batch (see `bytes_mut`), and `len + max_event_len(args.len()) <=
        // BATCH_CAP` was checked above: the type byte plus at most 10 bytes
        // per varint (the timestamp delta and each argument) stay in bounds.
        unsafe {
            let start = self.mem.as_ptr().add(self.len);
            start.write(ty);
            let mut p = put_varint(start.add(1), dt);
            for &a in args {
                p = put_varint(p, a);
            }
            self.len += p.offset_from(start) as usize;
        }
        true
    }

    /// Finishes the batch: back-patches the payload size into the header.
    pub(crate) fn seal(mut self) -> Sealed {
        let payload = self.len - (self.size_at + SIZE_SLOT);
        let size_at = self.size_at;
        varint_at(self.bytes_mut(), size_at, payload as u64, SIZE_SLOT);
        Sealed {
            generation: self.generation,
            mem: self.mem,
            len: self.len,
        }
    }
}

/// A finished batch waiting for the writer thread.
#[derive(Debug)]
pub(crate) struct Sealed {
    generation: Arc<Generation>,
    mem: NonNull<u8>,
    len: usize,
}

// SAFETY: as for `Batch`: the bytes are owned by the generation's arena we
// hold an `Arc` to, and nobody writes them after sealing.
unsafe impl Send for Sealed {}
// SAFETY: shared access only reads the sealed bytes, which nobody writes
// after sealing (a flight recorder's window and a dump read them at once).
unsafe impl Sync for Sealed {}

impl Sealed {
    /// The encoded batch, header included.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `mem[..len]` was fully written by the batch before sealing
        // and stays alive while we hold `generation`.
        unsafe { std::slice::from_raw_parts(self.mem.as_ptr(), self.len) }
    }

    /// The generation this batch belongs to.
    pub(crate) fn generation(&self) -> &Arc<Generation> {
        &self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrolled_varint_matches_the_byte_loop() {
        let edges = [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            (1 << 28) - 1,
            1 << 28,
        ];
        let more = (0..64)
            .map(|b| 1u64 << b)
            .chain((1..64).map(|b| (1u64 << b) - 1));
        for v in edges
            .into_iter()
            .chain(more)
            .chain([spool_trace_wire::NONE])
        {
            let mut slow = [0u8; 16];
            let slow_len = varint(&mut slow, 0, v);
            let mut fast = [0xAAu8; 16];
            // SAFETY: 16 bytes are writable at `fast`.
            let end = unsafe { put_varint(fast.as_mut_ptr(), v) };
            // SAFETY: `end` points into `fast`.
            let fast_len = unsafe { end.offset_from(fast.as_ptr()) } as usize;
            assert_eq!(fast_len, slow_len, "length of {v}");
            assert_eq!(fast[..fast_len], slow[..slow_len], "bytes of {v}");
        }
    }
}
