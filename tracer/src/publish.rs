//! Which generation is being recorded, published to every M: the enabled
//! flag, the current generation and its process-wide number.
//!
//! Invariants and orderings:
//! - [`GEN`] is the process-wide number of the generation being recorded, or 0
//!   when no trace is on. It only changes while [`CURRENT`] is locked, in the
//!   same critical section that replaces `CURRENT`, so a thread that read
//!   `GEN` (Acquire, pairing with the Release store) and then locks `CURRENT`
//!   finds that generation or a newer one, never an older one.
//! - Generation numbers are never reused, also across traces, so a sequence
//!   slot stamped by an earlier trace reads as "not seen in this generation".
//! - [`BASE_GEN`] is the first generation of the current trace: a task whose
//!   slot is older than it is unknown to this trace.
//! - [`ENABLED`] is set only after the first generation is published and
//!   cleared before it is withdrawn (`control.rs`, `writer.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use crate::generation::Generation;
use crate::vocab::lock;

/// True while a trace is being recorded. Relaxed: a hook that races with
/// start/stop may miss or add one event; start/stop run under stop-the-world,
/// which is what makes the set of recorded events consistent.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(false);

/// The generation being recorded (process-wide number), 0 = tracing off.
pub(crate) static GEN: AtomicU64 = AtomicU64::new(0);

/// First generation of the current trace (0 before any trace).
pub(crate) static BASE_GEN: AtomicU64 = AtomicU64::new(0);

/// Highest generation number handed out so far.
pub(crate) static LAST_GEN: AtomicU64 = AtomicU64::new(0);

/// The generation new batches are opened in; `None` when tracing is off.
pub(crate) static CURRENT: Mutex<Option<Arc<Generation>>> = Mutex::new(None);

/// The generation a new batch should belong to, if tracing is on.
pub(crate) fn current_generation() -> Option<Arc<Generation>> {
    lock(&CURRENT).clone()
}
