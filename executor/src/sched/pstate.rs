//! A P's state word: held by an M, or lent to a blocking call that sysmon
//! may take it back from (Go's `_Prunning`/`_Psyscall` and `retake`).
//!
//! The word is `calls << 2 | state`. `calls` counts the blocking calls
//! entered on the P (Go's `syscalltick`), so a value names one call: sysmon
//! retakes only the call it saw on an earlier tick, and a new call on the
//! same P can never be mistaken for it (no ABA). States:
//! - [`HELD`]: an M holds the P; nobody else touches it.
//! - [`SYSCALL`]: the M that holds the P is inside `block_in_place`; the M
//!   or sysmon may end that state, exactly one of them ([`PState::exit`]
//!   against [`PState::retake`]).
//! - [`STEALING`]: sysmon won the P and is recording the `ProcSteal`; the
//!   blocked M, if it returns now, waits for the word to leave this state
//!   before it records its `GoSyscallEndBlocked` (the trace needs the steal
//!   first, `tracer/src/record/syscall.rs`).
//!
//! Invariants: only the holder writes the word in [`HELD`] (enter); only the
//! CAS winner leaves [`SYSCALL`]; only sysmon writes in [`STEALING`]. The
//! holder's writes to the P's M-local half (`worker::Core`) before
//! [`PState::enter`] (Release) are visible to sysmon after a successful
//! [`PState::retake`] (Acquire), and from sysmon to the next M through the
//! hand-off (`MSlot`'s Release/Acquire).

use crate::loom::atomic::{AtomicUsize, Ordering};

/// An M holds the P.
pub(crate) const HELD: usize = 0;
/// The holder is inside a blocking call; the P may be retaken.
pub(crate) const SYSCALL: usize = 1;
/// sysmon took the P and is recording the steal.
pub(crate) const STEALING: usize = 2;
const STATE: usize = 3;
const CALL_ONE: usize = 4;

/// How a blocking call ended for the M that made it.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The M still holds its P (Go's `exitsyscall` fast path).
    Kept,
    /// sysmon took the P; the M holds none and must not touch it.
    Lost,
}

/// The state word of one P.
#[derive(Debug)]
pub struct PState(AtomicUsize);

impl Default for PState {
    fn default() -> Self {
        PState::new()
    }
}

impl PState {
    /// A held P with no call made yet.
    pub fn new() -> PState {
        PState(AtomicUsize::new(HELD))
    }

    /// The word (for sysmon's look: pass it to [`retake`](Self::retake)).
    #[inline]
    pub fn load(&self) -> usize {
        // Acquire: pairs with `enter`'s Release (sysmon then sees the
        // queue pushes the M made before the call).
        self.0.load(Ordering::Acquire)
    }

    /// Whether `word` is a P inside a blocking call.
    #[inline]
    pub fn in_syscall(word: usize) -> bool {
        word & STATE == SYSCALL
    }

    /// The holder enters a blocking call. Returns the word naming this
    /// call, for [`exit`](Self::exit).
    #[inline]
    pub fn enter(&self) -> usize {
        // Only the holder writes a HELD word: a plain load and store.
        let cur = self.0.load(Ordering::Relaxed);
        debug_assert_eq!(
            cur & STATE,
            HELD,
            "entering a call on a P not held: {cur:#x}"
        );
        let call = (cur & !STATE).wrapping_add(CALL_ONE) | SYSCALL;
        // Release: what the holder wrote to the P before the call is
        // visible to a sysmon that retakes it.
        self.0.store(call, Ordering::Release);
        call
    }

    /// The holder's call `call` returned: keep the P if sysmon has not
    /// taken it. On [`Exit::Lost`] it first waits out a steal in progress.
    #[inline]
    pub fn exit(&self, call: usize) -> Exit {
        // Take the P back if it is still in this call. Acquire on failure:
        // pairs with sysmon's Release store that ends the steal.
        match self
            .0
            .compare_exchange(call, call & !STATE, Ordering::Relaxed, Ordering::Acquire)
        {
            Ok(_) => Exit::Kept,
            Err(_) => {
                self.wait_stolen(call);
                Exit::Lost
            }
        }
    }

    #[cold]
    fn wait_stolen(&self, call: usize) {
        let stealing = (call & !STATE) | STEALING;
        let mut spins = 0u32;
        // Wait for sysmon to record the steal (a few hundred ns).
        while self.0.load(Ordering::Acquire) == stealing {
            crate::loom::spin_wait(spins);
            spins = spins.saturating_add(1);
        }
    }

    /// sysmon takes the P of the call it saw as `seen` (from [`load`](Self::load)).
    /// True: sysmon now holds it, in [`STEALING`] until [`stolen`](Self::stolen).
    pub fn retake(&self, seen: usize) -> bool {
        if !Self::in_syscall(seen) {
            return false;
        }
        // Acquire: the holder's writes before the call are ours to see.
        self.0
            .compare_exchange(
                seen,
                (seen & !STATE) | STEALING,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// sysmon recorded the steal of `seen`'s call; the P is held again
    /// (by whoever sysmon hands it to).
    pub fn stolen(&self, seen: usize) {
        // Release: the blocked M waiting in `exit` may go on.
        self.0.store(seen & !STATE, Ordering::Release);
    }
}
