//! spool's work-stealing M:N scheduler of async tasks over Ps.
//!
//! Users write ordinary futures and run them as goroutine-like tasks: cheap
//! to spawn by the hundred thousand, spread over a few OS threads by a
//! Go-style scheduler (see `sched/mod.rs` for the design). Every scheduling
//! transition calls a hook of `spool_tracer::hooks`, so a trace can show it.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use spool_executor::{Runtime, spawn, time::sleep};
//!
//! let rt = Runtime::new().unwrap();
//! let out = rt.block_on(async {
//!     let h = spawn(async {
//!         sleep(Duration::from_millis(2)).await;
//!         "done"
//!     });
//!     h.await.unwrap()
//! });
//! assert_eq!(out, "done");
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod blocking;
mod context;
mod flight;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
mod loom;
pub mod net;
mod netpoll;
mod panics;
mod runtime;
mod sched;
pub mod signal;
pub mod sync;
mod task;
pub mod time;
pub mod trace_ctl;

pub use blocking::pool::{DEFAULT_BLOCKING_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS};
pub use blocking::spawn_blocking;
pub use context::{YieldNow, set_block_reason, yield_now};
#[doc(hidden)]
pub use runtime::NetStats;
pub use runtime::{Builder, Handle, MAX_PROCS, PROCS_ENV, Runtime, SchedStats, WeakHandle, spawn};
pub use sched::deadlock::{BlockedTask, DEADLOCK_CATEGORY, DEADLOCK_MESSAGE, Deadlock};
pub use sched::long_poll::{DEFAULT_LONG_POLL_THRESHOLD, LONG_POLL_CATEGORY, LongPoll};
pub use sched::metrics::RuntimeMetrics;
pub use sched::syscall::block_in_place;
#[doc(hidden)]
pub use task::raw::allocation_size as __task_allocation_size;
pub use task::{JoinError, JoinHandle};
#[doc(hidden)]
pub use task::{TaskInfo, TaskStatus};

/// The lock-free protocols, exposed to the loom models in `tests/loom.rs`
/// (only under `--cfg loom`).
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::netpoll::scheduled_io::{Direction, Gone, Ready, ReadyEvent, ScheduledIo};
    pub use crate::panics::Panics;
    pub use crate::sched::block_on::MainState;
    pub use crate::sched::idle::Idle;
    pub use crate::sched::park::Parker;
    pub use crate::sched::pstate::{Exit as SyscallExit, PState};
    pub use crate::sched::stw::Stw;
    pub use crate::sched::table::{LOOM_SLOTS, clear as table_clear, reserve as table_reserve};
    pub use crate::task::state::{
        Snapshot, State, TransitionToIdle, TransitionToNotified, TransitionToRunning,
    };
    pub use crate::time::heap::{Entry, TimerHeap};
}
