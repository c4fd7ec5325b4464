//! spool's execution tracer.
//!
//! The executor reports every scheduling transition through [`hooks`]; with
//! tracing off each hook costs one relaxed atomic load. The wire format is
//! Go's v2 execution trace (see `docs/trace-format.md`).

pub mod alloc;
pub mod annotate;
mod arena;
mod buf;
mod clock;
pub mod control;
mod emit;
mod generation;
mod global;
pub mod hooks;
#[cfg(feature = "tracing")]
pub mod layer;
mod loom;
mod m;
mod slot;
mod vocab;
mod writer;

pub use writer::TraceSummary;
