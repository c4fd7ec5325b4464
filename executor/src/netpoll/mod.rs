//! The netpoller: the OS readiness poller one runtime owns and its Ms poll
//! themselves (Go's `netpoll`), below the scheduler (`sched/worker.rs`
//! calls it in its park path) and the sockets (`net/`, which register with
//! it). Imports nothing above it.
//!
//! - `driver.rs`: the poller (mio: epoll/kqueue, edge-triggered), its
//!   eventfd waker, dispatch of events to registrations.
//! - `slab.rs`: registrations by token; tokens carry a generation, so an
//!   event for a closed (and maybe reused) fd is dropped.
//! - `scheduled_io.rs`: per-registration readiness (latched, tick-checked
//!   clears) and its waiters; loom-modelled.

pub(crate) mod driver;
pub(crate) mod scheduled_io;
pub(crate) mod slab;
