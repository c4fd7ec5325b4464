//! The flight recorder as a runtime starts it: `spool::trace::FlightRecorder`
//! (started under the current runtime's stop-the-world, like a trace) and
//! the `SPOOL_FLIGHT_RECORDER` variable.
//!
//! Invariants:
//! - A recorder that begins the recording inside a runtime starts under
//!   that runtime's stop-the-world and writes every live task's status
//!   (`trace_ctl::after_start`), as `trace_ctl::start` does; one that joins
//!   a running trace needs nothing (its dumps state what they lack,
//!   `spool_tracer::flight`).
//! - `SPOOL_FLIGHT_RECORDER` is read when a runtime is built; a bad value is
//!   the build's error. The runtime that started that recorder stops it
//!   when it shuts down.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use spool_tracer::flight::{self as tflight, Cause, FlightRecorderConfig};

use crate::runtime::Handle;
use crate::trace_ctl::{TraceError, after_start, runtime_key, switched};

/// Keeps the most recent moments of the execution trace in memory and
/// writes them as a Go trace on demand or when something goes wrong (Go
/// 1.25's `runtime/trace.FlightRecorder`). Cloning gives another handle
/// to the same recorder.
///
/// ```
/// use spool_executor::trace_ctl::{FlightRecorder, FlightRecorderConfig};
/// let rt = spool_executor::Runtime::new().unwrap();
/// let fr = FlightRecorder::new(FlightRecorderConfig::default());
/// let dump = rt.block_on(async {
///     fr.start().unwrap();
///     spool_executor::spawn(async { 1 + 1 }).await.unwrap();
///     let mut out = Vec::new();
///     fr.write_to(&mut out).unwrap();
///     out
/// });
/// fr.stop();
/// assert!(dump.starts_with(b"go 1.22 trace"));
/// ```
#[derive(Clone, Debug)]
pub struct FlightRecorder {
    inner: tflight::FlightRecorder,
}

impl FlightRecorder {
    /// A stopped recorder with configuration `config` (checked by `start`).
    pub fn new(config: FlightRecorderConfig) -> FlightRecorder {
        FlightRecorder {
            inner: tflight::FlightRecorder::new(config),
        }
    }

    /// Starts recording; inside a runtime, under its stop-the-world.
    ///
    /// # Errors
    /// [`TraceError::Config`] naming what is wrong with the configuration
    /// (`max_bytes` below one generation, an unwritable dump directory,
    /// triggers without one), [`TraceError::RecorderAlreadyStarted`].
    pub fn start(&self) -> Result<(), TraceError> {
        if spool_tracer::control::is_tracing() {
            // Joins the running recording at a generation boundary: no
            // statuses needed (its dumps add what they lack), so no
            // stop-the-world either.
            return switched(self.inner.start());
        }
        match Handle::try_current() {
            Some(h) => h.stop_the_world("start trace", || {
                switched(self.inner.start_with(|| after_start(&h)))
            }),
            None => switched(self.inner.start()),
        }
    }

    /// Stops recording and frees the window (waits for a `write_to` in progress).
    pub fn stop(&self) {
        self.inner.stop();
        switched(());
    }

    /// Whether the recorder runs.
    pub fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    /// Writes the window, up to this moment, as a trace to `w`; returns
    /// the bytes written. Concurrent calls are serialised.
    ///
    /// # Errors
    /// The recorder is not running, or `w` failed.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<u64> {
        self.inner.write_to(w)
    }

    /// Writes a dump to `dump_dir/spool-<pid>-<n>-<cause>.trace` (one
    /// stderr line names it); see `spool_tracer::flight::FlightRecorder::dump`.
    ///
    /// # Errors
    /// No `dump_dir`, not running, or the file could not be written.
    pub fn dump(&self, cause: Cause) -> io::Result<PathBuf> {
        self.inner.dump(cause)
    }

    /// Dumps finished so far (explicit and triggered).
    pub fn dumps(&self) -> u64 {
        self.inner.dumps()
    }

    /// Triggered dumps not yet finished.
    pub fn dumps_pending(&self) -> u64 {
        self.inner.dumps_pending()
    }

    /// Memory the window holds now.
    pub fn window_bytes(&self) -> usize {
        self.inner.window_bytes()
    }

    /// The configuration.
    pub fn config(&self) -> &FlightRecorderConfig {
        self.inner.config()
    }
}

/// The `SPOOL_FLIGHT_RECORDER` recorder and the runtime that started it.
static ENV_RECORDER: Mutex<Option<(usize, FlightRecorder)>> = Mutex::new(None);

/// Called at the end of `Builder::build`: starts the `SPOOL_FLIGHT_RECORDER`
/// recorder unless one runs.
///
/// # Errors
/// The variable's value or the recorder's configuration is bad (the
/// message names the variable).
pub(crate) fn on_build(handle: &Handle) -> io::Result<()> {
    let config = FlightRecorderConfig::from_env()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("spool: {e}")))?;
    let Some(config) = config else {
        return Ok(());
    };
    if tflight::active().is_some() {
        return Ok(());
    }
    let fr = FlightRecorder::new(config);
    // No task of this runtime exists yet: nothing to stop.
    match switched(fr.inner.start()) {
        Ok(()) => {}
        Err(TraceError::RecorderAlreadyStarted) => return Ok(()),
        Err(e) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("spool: {}: {e}", tflight::ENV_DIR),
            ));
        }
    }
    *ENV_RECORDER.lock().unwrap_or_else(PoisonError::into_inner) = Some((runtime_key(handle), fr));
    Ok(())
}

/// Called when a runtime has shut down: stops the `SPOOL_FLIGHT_RECORDER`
/// recorder if this runtime started it.
pub(crate) fn on_shutdown(handle: &Handle) {
    let mut env = ENV_RECORDER.lock().unwrap_or_else(PoisonError::into_inner);
    if env.as_ref().is_some_and(|(k, _)| *k == runtime_key(handle)) {
        let (_, fr) = env.take().expect("checked above");
        drop(env);
        fr.stop();
    }
}

/// sysmon reported a long poll: the `long-poll` trigger.
#[cold]
pub(crate) fn long_poll() {
    tflight::trigger(Cause::LongPoll);
}

/// A task's poll panicked: the `panic` trigger.
#[cold]
pub(crate) fn task_panicked() {
    tflight::trigger(Cause::Panic);
}

/// The deadlock detector reported a possible deadlock (`sched/deadlock.rs`):
/// the `deadlock` trigger.
#[cold]
pub(crate) fn deadlock() {
    tflight::trigger(Cause::Deadlock);
}
