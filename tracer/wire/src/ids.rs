//! The IDs spool's tracer reserves for its pseudo-resources, shared by the
//! writer (`spool-tracer`, which hands them out) and the reader
//! (`spool-trace`, which names them "runtime" and "thread N (no P)").
//!
//! Invariant: none of them can collide with an executor ID: executor P
//! indices are `u32`s and executor task IDs stay below 2^62.

/// P ID of the runtime pseudo-P (above every executor P index, which is a `u32`).
///
/// ```
/// assert_eq!(spool_trace_wire::ids::RUNTIME_PROC_ID, 1 << 32);
/// ```
pub const RUNTIME_PROC_ID: u64 = 1 << 32;

/// P ID of the first foreign pseudo-P: a thread without a P that spawns
/// gets its own pseudo-P for its spawns, with IDs `FOREIGN_PROC_ID`,
/// `FOREIGN_PROC_ID + 1`, ... in the order threads first spawn (never reused).
///
/// ```
/// use spool_trace_wire::ids::{FOREIGN_PROC_ID, RUNTIME_PROC_ID};
/// assert_eq!(FOREIGN_PROC_ID, RUNTIME_PROC_ID + 1);
/// ```
pub const FOREIGN_PROC_ID: u64 = (1 << 32) + 1;

/// Task ID of the runtime pseudo-task that carries stop-the-world events
/// started outside any task (far above any executor task ID).
///
/// ```
/// assert_eq!(spool_trace_wire::ids::RUNTIME_TASK_ID, 1 << 62);
/// ```
pub const RUNTIME_TASK_ID: u64 = 1 << 62;
