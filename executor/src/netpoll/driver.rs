//! The netpoller: the OS readiness poller (mio: epoll on Linux, kqueue on
//! macOS) owned by one runtime and polled by its Ms themselves — no reactor
//! thread (Go's `netpoll`, `runtime/netpoll_epoll.go`).
//!
//! Who calls what (the scheduler side is in `sched/worker.rs` and the
//! design comment of `sched/mod.rs`):
//! - At most one M polls at a time: the holder of the [`Poller`] lock
//!   ([`Driver::try_poller`], never a blocking lock). An M that runs out of
//!   work polls with a zero timeout before stealing; an idle M that finds
//!   the lock free while sockets are registered blocks in it with the next
//!   timer deadline as its timeout, instead of its condvar.
//! - The poller's [`mio::Waker`] (an eventfd) is written only by
//!   [`Driver::wake`], which the scheduler calls only for an M whose parker
//!   says it is blocked in the poll (`park.rs`, state `POLLING`): nothing is
//!   written when no M blocks in it. [`Driver::waker_writes`] counts writes.
//! - [`Poller::dispatch`] runs on the polling M after it took its P back:
//!   under the slab lock it latches each event's readiness on the
//!   registration its token names (a stale generation is dropped) and
//!   collects the wakers; it wakes them after the lock is released.
//! - `registered` counts live registrations. With none, the scheduler never
//!   polls and parks as it did before the netpoller existed (one relaxed
//!   load on the idle path).
//! - After [`Driver::shutdown`] (runtime shutdown) every registration is
//!   dead (waiters woken, later polls fail) and new ones are refused; the
//!   epoll and eventfd descriptors close when the last `Arc<Driver>` (the
//!   runtime's or a surviving socket's) is dropped.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::Waker;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest};

use super::scheduled_io::{Ready, ScheduledIo};
use super::slab::{Slab, WAKER_TOKEN};
use crate::loom::lock_std;
use crate::panics::{Panics, Site};

/// Events read per poll (Go reads 128 per `epoll_wait`; tokio 1,024).
const EVENTS_PER_POLL: usize = 256;

/// One runtime's netpoller.
pub(crate) struct Driver {
    /// The OS poller and its event buffer; held by the one M polling.
    poller: Mutex<Poller>,
    /// For (de)registering sources from any thread while an M polls.
    registry: mio::Registry,
    /// Interrupts a blocked poll (eventfd on Linux).
    waker: mio::Waker,
    /// Registrations by token.
    slab: Mutex<Slab>,
    /// Live registrations (mirrors the slab's count, read without its lock).
    registered: AtomicUsize,
    /// The runtime shut down: no new registrations.
    shutdown: AtomicBool,
    /// Writes to `waker` (for the "never signalled needlessly" check).
    waker_writes: AtomicU64,
}

/// The OS poller, owned by whichever M holds the lock.
pub(crate) struct Poller {
    poll: mio::Poll,
    events: Events,
    /// Wakers collected by `dispatch` (kept for its capacity).
    wake: Vec<Waker>,
}

impl Driver {
    /// An epoll instance and its eventfd waker.
    pub(crate) fn new() -> io::Result<Driver> {
        let poll = mio::Poll::new().map_err(|e| {
            io::Error::new(e.kind(), format!("spool: cannot create the netpoller: {e}"))
        })?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER_TOKEN)?;
        Ok(Driver {
            poller: Mutex::new(Poller {
                poll,
                events: Events::with_capacity(EVENTS_PER_POLL),
                wake: Vec::new(),
            }),
            registry,
            waker,
            slab: Mutex::new(Slab::default()),
            registered: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            waker_writes: AtomicU64::new(0),
        })
    }

    /// Whether any socket is registered: the scheduler's gate for polling.
    /// Relaxed: a stale answer costs at most one pointless zero-timeout poll
    /// or one condvar park; the 0 → 1 edge is made visible to idle Ms by
    /// the registering thread (`Shared::io_registered`).
    #[inline]
    pub(crate) fn has_registrations(&self) -> bool {
        self.registered.load(Ordering::Relaxed) != 0
    }

    /// The poller, if no other M is polling.
    pub(crate) fn try_poller(&self) -> Option<MutexGuard<'_, Poller>> {
        match self.poller.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Registers `source` for read and write readiness. True in the second
    /// field when this was the first live registration (the caller makes
    /// sure an idle M moves into the poll).
    pub(crate) fn register(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<(mio::Token, Arc<ScheduledIo>, bool)> {
        if self.shutdown.load(Ordering::Acquire) {
            return Err(runtime_gone());
        }
        let io = Arc::new(ScheduledIo::new());
        let token = lock_std(&self.slab).insert(Arc::clone(&io))?;
        // Edge-triggered (mio always is): the state at registration is
        // reported as the first edge.
        if let Err(e) = self.registry.register(source, token, interest) {
            lock_std(&self.slab).remove(token);
            return Err(e);
        }
        // SeqCst: the 0 -> 1 edge pairs with an idle M's read of the count
        // after it joined the sleeper list (`worker::park`).
        let first = self.registered.fetch_add(1, Ordering::SeqCst) == 0;
        Ok((token, io, first))
    }

    /// Removes `source` from the OS poller and vacates its slot; wakes any
    /// task still waiting on it (with an error). Runs where the socket is
    /// dropped (inside that task's poll, whose unwinding a waker's panic
    /// joins), so the wakes are not guarded.
    pub(crate) fn deregister(&self, source: &mut impl Source, token: mio::Token) -> io::Result<()> {
        let res = self.registry.deregister(source);
        let io = lock_std(&self.slab).remove(token);
        if let Some(io) = io {
            self.registered.fetch_sub(1, Ordering::SeqCst);
            let mut wake = Vec::new();
            io.shutdown(&mut wake);
            wake.into_iter().for_each(Waker::wake);
        }
        res
    }

    /// Interrupts the blocked poll. Only for an M whose parker is `POLLING`.
    pub(crate) fn wake(&self) {
        self.waker_writes.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.waker.wake() {
            // eventfd writes fail only on a closed or overflowing fd; mio
            // resets the counter on overflow, so this is a broken runtime.
            panic!("spool: cannot wake the netpoller: {e}");
        }
    }

    /// Writes to the poller's waker so far.
    pub(crate) fn waker_writes(&self) -> u64 {
        self.waker_writes.load(Ordering::Relaxed)
    }

    /// Live registrations.
    pub(crate) fn registrations(&self) -> usize {
        lock_std(&self.slab).len()
    }

    /// Runtime shutdown: refuse new registrations, mark every live one dead
    /// and wake its waiters (their polls then fail instead of hanging).
    pub(crate) fn shutdown(&self, panics: &Panics) {
        self.shutdown.store(true, Ordering::Release);
        let mut wake = Vec::new();
        lock_std(&self.slab).for_each(|io| io.shutdown(&mut wake));
        for w in wake {
            panics.guard(Site::IoWake, || w.wake());
        }
    }
}

impl Poller {
    /// Waits up to `timeout` (`None`: until an event or a wake) for events.
    /// The events stay in the buffer for [`dispatch`](Self::dispatch).
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A signal interrupted epoll_wait: a spurious return.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(e) => panic!("spool: the netpoller failed: {e}"),
        }
    }

    /// Latches the events of the last [`poll`](Self::poll) and wakes their
    /// waiters; returns how many wakers it called. Empties the buffer. A
    /// waker may be anyone's (a `block_on`, another executor's): each call
    /// is guarded, so a panicking one cannot take the M down.
    pub(crate) fn dispatch(&mut self, driver: &Driver, panics: &Panics) -> usize {
        if self.events.is_empty() {
            return 0;
        }
        {
            let slab = lock_std(&driver.slab);
            for e in self.events.iter() {
                if e.token() == WAKER_TOKEN {
                    continue;
                }
                // A stale generation (socket closed since) is dropped here.
                if let Some(io) = slab.get(e.token()) {
                    io.set_readiness(Ready::from_mio(e), &mut self.wake);
                }
            }
        }
        self.events.clear();
        let n = self.wake.len();
        for w in self.wake.drain(..) {
            panics.guard(Site::IoWake, || w.wake());
        }
        n
    }
}

fn runtime_gone() -> io::Error {
    io::Error::other("spool: cannot register a socket: the runtime has shut down")
}
