//! The writer thread's inbox: sealed batches on their way to the file, and
//! the stop and flush requests.
//!
//! Invariant: the inbox holds sealed batches in push order; one M pushes its
//! batches in emission order, which is the order the writer writes them.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use crate::buf::Sealed;
use crate::vocab::lock;

/// Sealed batches on their way to the writer thread.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    pub(crate) batches: VecDeque<Sealed>,
    /// Set by `stop`: the writer finishes the generation and exits.
    pub(crate) stop: bool,
    /// Generation flips requested by `flush` and not yet done.
    pub(crate) flush_requested: u64,
    /// Generation flips done for `flush` requests (waiters compare to it).
    pub(crate) flushes_done: u64,
    /// Consumer changes (`writer::CHANGES`) queued and not yet applied.
    pub(crate) changes_requested: u64,
    /// Consumer changes applied (waiters compare to it; signalled on `FLUSHED`).
    pub(crate) changes_done: u64,
    /// Set by the writer when it attached a consumer that joined a running
    /// trace, cleared by the joiner once it wrote the statuses the new
    /// consumer's first generation needs: no generation flip happens while
    /// it is set (`control::start_with`).
    pub(crate) held: bool,
}

pub(crate) static INBOX: Mutex<Inbox> = Mutex::new(Inbox {
    batches: VecDeque::new(),
    stop: false,
    flush_requested: 0,
    flushes_done: 0,
    changes_requested: 0,
    changes_done: 0,
    held: false,
});
/// Signalled by the writer when a requested flush is done (or it exits).
pub(crate) static FLUSHED: Condvar = Condvar::new();
pub(crate) static INBOX_READY: Condvar = Condvar::new();

/// Hands a sealed batch to the writer thread.
pub(crate) fn push_sealed(b: Sealed) {
    lock(&INBOX).batches.push_back(b);
    INBOX_READY.notify_one();
}
