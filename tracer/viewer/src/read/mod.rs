//! `spool_trace::read`: decodes Go v2 execution trace files (headers
//! `go 1.22`, `1.23`, `1.25`, `1.26`) into typed data.
//!
//! Two layers:
//!
//! - **Decoder** ([`TraceReader`], [`read`]): header, batches (generation,
//!   M, base time), per-generation string and stack tables, sync data
//!   (frequency, clock snapshot), and every timed event as an
//!   [`EventKind`] with an absolute timestamp in nanoseconds and the byte
//!   offset of its type byte. Events stay in file order, grouped by batch.
//! - **Ordering** ([`order`]): merges the per-M streams of each generation
//!   into one timeline the way Go's `internal/trace/order.go` does (time
//!   order, held back until each event's `g_seq`/`p_seq` precondition
//!   holds) and resolves each event's context: the M that emitted it and
//!   the P and G it applies to.
//!
//! Memory: [`read`] keeps every event (about 64 bytes each). For big files,
//! stream instead: [`TraceReader::next_generation_lazy`] validates a
//! generation without materializing its events, and
//! [`order::Orderer::push_generation_lazy`] decodes them from the file bytes
//! while merging, so memory stays near the file size (the viewer does this).
//!
//! Robustness contract: no input panics. A file that is not a trace is an
//! `Err` from [`read`]/[`TraceReader::new`]. Anything else yields every
//! complete generation before the first unreadable byte; [`Trace::stop`]
//! says where reading stopped, why, and how many bytes were not read.
//! Problems inside a complete generation (unknown event types, bad table
//! entries) skip the rest of their batch and are listed in
//! [`Generation::problems`] with file offsets.
//!
//! ```
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go126.trace")).unwrap();
//! let trace = spool_trace::read::read(&bytes).unwrap();
//! assert_eq!(trace.version, spool_trace::read::Version::Go126);
//! let timeline = spool_trace::read::order::order(&trace).unwrap();
//! let starts = timeline
//!     .iter()
//!     .filter(|e| matches!(e.kind, spool_trace::read::EventKind::GoStart { .. }))
//!     .count();
//! assert!(starts > 10);
//! ```

mod decode;
mod error;
mod event;
pub mod order;
mod wire;

pub use decode::{
    Batch, BatchEvents, BatchKind, ClockSnapshot, CpuSample, Event, Frame, Generation,
    MAX_BATCH_SIZE, MAX_FRAMES, MAX_STRING_LEN, Stop, TraceReader, Version, parse_header,
};
pub use error::{ErrorKind, ReadError};
pub use event::{
    EventKind, GoId, GoState, NONE, ProcId, ProcState, StackId, StringId, TaskId, ThreadId, ev,
    timed_arg_count, type_name,
};

/// A whole decoded trace.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The header's version.
    pub version: Version,
    /// Size of the input in bytes.
    pub file_len: u64,
    /// Every complete generation, in file order.
    pub generations: Vec<Generation>,
    /// Set when reading stopped before the end of the input.
    pub stop: Option<Stop>,
}

impl Trace {
    /// Bytes that could not be read (0 for a complete trace).
    pub fn unread_bytes(&self) -> u64 {
        self.stop.as_ref().map_or(0, |s| s.unread_bytes)
    }

    /// Fraction of the file (0.0..=1.0) that could not be read.
    pub fn unread_fraction(&self) -> f64 {
        if self.file_len == 0 {
            return 0.0;
        }
        self.unread_bytes() as f64 / self.file_len as f64
    }

    /// All problems found inside complete generations.
    pub fn problems(&self) -> impl Iterator<Item = &ReadError> {
        self.generations.iter().flat_map(|g| g.problems.iter())
    }

    /// Number of timed events decoded.
    pub fn event_count(&self) -> usize {
        self.generations.iter().map(|g| g.events.len()).sum()
    }
}

/// Decodes a whole trace held in memory.
///
/// `Err` only when `data` does not start with a supported trace header;
/// every other problem is reported inside the returned [`Trace`].
///
/// ```
/// let err = spool_trace::read::read(b"hello world, not a trace").unwrap_err();
/// assert!(err.to_string().contains("not a Go execution trace"));
/// ```
pub fn read(data: &[u8]) -> Result<Trace, ReadError> {
    let mut r = TraceReader::new(data)?;
    let mut generations = Vec::new();
    while let Some(g) = r.next_generation() {
        generations.push(g);
    }
    Ok(Trace {
        version: r.version(),
        file_len: data.len() as u64,
        generations,
        stop: r.stop().cloned(),
    })
}
