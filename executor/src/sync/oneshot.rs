//! A channel for exactly one value (tokio's `oneshot` shape), on the same
//! channel core as [`chan`](super::chan) with room for one value.
//!
//! The [`Sender`] is consumed by `send`, so at most one value is ever
//! sent; dropping it unsent closes the channel and the [`Receiver`] (a
//! future) resolves to [`RecvError`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::chan::core::{Chan, ChanWaiter};
use super::chan::ops;
use super::chan::{TryRecvError, TrySendError};

/// Creates a one-value channel.
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = spool_executor::sync::oneshot::channel();
///     spool_executor::spawn(async move { tx.send(42).unwrap() });
///     assert_eq!(rx.await, Ok(42));
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(1));
    (
        Sender { chan: chan.clone() },
        Receiver { chan, waiter: None },
    )
}

/// Sends the one value.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// Receives the one value; a future resolving to it, or to [`RecvError`]
/// if the sender was dropped without sending.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    waiter: Option<Pin<Box<ChanWaiter<T>>>>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}
impl std::error::Error for RecvError {}

impl<T> Sender<T> {
    /// Sends `v`, or gives it back if the receiver is gone.
    ///
    /// # Errors
    /// `Err(v)` when the receiver was dropped (or closed the channel).
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1), Err(1));
    /// ```
    pub fn send(self, v: T) -> Result<(), T> {
        ops::try_send(&self.chan, v).map_err(TrySendError::into_inner)
    }

    /// True once the receiver is gone or closed.
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::oneshot::channel::<u8>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().closed
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // The value (if sent) stays buffered; the receiver sees it first.
        self.chan.close();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Sender")
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if it has not been sent yet, `Closed` if the
    /// sender was dropped without sending (or the value was taken).
    ///
    /// ```
    /// let (tx, mut rx) = spool_executor::sync::oneshot::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        ops::try_recv(&self.chan)
    }

    /// Refuses the value: the sender's `send` fails from now on.
    ///
    /// ```
    /// let (tx, mut rx) = spool_executor::sync::oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// ```
    pub fn close(&mut self) {
        self.chan.close();
    }
}

/// # Cancellation safety
///
/// Dropping the receiver drops a value that was sent and not received.
impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let w = this
            .waiter
            .get_or_insert_with(|| Box::pin(ops::recv_waiter()));
        ops::poll_recv(&this.chan, w, cx).map(|v| v.ok_or(RecvError))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(w) = &self.waiter {
            ops::cancel_recv(&self.chan, w);
        }
        self.chan.close_and_drain();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Receiver")
    }
}
