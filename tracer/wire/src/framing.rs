//! Framing facts of the format that are not events: the "none" ID and the
//! size limits Go's parser enforces (`internal/trace/tracev2`,
//! `internal/trace/batch.go`).
//!
//! A batch is `EventBatch gen m time size` followed by `size` payload bytes
//! (the header is not counted in `size`); table batches (strings, stacks)
//! and the sync batch use M = [`NONE`].

/// The "-1" of the format: no thread / proc / goroutine / task, as a `u64`
/// varint (10 bytes on the wire).
///
/// ```
/// assert_eq!(spool_trace_wire::NONE, u64::MAX);
/// ```
pub const NONE: u64 = u64::MAX;

/// Largest batch payload Go's parser accepts, in bytes.
///
/// ```
/// assert_eq!(spool_trace_wire::MAX_BATCH_SIZE, 64 << 10);
/// ```
pub const MAX_BATCH_SIZE: usize = 65_536;

/// Longest string (string-table entry) Go's parser accepts, in bytes.
///
/// ```
/// assert_eq!(spool_trace_wire::MAX_STRING_LEN, 1024);
/// ```
pub const MAX_STRING_LEN: usize = 1_024;

/// Most frames a stack-table entry may have.
///
/// ```
/// assert_eq!(spool_trace_wire::MAX_FRAMES, 128);
/// ```
pub const MAX_FRAMES: usize = 128;
