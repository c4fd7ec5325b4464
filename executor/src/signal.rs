//! Unix signals delivered through the netpoller: `ctrl_c()` and
//! `signal(SignalKind)` (tokio's names), so a server can shut down
//! gracefully.
//!
//! Each [`Signal`] owns a Unix socket pair: the write end is handed to
//! `signal-hook`'s self-pipe action (the signal handler writes one byte,
//! never blocking, async-signal-safe), the read end is a spool
//! [`UnixStream`](crate::net::UnixStream) registered with the runtime's
//! netpoller. So a delivery is an ordinary readiness event: no thread, no
//! polling loop. Invariants:
//! - Deliveries between two `recv`s coalesce: `recv` reports *at least
//!   one* delivery since the last one (as tokio's does).
//! - Every `Signal` sees every delivery after its creation (each has its
//!   own pipe; signal-hook runs all registered actions).
//! - Dropping a `Signal` unregisters its action (closing the write end)
//!   and closes the read end. The process keeps signal-hook's handler for
//!   that signal (the default action, e.g. termination on SIGINT, is not
//!   restored), as with tokio.

use std::io;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::task::{Context, Poll};

use signal_hook::SigId;

use crate::net::UnixStream;

/// A signal to listen for (tokio's `SignalKind`).
///
/// ```
/// use spool_executor::signal::SignalKind;
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number (`SIGKILL`, `SIGSTOP` and the synchronous fault
    /// signals are refused by [`signal`]).
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(self) -> libc::c_int {
        self.0
    }

    /// `SIGINT` (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGPIPE`.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGWINCH`.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

/// A stream of deliveries of one signal (see [`signal`]).
///
/// ```no_run
/// use spool_executor::signal::{SignalKind, signal};
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut term = signal(SignalKind::terminate()).unwrap();
///     term.recv().await;
///     println!("SIGTERM: shutting down");
/// });
/// ```
#[derive(Debug)]
pub struct Signal {
    rx: UnixStream,
    id: SigId,
    kind: SignalKind,
}

/// Starts listening for `kind` on the current runtime's netpoller.
///
/// # Errors
/// `InvalidInput` for a signal that cannot be handled (`SIGKILL`,
/// `SIGSTOP`, `SIGSEGV`, `SIGILL`, `SIGFPE`, …); the OS error if the socket
/// pair or the handler cannot be set up.
///
/// # Panics
/// Outside a spool runtime.
///
/// # Examples
///
/// ```
/// use spool_executor::signal::{SignalKind, signal};
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
///     // SAFETY of the test: our handler for SIGUSR1 is installed above.
///     unsafe { libc::raise(libc::SIGUSR1) };
///     assert_eq!(usr1.recv().await, Some(()));
/// });
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let n = kind.0;
    if signal_hook::consts::FORBIDDEN.contains(&n) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "spool: signal {n} cannot be handled (it is one of signal-hook's FORBIDDEN signals)"
            ),
        ));
    }
    let (read, write) = StdUnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    // Register the read end first: if the runtime refuses, no handler is
    // left behind.
    let rx = UnixStream::from_std(read)?;
    let id = signal_hook::low_level::pipe::register(n, write)
        .map_err(|e| io::Error::new(e.kind(), format!("spool: cannot handle signal {n}: {e}")))?;
    Ok(Signal { rx, id, kind })
}

impl Signal {
    /// Waits for the next delivery (at least one since the last `recv`).
    /// `None` once the runtime has shut down.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let mut buf = [0u8; 32];
        match self.rx.poll_read_priv(cx, &mut buf) {
            Poll::Ready(Ok(n)) if n > 0 => Poll::Ready(Some(())),
            // EOF or a dead registration: nothing will arrive any more.
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // Drops the action, which closes the pipe's write end.
        signal_hook::low_level::unregister(self.id);
    }
}

/// Completes at the next `SIGINT` (Ctrl-C) after it is first polled.
///
/// # Errors
/// As [`signal`].
///
/// ```no_run
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     spool_executor::signal::ctrl_c().await.unwrap();
///     println!("Ctrl-C: shutting down");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut s = signal(SignalKind::interrupt())?;
    s.recv().await;
    Ok(())
}

/// tokio's path for the Unix-specific items (`signal::unix::signal`, …).
pub mod unix {
    pub use super::{Signal, SignalKind, signal};
}
