//! Go's v2 execution trace wire format, as spool's writer (`spool-tracer`)
//! and reader (`spool-trace`) share it. No dependencies and no `unsafe`.
//!
//! The spec is Go's own source: `internal/trace/tracev2` (events and their
//! arguments), `internal/trace` (the parser) and `runtime/trace*.go` (the
//! writer). This crate holds the facts both sides must agree on, each
//! declared once:
//!
//! - [`header`]: the 16-byte file header and the format [`Version`]s.
//! - [`event`]: the one event table ([`event_table!`]): each event's wire
//!   ID, Go's name and its argument names and types. The ID constants
//!   ([`ev`]), the argument counts ([`timed_arg_count`]), the names
//!   ([`type_name`]) and the reader's typed events are all generated from it.
//! - [`framing`]: the "none" ID and the size limits of batches, strings
//!   and stacks.
//! - [`varint`]: unsigned LEB128 encoding and decoding.
//! - [`ids`]: the P and task IDs spool reserves for its pseudo-resources.
//!
//! ```
//! use spool_trace_wire::{ev, timed_arg_count, type_name, varint};
//! assert_eq!(type_name(ev::GO_START), "GoStart");
//! assert_eq!(timed_arg_count(ev::GO_START), Some(3)); // dt, g, g_seq
//! let mut out = Vec::new();
//! varint::push(&mut out, 300);
//! assert_eq!(varint::read(&out), Ok((300, 2)));
//! ```

pub mod event;
pub mod framing;
pub mod header;
pub mod ids;
pub mod varint;

pub use event::{
    EventSpec, FromArg, GoId, GoState, ProcId, ProcState, StackId, StringId, TaskId, ThreadId, ev,
    spec, timed_arg_count, type_name,
};
pub use framing::{MAX_BATCH_SIZE, MAX_FRAMES, MAX_STRING_LEN, NONE};
pub use header::{HEADER_LEN, HeaderError, Version, parse_header};
