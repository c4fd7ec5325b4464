//! One registration's readiness and the wakers waiting for it: the protocol
//! between the netpoller (which sets readiness) and tasks (which wait for it).
//!
//! The netpoller is edge-triggered: the OS reports a transition to ready
//! once, so readiness is *latched* here until the task that consumes it sees
//! `WouldBlock` and clears it. Invariants:
//! - `readiness` packs the ready bits ([`Ready`]), a [`SHUTDOWN`] bit, and a
//!   16-bit *tick* that every poller update increments. A task clears the
//!   readiness it observed only if the tick is unchanged
//!   ([`ScheduledIo::clear_readiness`]): an event that arrived between the
//!   task's observation and its `WouldBlock` is never thrown away.
//! - No lost wake-up: the poller sets readiness (an RMW), *then* takes the
//!   waiters lock and takes the wakers; a task that finds no readiness takes
//!   the lock, *re-reads* readiness under it, and only then stores its
//!   waker. Either the task's re-read sees the poller's bits, or the
//!   poller's lock comes after the task stored its waker and takes it (the
//!   loom model `readiness_set_while_registering_is_not_lost` in
//!   `tests/loom.rs` drives this code).
//! - A list of wakers per direction (usually one: a stream's `&mut` read
//!   and write halves; several tasks may share a `&UdpSocket`). A task
//!   polling again with a waker that `will_wake` the stored one is not added
//!   twice; a waiter that gave up stays until the next readiness wakes it
//!   spuriously (harmless: it re-polls or is gone).
//! - [`SHUTDOWN`] is final: set when the registration is released or the
//!   runtime shuts down; every waiter is woken and every later poll returns
//!   an error, so no task hangs on a dead registration.
//!
//! Wakers are always called with no lock held (a wake may run scheduler
//! code or a foreign waker that re-enters this registration).

use std::io;
use std::task::{Context, Poll, Waker};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex, lock};

/// Readiness bits as the OS reports them (mio's event flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(usize);

impl Ready {
    /// Nothing is ready.
    pub const EMPTY: Ready = Ready(0);
    /// Readable (data, a pending connection, or EOF).
    pub const READABLE: Ready = Ready(1);
    /// Writable (buffer space, or a finished connect).
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The peer closed its write half (reads will see EOF).
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// Our write half is closed (writes will fail).
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// An error is pending on the socket (both directions wake).
    pub const ERROR: Ready = Ready(1 << 4);
    /// Out-of-band (priority) data.
    pub const PRIORITY: Ready = Ready(1 << 5);

    const ALL: usize = (1 << 6) - 1;
    /// Bits that stay set once seen: a closed half does not reopen.
    const FINAL: usize = Ready::READ_CLOSED.0 | Ready::WRITE_CLOSED.0;

    /// True when no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every bit of `other` is set.
    pub fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Readable or closed for reading.
    pub fn is_readable(self) -> bool {
        self.0 & (Ready::READABLE.0 | Ready::READ_CLOSED.0) != 0
    }

    /// Writable or closed for writing.
    pub fn is_writable(self) -> bool {
        self.0 & (Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0) != 0
    }

    /// The bits set in both.
    pub fn intersection(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }

    /// The bits set in either.
    pub fn union(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }

    /// Converts a mio event's flags.
    pub(crate) fn from_mio(e: &mio::event::Event) -> Ready {
        let mut r = 0;
        if e.is_readable() {
            r |= Ready::READABLE.0;
        }
        if e.is_writable() {
            r |= Ready::WRITABLE.0;
        }
        if e.is_read_closed() {
            r |= Ready::READ_CLOSED.0;
        }
        if e.is_write_closed() {
            r |= Ready::WRITE_CLOSED.0;
        }
        if e.is_error() {
            r |= Ready::ERROR.0;
        }
        if e.is_priority() {
            r |= Ready::PRIORITY.0;
        }
        Ready(r)
    }
}

/// Which half of a registration a task waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Waits for [`Ready::READABLE`], [`Ready::READ_CLOSED`] or [`Ready::ERROR`].
    Read,
    /// Waits for [`Ready::WRITABLE`], [`Ready::WRITE_CLOSED`] or [`Ready::ERROR`].
    Write,
}

impl Direction {
    fn mask(self) -> Ready {
        match self {
            Direction::Read => {
                Ready(Ready::READABLE.0 | Ready::READ_CLOSED.0 | Ready::ERROR.0 | Ready::PRIORITY.0)
            }
            Direction::Write => Ready(Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0 | Ready::ERROR.0),
        }
    }
}

/// The readiness a task observed, with the tick it observed it at (for
/// [`ScheduledIo::clear_readiness`]).
#[derive(Debug, Clone, Copy)]
pub struct ReadyEvent {
    tick: usize,
    /// The bits of the waited-for direction that were set.
    pub ready: Ready,
}

impl ReadyEvent {
    /// The poller updates seen before this observation (wrapping).
    #[cfg_attr(not(loom), allow(dead_code))] // the loom models read it
    pub fn tick(self) -> usize {
        self.tick
    }
}

/// The registration is gone (released, or its runtime shut down).
const SHUTDOWN: usize = 1 << 7;
const TICK_SHIFT: usize = 16;
const TICK_MASK: usize = 0xFFFF;

fn tick(word: usize) -> usize {
    (word >> TICK_SHIFT) & TICK_MASK
}

#[derive(Default)]
struct Waiters {
    reader: Vec<Waker>,
    writer: Vec<Waker>,
}

/// Readiness and waiters of one registered socket (tokio's `ScheduledIo`,
/// Go's `pollDesc`).
pub struct ScheduledIo {
    /// Ready bits | [`SHUTDOWN`] | tick << [`TICK_SHIFT`].
    readiness: AtomicUsize,
    /// The task waiting to read and the one waiting to write.
    waiters: Mutex<Waiters>,
}

impl Default for ScheduledIo {
    fn default() -> Self {
        Self::new()
    }
}

impl ScheduledIo {
    /// Nothing ready, nobody waiting.
    pub fn new() -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// The poller saw `ready`: latch the bits, bump the tick, and return the
    /// wakers of the directions that became ready. The caller wakes them
    /// after releasing any lock it holds.
    pub fn set_readiness(&self, ready: Ready, wake: &mut Vec<Waker>) {
        // Latch the bits and bump the tick (AcqRel: the Release half pairs
        // with the Acquire loads in `poll_ready`, so a task that sees the bit
        // sees the socket state the OS reported before it).
        let mut cur = self.readiness.load(Ordering::Acquire);
        loop {
            if cur & SHUTDOWN != 0 {
                return;
            }
            let t = (tick(cur) + 1) & TICK_MASK;
            let next = (cur & Ready::ALL) | ready.0 | (t << TICK_SHIFT);
            match self
                .readiness
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        // Take the wakers only after the bits are published (see module doc).
        let mut w = lock(&self.waiters);
        if ready.intersection(Direction::Read.mask()) != Ready::EMPTY {
            wake.append(&mut w.reader);
        }
        if ready.intersection(Direction::Write.mask()) != Ready::EMPTY {
            wake.append(&mut w.writer);
        }
    }

    /// The readiness of `dir` now, without registering interest.
    pub fn ready_event(&self, dir: Direction) -> Result<ReadyEvent, Gone> {
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & SHUTDOWN != 0 {
            return Err(Gone);
        }
        Ok(ReadyEvent {
            tick: tick(cur),
            ready: Ready(cur).intersection(dir.mask()),
        })
    }

    /// Ready when `dir` has readiness; otherwise stores `cx`'s waker (the
    /// poller wakes it) and returns `Pending`.
    pub fn poll_ready(&self, cx: &Context<'_>, dir: Direction) -> Poll<Result<ReadyEvent, Gone>> {
        // Fast path: readiness already latched.
        let ev = self.ready_event(dir)?;
        if !ev.ready.is_empty() {
            return Poll::Ready(Ok(ev));
        }
        let mut w = lock(&self.waiters);
        // Re-read under the lock: the poller sets bits before it takes it.
        let ev = self.ready_event(dir)?;
        if !ev.ready.is_empty() {
            return Poll::Ready(Ok(ev));
        }
        let list = match dir {
            Direction::Read => &mut w.reader,
            Direction::Write => &mut w.writer,
        };
        if !list.iter().any(|old| old.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The task saw `WouldBlock` after observing `ev`: clear the bits it
    /// observed, unless the poller reported a new event since (tick moved).
    /// The closed bits stay set: a closed half never becomes open again.
    pub fn clear_readiness(&self, ev: ReadyEvent) {
        let clear = ev.ready.0 & !Ready::FINAL;
        let mut cur = self.readiness.load(Ordering::Acquire);
        loop {
            if tick(cur) != ev.tick || cur & clear == 0 {
                return;
            }
            match self.readiness.compare_exchange(
                cur,
                cur & !clear,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Marks the registration dead and returns every waiter's waker (the
    /// caller wakes them; their next poll gets an error).
    pub fn shutdown(&self, wake: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
        let mut w = lock(&self.waiters);
        wake.append(&mut w.reader);
        wake.append(&mut w.writer);
    }
}

/// The registration was released or its runtime shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

impl From<Gone> for io::Error {
    fn from(_: Gone) -> io::Error {
        io::Error::other(
            "spool: the socket's netpoller registration is gone (the runtime shut down or the socket was closed)",
        )
    }
}
