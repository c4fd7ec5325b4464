//! The flight recorder: always-on tracing that keeps the last moments of
//! the recording in memory and writes them out when asked or when
//! something goes wrong (Go 1.25's `runtime/trace.FlightRecorder`, plus
//! triggers built in).
//!
//! A started [`FlightRecorder`] attaches a window (`ring.rs`) to the
//! recording as a second consumer beside an optional trace sink
//! (`control::start`): the writer thread hands it every finished
//! generation, and the window keeps the most recent ones (at least
//! `min_age` of them, at most `max_bytes`; with the generation being
//! recorded, at most `max_bytes` plus one generation of memory),
//! recycling the arenas of the generations it drops.
//! [`FlightRecorder::write_to`] cuts the open generation (a flush), so the
//! dump ends at the moment of the call, and writes the file header and
//! the window's generations, with the statuses a window that starts late
//! lacks (`flight/repair.rs`): the result is an ordinary trace.
//!
//! Invariants:
//! - At most one recorder runs at a time (Go's rule); it is the target of
//!   [`trigger`] and [`dump_if`] while it runs (`ACTIVE`).
//! - `write_to` calls are serialised (each gets a whole dump; Go's returns
//!   an error instead); `stop` waits for a running one.
//! - Dumps to files (`dump`, triggers) write generation by generation; a
//!   failed write cuts the file back to its last complete generation
//!   (removing it if none was), prints one line, and leaves the recorder
//!   running. Every finished dump prints one line naming file and cause.
//! - Triggers other than an explicit [`FlightRecorder::dump`] are opt-in
//!   ([`Triggers`]) and write on a dump thread of their own, so the thread
//!   that reports trouble (an M, a signal) does not wait for the dump.

mod repair;

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::buf::FILE_HEADER;
use crate::control::{self, TraceError};
use crate::ring::{RawGen, Ring};
use crate::vocab::lock;
use crate::writer::GEN_MAX_BYTES;

/// The directory `SPOOL_FLIGHT_RECORDER` names starts a flight recorder
/// dumping there when a runtime is built.
pub const ENV_DIR: &str = "SPOOL_FLIGHT_RECORDER";
/// The window's `max_bytes` for [`ENV_DIR`] (default [`DEFAULT_MAX_BYTES`]).
pub const ENV_BYTES: &str = "SPOOL_FLIGHT_RECORDER_BYTES";
/// The triggers for [`ENV_DIR`], comma-separated ([`Triggers::parse`];
/// default none: only explicit dumps).
pub const ENV_TRIGGERS: &str = "SPOOL_FLIGHT_RECORDER_TRIGGERS";
/// `min_age` for [`ENV_DIR`], in milliseconds (default [`DEFAULT_MIN_AGE`]).
pub const ENV_MIN_AGE: &str = "SPOOL_FLIGHT_RECORDER_MIN_AGE_MS";

/// `max_bytes` when the configuration gives 0: 16 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;
/// `min_age` when the configuration gives zero: 10 s (Go's default).
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(10);
/// The smallest `max_bytes` that holds a complete generation: a generation
/// is closed once it holds this many bytes of batches (or after 1 s).
pub const MIN_MAX_BYTES: u64 = GEN_MAX_BYTES as u64;

/// Why a dump was written; part of the dump's file name.
///
/// ```
/// assert_eq!(spool_tracer::flight::Cause::LongPoll.as_str(), "long-poll");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// [`FlightRecorder::dump`] called by the program.
    Explicit,
    /// SIGUSR2 ([`Triggers::signal`]).
    Signal,
    /// A task panicked ([`Triggers::panic`]).
    Panic,
    /// A poll ran too long, as reported by sysmon ([`Triggers::long_poll`]).
    LongPoll,
    /// The possible-deadlock report ([`Triggers::deadlock`]).
    Deadlock,
    /// A latency SLO was missed: [`dump_if`] ([`Triggers::slo`]).
    Slo,
}

impl Cause {
    /// The name used in file names and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::Explicit => "explicit",
            Cause::Signal => "signal",
            Cause::Panic => "panic",
            Cause::LongPoll => "long-poll",
            Cause::Deadlock => "deadlock",
            Cause::Slo => "slo",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which events dump the window automatically (each opt-in).
///
/// ```
/// use spool_tracer::flight::Triggers;
/// let t = Triggers::parse("panic,slo").unwrap();
/// assert!(t.panic && t.slo && !t.signal);
/// assert!(Triggers::parse("panics").is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Triggers {
    /// SIGUSR2 dumps (a signal handler is installed only when set; unix).
    pub signal: bool,
    /// A task's panic dumps (reported by the executor through [`trigger`]).
    pub panic: bool,
    /// A long poll reported by sysmon dumps.
    pub long_poll: bool,
    /// The possible-deadlock report dumps.
    pub deadlock: bool,
    /// [`dump_if`] dumps, at most once per `min_age`.
    pub slo: bool,
}

impl Triggers {
    /// Every trigger.
    pub const ALL: Triggers = Triggers {
        signal: true,
        panic: true,
        long_poll: true,
        deadlock: true,
        slo: true,
    };

    /// Parses a comma-separated list of `signal`, `panic`, `long-poll`,
    /// `deadlock`, `slo`, or `all` (empty: none).
    ///
    /// # Errors
    /// A message naming the unknown word.
    pub fn parse(s: &str) -> Result<Triggers, String> {
        let mut t = Triggers::default();
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w {
                "signal" => t.signal = true,
                "panic" => t.panic = true,
                "long-poll" => t.long_poll = true,
                "deadlock" => t.deadlock = true,
                "slo" => t.slo = true,
                "all" => t = Triggers::ALL,
                other => {
                    return Err(format!(
                        "unknown trigger {other:?} (known: signal, panic, long-poll, deadlock, slo, all)"
                    ));
                }
            }
        }
        Ok(t)
    }

    /// Whether `cause` dumps automatically.
    pub const fn has(self, cause: Cause) -> bool {
        match cause {
            Cause::Explicit => true,
            Cause::Signal => self.signal,
            Cause::Panic => self.panic,
            Cause::LongPoll => self.long_poll,
            Cause::Deadlock => self.deadlock,
            Cause::Slo => self.slo,
        }
    }

    fn any(self) -> bool {
        self != Triggers::default()
    }
}

/// A flight recorder's configuration (Go's `FlightRecorderConfig`, plus
/// where dumps go and what triggers them).
///
/// ```
/// use spool_tracer::flight::FlightRecorderConfig;
/// use std::time::Duration;
/// let c = FlightRecorderConfig { min_age: Duration::from_secs(2), ..Default::default() };
/// assert_eq!(c.max_bytes, 0); // 0: the default, 16 MiB
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlightRecorderConfig {
    /// A lower bound on the age of the oldest event in the window (zero:
    /// [`DEFAULT_MIN_AGE`]); `max_bytes` takes precedence.
    pub min_age: Duration,
    /// An upper bound on the window's memory (0: [`DEFAULT_MAX_BYTES`]);
    /// the window stays within it (its newest generation is kept even if
    /// larger), and the recorder's memory within it plus the generation
    /// being recorded. At least [`MIN_MAX_BYTES`].
    pub max_bytes: u64,
    /// Where [`FlightRecorder::dump`] and the triggers write
    /// (`spool-<pid>-<n>-<cause>.trace`); `None`: only `write_to`.
    pub dump_dir: Option<PathBuf>,
    /// Which events dump automatically (they need `dump_dir`).
    pub triggers: Triggers,
}

impl FlightRecorderConfig {
    /// The configuration `SPOOL_FLIGHT_RECORDER` and its companions give;
    /// `Ok(None)` when the variable is unset or empty.
    ///
    /// # Errors
    /// A message naming the variable and value that cannot be used.
    pub fn from_env() -> Result<Option<FlightRecorderConfig>, String> {
        let Some(dir) = std::env::var_os(ENV_DIR).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let mut c = FlightRecorderConfig {
            dump_dir: Some(PathBuf::from(dir)),
            ..Default::default()
        };
        if let Some(v) = env_str(ENV_BYTES)? {
            c.max_bytes = parse_bytes(&v).ok_or_else(|| {
                format!(
                    "{ENV_BYTES}={v:?} is not a size in bytes (a number, optionally with K, M or G)"
                )
            })?;
        }
        if let Some(v) = env_str(ENV_MIN_AGE)? {
            let ms: u64 = v
                .parse()
                .map_err(|e| format!("{ENV_MIN_AGE}={v:?} is not a number of milliseconds: {e}"))?;
            c.min_age = Duration::from_millis(ms);
        }
        if let Some(v) = env_str(ENV_TRIGGERS)? {
            c.triggers = Triggers::parse(&v).map_err(|e| format!("{ENV_TRIGGERS}={v:?}: {e}"))?;
        }
        Ok(Some(c))
    }

    fn min_age(&self) -> Duration {
        if self.min_age.is_zero() {
            DEFAULT_MIN_AGE
        } else {
            self.min_age
        }
    }

    fn max_bytes(&self) -> u64 {
        if self.max_bytes == 0 {
            DEFAULT_MAX_BYTES
        } else {
            self.max_bytes
        }
    }

    /// Checks what `start` needs: room for a generation, a writable dump
    /// directory, triggers only with one.
    fn check(&self) -> Result<(), TraceError> {
        let max = self.max_bytes();
        if max < MIN_MAX_BYTES {
            return Err(TraceError::Config(format!(
                "max_bytes {max} is below one generation ({MIN_MAX_BYTES} bytes: a generation is \
                 closed at that size), so the window could not hold a complete generation"
            )));
        }
        match &self.dump_dir {
            Some(dir) => check_dir(dir),
            None if self.triggers.any() => Err(TraceError::Config(
                "triggers are set but no dump_dir: a triggered dump has nowhere to go".into(),
            )),
            None => Ok(()),
        }
    }
}

fn env_str(var: &str) -> Result<Option<String>, String> {
    match std::env::var(var) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(format!("{var}={v:?} is not UTF-8")),
    }
}

/// `123`, `64K`, `16M`, `1G` (powers of 1024).
fn parse_bytes(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1 << 10),
        (i, 'm' | 'M') => (&v[..i], 1 << 20),
        (i, 'g' | 'G') => (&v[..i], 1 << 30),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// A directory a dump can be created in: probes it with a file.
fn check_dir(dir: &Path) -> Result<(), TraceError> {
    let probe = dir.join(format!(".spool-flight-probe-{}", std::process::id()));
    match File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(TraceError::Config(format!(
            "dump directory {} is not writable: {e}",
            dir.display()
        ))),
    }
}

/// Process-wide dump number (the `<n>` of a dump's file name).
static DUMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The running recorder, target of [`trigger`].
static ACTIVE: Mutex<Option<FlightRecorder>> = Mutex::new(None);

/// The dump thread's queue (spawned on first use, lives for the process).
static DUMPER: Mutex<Option<Sender<(FlightRecorder, Cause)>>> = Mutex::new(None);

struct Inner {
    config: FlightRecorderConfig,
    /// The attached window while running.
    ring: Mutex<Option<Arc<Ring>>>,
    /// Serialises `write_to` (and `stop` behind it).
    writing: Mutex<()>,
    /// Dumps finished (written or failed) by `dump` and the triggers.
    dumps: AtomicU64,
    /// Triggered dumps queued and not yet finished.
    queued: AtomicU64,
    /// Last SLO dump, for the one-per-`min_age` limit.
    last_slo: Mutex<Option<Instant>>,
    #[cfg(unix)]
    signal: Mutex<Option<signal_hook::iterator::Handle>>,
}

/// Keeps the most recent moments of the execution trace in memory and
/// writes them as a trace on demand (Go's `runtime/trace.FlightRecorder`).
/// Cloning gives another handle to the same recorder.
///
/// Inside a runtime, start it through the executor
/// (`spool::trace::FlightRecorder`), which starts it under stop-the-world
/// so the recording knows every live task; this is the tracer's half.
///
/// ```
/// use spool_tracer::flight::{FlightRecorder, FlightRecorderConfig};
/// let fr = FlightRecorder::new(FlightRecorderConfig::default());
/// fr.start().unwrap();
/// assert!(fr.enabled());
/// let mut out = Vec::new();
/// let n = fr.write_to(&mut out).unwrap();
/// assert_eq!(n as usize, out.len());
/// assert!(out.starts_with(b"go 1.22 trace"));
/// fr.stop();
/// ```
#[derive(Clone)]
pub struct FlightRecorder {
    inner: Arc<Inner>,
}

impl fmt::Debug for FlightRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlightRecorder")
            .field("config", &self.inner.config)
            .field("enabled", &self.enabled())
            .finish()
    }
}

impl FlightRecorder {
    /// A stopped recorder with configuration `config` (checked by `start`).
    pub fn new(config: FlightRecorderConfig) -> FlightRecorder {
        FlightRecorder {
            inner: Arc::new(Inner {
                config,
                ring: Mutex::new(None),
                writing: Mutex::new(()),
                dumps: AtomicU64::new(0),
                queued: AtomicU64::new(0),
                last_slo: Mutex::new(None),
                #[cfg(unix)]
                signal: Mutex::new(None),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FlightRecorderConfig {
        &self.inner.config
    }

    /// Starts recording (starting the tracer if no trace runs).
    ///
    /// # Errors
    /// [`TraceError::Config`] naming what is wrong with the configuration
    /// (`max_bytes` below one generation, a dump directory that cannot be
    /// written, triggers without one, a signal handler that cannot be
    /// installed); [`TraceError::RecorderAlreadyStarted`] if a recorder
    /// runs; [`TraceError::Writer`] if the writer thread cannot start.
    pub fn start(&self) -> Result<(), TraceError> {
        self.start_with(|| {})
    }

    /// [`start`](Self::start), with `statuses` called as
    /// [`control::start_with`] calls it when this start begins the recording.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with(&self, statuses: impl FnOnce()) -> Result<(), TraceError> {
        let c = &self.inner.config;
        c.check()?;
        let mut active = lock(&ACTIVE);
        if active.is_some() || self.enabled() {
            return Err(TraceError::RecorderAlreadyStarted);
        }
        let ring = Arc::new(Ring::new(c.min_age(), c.max_bytes() as usize));
        control::attach_ring(ring.clone(), statuses)?;
        #[cfg(unix)]
        if c.triggers.signal {
            match install_signal() {
                Ok(h) => *lock(&self.inner.signal) = Some(h),
                Err(e) => {
                    control::detach_ring(&ring);
                    return Err(TraceError::Config(format!(
                        "cannot install the SIGUSR2 handler: {e}"
                    )));
                }
            }
        }
        *lock(&self.inner.ring) = Some(ring);
        *active = Some(self.clone());
        Ok(())
    }

    /// Stops recording and frees the window. Waits for a `write_to` in
    /// progress. Nothing happens if the recorder is not running.
    pub fn stop(&self) {
        let _w = lock(&self.inner.writing);
        let Some(ring) = lock(&self.inner.ring).take() else {
            return;
        };
        #[cfg(unix)]
        if let Some(h) = lock(&self.inner.signal).take() {
            h.close();
        }
        {
            let mut active = lock(&ACTIVE);
            if active
                .as_ref()
                .is_some_and(|a| Arc::ptr_eq(&a.inner, &self.inner))
            {
                *active = None;
            }
        }
        control::detach_ring(&ring);
    }

    /// Whether the recorder runs (`start` succeeded and `stop` was not called).
    pub fn enabled(&self) -> bool {
        lock(&self.inner.ring).is_some() && control::ring_attached()
    }

    /// Writes the window as a trace to `w`: the file header, then the
    /// window's generations up to this moment (the open generation is cut
    /// first). Returns the bytes written. Concurrent calls are serialised.
    ///
    /// # Errors
    /// An error if the recorder is not running, and `w`'s first write error
    /// (the bytes before it hold the complete generations written until then).
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<u64> {
        let _w = lock(&self.inner.writing);
        let gens = self.cut()?;
        write_gens(&gens, w, |_| {})
    }

    /// Writes a dump to `dump_dir/spool-<pid>-<n>-<cause>.trace` and prints
    /// one line on stderr naming the file and the cause. After a write
    /// error (a full disk) the file is cut back to its last complete
    /// generation (removed if it holds none) and the recorder keeps running.
    ///
    /// # Errors
    /// No `dump_dir`, the recorder is not running, or the file cannot be
    /// created or written (the message names the file).
    pub fn dump(&self, cause: Cause) -> io::Result<PathBuf> {
        let r = self.dump_file(cause);
        self.inner.dumps.fetch_add(1, Ordering::Release);
        r
    }

    /// Dumps finished (written or failed) through [`dump`](Self::dump) and
    /// the triggers since the recorder was created.
    pub fn dumps(&self) -> u64 {
        self.inner.dumps.load(Ordering::Acquire)
    }

    /// Triggered dumps queued on the dump thread and not yet finished.
    pub fn dumps_pending(&self) -> u64 {
        self.inner.queued.load(Ordering::Acquire)
    }

    /// Memory the window holds now (its generations' arenas and tables).
    pub fn window_bytes(&self) -> usize {
        lock(&self.inner.ring).as_ref().map_or(0, |r| r.mem())
    }

    /// Cuts the open generation and returns the window.
    fn cut(&self) -> io::Result<Vec<Arc<RawGen>>> {
        let Some(ring) = lock(&self.inner.ring).clone() else {
            return Err(io::Error::other(
                "spool flight recorder: cannot write a stopped flight recorder",
            ));
        };
        control::flush().map_err(io::Error::other)?;
        Ok(ring.snapshot())
    }

    fn dump_file(&self, cause: Cause) -> io::Result<PathBuf> {
        let Some(dir) = &self.inner.config.dump_dir else {
            return Err(io::Error::other(
                "spool flight recorder: no dump_dir configured for dump()",
            ));
        };
        let _w = lock(&self.inner.writing);
        let gens = self.cut()?;
        let n = DUMP_SEQ.fetch_add(1, Ordering::Relaxed) + 1;
        let path = dir.join(format!("spool-{}-{n}-{cause}.trace", std::process::id()));
        let file = File::create(&path).map_err(|e| {
            let e = io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()));
            eprintln!("spool: flight recorder: dump (cause {cause}) failed: {e}");
            e
        })?;
        let mut good = 0u64;
        let mut out = BufWriter::new(&file);
        let r = write_gens(&gens, &mut out, |n| good = n).and_then(|n| out.flush().map(|()| n));
        match r {
            Ok(n) => {
                drop(out);
                eprintln!(
                    "spool: flight recorder: wrote {} ({n} bytes, {} generation(s), cause {cause})",
                    path.display(),
                    gens.len()
                );
                Ok(path)
            }
            Err(e) => {
                // Whatever sits in the buffer is lost; cut the file back to
                // the last generation that was flushed whole.
                let _ = out.into_parts();
                let kept = if good > FILE_HEADER.len() as u64 && file.set_len(good).is_ok() {
                    format!(
                        "{} keeps the generations written before the error",
                        path.display()
                    )
                } else {
                    let _ = std::fs::remove_file(&path);
                    format!(
                        "{} held no complete generation and was removed",
                        path.display()
                    )
                };
                eprintln!("spool: flight recorder: dump (cause {cause}) failed: {e}; {kept}");
                Err(io::Error::new(
                    e.kind(),
                    format!("writing {} failed: {e}", path.display()),
                ))
            }
        }
    }
}

/// Writes the header and `gens` (with the first generation's additions)
/// to `w`; calls `gen_done(bytes so far)` after each generation, once its
/// bytes are handed to `w` and flushed.
fn write_gens(
    gens: &[Arc<RawGen>],
    w: &mut impl Write,
    mut gen_done: impl FnMut(u64),
) -> io::Result<u64> {
    let chunks: Vec<Vec<&[u8]>> = gens
        .iter()
        .map(|g| {
            g.batches
                .iter()
                .map(|b| b.bytes())
                .chain([g.tail.as_slice()])
                .collect()
        })
        .collect();
    let additions = match (gens.first(), repair::scan(&chunks)) {
        (Some(g), Some((add, t0))) if add.len() > 0 => add.encode(g.generation.file_gen(), t0),
        _ => Vec::new(),
    };
    w.write_all(FILE_HEADER)?;
    let mut n = FILE_HEADER.len() as u64;
    for (i, g) in chunks.iter().enumerate() {
        if i == 0 {
            w.write_all(&additions)?;
            n += additions.len() as u64;
        }
        for b in g {
            w.write_all(b)?;
            n += b.len() as u64;
        }
        w.flush()?;
        gen_done(n);
    }
    Ok(n)
}

/// Dumps the running recorder for `cause` if that trigger is on (always
/// for [`Cause::Explicit`]), on the dump thread; the caller does not wait.
/// Returns whether a dump was queued. The entry point for the runtime's
/// reports: task panics, sysmon's long polls, the possible-deadlock report.
///
/// ```
/// use spool_tracer::flight::{trigger, Cause};
/// assert!(!trigger(Cause::LongPoll)); // no recorder running
/// ```
pub fn trigger(cause: Cause) -> bool {
    let Some(fr) = lock(&ACTIVE).clone() else {
        return false;
    };
    let c = &fr.inner.config;
    if c.dump_dir.is_none() || !c.triggers.has(cause) {
        return false;
    }
    if cause == Cause::Slo {
        let mut last = lock(&fr.inner.last_slo);
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < c.min_age()) {
            return false;
        }
        *last = Some(now);
    }
    fr.inner.queued.fetch_add(1, Ordering::AcqRel);
    let mut dumper = lock(&DUMPER);
    if dumper.is_none() {
        let (tx, rx) = mpsc::channel::<(FlightRecorder, Cause)>();
        let spawned = std::thread::Builder::new()
            .name("spool-flight-dump".into())
            .spawn(move || {
                crate::mstate::with_m(|m| m.set_internal());
                for (fr, cause) in rx {
                    let _ = fr.dump(cause);
                    fr.inner.queued.fetch_sub(1, Ordering::AcqRel);
                }
            });
        if spawned.is_err() {
            fr.inner.queued.fetch_sub(1, Ordering::AcqRel);
            eprintln!("spool: flight recorder: cannot start the dump thread; no dump for {cause}");
            return false;
        }
        *dumper = Some(tx);
    }
    let sent = dumper
        .as_ref()
        .is_some_and(|tx| tx.send((fr.clone(), cause)).is_ok());
    if !sent {
        fr.inner.queued.fetch_sub(1, Ordering::AcqRel);
    }
    sent
}

/// The latency SLO hook: dumps the running recorder when `missed` is true
/// and the `slo` trigger is on, at most once per `min_age` (later misses in
/// that time are covered by the same window). Returns whether a dump was
/// queued.
///
/// ```
/// use std::time::{Duration, Instant};
/// let started = Instant::now();
/// // ... handle a request ...
/// spool_tracer::flight::dump_if(started.elapsed() > Duration::from_millis(100));
/// ```
pub fn dump_if(missed: bool) -> bool {
    missed && trigger(Cause::Slo)
}

/// The running recorder, if any.
pub fn active() -> Option<FlightRecorder> {
    lock(&ACTIVE).clone()
}

/// Installs the SIGUSR2 handler: a thread that triggers a dump per signal.
#[cfg(unix)]
fn install_signal() -> io::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR2])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("spool-flight-signal".into())
        .spawn(move || {
            for _ in signals.forever() {
                trigger(Cause::Signal);
            }
        })?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("16M"), Some(16 << 20));
        assert_eq!(parse_bytes("64k"), Some(64 << 10));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("M"), None);
        assert_eq!(parse_bytes("x"), None);
    }

    #[test]
    fn bad_configurations_are_errors_naming_the_problem() {
        let small = FlightRecorderConfig {
            max_bytes: 1 << 20,
            ..Default::default()
        };
        let e = small.check().unwrap_err().to_string();
        assert!(e.contains("below one generation"), "{e}");
        let no_dir = FlightRecorderConfig {
            triggers: Triggers::ALL,
            ..Default::default()
        };
        assert!(
            no_dir
                .check()
                .unwrap_err()
                .to_string()
                .contains("no dump_dir")
        );
        let bad_dir = FlightRecorderConfig {
            dump_dir: Some("/nonexistent/spool/dir".into()),
            ..Default::default()
        };
        let e = bad_dir.check().unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/spool/dir") && e.contains("not writable"),
            "{e}"
        );
    }
}
