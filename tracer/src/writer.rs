//! The writer thread: appends sealed batches to the sink, flips generations,
//! and writes each generation's tables and `Frequency`.
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
//! The first failed write stops tracing (the enabled flag is cleared), prints
//! one message on stderr, rolls a file sink back to the end of the last
//! complete generation, and is returned by `stop()`. Later batches are dropped.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
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

/// The writer thread's state.
pub(crate) struct Writer {
    sink: Sink,
    /// The generation being recorded.
    generation: Arc<Generation>,
    /// A reset arena ready for the next generation.
    spare: Option<Arena>,
    calibration: Calibration,
    gen_started: Instant,
    gen_bytes: usize,
    /// Batches of the next generation that arrived during a flip.
    later: Vec<Sealed>,
    summary: TraceSummary,
    /// End of the last complete generation in the sink.
    good_bytes: u64,
    error: Option<io::Error>,
}

impl Writer {
    pub(crate) fn new(sink: Sink, generation: Arc<Generation>, calibration: Calibration) -> Self {
        Writer {
            sink,
            generation,
            spare: None,
            calibration,
            gen_started: Instant::now(),
            gen_bytes: 0,
            later: Vec::new(),
            summary: TraceSummary::default(),
            good_bytes: 0,
            error: None,
        }
    }

    /// The thread's main loop; returns what was written or the first error.
    pub(crate) fn run(mut self) -> Result<TraceSummary, WriteFailure> {
        mstate::with_m(|m| m.set_internal());
        self.write(FILE_HEADER);
        self.good_bytes = self.summary.bytes;
        loop {
            let (batches, stop, flushes) = self.wait();
            for b in batches {
                self.accept(b);
            }
            if stop {
                self.finish_generation();
                break;
            }
            let due = self.gen_started.elapsed() >= GEN_PERIOD || self.gen_bytes >= GEN_MAX_BYTES;
            if due || flushes > 0 {
                self.flip();
            }
            if flushes > 0 {
                lock(&INBOX).flushes_done += flushes;
                FLUSHED.notify_all();
            }
        }
        {
            // Release `flush` callers that raced with `stop`.
            let mut inbox = lock(&INBOX);
            inbox.flushes_done = inbox.flush_requested;
        }
        FLUSHED.notify_all();
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

    /// Waits for batches, a stop or flush request, or the end of the
    /// generation period. Returns the batches, the stop flag and the number
    /// of flush requests to serve.
    fn wait(&mut self) -> (Vec<Sealed>, bool, u64) {
        let deadline = self.gen_started + GEN_PERIOD;
        let mut inbox = lock(&INBOX);
        while inbox.batches.is_empty() && !inbox.stop && inbox.flush_requested == inbox.flushes_done
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inbox = INBOX_READY
                .wait_timeout(inbox, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let flushes = inbox.flush_requested - inbox.flushes_done;
        (inbox.batches.drain(..).collect(), inbox.stop, flushes)
    }

    /// Writes a batch of the current generation or keeps one of the next.
    fn accept(&mut self, b: Sealed) {
        let g = b.generation().global();
        let cur = self.generation.global();
        if g == cur {
            self.gen_bytes += b.bytes().len();
            self.summary.batches += 1;
            self.write(b.bytes());
        } else if g > cur {
            self.later.push(b);
        }
        // Older: left over from a trace that already ended; dropped.
    }

    /// Appends bytes to the sink unless a write already failed.
    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.sink.out().write_all(bytes) {
            Ok(()) => self.summary.bytes += bytes.len() as u64,
            Err(e) => self.fail(e),
        }
    }

    /// Stops tracing after a write error (once).
    #[cold]
    fn fail(&mut self, e: io::Error) {
        if self.error.is_some() {
            return;
        }
        ENABLED.store(false, Ordering::Relaxed);
        {
            let mut cur = lock(&CURRENT);
            *cur = None;
            GEN.store(0, Ordering::Release);
        }
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

    /// Closes the current generation and opens the next (steps 1-5 above).
    fn flip(&mut self) {
        let global = LAST_GEN.fetch_add(1, Ordering::Relaxed) + 1;
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
    /// then its tables and sync batch.
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
        self.write(&tail);
        if self.error.is_none() {
            if let Err(e) = self.sink.out().flush() {
                self.fail(e);
                return;
            }
            self.summary.generations += 1;
            self.good_bytes = self.summary.bytes;
        }
    }
}
