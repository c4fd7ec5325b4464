//! hyper 1.x on spool (feature `hyper`): [`Executor`] and [`Timer`]
//! implement `hyper::rt::{Executor, Timer}` on spool's spawn and timers,
//! and spool's streams implement `hyper::rt::{Read, Write}`
//! (`net/io_traits.rs`), so hyper's http1 and http2 servers and clients
//! run with no tokio runtime.
//!
//! ```ignore
//! let (stream, _) = listener.accept().await?;
//! spool::spawn(hyper::server::conn::http1::Builder::new()
//!     .timer(spool::hyper::Timer)
//!     .serve_connection(stream, service_fn(hello)));
//! ```
//! (`examples/http_server.rs` is the compiled version.)

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::runtime::Handle;
use crate::time::Sleep;

/// Spawns hyper's background futures (http2 connection drivers, client
/// connections) as spool tasks: on the runtime given to
/// [`Executor::with_handle`], or the current one ([`Executor::new`]).
///
/// ```
/// use hyper::rt::Executor as _;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// spool_executor::hyper::Executor::with_handle(rt.handle().clone())
///     .execute(async move { tx.send(7).unwrap() });
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Executor {
    handle: Option<Handle>,
}

impl Executor {
    /// Spawns onto the runtime of the task that calls `execute`.
    pub fn new() -> Executor {
        Executor { handle: None }
    }

    /// Spawns onto `handle`'s runtime from any thread.
    pub fn with_handle(handle: Handle) -> Executor {
        Executor {
            handle: Some(handle),
        }
    }
}

impl<F> ::hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, fut: F) {
        // Detached: hyper keeps no JoinHandle.
        match &self.handle {
            Some(h) => drop(h.spawn(fut)),
            None => drop(crate::spawn(fut)),
        }
    }
}

/// hyper's timer on spool's timers (keep-alive, header-read and http2
/// ping timeouts).
///
/// ```
/// use hyper::rt::Timer as _;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let start = std::time::Instant::now();
/// rt.block_on(spool_executor::hyper::Timer.sleep(std::time::Duration::from_millis(2)));
/// assert!(start.elapsed() >= std::time::Duration::from_millis(2));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl ::hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(crate::time::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(crate::time::sleep_until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(s) => s.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

impl ::hyper::rt::Sleep for Sleep {}
