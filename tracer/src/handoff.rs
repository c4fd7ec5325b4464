//! The per-M batch hand-off between an M and the collectors: the batch step
//! of every write section, the collector's take at a generation flip, and
//! the hand-over when an M leaves. Generic over the batch type, so the loom
//! model (`tests/loom.rs`, through `__loom`) checks this code, with the
//! real [`Slot`], not a copy.
//!
//! Protocol (the writer thread's flip is steps 1-3 of `writer.rs`):
//! 1. An M writes only inside [`section_on`]: it holds its slot as owner and
//!    loads the generation being recorded (Acquire, pairing with the
//!    flip's Release store) *inside* the lock.
//! 2. [`ensure_batch`]: if its batch is not of that generation, the M seals
//!    the old one into the inbox (`push`) before opening the new one, so
//!    its batches reach the inbox in emission order.
//! 3. A collector takes a batch of generation `g` or older out of the slot
//!    under the lock ([`collect_slot`]); a section that started before it
//!    took the lock has finished, one that starts after sees `g + 1`. Once
//!    every slot was visited no event of `g` can still be written, and the
//!    batches the M sealed itself are in the inbox already.
//! 4. An M that leaves (thread exit, the writer thread going internal) hands
//!    its open batch to the inbox under the lock ([`hand_over`]), whatever
//!    its generation: a collector either took it first or finds it when it
//!    drains the inbox after collecting.

use crate::slot::Slot;
use crate::vocab::UNSET;

/// What the hand-off needs of a batch.
pub trait OpenBatch {
    /// The batch once sealed (what the inbox holds).
    type Sealed;
    /// Process-wide number of the generation the batch belongs to.
    fn global(&self) -> u64;
    /// No event written yet.
    fn is_empty(&self) -> bool;
    /// Finishes the batch.
    fn seal(self) -> Self::Sealed;
}

/// The word publishing the generation being recorded (`publish::GEN`, or
/// the loom model's), read with Acquire.
pub trait GenWord {
    /// The generation number (0 = tracing off); Acquire.
    fn load_acquire(&self) -> u64;
}

impl GenWord for std::sync::atomic::AtomicU64 {
    #[inline(always)]
    fn load_acquire(&self) -> u64 {
        self.load(std::sync::atomic::Ordering::Acquire)
    }
}

#[cfg(loom)]
impl GenWord for ::loom::sync::atomic::AtomicU64 {
    fn load_acquire(&self) -> u64 {
        self.load(::loom::sync::atomic::Ordering::Acquire)
    }
}

/// An M's open batch and clock, guarded by its slot's lock.
#[derive(Debug)]
pub struct MBuf<B> {
    /// The open batch, if any.
    pub batch: Option<B>,
    /// `batch`'s generation (process-wide number), [`UNSET`] without a
    /// batch: saves a pointer chase per event. `UNSET` never equals a
    /// published generation, so "tracing off" and "no batch" both miss the
    /// one-compare fast path of [`ensure_batch`].
    pub batch_gen: u64,
    /// Last timestamp handed out on this M (stamps never go below it).
    pub last_ts: u64,
}

impl<B> Default for MBuf<B> {
    fn default() -> Self {
        MBuf {
            batch: None,
            batch_gen: UNSET,
            last_ts: 0,
        }
    }
}

/// Step 1: runs `f` with the slot held by its owner and the generation
/// being recorded, loaded inside the lock. `None` (and `f` not run) if this
/// thread already holds the slot (a hook called from inside the tracer).
#[inline(always)]
pub fn section_on<B, R>(
    slot: &Slot<MBuf<B>>,
    generation: &impl GenWord,
    f: impl FnOnce(&mut MBuf<B>, u64) -> R,
) -> Option<R> {
    slot.with_owner(|buf| {
        // Which generation is being recorded? Acquire pairs with the Release
        // store in the writer's flip, so what `open` finds is at least as new.
        let gen_now = generation.load_acquire();
        f(buf, gen_now)
    })
}

/// Step 2: makes `buf` hold a batch of generation `gen_now` (or newer: the
/// one `open` returns). `None` when tracing is off (`gen_now == 0`) or
/// `open` fails; the old batch has been pushed either way.
#[inline(always)]
pub fn ensure_batch<B: OpenBatch>(
    buf: &mut MBuf<B>,
    gen_now: u64,
    open: impl FnOnce() -> Option<B>,
    push: impl FnOnce(B::Sealed),
) -> Option<()> {
    if buf.batch_gen == gen_now {
        return Some(());
    }
    replace_batch(buf, gen_now, open, push)
}

#[cold]
#[inline(never)]
fn replace_batch<B: OpenBatch>(
    buf: &mut MBuf<B>,
    gen_now: u64,
    open: impl FnOnce() -> Option<B>,
    push: impl FnOnce(B::Sealed),
) -> Option<()> {
    if gen_now == 0 {
        return None;
    }
    buf.batch_gen = UNSET;
    if let Some(old) = buf.batch.take() {
        if !old.is_empty() {
            push(old.seal());
        }
    }
    let b = open()?;
    buf.batch_gen = b.global();
    buf.batch = Some(b);
    Some(())
}

/// Step 3: takes the M's batch if it belongs to generation `global` or an
/// older one (sealed; `None` if there is none or it is empty).
pub fn collect_slot<B: OpenBatch>(slot: &Slot<MBuf<B>>, global: u64) -> Option<B::Sealed> {
    slot.with_locked(|buf| {
        let mine = buf.batch.as_ref().is_some_and(|b| b.global() <= global);
        if !mine {
            return None;
        }
        buf.batch_gen = UNSET;
        buf.batch.take().filter(|b| !b.is_empty()).map(B::seal)
    })
}

/// Step 4: hands the M's open batch to `push` when the M leaves; call it
/// under the slot's lock (`Slot::with_locked`).
pub fn hand_over<B: OpenBatch>(buf: &mut MBuf<B>, push: impl FnOnce(B::Sealed)) {
    buf.batch_gen = UNSET;
    if let Some(b) = buf.batch.take() {
        if !b.is_empty() {
            push(b.seal());
        }
    }
}
