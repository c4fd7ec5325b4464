//! A socket registered with its runtime's netpoller: [`PollEvented`] owns
//! the mio source and its [`Registration`], and turns `WouldBlock` into
//! waiting for readiness.
//!
//! Invariants:
//! - A `PollEvented` is created inside a runtime (a task or `block_on`);
//!   its registration belongs to that runtime's driver for life.
//! - The readiness loop is: observe readiness → try the syscall → on
//!   `WouldBlock` clear exactly the readiness observed (tick-checked, see
//!   `netpoll/scheduled_io.rs`) and wait again. Any other result is returned.
//! - A stream read or write that moved fewer bytes than asked drained the
//!   socket (or filled its buffer): the readiness observed is cleared right
//!   away, as tokio does, so the next call waits instead of paying a
//!   `WouldBlock` syscall. A newer edge in between has a newer tick and
//!   survives the clear.
//! - Dropping a `PollEvented` deregisters the source (epoll_ctl DEL),
//!   vacates its slab slot (new generation) and wakes any remaining waiter
//!   with an error, then closes the fd.
//! - Every poll of a spool socket spends one unit of the task's cooperative
//!   budget, so a task reading an always-ready socket still yields.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use mio::Interest;
use mio::event::Source;
use spool_tracer::hooks::BlockReason;

use crate::context;
use crate::netpoll::driver::Driver;
use crate::netpoll::scheduled_io::{Direction, Ready, ReadyEvent, ScheduledIo};
use crate::sched::Shared;

/// One source's entry in the driver.
pub(crate) struct Registration {
    driver: Arc<Driver>,
    token: mio::Token,
    io: Arc<ScheduledIo>,
}

impl Registration {
    /// Registers `source` with the current runtime's netpoller.
    ///
    /// # Panics
    /// Outside a spool runtime.
    pub(crate) fn new(source: &mut impl Source, interest: Interest) -> io::Result<Registration> {
        let p = context::current_shared();
        assert!(
            !p.is_null(),
            "spool: a spool socket was created outside a spool runtime: create it inside a task or `block_on`"
        );
        // SAFETY: non-null: the worker or block_on that set it keeps the
        // runtime alive while this thread is inside it (all of this call).
        let shared: &Shared = unsafe { &*p };
        let driver = Arc::clone(&shared.driver);
        let (token, io, first) = driver.register(source, interest)?;
        if first {
            shared.io_registered();
        }
        Ok(Registration { driver, token, io })
    }

    /// Readiness of `dir`, or the waker stored and `Pending` (block reason
    /// `network` for the tracer).
    pub(crate) fn poll_ready(
        &self,
        cx: &Context<'_>,
        dir: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        if !context::poll_proceed(cx) {
            return Poll::Pending;
        }
        match self.io.poll_ready(cx, dir) {
            Poll::Ready(r) => Poll::Ready(r.map_err(io::Error::from)),
            Poll::Pending => {
                context::set_block_reason(BlockReason::Network);
                Poll::Pending
            }
        }
    }

    /// Runs `f` once readiness allows, clearing readiness and waiting again
    /// on `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &Context<'_>,
        dir: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let ev = ready!(self.poll_ready(cx, dir))?;
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear_readiness(ev),
                r => return Poll::Ready(r),
            }
        }
    }

    /// [`poll_io`](Self::poll_io) for a stream read or write of `len`
    /// bytes: a result short of `len` clears the observed readiness (the
    /// socket is drained, or its send buffer full).
    pub(crate) fn poll_io_stream(
        &self,
        cx: &Context<'_>,
        dir: Direction,
        len: usize,
        mut f: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let ev = ready!(self.poll_ready(cx, dir))?;
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear_readiness(ev),
                Ok(n) if n > 0 && n < len => {
                    self.io.clear_readiness(ev);
                    return Poll::Ready(Ok(n));
                }
                r => return Poll::Ready(r),
            }
        }
    }

    /// Runs `f` if `dir` is ready now (tokio's `try_io`): `WouldBlock`
    /// without a syscall when it is not, and readiness cleared when `f`
    /// says `WouldBlock`.
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let ev = self.io.ready_event(dir)?;
        if ev.ready.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.io.clear_readiness(ev);
                Err(e)
            }
            r => r,
        }
    }

    /// Waits until `dir` is ready (`readable()`/`writable()`).
    pub(crate) async fn readiness(&self, dir: Direction) -> io::Result<Ready> {
        let ev = poll_fn(|cx| self.poll_ready(cx, dir)).await?;
        Ok(ev.ready)
    }

    /// Readiness for `ready()`: the first of read/write that is ready.
    pub(crate) fn poll_ready_any(
        &self,
        cx: &Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Ready>> {
        let mut out = Ready::EMPTY;
        let mut pending = false;
        if interest.is_readable() {
            match self.io.poll_ready(cx, Direction::Read) {
                Poll::Ready(r) => out = out.union(r?.ready),
                Poll::Pending => pending = true,
            }
        }
        if interest.is_writable() {
            match self.io.poll_ready(cx, Direction::Write) {
                Poll::Ready(r) => out = out.union(r?.ready),
                Poll::Pending => pending = true,
            }
        }
        if out.is_empty() && pending {
            context::set_block_reason(BlockReason::Network);
            return Poll::Pending;
        }
        Poll::Ready(Ok(out))
    }

    fn deregister(&self, source: &mut impl Source) -> io::Result<()> {
        self.driver.deregister(source, self.token)
    }
}

/// A mio source plus its registration.
pub(crate) struct PollEvented<E: Source> {
    io: Option<E>,
    reg: Registration,
}

impl<E: Source> PollEvented<E> {
    /// Registers `io` for reads and writes with the current runtime.
    pub(crate) fn new(io: E) -> io::Result<Self> {
        Self::with_interest(io, Interest::READABLE | Interest::WRITABLE)
    }

    pub(crate) fn with_interest(mut io: E, interest: Interest) -> io::Result<Self> {
        let reg = Registration::new(&mut io, interest)?;
        Ok(PollEvented { io: Some(io), reg })
    }

    /// The source.
    pub(crate) fn io(&self) -> &E {
        self.io.as_ref().expect("present until into_inner or drop")
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.reg
    }

    /// Deregisters and returns the source (for `into_std`).
    pub(crate) fn into_inner(mut self) -> io::Result<E> {
        let mut io = self.io.take().expect("present until into_inner or drop");
        self.reg.deregister(&mut io)?;
        Ok(io)
    }
}

impl<E: Source> PollEvented<E>
where
    for<'a> &'a E: Read + Write,
{
    pub(crate) fn poll_read(&self, cx: &Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.reg.poll_io_stream(cx, Direction::Read, len, || {
            let mut io = self.io();
            io.read(buf)
        })
    }

    pub(crate) fn poll_write(&self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.reg
            .poll_io_stream(cx, Direction::Write, buf.len(), || {
                let mut io = self.io();
                io.write(buf)
            })
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.reg.poll_io_stream(cx, Direction::Write, len, || {
            let mut io = self.io();
            io.write_vectored(bufs)
        })
    }
}

// Used by the tokio-io and hyper trait impls.
#[cfg_attr(not(any(feature = "tokio-io", feature = "hyper")), allow(dead_code))]
impl<E: Source + AsRawFd> PollEvented<E> {
    /// Reads into uninitialised memory (tokio's `ReadBuf`, hyper's
    /// `ReadBufCursor`) with `read(2)` on the raw fd, so no `&mut [u8]` over
    /// uninitialised bytes is ever made.
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let fd = self.io().as_raw_fd();
        let len = buf.len();
        self.reg
            .poll_io_stream(cx, Direction::Read, len, || read_uninit(fd, buf))
    }
}

/// `read(2)` into `buf`.
#[cfg_attr(not(any(feature = "tokio-io", feature = "hyper")), allow(dead_code))]
pub(crate) fn read_uninit(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the kernel
    // writes at most that many and we only report the count it returns.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl<E: Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            // Errors here (the fd is already gone from epoll) change nothing:
            // the slot is vacated either way.
            let _ = self.reg.deregister(&mut io);
        }
    }
}

impl<E: Source + std::fmt::Debug> std::fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io().fmt(f)
    }
}
