//! spool's execution tracer: the code that runs inside a traced program and
//! writes Go's v2 execution trace (`docs/trace-format.md`). Reading and
//! viewing traces is the `spool-trace` crate's job; the wire format both
//! share is `spool-trace-wire`.
//!
//! The executor reports every scheduling transition through [`hooks`]; with
//! tracing off each hook costs one relaxed atomic load.
//!
//! # Module map
//!
//! Imports run one way, top to bottom (`.ci/check-imports` checks it):
//!
//! - **User API**: [`control`] (start, stop, flush, `SPOOL_TRACE`),
//!   [`annotate`] (user tasks, regions, logs, labels, GC phases),
//!   [`layer`] (`tracing` spans as user tasks, feature `tracing`),
//!   [`alloc`] (`CountingAlloc`, HeapAlloc reports), [`flight`] (the flight
//!   recorder, its dumps and triggers; `flight/repair.rs` completes a
//!   dump's first generation).
//! - **Seam**: [`hooks`], one function per event the executor causes.
//! - **Recording**: `record` (the hook bodies: lazy statuses, pseudo-Ps and
//!   pseudo-tasks, sequence numbers), `mstate` (per-M state and the
//!   `EventWriter` sections write through), `handoff` (the per-M batch
//!   hand-off at generation flips), `seq` (per-task/per-P
//!   sequence slots), `lost` (dropped-event counters).
//! - **Output**: `writer` (the writer thread: generation flips, collection,
//!   tables, write errors, its consumers), `ring` (a flight recorder's
//!   window of finished generations), `inbox` (sealed batches on their way to it),
//!   `publish` (the enabled flag and the generation being recorded).
//! - **Buffers**: `buf` (one M's batch and its encoding), `generation` (a
//!   generation's string and stack tables), `arena` (a generation's memory,
//!   on `region-alloc`), `slot` (the per-M buffer lock), `clock`.
//! - **Bottom**: `vocab` (the types every layer shares: spawn site, trace
//!   slots, stop and block reasons with the fixed string table, the clip
//!   rule, sentinels), `loom` (concurrency shim).

pub mod alloc;
pub mod annotate;
mod arena;
mod buf;
mod clock;
pub mod control;
pub mod flight;
mod generation;
mod handoff;
pub mod hooks;
mod inbox;
#[cfg(feature = "tracing")]
pub mod layer;
mod loom;
mod lost;
mod mstate;
mod publish;
mod record;
mod ring;
mod seq;
mod slot;
mod vocab;
mod writer;

pub use writer::TraceSummary;

/// The real per-M slot and batch hand-off code, exported for the loom model
/// (`tests/loom.rs`) only.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::annotate::gc::GcPhases;
    pub use crate::handoff::{
        GenWord, MBuf, OpenBatch, collect_slot, ensure_batch, hand_over, section_on,
    };
    pub use crate::seq::{Seq, claim_status, next_seq, next_seq_owned, pack};
    pub use crate::slot::Slot;
}
