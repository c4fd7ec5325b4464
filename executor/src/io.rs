//! I/O vocabulary shared by spool's sockets (tokio's `io::{Interest, Ready}`).

/// Readiness to wait for in `ready(interest)` (mio's, as tokio's is).
///
/// ```
/// use spool_executor::io::Interest;
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// ```
pub use mio::Interest;

/// Readiness a socket reported (see `TcpStream::ready`).
///
/// ```
/// use spool_executor::io::Ready;
/// assert!(Ready::READABLE.is_readable());
/// assert!(!Ready::EMPTY.is_writable());
/// ```
pub use crate::netpoll::scheduled_io::Ready;
