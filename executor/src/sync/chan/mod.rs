//! Go's channels: [`chan`] (bounded, `cap == 0` a rendezvous), [`unbounded`],
//! multi-producer multi-consumer, with `close`.
//!
//! The handles own counts on the shared [`Chan`](core::Chan): the channel
//! closes when the last [`Sender`] goes (or one calls `close`), and when the
//! last [`Receiver`] goes (what is buffered is dropped then, and blocked
//! senders fail). Waiting operations are the futures in `ops.rs`; the
//! buffer and wait queues are `core.rs`'s.

pub(crate) mod core;
pub(crate) mod ops;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use self::core::{Chan, ChanWaiter};
use crate::loom::atomic::Ordering;
pub use ops::{Recv, Send};

/// Creates a channel with room for `cap` values, Go's `make(chan T, cap)`.
///
/// With `cap == 0` it is unbuffered: a send completes only when a receiver
/// takes the value (a rendezvous). Both halves can be cloned (many senders,
/// many receivers); each value goes to exactly one receiver.
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = spool_executor::sync::chan::<u32>(0);
///     let h = spool_executor::spawn(async move { tx.send(1).await.unwrap() });
///     assert_eq!(rx.recv().await, Some(1));
///     h.await.unwrap();
///     assert_eq!(rx.recv().await, None); // the only sender is gone: closed
/// });
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        cap < usize::MAX,
        "spool::sync::chan: capacity usize::MAX is reserved; use `unbounded`"
    );
    pair(cap)
}

/// Creates a channel whose sends never wait (the buffer grows as needed).
///
/// ```
/// let (tx, rx) = spool_executor::sync::unbounded::<u32>();
/// for i in 0..1000 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.try_recv(), Ok(0));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(usize::MAX)
}

fn pair<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap));
    (
        Sender { chan: chan.clone() },
        Receiver { chan, stream: None },
    )
}

/// The sending half of a channel.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a channel. Also a [`futures_core::Stream`] of the
/// values, ending when the channel is closed and drained.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The waiter of the `Stream` impl's pending receive (boxed, so the
    /// receiver itself stays movable).
    stream: Option<Pin<Box<ChanWaiter<T>>>>,
}

/// The value of a send on a closed channel (or one with no receiver left).
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] failed; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// No receiver waiting and no room in the buffer.
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Why [`Receiver::try_recv`] found nothing.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing buffered and no sender waiting.
    Empty,
    /// Closed and drained: nothing will come.
    Closed,
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}
impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send on a closed channel")
    }
}
impl<T> std::error::Error for SendError<T> {}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}
impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}
impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full"),
            TrySendError::Closed(_) => f.write_str("send on a closed channel"),
        }
    }
}
impl<T> std::error::Error for TrySendError<T> {}
impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty"),
            TryRecvError::Closed => f.write_str("channel closed"),
        }
    }
}
impl std::error::Error for TryRecvError {}

impl<T> Sender<T> {
    /// Sends `v`, waiting while the channel is full (for a rendezvous
    /// channel: until a receiver takes it). Fails, giving `v` back, if the
    /// channel is or becomes closed. A waiting send shows in traces as
    /// blocked on "chan send".
    ///
    /// # Cancellation safety
    ///
    /// A send that loses in a `select!` was not sent. Dropped otherwise
    /// while it waits, it may race with a receiver taking `v`;
    /// [`Send::cancel`] withdraws it and says which happened.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = spool_executor::sync::chan(1);
    ///     tx.send("a").await.unwrap();
    ///     drop(rx);
    ///     assert_eq!(tx.send("b").await.unwrap_err().0, "b");
    /// });
    /// ```
    pub fn send(&self, v: T) -> Send<'_, T> {
        Send::new(&self.chan, v)
    }

    /// Sends `v` if a receiver is waiting or there is room, without waiting.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if it would have to wait, `Closed` if the
    /// channel is closed; both give the value back.
    ///
    /// ```
    /// use spool_executor::sync::{chan, TrySendError};
    /// let (tx, _rx) = chan(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        ops::try_send(&self.chan, v)
    }

    /// Sends from a thread outside the runtime, blocking it while the
    /// channel is full (for threads that are not spool tasks; the wake of a
    /// receiver it hands a value to is traced from this thread).
    ///
    /// # Panics
    /// When called inside a spool task or `block_on` (it would block an M).
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan(0);
    /// let t = std::thread::spawn(move || tx.send_blocking(5).unwrap());
    /// assert_eq!(rx.recv_blocking(), Some(5));
    /// t.join().unwrap();
    /// ```
    pub fn send_blocking(&self, v: T) -> Result<(), SendError<T>> {
        crate::sync::block_on_thread("Sender::send_blocking", self.send(v))
    }

    /// Closes the channel (Go's `close`): later sends fail, receivers get
    /// what is buffered and then `None`, and every waiting sender and
    /// receiver is woken.
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan(2);
    /// tx.try_send(1).unwrap();
    /// tx.close();
    /// assert!(tx.try_send(2).is_err());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(spool_executor::sync::TryRecvError::Closed));
    /// ```
    pub fn close(&self) {
        self.chan.close();
    }

    /// True once the channel is closed.
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan::<()>(0);
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().closed
    }

    /// Values buffered now (Go's `len(ch)`).
    ///
    /// ```
    /// let (tx, _rx) = spool_executor::sync::chan(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().buf.len()
    }

    /// True when nothing is buffered.
    ///
    /// ```
    /// let (tx, _rx) = spool_executor::sync::chan::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer's capacity (Go's `cap(ch)`); `usize::MAX` for unbounded.
    ///
    /// ```
    /// let (tx, _rx) = spool_executor::sync::chan::<u8>(4);
    /// assert_eq!(tx.capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.cap
    }

    /// True if both handles belong to the same channel.
    ///
    /// ```
    /// let (tx, _rx) = spool_executor::sync::chan::<u8>(0);
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: a new handle from an existing one (Arc's reasoning).
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender's close happens after every other
        // sender's sends (their decrements are released to it).
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("cap", &self.chan.cap)
            .field("senders", &self.chan.sender_count())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting for one; `None` once the channel is
    /// closed and drained (Go's `v, ok := <-ch`). A waiting receive shows
    /// in traces as blocked on "chan receive".
    ///
    /// # Cancellation safety
    ///
    /// Cancel safe: dropping the future never loses a value (one already
    /// handed to it goes back to the channel).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = spool_executor::sync::chan(1);
    ///     tx.send(3).await.unwrap();
    ///     assert_eq!(rx.recv().await, Some(3));
    /// });
    /// ```
    pub fn recv(&self) -> Recv<'_, T> {
        Recv::new(&self.chan)
    }

    /// Receives a value if one is buffered or a sender is waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if it would have to wait, `Closed` once
    /// the channel is closed and drained.
    ///
    /// ```
    /// use spool_executor::sync::{chan, TryRecvError};
    /// let (tx, rx) = chan(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        ops::try_recv(&self.chan)
    }

    /// Receives on a thread outside the runtime, blocking it until a value
    /// comes or the channel closes (see [`Sender::send_blocking`]).
    ///
    /// # Panics
    /// When called inside a spool task or `block_on`.
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan(1);
    /// tx.try_send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv_blocking(), Some(1));
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    pub fn recv_blocking(&self) -> Option<T> {
        crate::sync::block_on_thread("Receiver::recv_blocking", self.recv())
    }

    /// Closes the channel (as [`Sender::close`]); what is buffered can
    /// still be received.
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan::<u8>(1);
    /// rx.close();
    /// assert!(tx.try_send(1).is_err());
    /// ```
    pub fn close(&self) {
        self.chan.close();
    }

    /// True once the channel is closed (values may still be buffered).
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan::<u8>(1);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().closed
    }

    /// Values buffered now.
    ///
    /// ```
    /// let (tx, rx) = spool_executor::sync::chan(2);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().buf.len()
    }

    /// True when nothing is buffered.
    ///
    /// ```
    /// let (_tx, rx) = spool_executor::sync::chan::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer's capacity; `usize::MAX` for unbounded.
    ///
    /// ```
    /// let (_tx, rx) = spool_executor::sync::unbounded::<u8>();
    /// assert_eq!(rx.capacity(), usize::MAX);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.cap
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: as for `Sender::clone`.
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
            stream: None,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(w) = &self.stream {
            ops::cancel_recv(&self.chan, w);
        }
        // AcqRel: as for `Sender::drop`.
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close_and_drain();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("cap", &self.chan.cap)
            .finish()
    }
}

impl<T> Unpin for Receiver<T> {}

/// The values of the channel, ending once it is closed and drained.
///
/// Cancel safe like [`Receiver::recv`]: a value handed to a pending
/// `poll_next` stays with the receiver until the next poll (or goes back
/// to the channel when the receiver is dropped).
impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        let w = this
            .stream
            .get_or_insert_with(|| Box::pin(ops::recv_waiter()));
        ops::poll_recv(&this.chan, w, cx)
    }
}
