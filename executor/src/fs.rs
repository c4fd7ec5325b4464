//! File-system calls that do not stall a P: each runs `std::fs` on the
//! blocking pool (`spawn_blocking`), tokio's `fs` shape.
//!
//! Free functions ([`read`], [`read_to_string`], [`write`], [`metadata`])
//! are one pool job each. [`File`] implements `futures_io::{AsyncRead,
//! AsyncWrite}` with one operation in flight at a time (tokio's design):
//! a read fills a buffer on the pool (at least 8 KiB) and serves it across
//! polls; a write
//! copies the caller's bytes and is accepted at once, its result reported
//! by the next operation or by `flush`/`close`. Invariants: while a job is
//! in flight the `File` owns nothing but its handle (the buffer travels
//! with the job); buffered read bytes not yet consumed are given back
//! (the file position moved back) before a write, so reads and writes see
//! one position.

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::{JoinError, JoinHandle, spawn_blocking};

/// The most a single pool job reads or writes (tokio's 2 MiB).
const MAX_BUF: usize = 2 * 1024 * 1024;
/// The least a read job asks for (smaller reads are served from it).
const MIN_READ: usize = 8 * 1024;

/// A failed or cancelled pool job as an I/O error.
fn join_error(e: JoinError) -> io::Error {
    io::Error::other(format!("spool::fs: the blocking call did not finish: {e}"))
}

/// Runs `f` on the blocking pool and awaits its `io::Result`.
async fn asyncify<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    spawn_blocking(f).await.map_err(join_error)?
}

/// Reads a whole file (`std::fs::read` on the blocking pool).
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let p = std::env::temp_dir().join(format!("spool-fs-read-{}", std::process::id()));
/// rt.block_on(async {
///     spool_executor::fs::write(&p, b"hello").await.unwrap();
///     assert_eq!(spool_executor::fs::read(&p).await.unwrap(), b"hello");
/// });
/// # std::fs::remove_file(&p).unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read(path)).await
}

/// Reads a whole UTF-8 file (`std::fs::read_to_string` on the blocking pool).
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let p = std::env::temp_dir().join(format!("spool-fs-str-{}", std::process::id()));
/// rt.block_on(async {
///     spool_executor::fs::write(&p, "text").await.unwrap();
///     assert_eq!(spool_executor::fs::read_to_string(&p).await.unwrap(), "text");
/// });
/// # std::fs::remove_file(&p).unwrap();
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Writes a whole file, creating or truncating it (`std::fs::write` on the
/// blocking pool).
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let p = std::env::temp_dir().join(format!("spool-fs-write-{}", std::process::id()));
/// rt.block_on(spool_executor::fs::write(&p, vec![1u8, 2, 3])).unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), [1, 2, 3]);
/// # std::fs::remove_file(&p).unwrap();
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// A path's metadata (`std::fs::metadata` on the blocking pool).
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let m = rt.block_on(spool_executor::fs::metadata(".")).unwrap();
/// assert!(m.is_dir());
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// What a pool job hands back to its `File`.
struct Done {
    buf: Vec<u8>,
    /// A read's byte count (the data is `buf`), or a write's result.
    result: io::Result<usize>,
    was_read: bool,
}

enum State {
    /// No job in flight: `buf[pos..]` are read bytes not yet consumed.
    Idle {
        buf: Vec<u8>,
        pos: usize,
    },
    Busy(JoinHandle<Done>),
}

/// An open file whose reads and writes run on the blocking pool
/// (`futures_io::AsyncRead`/`AsyncWrite`; use `futures_lite::AsyncReadExt`
/// or `futures::AsyncReadExt` for `read_to_end`, `write_all`, ...).
///
/// ```
/// use futures_io::AsyncWrite;
/// use std::pin::Pin;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let p = std::env::temp_dir().join(format!("spool-fs-file-{}", std::process::id()));
/// let p2 = p.clone();
/// rt.block_on(async move {
///     let mut f = spool_executor::fs::File::create(&p2).await.unwrap();
///     let n = std::future::poll_fn(|cx| Pin::new(&mut f).poll_write(cx, b"abc")).await.unwrap();
///     assert_eq!(n, 3);
///     std::future::poll_fn(|cx| Pin::new(&mut f).poll_flush(cx)).await.unwrap();
/// });
/// assert_eq!(std::fs::read(&p).unwrap(), b"abc");
/// # std::fs::remove_file(&p).unwrap();
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    state: State,
    /// A failed write, reported by the next operation.
    last_error: Option<io::Error>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").field("std", &self.std).finish()
    }
}

impl File {
    /// Opens a file for reading (`std::fs::File::open` on the blocking pool).
    ///
    /// # Errors
    /// The OS's, as `std::fs::File::open`.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let e = rt.block_on(spool_executor::fs::File::open("/no/such/file")).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path: PathBuf = path.as_ref().to_owned();
        asyncify(move || std::fs::File::open(path))
            .await
            .map(File::from_std)
    }

    /// Creates or truncates a file for writing (`std::fs::File::create` on
    /// the blocking pool).
    ///
    /// # Errors
    /// The OS's, as `std::fs::File::create`.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let p = std::env::temp_dir().join(format!("spool-fs-create-{}", std::process::id()));
    /// rt.block_on(spool_executor::fs::File::create(&p)).unwrap();
    /// assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
    /// # std::fs::remove_file(&p).unwrap();
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path: PathBuf = path.as_ref().to_owned();
        asyncify(move || std::fs::File::create(path))
            .await
            .map(File::from_std)
    }

    /// Wraps an open `std::fs::File`.
    ///
    /// ```
    /// let f = spool_executor::fs::File::from_std(std::fs::File::open(".").unwrap());
    /// ```
    pub fn from_std(f: std::fs::File) -> File {
        File {
            std: Arc::new(f),
            state: State::Idle {
                buf: Vec::new(),
                pos: 0,
            },
            last_error: None,
        }
    }

    /// The file's metadata, after any write in flight.
    ///
    /// # Errors
    /// A failed earlier write, or the OS's.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let m = rt.block_on(async {
    ///     spool_executor::fs::File::open(".").await.unwrap().metadata().await
    /// });
    /// assert!(m.unwrap().is_dir());
    /// ```
    pub async fn metadata(&mut self) -> io::Result<std::fs::Metadata> {
        std::future::poll_fn(|cx| self.poll_idle(cx)).await?;
        let f = Arc::clone(&self.std);
        asyncify(move || f.metadata()).await
    }

    /// Flushes writes in flight, then `fsync`s the file (`sync_all`).
    ///
    /// # Errors
    /// A failed earlier write, or the OS's.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let p = std::env::temp_dir().join(format!("spool-fs-sync-{}", std::process::id()));
    /// rt.block_on(async { spool_executor::fs::File::create(&p).await.unwrap().sync_all().await })
    ///     .unwrap();
    /// # std::fs::remove_file(&p).unwrap();
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_idle(cx)).await?;
        let f = Arc::clone(&self.std);
        asyncify(move || f.sync_all()).await
    }

    /// Waits for the job in flight; returns its write error, if any.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let State::Busy(h) = &mut self.state {
            let done = ready!(Pin::new(h).poll(cx)).map_err(join_error);
            let done = match done {
                Ok(d) => d,
                Err(e) => {
                    self.state = State::Idle {
                        buf: Vec::new(),
                        pos: 0,
                    };
                    return Poll::Ready(Err(e));
                }
            };
            let mut buf = done.buf;
            match done.result {
                Ok(n) if done.was_read => {
                    buf.truncate(n);
                    self.state = State::Idle { buf, pos: 0 };
                }
                Ok(_) => {
                    buf.clear();
                    self.state = State::Idle { buf, pos: 0 };
                }
                Err(e) => {
                    buf.clear();
                    self.state = State::Idle { buf, pos: 0 };
                    if done.was_read {
                        return Poll::Ready(Err(e));
                    }
                    self.last_error = Some(e);
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// No job in flight and no write error pending.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_complete(cx))?;
        match self.last_error.take() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_idle(cx))?;
            let State::Idle { buf, pos } = &mut this.state else {
                unreachable!("poll_idle leaves the file idle")
            };
            if *pos < buf.len() {
                let n = dst.len().min(buf.len() - *pos);
                dst[..n].copy_from_slice(&buf[*pos..*pos + n]);
                *pos += n;
                return Poll::Ready(Ok(n));
            }
            if dst.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let mut b = std::mem::take(buf);
            // Small reads read ahead (each job is a round trip to the pool).
            let want = dst.len().clamp(MIN_READ, MAX_BUF);
            b.resize(want, 0);
            let f = Arc::clone(&this.std);
            this.state = State::Busy(spawn_blocking(move || {
                let result = (&*f).read(&mut b);
                Done {
                    buf: b,
                    result,
                    was_read: true,
                }
            }));
            // An empty read (end of file) comes back as an empty buffer:
            // report it instead of reading again.
            ready!(this.poll_complete(cx))?;
            if let State::Idle { buf, .. } = &this.state {
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
            }
        }
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_idle(cx))?;
        let State::Idle { buf, pos } = &mut this.state else {
            unreachable!("poll_idle leaves the file idle")
        };
        // Read bytes not consumed go back: the write lands where the
        // reader stands.
        let unread = (buf.len() - *pos) as i64;
        let mut b = std::mem::take(buf);
        b.clear();
        let n = src.len().min(MAX_BUF);
        b.extend_from_slice(&src[..n]);
        let f = Arc::clone(&this.std);
        this.state = State::Busy(spawn_blocking(move || {
            let result = (|| {
                if unread > 0 {
                    (&*f).seek(SeekFrom::Current(-unread))?;
                }
                (&*f).write_all(&b).map(|()| b.len())
            })();
            Done {
                buf: b,
                result,
                was_read: false,
            }
        }));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}
