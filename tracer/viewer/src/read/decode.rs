//! The low-level decoder: file header, batch framing, generations, string
//! and stack tables, sync data, and timed events with absolute timestamps
//! and byte offsets.
//!
//! Invariants:
//! - No input makes it panic: every read is bounds-checked ([`Cursor`]) and
//!   every arithmetic step on file-controlled values is checked.
//! - A generation is returned only when complete (1.26: its
//!   `EndOfGeneration` was read; older versions: a batch of the next
//!   generation or EOF followed it). The first unreadable generation stops
//!   the reader; [`TraceReader::stop`] then says where and why.
//! - Inside a complete generation, a batch whose payload cannot be decoded
//!   is skipped from the bad byte on (the batch size says where the next
//!   batch starts) and the problem is recorded in [`Generation::problems`].
//! - Events are stored per generation in file order (batch by batch), each
//!   with its batch index; the order across Ms is the ordering layer's job.

use std::collections::HashMap;
use std::ops::Range;

use super::error::{ErrorKind, ReadError};
use super::event::{EventKind, NONE, StackId, StringId, ThreadId, ev, timed_arg_count};
use super::wire::{Cursor, WireError};

/// Largest batch payload the format allows.
pub const MAX_BATCH_SIZE: u64 = spool_trace_wire::MAX_BATCH_SIZE as u64;
/// Longest string the format allows.
pub const MAX_STRING_LEN: u64 = spool_trace_wire::MAX_STRING_LEN as u64;
/// Most frames a stack may have.
pub const MAX_FRAMES: u64 = spool_trace_wire::MAX_FRAMES as u64;

pub use spool_trace_wire::Version;

/// Parses the 16-byte header.
///
/// # Errors
/// [`ErrorKind::NotATrace`] or [`ErrorKind::UnsupportedVersion`] (at the
/// offending byte) when `data` does not start with a header this reader knows.
///
/// ```
/// use spool_trace::read::{parse_header, Version};
/// assert_eq!(parse_header(b"go 1.26 trace\0\0\0").unwrap(), Version::Go126);
/// assert!(parse_header(b"PK\x03\x04 not a trace").is_err());
/// ```
pub fn parse_header(data: &[u8]) -> Result<Version, ReadError> {
    spool_trace_wire::parse_header(data).map_err(|e| match e {
        spool_trace_wire::HeaderError::NotATrace { found } => ReadError {
            offset: 0,
            batch: None,
            kind: ErrorKind::NotATrace { found },
        },
        spool_trace_wire::HeaderError::UnsupportedVersion { minor } => ReadError {
            offset: 5,
            batch: None,
            kind: ErrorKind::UnsupportedVersion { minor },
        },
    })
}

/// What a batch holds, decided by its header and first payload byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchKind {
    /// Timed events of one M (or of no M, `m == NONE`).
    Events,
    /// String-table entries.
    Strings,
    /// Stack-table entries.
    Stacks,
    /// CPU samples.
    CpuSamples,
    /// The generation's sync data (Frequency, ClockSnapshot).
    Sync,
    /// An experimental batch (kept opaque).
    Experimental {
        /// The experiment ID byte.
        experiment: u8,
    },
}

/// One batch as framed in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Generation number from the header.
    pub generation: u64,
    /// Thread that wrote it; [`NONE`] for tables, sync and context-free batches.
    pub m: ThreadId,
    /// Base time in ticks (from the header).
    pub ticks: u64,
    /// Base time in nanoseconds.
    pub time: u64,
    /// Offset of the header byte.
    pub offset: u64,
    /// Offset of the first payload byte.
    pub payload_offset: u64,
    /// Payload size in bytes.
    pub size: u32,
    /// What the payload holds.
    pub kind: BatchKind,
    /// Indices into [`Generation::events`] of this batch's events.
    pub events: Range<u32>,
}

/// One timed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The decoded event.
    pub kind: EventKind,
    /// Absolute time in nanoseconds (ticks converted with the generation's
    /// frequency; the clock's origin is arbitrary, e.g. boot time).
    pub time: u64,
    /// Offset of the event's type byte in the file.
    pub offset: u64,
    /// Index of its batch in [`Generation::batches`].
    pub batch: u32,
}

/// One stack frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Program counter (spool writes a synthetic unique value).
    pub pc: u64,
    /// Function name string ID.
    pub func: StringId,
    /// File name string ID.
    pub file: StringId,
    /// Line number.
    pub line: u64,
}

/// The 1.25+ clock snapshot: the same instant in ticks, monotonic ns and wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// Time in ticks.
    pub ticks: u64,
    /// CLOCK_MONOTONIC nanoseconds.
    pub mono_ns: u64,
    /// Wall-clock seconds since the Unix epoch.
    pub wall_sec: u64,
    /// Wall-clock nanoseconds within the second.
    pub wall_nsec: u64,
}

/// One CPU sample (time converted to ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSample {
    /// Time in ns.
    pub time: u64,
    /// Thread.
    pub m: ThreadId,
    /// Proc or [`NONE`].
    pub p: u64,
    /// Goroutine or [`NONE`].
    pub g: u64,
    /// Stack ID.
    pub stack: StackId,
}

/// One generation: a self-contained slice of the trace with its own tables.
#[derive(Clone, Debug, Default)]
pub struct Generation {
    /// Generation number from the batch headers.
    pub number: u64,
    /// Offset of its first batch.
    pub offset: u64,
    /// Offset one past its last byte (its `EndOfGeneration` byte in 1.26).
    pub end: u64,
    /// Ticks per second.
    pub frequency: u64,
    /// The 1.25+ clock snapshot.
    pub clock: Option<ClockSnapshot>,
    /// String table (ID 0, the empty string, is implicit).
    pub strings: HashMap<StringId, String>,
    /// Stack table (ID 0, no stack, is implicit).
    pub stacks: HashMap<StackId, Vec<Frame>>,
    /// All batches in file order.
    pub batches: Vec<Batch>,
    /// All timed events, batch by batch in file order (empty when `lazy`).
    pub events: Vec<Event>,
    /// Number of timed events (also when `lazy`).
    pub event_count: u64,
    /// Read with [`TraceReader::next_generation_lazy`]: `events` is empty
    /// and [`Batch::events`] ranges are empty; decode with
    /// [`Generation::batch_events`].
    pub lazy: bool,
    /// CPU samples, sorted by time.
    pub cpu_samples: Vec<CpuSample>,
    /// Problems found inside this (complete) generation; each skipped the
    /// rest of its batch. Unknown event types are warnings
    /// ([`ReadError::is_warning`]).
    pub problems: Vec<ReadError>,
}

impl Generation {
    /// The string with `id`; `""` for 0 or an undefined ID.
    pub fn string(&self, id: StringId) -> &str {
        self.strings.get(&id).map_or("", String::as_str)
    }

    /// The frames of stack `id`, innermost first; empty for 0 or an undefined ID.
    pub fn stack(&self, id: StackId) -> &[Frame] {
        self.stacks.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Converts ticks of this generation's clock to nanoseconds.
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ticks_to_ns(ticks, self.frequency)
    }

    /// The events of batch `batch` decoded from `data` (the whole file, as
    /// given to the [`TraceReader`]); works for lazy and eager generations.
    /// Empty for non-event batches or a `data` that does not hold the batch.
    pub fn batch_events<'d>(&self, batch: usize, data: &'d [u8]) -> BatchEvents<'d> {
        let empty = BatchEvents {
            c: Cursor::new(&[], 0),
            now: 0,
            freq: self.frequency,
            batch: batch as u32,
        };
        let Some(b) = self.batches.get(batch) else {
            return empty;
        };
        let start = b.payload_offset as usize;
        let Some(payload) = data.get(start..start.saturating_add(b.size as usize)) else {
            return empty;
        };
        if b.kind != BatchKind::Events {
            return empty;
        }
        BatchEvents {
            c: Cursor::new(payload, b.payload_offset),
            now: b.ticks,
            freq: self.frequency,
            batch: batch as u32,
        }
    }

    /// The thread (M) that wrote `ev`.
    pub fn thread_of(&self, ev: &Event) -> ThreadId {
        self.batches.get(ev.batch as usize).map_or(NONE, |b| b.m)
    }
}

fn ticks_to_ns(ticks: u64, freq: u64) -> u64 {
    if freq == 0 {
        return ticks;
    }
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(freq);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Where and why reading stopped before the end of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// Offset of the first byte not delivered in a complete generation.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub unread_bytes: u64,
    /// What made the reader stop.
    pub error: ReadError,
}

/// A raw framed batch (payload not yet decoded).
struct RawBatch<'a> {
    generation: u64,
    m: u64,
    ticks: u64,
    offset: u64,
    payload_offset: u64,
    payload: &'a [u8],
    experiment: Option<u8>,
}

enum Framed<'a> {
    Batch(RawBatch<'a>),
    EndOfGeneration,
    Eof,
}

/// Streams generations out of a trace held in memory.
///
/// ```
/// use spool_trace::read::TraceReader;
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go126.trace")).unwrap();
/// let mut r = TraceReader::new(&bytes).unwrap();
/// let mut events = 0;
/// while let Some(generation) = r.next_generation() {
///     events += generation.events.len();
/// }
/// assert!(events > 100);
/// assert!(r.stop().is_none(), "the fixture is complete");
/// ```
pub struct TraceReader<'a> {
    data: &'a [u8],
    version: Version,
    pos: usize,
    spill: Option<RawBatch<'a>>,
    last_gen: Option<u64>,
    stop: Option<Stop>,
    done: bool,
}

impl<'a> TraceReader<'a> {
    /// Checks the header; `Err` if `data` is not a supported trace.
    pub fn new(data: &'a [u8]) -> Result<Self, ReadError> {
        let version = parse_header(data)?;
        Ok(TraceReader {
            data,
            version,
            pos: 16,
            spill: None,
            last_gen: None,
            stop: None,
            done: false,
        })
    }

    /// The header's version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Total size of the input.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// Whether the input holds nothing but a header.
    pub fn is_empty(&self) -> bool {
        self.data.len() <= 16
    }

    /// Why reading stopped early, once [`next_generation`](Self::next_generation) returned `None`.
    pub fn stop(&self) -> Option<&Stop> {
        self.stop.as_ref()
    }

    /// The next complete generation, or `None` at the end of the file or at
    /// the first unreadable generation (see [`stop`](Self::stop)).
    pub fn next_generation(&mut self) -> Option<Generation> {
        self.next(false)
    }

    /// Like [`next_generation`](Self::next_generation) but without
    /// materializing events (about 64 bytes each): the generation is
    /// validated, and its events are decoded again on demand with
    /// [`Generation::batch_events`] or [`Orderer::push_generation_lazy`](super::order::Orderer::push_generation_lazy).
    pub fn next_generation_lazy(&mut self) -> Option<Generation> {
        self.next(true)
    }

    /// The input bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    fn next(&mut self, lazy: bool) -> Option<Generation> {
        if self.done {
            return None;
        }
        let start = self.spill.as_ref().map_or(self.pos as u64, |b| b.offset);
        match self.collect_generation(lazy) {
            Ok(Some(g)) => Some(g),
            Ok(None) if self.last_gen.is_none() && self.version < Version::Go126 => {
                // Nothing after the header. Go's parser before 1.26 reads
                // one (empty) generation here and rejects it ("no frequency
                // event found"); a 1.26 reader accepts an empty trace.
                self.done = true;
                self.stop = Some(Stop {
                    offset: start,
                    unread_bytes: 0,
                    error: self.err(start, None, ErrorKind::EmptyTrace),
                });
                None
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                self.stop = Some(Stop {
                    offset: start,
                    unread_bytes: (self.data.len() as u64).saturating_sub(start),
                    error,
                });
                None
            }
        }
    }

    fn err(&self, offset: u64, batch: Option<u64>, kind: ErrorKind) -> ReadError {
        ReadError {
            offset,
            batch,
            kind,
        }
    }

    fn frame(&mut self) -> Result<Framed<'a>, ReadError> {
        let mut c = Cursor::new(&self.data[self.pos..], self.pos as u64);
        let at = c.offset();
        let Ok(b) = c.byte() else {
            return Ok(Framed::Eof);
        };
        if b == ev::END_OF_GENERATION {
            if self.version < Version::Go126 {
                return Err(self.err(at, None, ErrorKind::UnexpectedEndOfGeneration));
            }
            self.pos += 1;
            return Ok(Framed::EndOfGeneration);
        }
        if b != ev::EVENT_BATCH && b != ev::EXPERIMENTAL_BATCH {
            return Err(self.err(at, None, ErrorKind::ExpectedBatch { found: b }));
        }
        let batch = Some(at);
        let wire = |e: WireError, off: u64, what: &'static str| ReadError {
            offset: off,
            batch,
            kind: match e {
                WireError::Eof => ErrorKind::Truncated { what },
                WireError::Overflow => ErrorKind::BadVarint { what },
            },
        };
        let experiment = if b == ev::EXPERIMENTAL_BATCH {
            Some(c.byte().map_err(|e| wire(e, c.offset(), "batch header"))?)
        } else {
            None
        };
        let mut hdr = [0u64; 4];
        for h in &mut hdr {
            *h = c
                .uvarint()
                .map_err(|e| wire(e, c.offset(), "batch header"))?;
        }
        let [generation, m, ticks, size] = hdr;
        if size > MAX_BATCH_SIZE {
            return Err(self.err(at, batch, ErrorKind::BatchTooLarge { size }));
        }
        let payload_offset = c.offset();
        let payload = c
            .bytes(size as usize)
            .map_err(|e| wire(e, payload_offset, "batch payload"))?;
        self.pos += c.pos();
        Ok(Framed::Batch(RawBatch {
            generation,
            m,
            ticks,
            offset: at,
            payload_offset,
            payload,
            experiment,
        }))
    }

    fn collect_generation(&mut self, lazy: bool) -> Result<Option<Generation>, ReadError> {
        let mut raws: Vec<RawBatch<'a>> = Vec::new();
        let mut number = None;
        if let Some(b) = self.spill.take() {
            number = Some(b.generation);
            raws.push(b);
        }
        let gen_start = raws.first().map_or(self.pos as u64, |b| b.offset);
        loop {
            let at = self.pos as u64;
            match self.frame()? {
                Framed::Eof => {
                    if raws.is_empty() {
                        return Ok(None);
                    }
                    if self.version >= Version::Go126 {
                        return Err(self.err(at, None, ErrorKind::IncompleteGeneration));
                    }
                    break;
                }
                Framed::EndOfGeneration => {
                    if raws.is_empty() {
                        // An empty generation: nothing to deliver, keep going.
                        continue;
                    }
                    break;
                }
                Framed::Batch(b) => {
                    if b.generation == 0 {
                        return Err(self.err(b.offset, Some(b.offset), ErrorKind::ZeroGeneration));
                    }
                    match number {
                        None => {
                            if self.version < Version::Go126 {
                                if let Some(last) = self.last_gen {
                                    if b.generation != last.wrapping_add(1) {
                                        return Err(self.err(
                                            b.offset,
                                            Some(b.offset),
                                            ErrorKind::GenerationOutOfOrder {
                                                current: last,
                                                found: b.generation,
                                            },
                                        ));
                                    }
                                }
                            }
                            number = Some(b.generation);
                            raws.push(b);
                        }
                        Some(n) if n == b.generation => raws.push(b),
                        Some(n) => {
                            if self.version >= Version::Go126 {
                                return Err(self.err(
                                    b.offset,
                                    Some(b.offset),
                                    ErrorKind::GenerationOutOfOrder {
                                        current: n,
                                        found: b.generation,
                                    },
                                ));
                            }
                            self.spill = Some(b);
                            break;
                        }
                    }
                }
            }
        }
        let number = number.unwrap_or(0);
        let end = self.spill.as_ref().map_or(self.pos as u64, |b| b.offset);
        let g = build_generation(self.version, number, gen_start, end, &raws, lazy, self.data)?;
        self.last_gen = Some(number);
        Ok(Some(g))
    }
}

/// Decodes the payloads of one generation's batches.
fn build_generation(
    version: Version,
    number: u64,
    offset: u64,
    end: u64,
    raws: &[RawBatch<'_>],
    lazy: bool,
    data: &[u8],
) -> Result<Generation, ReadError> {
    let mut g = Generation {
        number,
        offset,
        end,
        lazy,
        ..Generation::default()
    };
    // Tick timestamps of events, converted once the frequency is known.
    let mut ticks: Vec<u64> = Vec::new();
    let mut sync_seen: Option<u64> = None;
    for raw in raws {
        let bi = g.batches.len() as u32;
        let first = raw.payload.first().copied();
        let kind = match (raw.experiment, first) {
            (Some(experiment), _) => BatchKind::Experimental { experiment },
            (None, Some(ev::STRINGS)) => BatchKind::Strings,
            (None, Some(ev::STACKS)) => BatchKind::Stacks,
            (None, Some(ev::CPU_SAMPLES)) => BatchKind::CpuSamples,
            (None, Some(ev::FREQUENCY)) if version < Version::Go125 => BatchKind::Sync,
            (None, Some(ev::SYNC)) if version >= Version::Go125 => BatchKind::Sync,
            _ => BatchKind::Events,
        };
        let start_ev = g.events.len() as u32;
        let mut c = Cursor::new(raw.payload, raw.payload_offset);
        let res = match kind {
            BatchKind::Experimental { .. } => Ok(()),
            BatchKind::Strings => decode_strings(&mut c, &mut g),
            BatchKind::Stacks => decode_stacks(&mut c, &mut g),
            BatchKind::CpuSamples => decode_cpu_samples(&mut c, &mut g),
            BatchKind::Sync => {
                if sync_seen.is_some() {
                    Err((c.offset(), ErrorKind::DuplicateSync))
                } else {
                    sync_seen = Some(raw.offset);
                    decode_sync(version, &mut c, raw.ticks, &mut g)
                }
            }
            BatchKind::Events => {
                let (events, ticks, count) = (&mut g.events, &mut ticks, &mut g.event_count);
                decode_events(&mut c, raw.ticks, |kind, offset, t| {
                    *count += 1;
                    if !lazy {
                        events.push(Event {
                            kind,
                            time: 0,
                            offset,
                            batch: bi,
                        });
                        ticks.push(t);
                    }
                })
            }
        };
        if let Err((off, kind)) = res {
            if matches!(kind, ErrorKind::DuplicateSync) {
                return Err(ReadError {
                    offset: off,
                    batch: Some(raw.offset),
                    kind,
                });
            }
            g.problems.push(ReadError {
                offset: off,
                batch: Some(raw.offset),
                kind,
            });
        }
        g.batches.push(Batch {
            generation: raw.generation,
            m: raw.m,
            ticks: raw.ticks,
            time: 0,
            offset: raw.offset,
            payload_offset: raw.payload_offset,
            size: raw.payload.len() as u32,
            kind,
            events: start_ev..g.events.len() as u32,
        });
    }
    let sync_at = sync_seen.unwrap_or(offset);
    if g.frequency == 0 {
        let kind = if sync_seen.is_some() {
            ErrorKind::ZeroFrequency
        } else {
            ErrorKind::NoFrequency
        };
        return Err(ReadError {
            offset: sync_at,
            batch: sync_seen,
            kind,
        });
    }
    if version >= Version::Go125 && g.clock.is_none() {
        return Err(ReadError {
            offset: sync_at,
            batch: sync_seen,
            kind: ErrorKind::NoClockSnapshot,
        });
    }
    let freq = g.frequency;
    for (ev, t) in g.events.iter_mut().zip(&ticks) {
        ev.time = ticks_to_ns(*t, freq);
    }
    for b in &mut g.batches {
        b.time = ticks_to_ns(b.ticks, freq);
    }
    for s in &mut g.cpu_samples {
        s.time = ticks_to_ns(s.time, freq);
    }
    g.cpu_samples.sort_by_key(|s| s.time);
    check_references(&mut g, data);
    Ok(g)
}

type Problem = (u64, ErrorKind);

fn wire_problem(c: &Cursor<'_>, e: WireError, what: &'static str) -> Problem {
    (
        c.offset(),
        match e {
            WireError::Eof => ErrorKind::Truncated { what },
            WireError::Overflow => ErrorKind::BadVarint { what },
        },
    )
}

fn expect_type(c: &mut Cursor<'_>, want: u8, context: &'static str) -> Result<(), Problem> {
    let at = c.offset();
    let t = c.byte().map_err(|e| wire_problem(c, e, context))?;
    if t != want {
        return Err((at, ErrorKind::UnexpectedEvent { ty: t, context }));
    }
    Ok(())
}

fn decode_strings(c: &mut Cursor<'_>, g: &mut Generation) -> Result<(), Problem> {
    expect_type(c, ev::STRINGS, "string batch")?;
    while !c.is_empty() {
        let at = c.offset();
        expect_type(c, ev::STRING, "string batch")?;
        let id = c.uvarint().map_err(|e| wire_problem(c, e, "string"))?;
        let len = c.uvarint().map_err(|e| wire_problem(c, e, "string"))?;
        if len > MAX_STRING_LEN {
            return Err((at, ErrorKind::StringTooLong { len }));
        }
        let bytes = c
            .bytes(len as usize)
            .map_err(|e| wire_problem(c, e, "string data"))?;
        if id == 0 || g.strings.contains_key(&id) {
            return Err((
                at,
                ErrorKind::DuplicateId {
                    table: "string",
                    id,
                },
            ));
        }
        g.strings
            .insert(id, String::from_utf8_lossy(bytes).into_owned());
    }
    Ok(())
}

fn decode_stacks(c: &mut Cursor<'_>, g: &mut Generation) -> Result<(), Problem> {
    expect_type(c, ev::STACKS, "stack batch")?;
    while !c.is_empty() {
        let at = c.offset();
        expect_type(c, ev::STACK, "stack batch")?;
        let id = c.uvarint().map_err(|e| wire_problem(c, e, "stack"))?;
        let n = c.uvarint().map_err(|e| wire_problem(c, e, "stack"))?;
        if n > MAX_FRAMES {
            return Err((at, ErrorKind::TooManyFrames { n }));
        }
        let mut frames = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mut f = [0u64; 4];
            for v in &mut f {
                *v = c.uvarint().map_err(|e| wire_problem(c, e, "stack frame"))?;
            }
            frames.push(Frame {
                pc: f[0],
                func: f[1],
                file: f[2],
                line: f[3],
            });
        }
        if id == 0 || g.stacks.contains_key(&id) {
            return Err((at, ErrorKind::DuplicateId { table: "stack", id }));
        }
        g.stacks.insert(id, frames);
    }
    Ok(())
}

fn decode_cpu_samples(c: &mut Cursor<'_>, g: &mut Generation) -> Result<(), Problem> {
    expect_type(c, ev::CPU_SAMPLES, "CPU sample batch")?;
    while !c.is_empty() {
        expect_type(c, ev::CPU_SAMPLE, "CPU sample batch")?;
        let mut a = [0u64; 5];
        for v in &mut a {
            *v = c.uvarint().map_err(|e| wire_problem(c, e, "CPU sample"))?;
        }
        g.cpu_samples.push(CpuSample {
            time: a[0],
            m: a[1],
            p: a[2],
            g: a[3],
            stack: a[4],
        });
    }
    Ok(())
}

fn decode_sync(
    version: Version,
    c: &mut Cursor<'_>,
    base: u64,
    g: &mut Generation,
) -> Result<(), Problem> {
    if version >= Version::Go125 {
        expect_type(c, ev::SYNC, "sync batch")?;
    }
    while !c.is_empty() {
        let at = c.offset();
        let t = c.byte().map_err(|e| wire_problem(c, e, "sync batch"))?;
        match t {
            ev::FREQUENCY => {
                if g.frequency != 0 {
                    return Err((at, ErrorKind::DuplicateSync));
                }
                let f = c.uvarint().map_err(|e| wire_problem(c, e, "Frequency"))?;
                if f == 0 {
                    return Err((at, ErrorKind::ZeroFrequency));
                }
                g.frequency = f;
            }
            ev::CLOCK_SNAPSHOT if version >= Version::Go125 => {
                if g.clock.is_some() {
                    return Err((at, ErrorKind::DuplicateSync));
                }
                let mut a = [0u64; 4];
                for v in &mut a {
                    *v = c
                        .uvarint()
                        .map_err(|e| wire_problem(c, e, "ClockSnapshot"))?;
                }
                let ticks = base
                    .checked_add(a[0])
                    .ok_or((at, ErrorKind::TimestampOverflow))?;
                g.clock = Some(ClockSnapshot {
                    ticks,
                    mono_ns: a[1],
                    wall_sec: a[2],
                    wall_nsec: a[3],
                });
            }
            t => {
                return Err((
                    at,
                    ErrorKind::UnexpectedEvent {
                        ty: t,
                        context: "sync batch",
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Decodes the timed events of one batch payload, calling `sink(kind,
/// offset, ticks)` for each; stops at the first bad byte.
fn decode_events(
    c: &mut Cursor<'_>,
    base: u64,
    mut sink: impl FnMut(EventKind, u64, u64),
) -> Result<(), Problem> {
    let mut now = base;
    while !c.is_empty() {
        let (kind, at) = decode_event(c, &mut now)?;
        sink(kind, at, now);
    }
    Ok(())
}

/// Decodes one timed event at `c`, advancing `now` (ticks) by its delta.
fn decode_event(c: &mut Cursor<'_>, now: &mut u64) -> Result<(EventKind, u64), Problem> {
    let mut args = [0u64; 5];
    {
        let at = c.offset();
        let t = c.byte().map_err(|e| wire_problem(c, e, "event"))?;
        let Some(n) = timed_arg_count(t) else {
            c.skip_rest();
            let kind = if spool_trace_wire::spec(t).is_some() {
                ErrorKind::UnexpectedEvent {
                    ty: t,
                    context: "an event batch",
                }
            } else {
                ErrorKind::UnknownEvent { ty: t }
            };
            return Err((at, kind));
        };
        for v in args.iter_mut().take(n) {
            *v = c
                .uvarint()
                .map_err(|e| wire_problem(c, e, "event argument"))?;
        }
        *now = now
            .checked_add(args[0])
            .ok_or((at, ErrorKind::TimestampOverflow))?;
        let kind =
            EventKind::from_args(t, &args[1..n]).ok_or((at, ErrorKind::UnknownEvent { ty: t }))?;
        Ok((kind, at))
    }
}

/// Iterates the timed events of one batch by decoding its payload from the
/// file bytes (for generations read with
/// [`TraceReader::next_generation_lazy`]). Stops silently at a bad byte:
/// the problem was already recorded in [`Generation::problems`].
#[derive(Clone, Debug)]
pub struct BatchEvents<'d> {
    c: Cursor<'d>,
    now: u64,
    freq: u64,
    batch: u32,
}

impl Iterator for BatchEvents<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.c.is_empty() {
            return None;
        }
        match decode_event(&mut self.c, &mut self.now) {
            Ok((kind, offset)) => Some(Event {
                kind,
                time: ticks_to_ns(self.now, self.freq),
                offset,
                batch: self.batch,
            }),
            Err(_) => {
                self.c.skip_rest();
                None
            }
        }
    }
}

fn check_references(g: &mut Generation, data: &[u8]) {
    let mut problems = Vec::new();
    let all: Box<dyn Iterator<Item = Event> + '_> = if g.lazy {
        Box::new((0..g.batches.len()).flat_map(|b| g.batch_events(b, data)))
    } else {
        Box::new(g.events.iter().copied())
    };
    for ev in all {
        let batch = g.batches.get(ev.batch as usize).map(|b| b.offset);
        for id in ev.kind.string_ids() {
            if id != 0 && !g.strings.contains_key(&id) {
                problems.push(ReadError {
                    offset: ev.offset,
                    batch,
                    kind: ErrorKind::UnknownId {
                        table: "string",
                        id,
                    },
                });
            }
        }
        for id in ev.kind.stack_ids() {
            if id != 0 && !g.stacks.contains_key(&id) {
                problems.push(ReadError {
                    offset: ev.offset,
                    batch,
                    kind: ErrorKind::UnknownId { table: "stack", id },
                });
            }
        }
    }
    for frames in g.stacks.values() {
        for f in frames {
            for id in [f.func, f.file] {
                if id != 0 && !g.strings.contains_key(&id) {
                    problems.push(ReadError {
                        offset: g.offset,
                        batch: None,
                        kind: ErrorKind::UnknownId {
                            table: "string",
                            id,
                        },
                    });
                }
            }
        }
    }
    problems.truncate(1000);
    g.problems.extend(problems);
}
