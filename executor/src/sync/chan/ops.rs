//! Channel operations that may wait: the `recv` and `send` futures, their
//! poll steps (shared with `Receiver`'s `Stream` impl) and their
//! cancellation.
//!
//! A waiting operation owns a [`ChanWaiter`] node inside its future (the
//! rules are `waitlist.rs`'s). The fast path of a receiver that was handed
//! a value reads it without the lock: the sender wrote it before marking
//! the node `DONE` (Release), and the receiver saw `DONE` (Acquire).
//!
//! The first poll of an operation inside a `select!` branch picks up the
//! select ([`select::take_current`]) and then follows the claim protocol:
//! an operation that completes during the select's poll claims the select
//! for its branch, and a queued one is re-checked on every poll (a thread
//! that found the select polling skipped it).

use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use super::core::{Chan, ChanWaiter, Empty, Full, Slot};
use super::{SendError, TryRecvError, TrySendError};
use crate::context::{poll_proceed, set_block_reason};
use crate::sync::select::{self, SelectRef};
use crate::sync::waitlist::{DONE, IDLE, QUEUED};

fn wake(w: Option<std::task::Waker>) {
    if let Some(w) = w {
        crate::sync::waitlist::wake(w);
    }
}

/// A fresh waiter for a receive.
pub(crate) fn recv_waiter<T>() -> ChanWaiter<T> {
    ChanWaiter::new(Slot {
        value: None,
        select: None,
    })
}

fn claimed(sel: Option<SelectRef>) {
    if let Some(s) = sel {
        s.self_claim();
    }
}

/// Takes the result of a receive whose node is `DONE`.
fn take_done<T>(w: &ChanWaiter<T>) -> Option<T> {
    // SAFETY: DONE: the node is ours again (`waitlist.rs`).
    let v = unsafe { w.with_payload(|p| p.value.take()) };
    w.reset();
    v
}

/// One poll of a receive through node `w`.
pub(crate) fn poll_recv<T>(
    chan: &Chan<T>,
    w: &ChanWaiter<T>,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    match w.state() {
        DONE => {
            // Fast path: a sender handed us a value (or the channel closed).
            let _ = select::take_current();
            Poll::Ready(take_done(w))
        }
        QUEUED => {
            let _ = select::take_current();
            let mut st = chan.lock();
            if w.state() == DONE {
                drop(st);
                return Poll::Ready(take_done(w));
            }
            // SAFETY: queued; we hold the lock.
            let sel = unsafe { w.with_payload(|p| p.select) };
            match st.try_recv_locked(chan.cap) {
                Ok((v, waker)) => {
                    // SAFETY: `w` is alive and queued in `recvq`.
                    unsafe { st.recvq.remove(NonNull::from(w)) };
                    claimed(sel);
                    drop(st);
                    wake(waker);
                    Poll::Ready(Some(v))
                }
                Err(Empty::Closed) => {
                    // SAFETY: as above.
                    unsafe { st.recvq.remove(NonNull::from(w)) };
                    claimed(sel);
                    Poll::Ready(None)
                }
                Err(Empty::Empty) => {
                    // SAFETY: queued; we hold the lock.
                    unsafe { w.set_waker(cx.waker()) };
                    set_block_reason(BlockReason::ChanReceive);
                    Poll::Pending
                }
            }
        }
        _ => {
            let sel = select::take_current();
            if !poll_proceed(cx) {
                return Poll::Pending;
            }
            // SAFETY: IDLE: the node is ours.
            unsafe { w.with_payload(|p| p.select = sel) };
            let mut st = chan.lock();
            match st.try_recv_locked(chan.cap) {
                Ok((v, waker)) => {
                    claimed(sel);
                    drop(st);
                    wake(waker);
                    Poll::Ready(Some(v))
                }
                Err(Empty::Closed) => {
                    claimed(sel);
                    Poll::Ready(None)
                }
                Err(Empty::Empty) => {
                    if !sel.is_some_and(|s| s.nonblocking()) {
                        // SAFETY: the node is pinned in its future, idle, and
                        // removed by `cancel_recv` before it goes away.
                        unsafe { st.recvq.push_back(NonNull::from(w), cx.waker()) };
                    }
                    set_block_reason(BlockReason::ChanReceive);
                    Poll::Pending
                }
            }
        }
    }
}

/// A receive's future is going away with node `w`: leave the queue, and
/// give back a value that was handed to it but not read.
#[inline]
pub(crate) fn cancel_recv<T>(chan: &Chan<T>, w: &ChanWaiter<T>) {
    if w.state() != IDLE {
        cancel_recv_slow(chan, w);
    }
}

#[inline(never)]
fn cancel_recv_slow<T>(chan: &Chan<T>, w: &ChanWaiter<T>) {
    let returned = match w.state() {
        IDLE => return,
        DONE => take_done(w),
        _ => {
            let mut st = chan.lock();
            // SAFETY: `w` is alive; if queued, it is in `recvq`.
            if unsafe { st.recvq.remove(NonNull::from(w)) } {
                return;
            }
            // Completed after we looked: still under the lock, give it back.
            if let Some(v) = take_done(w) {
                let waker = st.return_value(v);
                drop(st);
                wake(waker);
            }
            return;
        }
    };
    if let Some(v) = returned {
        let waker = chan.lock().return_value(v);
        wake(waker);
    }
}

/// One poll of a send through node `w` (which holds the value until it is
/// taken).
pub(crate) fn poll_send<T>(
    chan: &Chan<T>,
    w: &ChanWaiter<T>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), SendError<T>>> {
    let done = |w: &ChanWaiter<T>| match take_done(w) {
        None => Ok(()),
        Some(v) => Err(SendError(v)),
    };
    match w.state() {
        DONE => {
            let _ = select::take_current();
            Poll::Ready(done(w))
        }
        QUEUED => {
            let _ = select::take_current();
            let mut st = chan.lock();
            if w.state() == DONE {
                drop(st);
                return Poll::Ready(done(w));
            }
            // SAFETY: queued; we hold the lock.
            let (v, sel) = unsafe { w.with_payload(|p| (p.value.take(), p.select)) };
            let v = v.expect("a queued sender holds its value");
            match st.try_send_locked(v, chan.cap) {
                Ok(waker) => {
                    // SAFETY: `w` is alive and queued in `sendq`.
                    unsafe { st.sendq.remove(NonNull::from(w)) };
                    claimed(sel);
                    drop(st);
                    wake(waker);
                    Poll::Ready(Ok(()))
                }
                Err(Full::Closed(v)) => {
                    // SAFETY: as above.
                    unsafe { st.sendq.remove(NonNull::from(w)) };
                    claimed(sel);
                    Poll::Ready(Err(SendError(v)))
                }
                Err(Full::Full(v)) => {
                    // SAFETY: queued; we hold the lock.
                    unsafe {
                        w.with_payload(|p| p.value = Some(v));
                        w.set_waker(cx.waker());
                    }
                    set_block_reason(BlockReason::ChanSend);
                    Poll::Pending
                }
            }
        }
        _ => {
            let sel = select::take_current();
            if !poll_proceed(cx) {
                return Poll::Pending;
            }
            // SAFETY: IDLE: the node is ours.
            let v = unsafe {
                w.with_payload(|p| {
                    p.select = sel;
                    p.value.take()
                })
            };
            let v = v.expect("spool: channel `send` future polled after it completed");
            let mut st = chan.lock();
            match st.try_send_locked(v, chan.cap) {
                Ok(waker) => {
                    claimed(sel);
                    drop(st);
                    wake(waker);
                    Poll::Ready(Ok(()))
                }
                Err(Full::Closed(v)) => {
                    claimed(sel);
                    Poll::Ready(Err(SendError(v)))
                }
                Err(Full::Full(v)) => {
                    // SAFETY: still IDLE: ours.
                    unsafe { w.with_payload(|p| p.value = Some(v)) };
                    if !sel.is_some_and(|s| s.nonblocking()) {
                        // SAFETY: pinned in its future, idle, removed by
                        // `cancel_send` before it goes away.
                        unsafe { st.sendq.push_back(NonNull::from(w), cx.waker()) };
                    }
                    set_block_reason(BlockReason::ChanSend);
                    Poll::Pending
                }
            }
        }
    }
}

/// A send's future is going away: leave the queue (the value is dropped
/// with the future).
#[inline]
pub(crate) fn cancel_send<T>(chan: &Chan<T>, w: &ChanWaiter<T>) {
    if w.state() == QUEUED {
        let mut st = chan.lock();
        // SAFETY: `w` is alive; if queued, it is in `sendq`.
        unsafe { st.sendq.remove(NonNull::from(w)) };
    }
}

/// Future of [`Receiver::recv`](super::Receiver::recv).
///
/// # Cancellation safety
///
/// Cancel safe: if it is dropped before it returns, no value is lost. A
/// value a sender had already handed to it goes back to the channel (to
/// the next waiting receiver, or the front of the buffer).
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    chan: &'a Chan<T>,
    waiter: ChanWaiter<T>,
    _pin: PhantomPinned,
}

impl<'a, T> Recv<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        Recv {
            chan,
            waiter: recv_waiter(),
            _pin: PhantomPinned,
        }
    }
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        poll_recv(self.chan, &self.waiter, cx)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        cancel_recv(self.chan, &self.waiter);
    }
}

impl<T> std::fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

/// Future of [`Sender::send`](super::Sender::send).
///
/// # Cancellation safety
///
/// A send that loses in a `select!` was never sent (its value is dropped
/// with the future). A send future dropped by other means while it waits
/// may race with a receiver that takes the value just then: the value is
/// then delivered, else dropped unsent. [`Send::cancel`] settles the race
/// and gives an unsent value back.
#[must_use = "futures do nothing unless awaited"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    waiter: ChanWaiter<T>,
    _pin: PhantomPinned,
}

impl<'a, T> Send<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, v: T) -> Self {
        Send {
            chan,
            waiter: ChanWaiter::new(Slot {
                value: Some(v),
                select: None,
            }),
            _pin: PhantomPinned,
        }
    }
}

impl<T> Send<'_, T> {
    /// Withdraws the send: `Some(value)` if it was not sent (the future is
    /// then finished), `None` if a receiver already has it.
    ///
    /// ```
    /// use std::pin::pin;
    /// let (tx, rx) = spool_executor::sync::chan::<u8>(0);
    /// let mut send = pin!(tx.send(1));
    /// // Nobody receives: the send is withdrawn with its value.
    /// assert_eq!(send.as_mut().cancel(), Some(1));
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        let w = &self.waiter;
        if w.state() == QUEUED {
            let mut st = self.chan.lock();
            // SAFETY: `w` is alive; if queued, it is in `sendq`.
            if unsafe { st.sendq.remove(NonNull::from(w)) } {
                // SAFETY: removed: IDLE, the node is ours.
                return unsafe { w.with_payload(|p| p.value.take()) };
            }
        }
        // DONE (taken, or closed and kept) or IDLE (never queued): ours.
        take_done(w)
    }
}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_send(self.chan, &self.waiter, cx)
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        cancel_send(self.chan, &self.waiter);
    }
}

impl<T> std::fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Send").finish_non_exhaustive()
    }
}

/// `try_recv` on the channel.
pub(crate) fn try_recv<T>(chan: &Chan<T>) -> Result<T, TryRecvError> {
    let mut st = chan.lock();
    match st.try_recv_locked(chan.cap) {
        Ok((v, waker)) => {
            drop(st);
            wake(waker);
            Ok(v)
        }
        Err(Empty::Empty) => Err(TryRecvError::Empty),
        Err(Empty::Closed) => Err(TryRecvError::Closed),
    }
}

/// `try_send` on the channel.
pub(crate) fn try_send<T>(chan: &Chan<T>, v: T) -> Result<(), TrySendError<T>> {
    let mut st = chan.lock();
    match st.try_send_locked(v, chan.cap) {
        Ok(waker) => {
            drop(st);
            wake(waker);
            Ok(())
        }
        Err(Full::Full(v)) => Err(TrySendError::Full(v)),
        Err(Full::Closed(v)) => Err(TrySendError::Closed(v)),
    }
}
