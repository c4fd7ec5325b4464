//! Owned read and write halves of a stream (`into_split`), for TCP and Unix
//! streams alike.
//!
//! Both halves share the stream through an `Arc`; the stream's `&self`
//! poll methods make concurrent reading (one half) and writing (the other)
//! sound, since readiness is tracked per direction. Dropping the write half
//! shuts the write direction down (the peer reads EOF), as tokio's does
//! unless [`forget`](tcp::OwnedWriteHalf::forget) is called. `reunite`
//! gives the stream back when both halves come from the same split.

/// Defines `OwnedReadHalf`, `OwnedWriteHalf`, `ReuniteError` and
/// `split_owned` for the stream type `$stream`.
macro_rules! owned_halves {
    ($stream:ident, $addr:ty) => {
        use std::fmt;
        use std::io;
        use std::mem::MaybeUninit;
        use std::sync::Arc;
        use std::task::{Context, Poll};

        use super::super::io_traits::{impl_async_methods, impl_read_traits, impl_write_traits};
        use $crate::net::$stream;

        /// The read half of an [`into_split`]($stream::into_split) stream.
        ///
        /// ```
        /// # let rt = spool_executor::Runtime::new().unwrap();
        /// # rt.block_on(async {
        /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        /// # let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        /// let (r, _w) = c.into_split();
        /// assert!(r.local_addr().is_ok());
        /// # });
        /// ```
        pub struct OwnedReadHalf {
            inner: Arc<$stream>,
        }

        /// The write half of an [`into_split`]($stream::into_split) stream;
        /// dropping it shuts the write direction down.
        ///
        /// ```
        /// # let rt = spool_executor::Runtime::new().unwrap();
        /// # rt.block_on(async {
        /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        /// # let c = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        /// let (_r, mut w) = c.into_split();
        /// w.write_all(b"bye").await.unwrap();
        /// drop(w); // the peer now reads "bye" then EOF
        /// # });
        /// ```
        pub struct OwnedWriteHalf {
            inner: Arc<$stream>,
            shutdown_on_drop: bool,
        }

        /// The halves passed to `reunite` came from different streams.
        ///
        /// ```
        /// # let rt = spool_executor::Runtime::new().unwrap();
        /// # rt.block_on(async {
        /// # let l = spool_executor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        /// # let a = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        /// # let b = spool_executor::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        /// let (ra, _wa) = a.into_split();
        /// let (_rb, wb) = b.into_split();
        /// assert!(ra.reunite(wb).is_err());
        /// # });
        /// ```
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl fmt::Debug for ReuniteError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("ReuniteError(..)")
            }
        }

        impl fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        pub(crate) fn split_owned(s: $stream) -> (OwnedReadHalf, OwnedWriteHalf) {
            let inner = Arc::new(s);
            (
                OwnedReadHalf {
                    inner: Arc::clone(&inner),
                },
                OwnedWriteHalf {
                    inner,
                    shutdown_on_drop: true,
                },
            )
        }

        impl OwnedReadHalf {
            /// Puts the stream back together (`Err` if `w` is another stream's).
            pub fn reunite(self, w: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                if !Arc::ptr_eq(&self.inner, &w.inner) {
                    return Err(ReuniteError(self, w));
                }
                let mut w = w;
                w.shutdown_on_drop = false;
                drop(w);
                Ok(Arc::try_unwrap(self.inner)
                    .unwrap_or_else(|_| unreachable!("both halves were given back")))
            }

            /// This end's address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.inner.local_addr()
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.inner.peer_addr()
            }

            /// Waits until a read may make progress.
            pub async fn readable(&self) -> io::Result<()> {
                self.inner.readable().await
            }

            /// Reads without waiting (see the stream's `try_read`).
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.inner.try_read(buf)
            }

            pub(crate) fn poll_read_priv(&self, cx: &Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                self.inner.poll_read_priv(cx, buf)
            }

            #[cfg_attr(not(any(feature = "tokio-io", feature = "hyper")), allow(dead_code))]
    pub(crate) fn poll_read_uninit_priv(
                &self,
                cx: &Context<'_>,
                buf: &mut [MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_read_uninit_priv(cx, buf)
            }
        }

        impl OwnedWriteHalf {
            /// Puts the stream back together (`Err` if `r` is another stream's).
            pub fn reunite(self, r: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                r.reunite(self)
            }

            /// Drops the half without shutting the write direction down.
            pub fn forget(mut self) {
                self.shutdown_on_drop = false;
            }

            /// This end's address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.inner.local_addr()
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.inner.peer_addr()
            }

            /// Waits until a write may make progress.
            pub async fn writable(&self) -> io::Result<()> {
                self.inner.writable().await
            }

            /// Writes without waiting (see the stream's `try_write`).
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                self.inner.try_write(buf)
            }

            pub(crate) fn poll_write_priv(&self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                self.inner.poll_write_priv(cx, buf)
            }

            pub(crate) fn poll_write_vectored_priv(
                &self,
                cx: &Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write_vectored_priv(cx, bufs)
            }

            pub(crate) fn poll_shutdown_priv(&self) -> io::Result<()> {
                self.inner.poll_shutdown_priv()
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    let _ = self.inner.poll_shutdown_priv();
                }
            }
        }

        impl fmt::Debug for OwnedReadHalf {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple("OwnedReadHalf").field(&*self.inner).finish()
            }
        }

        impl fmt::Debug for OwnedWriteHalf {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple("OwnedWriteHalf").field(&*self.inner).finish()
            }
        }

        impl_read_traits!(OwnedReadHalf);
        impl_write_traits!(OwnedWriteHalf);
        impl_async_methods!(read OwnedReadHalf);
        impl_async_methods!(write OwnedWriteHalf);
    };
}

/// TCP's owned halves (`spool::net::tcp`).
pub mod tcp {
    owned_halves!(TcpStream, std::net::SocketAddr);
}

/// Unix streams' owned halves (`spool::net::unix`).
pub mod unix {
    owned_halves!(UnixStream, std::os::unix::net::SocketAddr);
}
