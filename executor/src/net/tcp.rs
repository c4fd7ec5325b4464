//! TCP: [`TcpListener`], [`TcpStream`] and its owned halves (tokio's names and signatures) on
//! the runtime's netpoller.
//!
//! Both wrap a mio socket in a `PollEvented` (non-blocking fd, registered
//! edge-triggered for reads and writes). Every wait is a readiness wait
//! (`GoBlock` reason `network`); every error is the OS's `io::Error`, kind
//! and errno kept (`ConnectionRefused`, `AddrInUse`, `ConnectionReset`, …).
//! Address resolution (`ToSocketAddrs`) is std's, so a host name is resolved
//! synchronously on the calling M; pass `SocketAddr`s in hot paths.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::task::{Context, Poll};
use std::time::Duration;

use mio::Interest;

use super::io_traits::{impl_async_methods, impl_read_traits, impl_write_traits};
use super::registration::PollEvented;
/// TCP's owned halves, at tokio's path (`net::tcp::OwnedReadHalf`, …).
pub use super::split::tcp::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
use crate::netpoll::scheduled_io::{Direction, Ready};

/// Tries `f` on each address `addr` resolves to; the last error if none works.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

/// A TCP socket listening for connections.
///
/// # Examples
///
/// ```
/// use spool_executor::net::{TcpListener, TcpStream};
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = spool_executor::spawn(async move {
///         let mut s = TcpStream::connect(addr).await.unwrap();
///         s.write_all(b"hi").await.unwrap();
///     });
///     let (mut conn, _peer) = listener.accept().await.unwrap();
///     let mut buf = [0u8; 2];
///     conn.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
///     client.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its resolutions that binds) and
    /// listens. Port 0 picks a free port ([`local_addr`](Self::local_addr)
    /// tells which). `SO_REUSEADDR` is set, as tokio and Go do.
    ///
    /// # Errors
    /// The OS error: `AddrInUse` when another socket listens there,
    /// `AddrNotAvailable`, `PermissionDenied`, …
    ///
    /// # Panics
    /// Outside a spool runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let again = spool_executor::net::TcpListener::bind(l.local_addr().unwrap()).await;
    ///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| async move {
            let l = mio::net::TcpListener::bind(a)?;
            TcpListener::new(l)
        })
        .await
    }

    fn new(l: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::with_interest(l, Interest::READABLE)?,
        })
    }

    /// Waits for a connection; returns it with the peer's address.
    ///
    /// Cancel-safe: dropping the future loses no connection.
    ///
    /// ```
    /// # use spool_executor::net::{TcpListener, TcpStream};
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (_s, peer) = l.accept().await.unwrap();
    ///     assert_eq!(peer, c.local_addr().unwrap());
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (`accept` as a poll function).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (s, peer) = std::task::ready!(self.io.registration().poll_io(
            cx,
            Direction::Read,
            || self.io.io().accept()
        ))?;
        Poll::Ready(TcpStream::new(s).map(|s| (s, peer)))
    }

    /// Wraps a std listener (made non-blocking here) in the current runtime.
    ///
    /// # Panics
    /// Outside a spool runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = std_l.local_addr().unwrap();
    /// let l = rt.block_on(async { spool_executor::net::TcpListener::from_std(std_l) }).unwrap();
    /// assert_eq!(l.local_addr().unwrap(), addr);
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    /// The std listener, deregistered (still non-blocking).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let l = rt.block_on(async { spool_executor::net::TcpListener::bind("127.0.0.1:0").await }).unwrap();
    /// let std_l = l.into_std().unwrap();
    /// assert!(std_l.local_addr().is_ok());
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let l = self.io.into_inner()?;
        // SAFETY: `into_raw_fd` gives up mio's ownership of a listening TCP fd.
        Ok(unsafe { std::net::TcpListener::from_raw_fd(l.into_raw_fd()) })
    }

    /// The address it listens on.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let l = rt.block_on(spool_executor::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// `IP_TTL`.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let l = rt.block_on(spool_executor::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    /// l.set_ttl(42).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 42);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.io().ttl()
    }

    /// Sets `IP_TTL` (see [`ttl`](Self::ttl)).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.io().set_ttl(ttl)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd is open for as long as `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.as_raw_fd()) }
    }
}

/// A TCP connection.
///
/// Reads and writes take `&mut self` (tokio's `AsyncReadExt`/`AsyncWriteExt`
/// shapes); the `try_*` and readiness methods take `&self`, so one task may
/// read while another writes through [`into_split`](Self::into_split).
///
/// # Examples
///
/// ```
/// use spool_executor::net::{TcpListener, TcpStream};
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = l.local_addr().unwrap();
///     let echo = spool_executor::spawn(async move {
///         let (mut s, _) = l.accept().await.unwrap();
///         let mut buf = [0u8; 64];
///         let n = s.read(&mut buf).await.unwrap();
///         s.write_all(&buf[..n]).await.unwrap();
///     });
///     let mut c = TcpStream::connect(addr).await.unwrap();
///     c.write_all(b"ping").await.unwrap();
///     let mut buf = [0u8; 4];
///     c.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
///     echo.await.unwrap();
/// });
/// ```
pub struct TcpStream {
    pub(crate) io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn).
    ///
    /// # Errors
    /// The OS error of the last address tried: `ConnectionRefused` when
    /// nothing listens there, `TimedOut`, `NetworkUnreachable`, …
    ///
    /// # Panics
    /// Outside a spool runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     // Bind then drop: nothing listens on that port any more.
    ///     let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    ///     let err = spool_executor::net::TcpStream::connect(addr).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, Self::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let s = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
        // A non-blocking connect finishes when the socket becomes writable
        // (or fails: SO_ERROR says why).
        poll_fn(|cx| s.io.registration().poll_ready(cx, Direction::Write)).await?;
        if let Some(e) = s.io.io().take_error()? {
            return Err(e);
        }
        Ok(s)
    }

    pub(crate) fn new(s: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(s)?,
        })
    }

    /// Wraps a connected std stream (made non-blocking here).
    ///
    /// # Panics
    /// Outside a spool runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s = rt.block_on(async { spool_executor::net::TcpStream::from_std(c) }).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// The std stream, deregistered (still non-blocking).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = rt.block_on(spool_executor::net::TcpStream::connect(l.local_addr().unwrap())).unwrap();
    /// let mut s = s.into_std().unwrap();
    /// s.set_nonblocking(false).unwrap();
    /// let (mut peer, _) = l.accept().unwrap();
    /// s.write_all(b"x").unwrap();
    /// let mut b = [0u8; 1];
    /// peer.read_exact(&mut b).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let s = self.io.into_inner()?;
        // SAFETY: `into_raw_fd` gives up mio's ownership of a TCP stream fd.
        Ok(unsafe { std::net::TcpStream::from_raw_fd(s.into_raw_fd()) })
    }

    /// This end's address.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert!(c.local_addr().unwrap().ip().is_loopback());
    /// # });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert_eq!(c.peer_addr().unwrap(), l.local_addr().unwrap());
    /// # });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert!(c.take_error().unwrap().is_none());
    /// # });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.io().take_error()
    }

    /// `TCP_NODELAY`: whether Nagle's algorithm is off.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// c.set_nodelay(true).unwrap();
    /// assert!(c.nodelay().unwrap());
    /// # });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.io().nodelay()
    }

    /// Sets `TCP_NODELAY` (see [`nodelay`](Self::nodelay)).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.io().set_nodelay(nodelay)
    }

    /// `IP_TTL`.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// c.set_ttl(9).unwrap();
    /// assert_eq!(c.ttl().unwrap(), 9);
    /// # });
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.io().ttl()
    }

    /// Sets `IP_TTL` (see [`ttl`](Self::ttl)).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.io().set_ttl(ttl)
    }

    /// `SO_LINGER` (`None`: off).
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// c.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    /// assert_eq!(c.linger().unwrap(), Some(std::time::Duration::ZERO));
    /// # });
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        super::sockopt::linger(self.as_raw_fd())
    }

    /// Sets `SO_LINGER` (see [`linger`](Self::linger)). `Some(ZERO)` makes
    /// close send a reset instead of a FIN.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        super::sockopt::set_linger(self.as_raw_fd(), dur)
    }

    /// Waits until the stream is ready for any of `interest`; returns the
    /// readiness seen (it may be spurious: the next `try_*` may still say
    /// `WouldBlock`).
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let r = c.ready(spool_executor::io::Interest::WRITABLE).await.unwrap();
    /// assert!(r.is_writable());
    /// # });
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.io.registration().poll_ready_any(cx, interest)).await
    }

    /// Waits until a read may make progress (see [`try_read`](Self::try_read)).
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let mut c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (s, _) = l.accept().await.unwrap();
    /// c.write_all(b"abc").await.unwrap();
    /// let mut buf = [0u8; 8];
    /// let n = loop {
    ///     s.readable().await.unwrap();
    ///     match s.try_read(&mut buf) {
    ///         Ok(n) => break n,
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         Err(e) => panic!("{e}"),
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"abc");
    /// # });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io
            .registration()
            .readiness(Direction::Read)
            .await
            .map(drop)
    }

    /// Waits until a write may make progress (see [`try_write`](Self::try_write)).
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// c.writable().await.unwrap();
    /// assert_eq!(c.try_write(b"hello").unwrap(), 5);
    /// # });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io
            .registration()
            .readiness(Direction::Write)
            .await
            .map(drop)
    }

    /// Polls for read readiness (stores the waker when not ready).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io
            .registration()
            .poll_ready(cx, Direction::Read)
            .map_ok(drop)
    }

    /// Polls for write readiness (stores the waker when not ready).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io
            .registration()
            .poll_ready(cx, Direction::Write)
            .map_ok(drop)
    }

    /// Reads what is there without waiting: `WouldBlock` when nothing is
    /// (readiness is then cleared, so [`readable`](Self::readable) waits for
    /// the next event). `Ok(0)` is EOF.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        self.io
            .registration()
            .try_io(Direction::Read, || self.io.io().read(buf))
    }

    /// Writes what the socket takes without waiting: `WouldBlock` when it
    /// takes nothing.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        use std::io::Write;
        self.io
            .registration()
            .try_io(Direction::Write, || self.io.io().write(buf))
    }

    /// Vectored [`try_write`](Self::try_write).
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        use std::io::Write;
        self.io
            .registration()
            .try_io(Direction::Write, || self.io.io().write_vectored(bufs))
    }

    /// Reads without consuming: the bytes stay for the next read.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let mut c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (mut s, _) = l.accept().await.unwrap();
    /// c.write_all(b"xy").await.unwrap();
    /// let mut b = [0u8; 2];
    /// let mut n = 0;
    /// while n < 2 { n = s.peek(&mut b).await.unwrap(); }
    /// s.read_exact(&mut b).await.unwrap();
    /// assert_eq!(&b, b"xy");
    /// # });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Direction::Read, || self.io.io().peek(buf))
        })
        .await
    }

    /// Splits into halves that can move to different tasks; dropping the
    /// write half shuts the write direction down.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (r, w) = c.into_split();
    /// let c = r.reunite(w).unwrap();
    /// # drop(c);
    /// # });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        super::split::tcp::split_owned(self)
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }

    #[cfg_attr(not(any(feature = "tokio-io", feature = "hyper")), allow(dead_code))]
    pub(crate) fn poll_read_uninit_priv(
        &self,
        cx: &Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read_uninit(cx, buf)
    }

    pub(crate) fn poll_write_priv(&self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: &Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    pub(crate) fn poll_shutdown_priv(&self) -> io::Result<()> {
        match self.io.io().shutdown(Shutdown::Write) {
            // Already shut down, or the peer is gone: nothing left to do.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

impl_read_traits!(TcpStream);
impl_write_traits!(TcpStream);
impl_async_methods!(read TcpStream);
impl_async_methods!(write TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd is open for as long as `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.as_raw_fd()) }
    }
}
