//! spool's execution tracer.
//!
//! The executor reports every scheduling transition through [`hooks`]; with
//! tracing off each hook costs one relaxed atomic load. The wire format is
//! Go's v2 execution trace (see `docs/trace-format.md`).

pub mod hooks;
pub mod read;
#[cfg(feature = "viewer")]
pub mod viewer;
