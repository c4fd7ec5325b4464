//! Starting and stopping a trace, and the `SPOOL_TRACE` variable.
//!
//! These functions record a consistent trace only when the world is stopped
//! while they run (no task is being polled): the executor wraps them in
//! `stop_the_world` (`spool::trace::start`/`stop`). Called without that, a
//! hook racing `start` may miss its event (never a malformed file: a task
//! first seen in a later generation is introduced or dropped by the rules in
//! `record.rs`).
//!
//! Invariants: at most one recording runs at a time (`SESSION`), feeding at
//! most one sink (`start`/`stop`) and one flight recorder's window
//! (`flight.rs`); it runs while either is attached. Starting the recording
//! fully publishes the first generation before setting the enabled flag;
//! detaching the last consumer clears the flag and the generation, then
//! lets the writer collect every M. A consumer that joins a running
//! recording is attached by the writer at a generation boundary
//! (`writer::Change`); a sink that joins holds the writer's flips until
//! the joiner's status callback has run, so the statuses it writes land in
//! the sink's first generation.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use crate::arena::Arena;
use crate::clock::{self, Calibration};
use crate::generation::Generation;
use crate::hooks::{self, GoTraceState, ProcTraceState};
use crate::inbox::{FLUSHED, INBOX, INBOX_READY};
use crate::publish::{BASE_GEN, CURRENT, ENABLED, GEN, LAST_GEN};
use crate::record;
use crate::ring::Ring;
use crate::vocab::lock;
use crate::writer::{CHANGES, Change, Sink, TraceSummary, Writer, WriterResult};

pub use crate::record::{FOREIGN_PROC_ID, RUNTIME_PROC_ID, RUNTIME_TASK_ID};
pub use crate::vocab::StatusAtStart;

/// Name of the environment variable that turns tracing on for a runtime.
pub const ENV_VAR: &str = "SPOOL_TRACE";

/// How far before the trace's start the file's time origin lies, in ticks
/// (~2^20 ticks = tens of ms): a core whose clock lags slightly still writes
/// positive times.
const TICK_MARGIN: u64 = 1 << 20;

/// The recording and its consumers.
struct Session {
    writer: JoinHandle<WriterResult>,
    /// A sink (`start`) is attached.
    sink: bool,
    /// A flight recorder's window is attached.
    ring: Option<Arc<Ring>>,
}

static SESSION: Mutex<Option<Session>> = Mutex::new(None);

/// Why starting or stopping a trace failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TraceError {
    /// A trace is already being recorded; stop it first.
    AlreadyStarted,
    /// `stop` was called with no trace being recorded.
    NotStarted,
    /// The trace file could not be created.
    Open {
        /// The path that was given.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Writing the trace failed; tracing stopped at that point.
    Write {
        /// The first write error.
        source: io::Error,
        /// The first `complete_bytes` bytes written form a valid trace of
        /// `generations` complete generations (a file sink is cut back to them).
        complete_bytes: u64,
        /// Complete generations in those bytes.
        generations: u64,
    },
    /// The writer thread could not be started or panicked.
    Writer(String),
    /// A flight recorder is already running (at most one at a time, as in Go).
    RecorderAlreadyStarted,
    /// A flight recorder's configuration cannot work; the text says why.
    Config(String),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::AlreadyStarted => {
                write!(f, "spool trace: a trace is already being recorded")
            }
            TraceError::NotStarted => write!(f, "spool trace: no trace is being recorded"),
            TraceError::Open { path, source } => {
                write!(f, "spool trace: cannot create {}: {source}", path.display())
            }
            TraceError::Write {
                source,
                generations: 0,
                ..
            } => write!(
                f,
                "spool trace: writing the trace failed: {source}; {}",
                crate::writer::NOTHING_USABLE
            ),
            TraceError::Write {
                source,
                complete_bytes,
                generations,
            } => write!(
                f,
                "spool trace: writing the trace failed: {source} (the first {complete_bytes} bytes hold {generations} complete generation(s))"
            ),
            TraceError::Writer(m) => write!(f, "spool trace: writer thread: {m}"),
            TraceError::RecorderAlreadyStarted => {
                write!(f, "spool trace: a flight recorder is already running")
            }
            TraceError::Config(m) => write!(f, "spool trace: flight recorder: {m}"),
        }
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TraceError::Open { source, .. } => Some(source),
            TraceError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<TraceError> for io::Error {
    fn from(e: TraceError) -> io::Error {
        match e {
            TraceError::Open { source, .. } => source,
            TraceError::Write { source, .. } => source,
            other => io::Error::other(other),
        }
    }
}

/// Starts recording a trace into `writer`.
///
/// Call it with the world stopped (`spool::trace::start` does); see the
/// module docs.
///
/// # Errors
/// [`TraceError::AlreadyStarted`] if a trace is being recorded;
/// [`TraceError::Writer`] if the writer thread cannot be spawned.
///
/// # Example
/// ```
/// use spool_tracer::control;
/// control::start(Vec::<u8>::new()).unwrap();
/// assert!(control::start(Vec::<u8>::new()).is_err()); // only one at a time
/// let summary = control::stop().unwrap();
/// assert!(summary.bytes >= 16); // at least the header
/// ```
pub fn start(writer: impl Write + Send + 'static) -> Result<(), TraceError> {
    start_with(writer, || {})
}

/// [`start`], then `statuses` right after the trace is on and before its
/// first generation can end: the executor writes the statuses of its live
/// tasks there ([`task_status`]). When a flight recorder is recording
/// already, the trace joins that recording at a generation boundary and
/// `statuses` makes the trace's first generation self-contained.
///
/// # Errors
/// As [`start`].
///
/// ```
/// use spool_tracer::control;
/// control::start_with(std::io::sink(), || { /* control::task_status(..) */ }).unwrap();
/// control::stop().unwrap();
/// ```
pub fn start_with(
    writer: impl Write + Send + 'static,
    statuses: impl FnOnce(),
) -> Result<(), TraceError> {
    let mut session = lock(&SESSION);
    attach_sink(&mut session, Sink::Writer(Box::new(writer)), statuses)
}

/// Starts recording a trace into a new file at `path` (truncated if it
/// exists). After a write error the file is cut back to its last complete
/// generation, so it stays readable.
///
/// # Errors
/// [`TraceError::Open`] naming the path if the file cannot be created, and
/// the errors of [`start`].
pub fn start_file(path: impl AsRef<Path>) -> Result<(), TraceError> {
    start_file_with(path, || {})
}

/// [`start_file`] with the `statuses` callback of [`start_with`].
///
/// # Errors
/// As [`start_file`].
pub fn start_file_with(path: impl AsRef<Path>, statuses: impl FnOnce()) -> Result<(), TraceError> {
    let path = path.as_ref().to_path_buf();
    let mut session = lock(&SESSION);
    if session.as_ref().is_some_and(|s| s.sink) {
        return Err(TraceError::AlreadyStarted);
    }
    let file = File::create(&path).map_err(|source| TraceError::Open {
        path: path.clone(),
        source,
    })?;
    attach_sink(&mut session, Sink::File { file, path }, statuses)
}

/// Attaches `sink` to the recording, starting one if none runs.
fn attach_sink(
    session: &mut Option<Session>,
    sink: Sink,
    statuses: impl FnOnce(),
) -> Result<(), TraceError> {
    match session {
        None => start_locked(session, Some(sink), None, statuses),
        Some(s) if s.sink => Err(TraceError::AlreadyStarted),
        Some(s) => {
            if !hooks::enabled() {
                return Err(TraceError::Writer(
                    "the recording stopped after an error".into(),
                ));
            }
            // A stop-the-world range this thread has open (the executor
            // joins under one) ends before the boundary: `statuses` opens
            // it again after, so both consumers see whole ranges.
            record::stw_end();
            // Joins at a generation boundary; the writer holds flips until
            // `release_hold`, so the statuses land in the sink's first one.
            request_change(Change::AttachSink(sink));
            s.sink = true;
            statuses();
            release_hold();
            Ok(())
        }
    }
}

/// Queues a consumer change and waits until the writer applied it.
fn request_change(c: Change) {
    lock(&CHANGES).push_back(c);
    let mut inbox = lock(&INBOX);
    inbox.changes_requested += 1;
    let target = inbox.changes_requested;
    INBOX_READY.notify_all();
    while inbox.changes_done < target {
        inbox = FLUSHED.wait(inbox).unwrap_or_else(|e| e.into_inner());
    }
}

/// Lets the writer flip generations again after a sink joined.
fn release_hold() {
    lock(&INBOX).held = false;
    INBOX_READY.notify_all();
}

fn start_locked(
    session: &mut Option<Session>,
    sink: Option<Sink>,
    ring: Option<Arc<Ring>>,
    statuses: impl FnOnce(),
) -> Result<(), TraceError> {
    clock::init();
    {
        // Leftovers of an earlier trace (a thread that exited after it stopped).
        let mut inbox = lock(&INBOX);
        inbox.batches.clear();
        inbox.stop = false;
        inbox.flushes_done = inbox.flush_requested;
        inbox.changes_done = inbox.changes_requested;
        inbox.held = false;
    }
    lock(&CHANGES).clear();
    record::reset_for_trace();
    let global = LAST_GEN.fetch_add(1, Ordering::Relaxed) + 1;
    // File times count from shortly before the trace started (margin for
    // clock skew between cores; see `Generation::file_time`).
    let tick_base = clock::now().saturating_sub(TICK_MARGIN);
    let first = Arc::new(Generation::new(global, 1, tick_base, Arena::new()));
    let has_sink = sink.is_some();
    let writer = Writer::new(sink, ring.clone(), first.clone(), Calibration::take());
    BASE_GEN.store(global, Ordering::Relaxed);
    {
        let mut cur = lock(&CURRENT);
        *cur = Some(first);
        // Publish the first generation (pairs with the Acquire in a section).
        GEN.store(global, Ordering::Release);
    }
    ENABLED.store(true, Ordering::Relaxed);
    // Before the writer runs, so no flip can come first.
    statuses();
    let handle = std::thread::Builder::new()
        .name("spool-trace-writer".into())
        .spawn(move || writer.run());
    let handle = match handle {
        Ok(h) => h,
        Err(e) => {
            disable();
            return Err(TraceError::Writer(format!("cannot spawn: {e}")));
        }
    };
    *session = Some(Session {
        writer: handle,
        sink: has_sink,
        ring,
    });
    Ok(())
}

/// Attaches a flight recorder's window to the recording, starting one
/// (and calling `statuses` as [`start_with`] does) if none runs.
pub(crate) fn attach_ring(ring: Arc<Ring>, statuses: impl FnOnce()) -> Result<(), TraceError> {
    let mut session = lock(&SESSION);
    match &mut *session {
        None => start_locked(&mut session, None, Some(ring), statuses),
        Some(s) if s.ring.is_some() => Err(TraceError::RecorderAlreadyStarted),
        Some(s) => {
            if !hooks::enabled() {
                return Err(TraceError::Writer(
                    "the trace being recorded stopped after an error; stop it first".into(),
                ));
            }
            request_change(Change::AttachRing(ring.clone()));
            s.ring = Some(ring);
            Ok(())
        }
    }
}

/// Detaches `ring` (if it is the attached window), ending the recording
/// if no sink is attached.
pub(crate) fn detach_ring(ring: &Arc<Ring>) {
    let mut session = lock(&SESSION);
    let Some(s) = &mut *session else { return };
    if !s.ring.as_ref().is_some_and(|r| Arc::ptr_eq(r, ring)) {
        return;
    }
    if s.sink {
        request_change(Change::DetachRing);
        s.ring = None;
        return;
    }
    let s = session.take().expect("checked above");
    drop(session);
    let _ = end_recording(s);
}

/// Whether a flight recorder's window is attached.
pub(crate) fn ring_attached() -> bool {
    lock(&SESSION).as_ref().is_some_and(|s| s.ring.is_some())
}

/// Clears the enabled flag and the current generation.
fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
    let mut cur = lock(&CURRENT);
    *cur = None;
    // New sections now write nothing (pairs with the Acquire in a section).
    GEN.store(0, Ordering::Release);
}

/// Stops the trace, writes its last generation and waits until the sink has
/// it all. Closes a stop-the-world range the calling thread opened. A
/// flight recorder recording at the same time goes on.
///
/// # Errors
/// [`TraceError::NotStarted`] if no trace is being recorded;
/// [`TraceError::Write`] with the first write error if writing failed
/// (tracing stopped at that point; see [`start_file`] for what the file holds).
pub fn stop() -> Result<TraceSummary, TraceError> {
    let mut session = lock(&SESSION);
    if !session.as_ref().is_some_and(|s| s.sink) {
        return Err(TraceError::NotStarted);
    }
    record::stw_end();
    if session.as_ref().is_some_and(|s| s.ring.is_some()) {
        // The recorder keeps the recording: detach the sink only.
        let (tx, rx) = mpsc::sync_channel(1);
        request_change(Change::DetachSink(tx));
        if let Some(s) = &mut *session {
            s.sink = false;
        }
        drop(session);
        return match rx.recv() {
            Ok(r) => sink_result(Some(r)),
            Err(_) => Err(TraceError::Writer(
                "exited without the trace's result".into(),
            )),
        };
    }
    let s = session.take().expect("checked above");
    drop(session);
    sink_result(end_recording(s)?)
}

/// Ends the recording: clears the flag and the generation, lets the writer
/// finish and returns what it gave the sink.
fn end_recording(s: Session) -> Result<WriterResult, TraceError> {
    disable();
    {
        let mut inbox = lock(&INBOX);
        inbox.stop = true;
    }
    INBOX_READY.notify_all();
    s.writer
        .join()
        .map_err(|_| TraceError::Writer("panicked".into()))
}

fn sink_result(r: WriterResult) -> Result<TraceSummary, TraceError> {
    match r {
        Some(Ok(summary)) => Ok(summary),
        Some(Err(f)) => Err(TraceError::Write {
            source: f.error,
            complete_bytes: f.complete_bytes,
            generations: f.generations,
        }),
        None => Err(TraceError::Writer(
            "exited without the trace's result".into(),
        )),
    }
}

/// Ends the current generation now: when this returns, every event recorded
/// before the call is in the sink as part of a complete generation (a reader
/// of the file sees it even if the process dies right after). Tracing goes
/// on in a new generation.
///
/// # Errors
/// [`TraceError::NotStarted`] if no trace is being recorded.
///
/// # Example
/// ```
/// use spool_tracer::control;
/// control::start(std::io::sink()).unwrap();
/// control::flush().unwrap();
/// assert_eq!(control::stop().unwrap().generations, 2);
/// ```
pub fn flush() -> Result<(), TraceError> {
    if lock(&SESSION).is_none() {
        return Err(TraceError::NotStarted);
    }
    let mut inbox = lock(&INBOX);
    inbox.flush_requested += 1;
    let target = inbox.flush_requested;
    INBOX_READY.notify_all();
    while inbox.flushes_done < target && !inbox.stop {
        inbox = FLUSHED.wait(inbox).unwrap_or_else(|e| e.into_inner());
    }
    Ok(())
}

/// Whether a trace is being recorded (started and not stopped; false after a
/// write error even before `stop` collects it). Also true while only a
/// flight recorder records.
pub fn is_tracing() -> bool {
    hooks::enabled()
}

/// Trace bytes written to trace sinks (files and writers of [`start`])
/// since the process started, file headers included. Flight-recorder dumps
/// are not counted.
pub fn bytes_written() -> u64 {
    crate::writer::BYTES_WRITTEN.load(Ordering::Relaxed)
}

/// Starts tracing to the file named by `SPOOL_TRACE`, if set and non-empty.
/// Returns whether this call started a trace (the caller then owns it and
/// calls [`stop`] at shutdown). Problems are reported once on stderr, naming
/// the variable and its value, and never stop the program.
pub fn start_from_env() -> bool {
    let Some(path) = std::env::var_os(ENV_VAR) else {
        return false;
    };
    if path.is_empty() {
        return false;
    }
    match start_file(&path) {
        Ok(()) => true,
        Err(TraceError::AlreadyStarted) => {
            eprintln!(
                "spool: {ENV_VAR}={}: a trace is already being recorded; this runtime is traced into it",
                Path::new(&path).display()
            );
            false
        }
        Err(e) => {
            eprintln!(
                "spool: {ENV_VAR}={}: {e}; tracing disabled",
                Path::new(&path).display()
            );
            false
        }
    }
}

/// Writes the status of a task that exists when the trace starts. The
/// executor calls it for every live task that is not running, under the
/// same stop-the-world as [`start`]; Go's format only lets a task appear
/// without a `GoCreate` in the first generation.
pub fn task_status(id: u64, state: &GoTraceState, status: StatusAtStart) {
    if hooks::enabled() {
        record::task_status(id, state, status);
    }
}

/// Writes `ProcStatus(Idle)` for P `p` if no M holds it when the trace
/// starts (optional: a P's status is otherwise written when it is first used).
pub fn proc_idle_status(p: u32, state: &ProcTraceState) {
    if hooks::enabled() {
        record::proc_idle_status(p, state);
    }
}

/// Events not written although tracing was on, by reason (see [`Lost`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lost {
    /// Needed a running task on the calling thread (annotations, GC phases,
    /// stop/block/destroy) and there was none.
    pub no_task: u64,
    /// Needed a P on the calling thread and there was none.
    pub no_proc: u64,
    /// Called from inside the tracer itself (e.g. an allocation hook while the
    /// tracer allocates) or during thread teardown.
    pub reentrant: u64,
    /// Concerned a task that predates the trace and cannot be introduced yet.
    pub untraced: u64,
    /// `gc_begin` with a phase already open, or `gc_end` with none.
    pub gc_misuse: u64,
    /// No memory for a batch.
    pub no_memory: u64,
}

/// Counts of events dropped since the process started.
pub fn lost() -> Lost {
    let d = |i: crate::lost::Lost| crate::lost::DROPPED[i as usize].load(Ordering::Relaxed);
    use crate::lost::Lost as L;
    Lost {
        no_task: d(L::NoTask),
        no_proc: d(L::NoProc),
        reentrant: d(L::Reentrant),
        untraced: d(L::Untraced),
        gc_misuse: d(L::GcMisuse),
        no_memory: d(L::NoMemory),
    }
}
