//! Per-resource sequence slots (`GoTraceState` / `ProcTraceState`): the
//! arithmetic that numbers a task's or P's events within a generation and
//! decides who writes its status.
//!
//! A slot packs (generation << 32 | seq): the generation in which the
//! resource's status was last emitted and its sequence number in that
//! generation. Go's parser wants exactly one status event per resource per
//! generation before its first sequenced event; the CAS below makes exactly one
//! thread win the right to write it.
//!
//! The functions are generic over the slot's atomic word ([`SlotWord`]):
//! std's `AtomicU64` in the tracer, loom's in the loom models
//! (`tests/loom.rs`, through `spool_tracer::__loom`), which run this code.

use std::sync::atomic::{AtomicU64, Ordering};

/// The atomic word of a sequence slot: std's `AtomicU64` here, loom's in
/// the loom models. Each method is the `AtomicU64` method of its name.
pub trait SlotWord {
    /// `AtomicU64::load`.
    fn load(&self, order: Ordering) -> u64;
    /// `AtomicU64::store`.
    fn store(&self, v: u64, order: Ordering);
    /// `AtomicU64::compare_exchange_weak`.
    fn compare_exchange_weak(
        &self,
        cur: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64>;
}

impl SlotWord for AtomicU64 {
    #[inline(always)]
    fn load(&self, order: Ordering) -> u64 {
        AtomicU64::load(self, order)
    }
    #[inline(always)]
    fn store(&self, v: u64, order: Ordering) {
        AtomicU64::store(self, v, order)
    }
    #[inline(always)]
    fn compare_exchange_weak(
        &self,
        cur: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        AtomicU64::compare_exchange_weak(self, cur, new, success, failure)
    }
}

#[cfg(loom)]
impl SlotWord for ::loom::sync::atomic::AtomicU64 {
    fn load(&self, order: Ordering) -> u64 {
        ::loom::sync::atomic::AtomicU64::load(self, order)
    }
    fn store(&self, v: u64, order: Ordering) {
        ::loom::sync::atomic::AtomicU64::store(self, v, order)
    }
    fn compare_exchange_weak(
        &self,
        cur: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        ::loom::sync::atomic::AtomicU64::compare_exchange_weak(self, cur, new, success, failure)
    }
}

/// Sequence numbers per generation fit 32 bits: a generation holds at most a
/// few MB of events (see `writer.rs`), far below 2^32 events for one task.
const SEQ_BITS: u32 = 32;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// Packs a slot value.
#[inline(always)]
pub fn pack(generation: u64, seq: u64) -> u64 {
    (generation << SEQ_BITS) | (seq & SEQ_MASK)
}

/// The generation stamped in a slot value.
#[inline(always)]
pub fn slot_gen(v: u64) -> u64 {
    v >> SEQ_BITS
}

/// What [`next_seq`] decided.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seq {
    /// The sequence number to put on the event.
    pub seq: u64,
    /// The caller won the right (and duty) to emit the status event first.
    pub needs_status: bool,
}

/// Advances a resource's sequence number for an event in `generation`.
#[inline]
pub fn next_seq<S: SlotWord>(slot: &S, generation: u64) -> Seq {
    // Load the slot; Acquire pairs with the AcqRel CAS of the previous event
    // on this resource (possibly on another M), which happened before ours.
    next_seq_from(slot, slot.load(Ordering::Acquire), generation)
}

/// [`next_seq`] for a caller that has already loaded the slot (`cur`,
/// with Acquire) to decide whether to write at all.
#[inline]
pub fn next_seq_from<S: SlotWord>(slot: &S, mut cur: u64, generation: u64) -> Seq {
    loop {
        let (new, q) = advance(cur, generation);
        // Claim the next number (and, on a generation change, the status).
        match slot.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return q,
            Err(actual) => cur = actual,
        }
    }
}

/// The slot value after `cur` for an event in `generation`, and what the
/// event gets: the next sequence number, or 1 and the duty to write the
/// status first when `cur` belongs to an older generation.
#[inline(always)]
fn advance(cur: u64, generation: u64) -> (u64, Seq) {
    let fresh = slot_gen(cur) != generation;
    let seq = if fresh { 1 } else { (cur & SEQ_MASK) + 1 };
    let q = Seq {
        seq,
        needs_status: fresh,
    };
    (pack(generation, seq), q)
}

/// [`next_seq`] for a resource the calling thread owns for the moment (the
/// M that is starting a task it took from a queue: seam rule 3 says nobody
/// else records an event for that task until the M's next hook for it), so
/// a load and a store replace the compare-exchange loop. Acquire/Release
/// keep the slot's own history ordered even without the executor's queue
/// hand-off.
/// `cur` is the slot's value, loaded (Acquire) by the caller.
#[inline(always)]
pub fn next_seq_owned<S: SlotWord>(slot: &S, cur: u64, generation: u64) -> Seq {
    let (new, q) = advance(cur, generation);
    slot.store(new, Ordering::Release);
    q
}

/// [`next_seq_owned`]'s common case, for a slot whose value `cur` is
/// already stamped with the generation of the event: the next number,
/// stored back, with no status due. Saves the generation checks (and, in
/// `record::start_run`, the trace-membership test) on every `GoStart` but a
/// task's first in a generation.
#[inline(always)]
pub fn bump_owned<S: SlotWord>(slot: &S, cur: u64) -> u64 {
    let seq = (cur & SEQ_MASK) + 1;
    debug_assert!(seq <= SEQ_MASK, "sequence overflow in slot {cur:#x}");
    // The same Release store as `next_seq_owned`'s; `seq` does not carry
    // into the generation bits (a generation holds far fewer events).
    slot.store(cur + 1, Ordering::Release);
    seq
}

/// Claims the status of a resource for `generation` without an event that
/// carries a sequence number (a running task or P seen by its own M, or a
/// status written at trace start). True if the caller must emit the status.
#[inline]
pub fn claim_status<S: SlotWord>(slot: &S, generation: u64) -> bool {
    let mut cur = slot.load(Ordering::Acquire);
    while slot_gen(cur) != generation {
        // Stamp the generation with sequence 0 (the status resets it).
        match slot.compare_exchange_weak(
            cur,
            pack(generation, 0),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return true,
            Err(actual) => cur = actual,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_touch_in_a_generation_claims_status_once() {
        let s = AtomicU64::new(0);
        assert_eq!(
            next_seq(&s, 5),
            Seq {
                seq: 1,
                needs_status: true
            }
        );
        assert_eq!(
            next_seq(&s, 5),
            Seq {
                seq: 2,
                needs_status: false
            }
        );
        assert!(!claim_status(&s, 5));
        assert!(claim_status(&s, 6));
        assert!(!claim_status(&s, 6));
        assert_eq!(
            next_seq(&s, 6),
            Seq {
                seq: 1,
                needs_status: false
            }
        );
        assert_eq!(
            next_seq(&s, 7),
            Seq {
                seq: 1,
                needs_status: true
            }
        );
        // The owned variants follow the same numbering.
        assert_eq!(bump_owned(&s, s.load(Ordering::Relaxed)), 2);
        assert_eq!(slot_gen(s.load(Ordering::Relaxed)), 7);
        assert_eq!(
            next_seq_owned(&s, s.load(Ordering::Relaxed), 7),
            Seq {
                seq: 3,
                needs_status: false
            }
        );
        assert_eq!(
            next_seq_owned(&s, s.load(Ordering::Relaxed), 8),
            Seq {
                seq: 1,
                needs_status: true
            }
        );
    }
}
