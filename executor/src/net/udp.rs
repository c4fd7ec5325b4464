//! UDP: [`UdpSocket`] (tokio's names and signatures) on the netpoller.
//!
//! Every method takes `&self`: several tasks may share one socket (an
//! `Arc<UdpSocket>`), each waiting in its own direction; readiness is
//! latched per direction and every waiter of a direction is woken when it
//! becomes ready (`scheduled_io.rs`). A datagram is sent or received whole.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::task::{Context, Poll};

use mio::Interest;

use super::registration::PollEvented;
use super::tcp::each_addr;
use crate::netpoll::scheduled_io::{Direction, Ready};

/// A UDP socket.
///
/// # Examples
///
/// ```
/// use spool_executor::net::UdpSocket;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its resolutions that binds).
    ///
    /// # Errors
    /// The OS error (`AddrInUse`, `AddrNotAvailable`, …).
    ///
    /// # Panics
    /// Outside a spool runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let s = rt.block_on(spool_executor::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| async move {
            UdpSocket::new(mio::net::UdpSocket::bind(a)?)
        })
        .await
    }

    fn new(s: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::with_interest(s, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Wraps a std socket (made non-blocking here).
    ///
    /// # Panics
    /// Outside a spool runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let std_s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let s = rt.block_on(async { spool_executor::net::UdpSocket::from_std(std_s) }).unwrap();
    /// assert!(s.local_addr().is_ok());
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// The std socket, deregistered (still non-blocking).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let s = rt.block_on(spool_executor::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// let addr = s.local_addr().unwrap();
    /// assert_eq!(s.into_std().unwrap().local_addr().unwrap(), addr);
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let s = self.io.into_inner()?;
        // SAFETY: `into_raw_fd` gives up mio's ownership of a UDP socket fd.
        Ok(unsafe { std::net::UdpSocket::from_raw_fd(s.into_raw_fd()) })
    }

    /// The bound address.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let s = rt.block_on(spool_executor::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The address [`connect`](Self::connect) set.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let a = spool_executor::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// let b = spool_executor::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.connect(b.local_addr().unwrap()).await.unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// # });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts (the first resolved address
    /// that works).
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| async move { self.io.io().connect(a) }).await
    }

    /// Sends `buf` to the connected peer.
    ///
    /// ```
    /// # let rt = spool_executor::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let a = spool_executor::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// let b = spool_executor::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.connect(b.local_addr().unwrap()).await.unwrap();
    /// b.connect(a.local_addr().unwrap()).await.unwrap();
    /// a.send(b"hey").await.unwrap();
    /// let mut buf = [0u8; 8];
    /// let n = b.recv(&mut buf).await.unwrap();
    /// assert_eq!(&buf[..n], b"hey");
    /// # });
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Polls to send `buf` to the connected peer.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Write, || self.io.io().send(buf))
    }

    /// Receives a datagram from the connected peer (the rest of a datagram
    /// longer than `buf` is dropped).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Direction::Read, || self.io.io().recv(buf))
        })
        .await
    }

    /// Sends `buf` to `target` (its first resolved address).
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addr = target
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to send to"))?;
        poll_fn(|cx| self.poll_send_to(cx, buf, addr)).await
    }

    /// Polls to send `buf` to `target`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Write, || self.io.io().send_to(buf, target))
    }

    /// Receives a datagram and its sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Direction::Read, || self.io.io().recv_from(buf))
        })
        .await
    }

    /// Like [`recv_from`](Self::recv_from), leaving the datagram queued.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Direction::Read, || self.io.io().peek_from(buf))
        })
        .await
    }

    /// Sends to the connected peer without waiting (`WouldBlock` if the
    /// socket buffer is full).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Direction::Write, || self.io.io().send(buf))
    }

    /// Sends to `target` without waiting.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Direction::Write, || self.io.io().send_to(buf, target))
    }

    /// Receives from the connected peer without waiting (`WouldBlock` when
    /// nothing is queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Direction::Read, || self.io.io().recv(buf))
    }

    /// Receives without waiting, with the sender's address.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .try_io(Direction::Read, || self.io.io().recv_from(buf))
    }

    /// Waits until any of `interest` is ready.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.io.registration().poll_ready_any(cx, interest)).await
    }

    /// Waits until a receive may make progress.
    pub async fn readable(&self) -> io::Result<()> {
        self.io
            .registration()
            .readiness(Direction::Read)
            .await
            .map(drop)
    }

    /// Waits until a send may make progress.
    pub async fn writable(&self) -> io::Result<()> {
        self.io
            .registration()
            .readiness(Direction::Write)
            .await
            .map(drop)
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.io().broadcast()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.io().set_broadcast(on)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.io().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.io().set_ttl(ttl)
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.io().take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.io().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd is open for as long as `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.as_raw_fd()) }
    }
}
