//! The channel itself (Go's `hchan`): a bounded FIFO buffer and the queues of
//! blocked receivers and senders, behind one lock.
//!
//! Invariants, all under the lock (`State`):
//! - A plain (non-select) receiver is queued only while `buf` is empty and
//!   no sender can be taken, and a plain sender only while no receiver can
//!   be taken and `buf` is full (`cap == 0`: always "full"). A select's
//!   waiter that was *skipped* (its select was polling, or had already
//!   picked another branch, see `select.rs`) may stay queued beside a value
//!   it could have taken; its select polls again and takes it.
//! - `buf.len() <= cap`, except that a value handed to a receiver whose
//!   future was then dropped goes back to the *front* of `buf` whatever its
//!   length (it was sent; it must not be lost).
//! - Once `closed`, nothing is added to `buf` or to either queue; every
//!   queued plain waiter has been completed (receivers with no value,
//!   senders keeping theirs).
//! - A completed waiter is out of its queue and marked `DONE` before its
//!   waker is called, and wakers are called after the lock is released.

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::task::Waker;

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::sync::lock::{Lock, LockGuard};
use crate::sync::select::{Claim, SelectRef};
use crate::sync::waitlist::{WaitList, Waiter};

/// What a channel waiter carries: the value to send, or the slot a
/// receiver's value is handed into; and the select it belongs to, if any.
pub(crate) struct Slot<T> {
    pub(crate) value: Option<T>,
    pub(crate) select: Option<SelectRef>,
}

pub(crate) type ChanWaiter<T> = Waiter<Slot<T>>;

/// The lock-protected part of a channel.
pub(crate) struct State<T> {
    pub(crate) buf: VecDeque<T>,
    pub(crate) recvq: WaitList<Slot<T>>,
    pub(crate) sendq: WaitList<Slot<T>>,
    pub(crate) closed: bool,
}

/// One channel, shared by its senders and receivers.
pub(crate) struct Chan<T> {
    state: Lock<State<T>>,
    /// Buffer capacity; 0 for a rendezvous channel, `usize::MAX` unbounded.
    pub(crate) cap: usize,
    /// Live `Sender` handles; the last one to go closes the channel.
    pub(crate) senders: AtomicUsize,
    /// Live `Receiver` handles; the last one to go closes the channel and
    /// drops what is buffered.
    pub(crate) receivers: AtomicUsize,
}

/// Why `try_recv_locked` found nothing.
pub(crate) enum Empty {
    /// Nothing now; a value may come.
    Empty,
    /// Closed and drained.
    Closed,
}

/// Why `try_send_locked` could not send; the value comes back.
pub(crate) enum Full<T> {
    /// No receiver waiting and no room.
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Buffers up to this size are allocated up front.
const PREALLOC_MAX: usize = 4096;

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize) -> Chan<T> {
        let buf = if cap <= PREALLOC_MAX {
            VecDeque::with_capacity(cap)
        } else {
            VecDeque::new()
        };
        Chan {
            state: Lock::new(State {
                buf,
                recvq: WaitList::new(),
                sendq: WaitList::new(),
                closed: false,
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, State<T>> {
        self.state.lock()
    }
}

/// The first waiter of `q` that may be finished now: a plain one, or a
/// select branch this thread just claimed. Busy or lost select waiters
/// stay queued and are skipped (`select.rs`, steps 1 and 4).
fn claim_first<T>(q: &WaitList<Slot<T>>) -> Option<NonNull<ChanWaiter<T>>> {
    let mut cur = q.front();
    while let Some(w) = cur {
        // SAFETY: queued, and the caller holds the lock (it has `&q` from the state).
        let sel = unsafe { w.as_ref().with_payload(|p| p.select) };
        match sel.map_or(Claim::Won, |s| s.try_claim()) {
            Claim::Won => return Some(w),
            Claim::Busy | Claim::Lost => {}
        }
        // SAFETY: `w` is queued in `q`.
        cur = unsafe { q.next_of(w) };
    }
    None
}

impl<T> State<T> {
    /// A receive that does not wait: from the buffer (refilling it from a
    /// blocked sender), else straight from a blocked sender. The waker of a
    /// sender it completed is returned, to call after unlocking.
    pub(crate) fn try_recv_locked(&mut self, cap: usize) -> Result<(T, Option<Waker>), Empty> {
        if let Some(v) = self.buf.pop_front() {
            let mut waker = None;
            if self.buf.len() < cap {
                if let Some(s) = claim_first(&self.sendq) {
                    // SAFETY: `s` is queued in `sendq`.
                    let (moved, w) = unsafe { self.sendq.complete(s, |p| p.value.take()) };
                    self.buf.extend(moved);
                    waker = w;
                }
            }
            return Ok((v, waker));
        }
        if let Some(s) = claim_first(&self.sendq) {
            // SAFETY: `s` is queued in `sendq`.
            let (v, w) = unsafe { self.sendq.complete(s, |p| p.value.take()) };
            let v = v.expect("a queued sender holds its value");
            return Ok((v, w));
        }
        if self.closed {
            Err(Empty::Closed)
        } else {
            Err(Empty::Empty)
        }
    }

    /// A send that does not wait: to a blocked receiver, else into the
    /// buffer. Returns the waker of a receiver it completed.
    pub(crate) fn try_send_locked(&mut self, v: T, cap: usize) -> Result<Option<Waker>, Full<T>> {
        if self.closed {
            return Err(Full::Closed(v));
        }
        if let Some(r) = claim_first(&self.recvq) {
            // SAFETY: `r` is queued in `recvq`.
            let ((), w) = unsafe { self.recvq.complete(r, |p| p.value = Some(v)) };
            return Ok(w);
        }
        if self.buf.len() < cap {
            self.buf.push_back(v);
            return Ok(None);
        }
        Err(Full::Full(v))
    }

    /// A value handed to a receiver that was dropped before reading it goes
    /// back: to the next blocked receiver, else to the front of the buffer.
    pub(crate) fn return_value(&mut self, v: T) -> Option<Waker> {
        if let Some(r) = claim_first(&self.recvq) {
            // SAFETY: `r` is queued in `recvq`.
            let ((), w) = unsafe { self.recvq.complete(r, |p| p.value = Some(v)) };
            return w;
        }
        self.buf.push_front(v);
        None
    }

    /// Closes the channel: completes every waiter that can be (receivers
    /// get no value, senders keep theirs) and returns their wakers.
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        if self.closed {
            return wakers;
        }
        self.closed = true;
        while let Some(r) = claim_first(&self.recvq) {
            // SAFETY: `r` is queued in `recvq`.
            let ((), w) = unsafe { self.recvq.complete(r, |_| ()) };
            wakers.extend(w);
        }
        while let Some(s) = claim_first(&self.sendq) {
            // SAFETY: `s` is queued in `sendq`.
            let ((), w) = unsafe { self.sendq.complete(s, |_| ()) };
            wakers.extend(w);
        }
        wakers
    }
}

impl<T> Chan<T> {
    /// Closes the channel and wakes its waiters.
    pub(crate) fn close(&self) {
        let wakers = self.lock().close();
        crate::sync::waitlist::wake_all(wakers);
    }

    /// The last receiver is gone: close, and drop what is buffered (outside
    /// the lock: a value's destructor may use the channel).
    pub(crate) fn close_and_drain(&self) {
        let (wakers, buf) = {
            let mut st = self.lock();
            let wakers = st.close();
            (wakers, std::mem::take(&mut st.buf))
        };
        crate::sync::waitlist::wake_all(wakers);
        drop(buf);
    }

    pub(crate) fn sender_count(&self) -> usize {
        self.senders.load(Ordering::Relaxed)
    }
}
