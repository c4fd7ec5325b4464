//! The I/O traits on spool's streams, written once: `futures_io`'s always,
//! tokio's with feature `tokio-io`, hyper's with feature `hyper`.
//!
//! Each stream type provides the crate-private inherent methods
//! `poll_read_priv`, `poll_read_uninit_priv` (reads), `poll_write_priv`,
//! `poll_write_vectored_priv` and `poll_shutdown_priv` (writes); the macros
//! below forward every trait to them, so the three trait families cannot
//! drift apart. `flush` is a no-op: spool's sockets have no user-space
//! buffer.

/// Implements the read traits for `$t` (which has `poll_read_priv` and
/// `poll_read_uninit_priv`).
macro_rules! impl_read_traits {
    ($t:ty) => {
        impl ::futures_io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_read_priv(cx, buf)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl ::tokio::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut ::tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // SAFETY: `poll_read_uninit_priv` only writes bytes (read(2))
                // and never de-initialises any.
                let unfilled = unsafe { buf.unfilled_mut() };
                let n = std::task::ready!(self.get_mut().poll_read_uninit_priv(cx, unfilled))?;
                // SAFETY: the kernel initialised the first `n` unfilled bytes.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                std::task::Poll::Ready(Ok(()))
            }
        }

        #[cfg(feature = "hyper")]
        impl ::hyper::rt::Read for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                mut buf: ::hyper::rt::ReadBufCursor<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // SAFETY: as for tokio's ReadBuf: we only write bytes.
                let unfilled = unsafe { buf.as_mut() };
                let n = std::task::ready!(self.get_mut().poll_read_uninit_priv(cx, unfilled))?;
                // SAFETY: the kernel initialised the first `n` bytes.
                unsafe { buf.advance(n) };
                std::task::Poll::Ready(Ok(()))
            }
        }
    };
}

/// Implements the write traits for `$t` (which has `poll_write_priv`,
/// `poll_write_vectored_priv` and `poll_shutdown_priv`).
macro_rules! impl_write_traits {
    ($t:ty) => {
        impl ::futures_io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_write_priv(cx, buf)
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_write_vectored_priv(cx, bufs)
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.get_mut().poll_shutdown_priv())
            }
        }

        #[cfg(feature = "tokio-io")]
        impl ::tokio::io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_write_priv(cx, buf)
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_write_vectored_priv(cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                true
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.get_mut().poll_shutdown_priv())
            }
        }

        #[cfg(feature = "hyper")]
        impl ::hyper::rt::Write for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_write_priv(cx, buf)
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().poll_write_vectored_priv(cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                true
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.get_mut().poll_shutdown_priv())
            }
        }
    };
}

/// The inherent async `read`/`write`/`write_all`/`shutdown` of a stream
/// (tokio's `AsyncReadExt`/`AsyncWriteExt` names and signatures, so code
/// ported from tokio compiles without those traits).
macro_rules! impl_async_methods {
    (read $t:ty) => {
        impl $t {
            /// Reads into `buf`, waiting until data (or EOF: `Ok(0)`) is there.
            ///
            /// Cancel-safe: if the future is dropped before it completes, no
            /// data was read.
            pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.poll_read_priv(cx, buf)).await
            }

            /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the
            /// stream ends first. Not cancel-safe (bytes read so far are lost).
            pub async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let mut done = 0;
                while done < buf.len() {
                    let n = self.read(&mut buf[done..]).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    done += n;
                }
                Ok(done)
            }

            /// Reads until EOF, appending to `buf`; returns the bytes read.
            pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
                let start = buf.len();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = self.read(&mut chunk).await?;
                    if n == 0 {
                        return Ok(buf.len() - start);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    };
    (write $t:ty) => {
        impl $t {
            /// Writes some of `buf`, waiting until the socket takes at least
            /// one byte; returns how many it took.
            pub async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.poll_write_priv(cx, buf)).await
            }

            /// Writes all of `buf`.
            pub async fn write_all(&mut self, mut buf: &[u8]) -> std::io::Result<()> {
                while !buf.is_empty() {
                    let n = self.write(buf).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    buf = &buf[n..];
                }
                Ok(())
            }

            /// Flushes: a no-op (no user-space buffer), for tokio's signature.
            pub async fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }

            /// Shuts the write half down (the peer reads EOF); reading still
            /// works (tokio's `AsyncWriteExt::shutdown`).
            pub async fn shutdown(&mut self) -> std::io::Result<()> {
                self.poll_shutdown_priv()
            }
        }
    };
}

pub(crate) use {impl_async_methods, impl_read_traits, impl_write_traits};
