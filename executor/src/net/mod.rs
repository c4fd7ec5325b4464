//! Sockets with tokio's names and signatures, on the netpoller the
//! scheduler polls (`crate::netpoll`, below both this module and `sched`:
//! the scheduler owns the poller, sockets register with it).
//!
//! - `registration.rs`: a registered mio source and the readiness loop.
//! - `tcp.rs`, `udp.rs`, `unix.rs`, `split.rs` (owned halves): the socket
//!   types; `io_traits.rs`: futures-io, tokio (feature `tokio-io`) and
//!   hyper (feature `hyper`) traits on the streams.
//!
//! A task waiting for readiness blocks with the tracer's reason `network`;
//! the M that polled the event ready records the `GoUnblock` on its own P.

mod io_traits;
pub(crate) mod registration;
mod sockopt;
mod split;
pub mod tcp;
mod udp;
pub mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
