//! Go's channels and `select`, and the locks and groups goroutine programs
//! are built from, as spool primitives whose every wait is traced.
//!
//! Each primitive that waits records Go's block reason for the trace
//! ("chan receive", "chan send", "select", "sync.Mutex.Lock", ...), and the
//! operation that releases a waiter wakes it from its own thread, so the
//! trace's `GoUnblock` names the waker (on a runtime thread the woken task
//! also lands in the waker's P's `runnext`, the cheap hand-off Go makes).
//!
//! Layout: `waitlist.rs` is the intrusive FIFO of waiters every primitive
//! shares, `lock.rs` the short spin lock in front of each queue; `chan/`
//! the channel (core, operations, handles); `select.rs` the claim protocol
//! behind `select!`; `oneshot.rs` the one-value channel; `semaphore.rs`
//! the FIFO hand-off semaphore under `mutex.rs` and `rwlock.rs`;
//! `notify.rs`, `group.rs` (WaitGroup, Barrier), `once_cell.rs`,
//! `join_set.rs`, `cancel.rs` (CancellationToken), `task_local.rs`.
//!
//! # Examples
//!
//! ```
//! use spool_executor::sync::chan;
//! let rt = spool_executor::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (ping_tx, ping_rx) = chan::<u32>(0);
//!     let (pong_tx, pong_rx) = chan::<u32>(0);
//!     let echo = spool_executor::spawn(async move {
//!         while let Some(v) = ping_rx.recv().await {
//!             pong_tx.send(v + 1).await.unwrap();
//!         }
//!     });
//!     for i in 0..10 {
//!         ping_tx.send(i).await.unwrap();
//!         assert_eq!(pong_rx.recv().await, Some(i + 1));
//!     }
//!     drop(ping_tx);
//!     echo.await.unwrap();
//! });
//! ```

mod cancel;
pub(crate) mod chan;
mod group;
mod join_set;
pub(crate) mod lock;
mod mutex;
mod notify;
mod once_cell;
pub mod oneshot;
mod rwlock;
pub(crate) mod select;
mod semaphore;
mod task_local;
pub(crate) mod waitlist;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

pub use cancel::{CancellationToken, DropGuard, WaitForCancellation};
pub use chan::{
    Receiver, Recv, Send, SendError, Sender, TryRecvError, TrySendError, chan, unbounded,
};
pub use group::{Barrier, BarrierWait, BarrierWaitResult, WaitGroup, WaitGroupWait};
pub use join_set::JoinSet;
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use once_cell::{OnceCell, SetError};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use select::MAX_BRANCHES;
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};

/// What `select!` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::select::{BranchPoll, Select};
    pub use std::future::poll_fn;

    /// `IntoFuture` for a branch expression.
    #[inline(always)]
    pub fn into_future<F: std::future::IntoFuture>(f: F) -> F::IntoFuture {
        f.into_future()
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on the calling thread, parking it between
/// polls: the `*_blocking` methods for threads outside the runtime.
///
/// # Panics
/// Inside a spool task or `block_on` (it would block an M); `what` names
/// the method in the message.
pub(crate) fn block_on_thread<F: Future>(what: &str, fut: F) -> F::Output {
    assert!(
        !crate::context::is_polling(),
        "spool::sync::{what} called inside a spool task or block_on; use the async method"
    );
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
