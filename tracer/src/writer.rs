//! The writer thread: appends sealed batches to its consumers, flips
//! generations, and writes each generation's tables and `Frequency`.
//!
//! # Consumers
//! One recording feeds up to two consumers, as Go's `traceMultiplexer`
//! feeds `trace.Start`'s writer and the flight recorder: a [`Sink`] (the
//! trace file or writer of `control::start`) and a flight recorder's
//! window (`ring.rs`). Tracing is on while either is attached. A consumer
//! attached or detached while the other runs changes at a generation
//! boundary ([`Change`], applied right after a flip), so each receives
//! whole generations: a sink that joins gets the file header, then the
//! generations that follow; one that leaves gets the generation that was
//! open when it asked. The window keeps every batch of a generation (not
//! copied: the batches and the generation's arena move into it) and
//! returns the arenas it evicts, which the writer reuses.
//!
//! # Generation flip (every [`GEN_PERIOD`] or [`GEN_MAX_BYTES`])
//! 1. Open generation g+1 and publish it: under the `CURRENT` lock, replace the
//!    current generation and store `GEN = g+1` (Release). From now on a new
//!    write section opens its batch in g+1.
//! 2. Collect: lock every M's slot once and take its batch if it belongs to g.
//!    A section that started before we locked the slot has finished (the lock
//!    waits for it); one that starts after sees g+1. So once every slot has
//!    been visited, no event of g can still be written.
//! 3. Drain the inbox. Every batch of g that an M sealed itself was pushed
//!    before that M's slot was collected, so it is in the inbox now; it is
//!    written before the batch collected from the same M (emission order).
//!    Batches of g+1 found there are kept for after the flip.
//! 4. Write the collected batches, then g's string and stack tables and the
//!    sync batch (`Frequency`), then flush. The file is now a complete trace
//!    up to g (a `go 1.22` generation ends where the next one starts or at EOF).
//! 5. The writer now holds the last reference to g: reuse its arena for g+2.
//!
//! Rejected: double-buffering per generation parity as Go does
//! (`buf[gen%2]`). With a per-M lock held for one event, the collector simply
//! takes the buffer, which is simpler and checked by the loom model.
//!
//! # Errors
//! The first failed write to the sink prints one message on stderr, rolls a
//! file sink back to the end of the last complete generation, and is
//! returned by `stop()`; later batches are not written to it. Without a
//! flight recorder attached it also stops tracing (the enabled flag is
//! cleared); with one, recording goes on for the recorder.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spool_trace_wire::ev;
use spool_trace_wire::varint::push as push_varint;

use crate::arena::Arena;
use crate::buf::{FILE_HEADER, Sealed};
use crate::clock::{self, Calibration};
use crate::generation::Generation;
use crate::inbox::{FLUSHED, INBOX, INBOX_READY};
use crate::mstate;
use crate::publish::{CURRENT, ENABLED, GEN, LAST_GEN};
use crate::ring::{RawGen, Ring};
use crate::vocab::lock;

/// A generation lasts at most this long (Go's `defaultTraceAdvancePeriod`).
pub(crate) const GEN_PERIOD: Duration = Duration::from_secs(1);

/// A generation is also closed once this many batch bytes were written, so
/// memory held by a generation (its arena) stays bounded on busy runs.
pub(crate) const GEN_MAX_BYTES: usize = 4 << 20;

/// Where the trace goes.
pub(crate) enum Sink {
    /// A file the tracer opened (`SPOOL_TRACE`, `start_file`): it can be cut
    /// back to the last complete generation after an error.
    File { file: File, path: PathBuf },
    /// Any writer.
    Writer(Box<dyn Write + Send>),
}

impl Sink {
    fn out(&mut self) -> &mut dyn Write {
        match self {
            Sink::File { file, .. } => file,
            Sink::Writer(w) => w,
        }
    }

    fn describe(&self) -> String {
        match self {
            Sink::File { path, .. } => format!("{}", path.display()),
            Sink::Writer(_) => "the trace writer".to_string(),
        }
    }
}

/// What a failed trace left when not even its first generation was
/// complete (only the file header, which no trace reader accepts).
pub(crate) const NOTHING_USABLE: &str = "nothing usable was written: the error came before the \
     first generation was complete, so the output holds at most the 16-byte file header, which \
     is not a readable trace";

/// What a finished trace wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceSummary {
    /// Bytes written, file header included.
    pub bytes: u64,
    /// Complete generations written.
    pub generations: u64,
    /// Event batches written (table and sync batches excluded).
    pub batches: u64,
}

/// How a trace whose writing failed ended.
#[derive(Debug)]
pub(crate) struct WriteFailure {
    pub(crate) error: io::Error,
    /// Bytes up to the end of the last complete generation.
    pub(crate) complete_bytes: u64,
    pub(crate) generations: u64,
}

/// Trace bytes written to sinks since the process started (every trace,
/// file headers included; `control::bytes_written`).
pub(crate) static BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);

/// A change of the writer's consumers, applied at a generation boundary.
pub(crate) enum Change {
    /// Attach a sink; the writer then holds flips until the joiner clears
    /// `Inbox::held`.
    AttachSink(Sink),
    /// Detach the sink after the open generation; its result is sent back.
    DetachSink(SyncSender<Result<TraceSummary, WriteFailure>>),
    /// Attach a flight recorder's window.
    AttachRing(Arc<Ring>),
    /// Detach the window after the open generation.
    DetachRing,
}

/// Consumer changes on their way to the writer (counted in
/// `Inbox::changes_requested`).
pub(crate) static CHANGES: Mutex<VecDeque<Change>> = Mutex::new(VecDeque::new());

/// The sink and what it was given.
struct SinkState {
    sink: Sink,
    summary: TraceSummary,
    /// End of the last complete generation in the sink.
    good_bytes: u64,
    error: Option<io::Error>,
}

impl SinkState {
    fn new(sink: Sink) -> SinkState {
        let mut s = SinkState {
            sink,
            summary: TraceSummary::default(),
            good_bytes: 0,
            error: None,
        };
        s.write(FILE_HEADER);
        s.good_bytes = s.summary.bytes;
        s
    }

    /// Appends bytes unless a write already failed; false on a new failure.
    fn write(&mut self, bytes: &[u8]) -> bool {
        if self.error.is_some() {
            return true;
        }
        match self.sink.out().write_all(bytes) {
            Ok(()) => {
                self.summary.bytes += bytes.len() as u64;
                BYTES_WRITTEN.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Ends a generation: flushes and counts it.
    fn end_generation(&mut self) -> bool {
        if self.error.is_some() {
            return true;
        }
        if let Err(e) = self.sink.out().flush() {
            self.fail(e);
            return false;
        }
        self.summary.generations += 1;
        self.good_bytes = self.summary.bytes;
        true
    }

    /// Records the first write error, reports it once and cuts a file
    /// back to its last complete generation.
    #[cold]
    fn fail(&mut self, e: io::Error) {
        let generations = self.summary.generations;
        let kept = match &mut self.sink {
            Sink::File { file, .. } => match file.set_len(self.good_bytes) {
                // Cut back or not, a file without one whole generation is
                // of no use.
                _ if generations == 0 => NOTHING_USABLE.to_string(),
                Ok(()) => format!(
                    "the file holds the {generations} complete generation(s) written before the error"
                ),
                Err(_) => "the file may end with an incomplete generation".to_string(),
            },
            Sink::Writer(_) if generations == 0 => NOTHING_USABLE.to_string(),
            Sink::Writer(_) => format!(
                "the first {} bytes form {generations} complete generation(s)",
                self.good_bytes
            ),
        };
        eprintln!(
            "spool: tracing stopped: writing to {} failed: {e}; {kept}",
            self.sink.describe()
        );
        self.error = Some(e);
    }

    /// Flushes the sink and gives its result.
    fn finish(mut self) -> Result<TraceSummary, WriteFailure> {
        if self.error.is_none() {
            if let Err(e) = self.sink.out().flush() {
                self.fail(e);
            }
        }
        match self.error.take() {
            Some(error) => Err(WriteFailure {
                error,
                complete_bytes: self.good_bytes,
                generations: self.summary.generations,
            }),
            None => Ok(self.summary),
        }
    }
}

/// What the writer thread returns: the result of the sink attached when
/// it stopped, if any.
pub(crate) type WriterResult = Option<Result<TraceSummary, WriteFailure>>;

/// The writer thread's state.
pub(crate) struct Writer {
    sink: Option<SinkState>,
    ring: Option<Arc<Ring>>,
    /// The generation being recorded.
    generation: Arc<Generation>,
    /// A reset arena ready for the next generation.
    spare: Option<Arena>,
    calibration: Calibration,
    gen_started: Instant,
    gen_bytes: usize,
    /// Batches of the current generation kept for the window.
    kept: Vec<Sealed>,
    /// Batches of the next generation that arrived during a flip.
    later: Vec<Sealed>,
}

impl Writer {
    pub(crate) fn new(
        sink: Option<Sink>,
        ring: Option<Arc<Ring>>,
        generation: Arc<Generation>,
        calibration: Calibration,
    ) -> Self {
        Writer {
            sink: sink.map(SinkState::new),
            ring,
            generation,
            spare: None,
            calibration,
            gen_started: Instant::now(),
            gen_bytes: 0,
            kept: Vec::new(),
            later: Vec::new(),
        }
    }

    /// The thread's main loop; returns what the sink attached at the end
    /// was given.
    pub(crate) fn run(mut self) -> WriterResult {
        mstate::with_m(|m| m.set_internal());
        loop {
            let w = self.wait();
            for b in w.batches {
                self.accept(b);
            }
            if w.stop {
                self.finish_generation();
                break;
            }
            let due = self.gen_started.elapsed() >= GEN_PERIOD || self.gen_bytes >= GEN_MAX_BYTES;
            // While a joiner holds flips, flushes and changes wait.
            let changes = if w.held { 0 } else { w.changes };
            if !w.held && (due || w.flushes > 0 || changes > 0) {
                self.flip();
            }
            if changes > 0 {
                let held = self.apply_changes();
                let mut inbox = lock(&INBOX);
                inbox.changes_done += changes;
                inbox.held |= held;
                drop(inbox);
                FLUSHED.notify_all();
            }
            if w.flushes > 0 && !w.held {
                lock(&INBOX).flushes_done += w.flushes;
                FLUSHED.notify_all();
            }
        }
        {
            // Release `flush` callers and consumer changes that raced with `stop`.
            let mut inbox = lock(&INBOX);
            inbox.flushes_done = inbox.flush_requested;
            inbox.changes_done = inbox.changes_requested;
            inbox.held = false;
        }
        lock(&CHANGES).clear();
        FLUSHED.notify_all();
        self.sink.take().map(SinkState::finish)
    }

    /// Waits for batches, a stop, flush or consumer-change request, or the
    /// end of the generation period (not while a joiner holds flips).
    fn wait(&mut self) -> Wake {
        let deadline = self.gen_started + GEN_PERIOD;
        let mut inbox = lock(&INBOX);
        while inbox.batches.is_empty()
            && !inbox.stop
            && (inbox.held
                || (inbox.flush_requested == inbox.flushes_done
                    && inbox.changes_requested == inbox.changes_done))
        {
            if inbox.held {
                inbox = INBOX_READY.wait(inbox).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inbox = INBOX_READY
                .wait_timeout(inbox, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        Wake {
            flushes: inbox.flush_requested - inbox.flushes_done,
            changes: inbox.changes_requested - inbox.changes_done,
            held: inbox.held,
            stop: inbox.stop,
            batches: inbox.batches.drain(..).collect(),
        }
    }

    /// Applies the queued consumer changes (right after a flip); true if
    /// a sink joined, so flips are held until its joiner is done.
    fn apply_changes(&mut self) -> bool {
        let changes: Vec<Change> = lock(&CHANGES).drain(..).collect();
        let mut held = false;
        for c in changes {
            match c {
                Change::AttachSink(sink) => {
                    self.sink = Some(SinkState::new(sink));
                    held = true;
                }
                Change::DetachSink(reply) => {
                    if let Some(s) = self.sink.take() {
                        let _ = reply.send(s.finish());
                    }
                }
                Change::AttachRing(ring) => self.ring = Some(ring),
                Change::DetachRing => {
                    self.ring = None;
                    self.kept.clear();
                }
            }
        }
        held
    }

    /// Writes a batch of the current generation or keeps one of the next.
    fn accept(&mut self, b: Sealed) {
        let g = b.generation().global();
        let cur = self.generation.global();
        if g == cur {
            self.gen_bytes += b.bytes().len();
            if let Some(s) = &mut self.sink {
                s.summary.batches += 1;
                if !s.write(b.bytes()) {
                    self.sink_failed();
                }
            }
            if self.ring.is_some() {
                self.kept.push(b);
            }
        } else if g > cur {
            self.later.push(b);
        }
        // Older: left over from a trace that already ended; dropped.
    }

    /// The sink's first write error: without a flight recorder nobody
    /// consumes the recording any more, so tracing stops.
    #[cold]
    fn sink_failed(&mut self) {
        if self.ring.is_some() {
            return;
        }
        ENABLED.store(false, Ordering::Relaxed);
        let mut cur = lock(&CURRENT);
        *cur = None;
        GEN.store(0, Ordering::Release);
    }

    /// Closes the current generation and opens the next (steps 1-5 above).
    fn flip(&mut self) {
        let global = LAST_GEN.fetch_add(1, Ordering::Relaxed) + 1;
        if let (Some(ring), None) = (&self.ring, &self.spare) {
            // The window's evictions for the generation closing now, early:
            // the evicted arena serves the next one (`ring.rs`).
            let evicted = ring.make_room(
                self.generation.mem_bytes(),
                self.gen_started,
                Instant::now(),
            );
            for old in evicted {
                self.reclaim(old);
            }
        }
        let arena = self.spare.take().unwrap_or_default();
        let next = Arc::new(Generation::new(
            global,
            self.generation.file_gen() + 1,
            self.generation.tick_base(),
            arena,
        ));
        {
            let mut cur = lock(&CURRENT);
            if cur.is_none() {
                // Tracing was stopped (error): nothing to flip to.
                return;
            }
            *cur = Some(next.clone());
            // Publish the new generation (pairs with the Acquire in a section).
            GEN.store(global, Ordering::Release);
        }
        self.finish_generation();
        let old = std::mem::replace(&mut self.generation, next);
        if let Ok(g) = Arc::try_unwrap(old) {
            self.spare = Some(g.into_arena());
        }
        self.gen_started = Instant::now();
        self.gen_bytes = 0;
        for b in std::mem::take(&mut self.later) {
            self.accept(b);
        }
    }

    /// Steps 2-4: collects and writes the rest of the current generation,
    /// then its tables and sync batch; hands it to the window if one is
    /// attached.
    fn finish_generation(&mut self) {
        let g = self.generation.global();
        let collected = mstate::collect(g);
        let queued: Vec<Sealed> = lock(&INBOX).batches.drain(..).collect();
        for b in queued.into_iter().chain(collected) {
            self.accept(b);
        }
        let ts = clock::now();
        let mut tail = Vec::new();
        self.generation.encode_tables(ts, &mut tail);
        let mut sync = vec![ev::FREQUENCY];
        push_varint(&mut sync, self.calibration.frequency_since());
        self.generation.push_batch(&sync, ts, &mut tail);
        if let Some(s) = &mut self.sink {
            if !(s.write(&tail) && s.end_generation()) {
                self.sink_failed();
            }
        }
        if let Some(ring) = &self.ring {
            let raw = RawGen {
                batches: std::mem::take(&mut self.kept),
                mem: self.generation.mem_bytes() + tail.len(),
                tail,
                generation: self.generation.clone(),
                started: self.gen_started,
            };
            let evicted = ring.push(raw, Instant::now());
            for old in evicted {
                self.reclaim(old);
            }
        }
    }

    /// Takes the arena of a generation the window evicted back for reuse
    /// (unless a dump still reads it: then it is unmapped when the dump
    /// lets go).
    fn reclaim(&mut self, old: Arc<RawGen>) {
        let Ok(raw) = Arc::try_unwrap(old) else {
            return;
        };
        let RawGen {
            batches,
            generation,
            ..
        } = raw;
        drop(batches);
        if self.spare.is_none() {
            if let Ok(g) = Arc::try_unwrap(generation) {
                self.spare = Some(g.into_arena());
            }
        }
    }
}

/// What [`Writer::wait`] found.
struct Wake {
    batches: Vec<Sealed>,
    stop: bool,
    held: bool,
    flushes: u64,
    changes: u64,
}
