//! `spool-trace`: reads Go v2 execution traces (spool's and Go's own) and
//! shows them. It runs outside traced programs: it depends on the wire
//! format (`spool-trace-wire`) alone, never on the tracer or the executor.
//!
//! Modules, bottom to top:
//! - [`read`]: decode a file (header, batches, tables, typed events with
//!   byte offsets) and order its events like Go's `internal/trace`.
//! - [`analysis`]: per-task state intervals, who woke whom, latencies,
//!   blocking reasons, user tasks and regions, from an ordered trace.
//! - [`stacks`]: the stack table interned across generations.
//! - [`profile`]: Go's four blocking profiles (net, sync, syscall, sched).
//! - [`names`]: display names of tasks, spawn sites and Ps.
//! - [`problems`]: the "problems" summary (long polls, latencies, deadlocks, panics, lost events).
//! - [`util`]: P utilization over time and the minimum-mutator-utilization curve.
//! - [`chrome`]: the Chrome Trace Event (Perfetto) export.
//! - [`perfetto`]: the Perfetto native protobuf (TrackEvent) export.
//! - [`proto`]: a minimal protobuf writer; [`pprof`] (feature `cli`): the
//!   profiles as gzip-compressed pprof.
//! - [`summary`] (feature `cli`): the terminal report.
//! - [`web`] (feature `cli`): the self-contained HTML page.
//! - [`server`] (feature `cli`): the loopback HTTP server that serves it
//!   (concurrent connections, timeouts, `Host` check, header cap).
//!
//! The `spool-trace` binary (`src/main.rs`, feature `cli`) puts them behind
//! `serve`, `html`, `summary`, `pprof`, `export` and `check`.
//!
//! Invariant: no input makes any of it panic; a bad file is an error that
//! says what is wrong and at which byte.

pub mod analysis;
pub mod chrome;
pub mod names;
pub mod perfetto;
#[cfg(feature = "cli")]
pub mod pprof;
pub mod problems;
pub mod profile;
pub mod proto;
pub mod read;
#[cfg(feature = "cli")]
pub mod server;
pub mod stacks;
#[cfg(feature = "cli")]
pub mod summary;
pub mod util;
#[cfg(feature = "cli")]
pub mod web;
