//! A thread parker with a wake-up token: how an idle M (or a `block_on`
//! thread) sleeps until it is needed or a deadline passes.
//!
//! Protocol (std's generic parker): the state is `EMPTY`, `PARKED` or
//! `NOTIFIED`. `unpark` swaps in `NOTIFIED` and, if the owner was `PARKED`,
//! takes the lock and signals the condvar, so a signal can never fall between
//! the owner's check and its wait. `park` consumes a `NOTIFIED` token at once
//! or sleeps. Only the owning thread calls `park`; anyone may call `unpark`.
//! Spurious returns are allowed; callers re-check their condition.
//!
//! An M may sleep in the netpoller instead ([`Parker::park_polling`]): the
//! state is then `POLLING` from before the blocking poll starts until after
//! it returns, and an `unpark` that swaps `POLLING` out returns true: the
//! caller must then write the poller's waker (`Driver::wake`), which ends
//! the poll (or makes the next one return at once if it has not started).
//! So the waker is written only for an M that is, or is about to be,
//! blocked in the poll — never on the condvar path.

use std::time::Instant;

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::{Condvar, Mutex, lock};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;
/// The owner is blocked (or about to block) in the netpoller.
const POLLING: usize = 3;

/// Sleep/wake slot of one thread.
pub struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    /// A parker with no token.
    pub fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    /// Sleeps until [`unpark`](Self::unpark) (or `deadline`, if given).
    pub fn park(&self, deadline: Option<Instant>) {
        // Fast path: a token is waiting.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        let mut g = lock(&self.lock);
        // Announce that we sleep; an unpark racing with us leaves NOTIFIED.
        if let Err(actual) = self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            debug_assert_eq!(actual, NOTIFIED);
            self.state.swap(EMPTY, SeqCst);
            return;
        }
        loop {
            g = match deadline {
                #[cfg(not(loom))]
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        self.state.swap(EMPTY, SeqCst);
                        return;
                    }
                    self.cvar
                        .wait_timeout(g, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                _ => {
                    #[cfg(loom)]
                    let _ = deadline;
                    #[cfg(loom)]
                    {
                        self.cvar.wait(g).unwrap()
                    }
                    #[cfg(not(loom))]
                    {
                        self.cvar.wait(g).unwrap_or_else(|e| e.into_inner())
                    }
                }
            };
            // Consume the token if it is there; otherwise a spurious wake.
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Sleeps in `poll` (a blocking netpoller wait that the poller's waker
    /// interrupts) instead of the condvar. Returns at once, without calling
    /// `poll`, if a token is waiting; consumes any token an `unpark` left
    /// during the poll (the caller re-checks its condition either way).
    pub fn park_polling(&self, poll: impl FnOnce()) {
        // Announce the poll; a waiting token (NOTIFIED) is consumed instead.
        if let Err(actual) = self.state.compare_exchange(EMPTY, POLLING, SeqCst, SeqCst) {
            debug_assert_eq!(actual, NOTIFIED);
            self.state.swap(EMPTY, SeqCst);
            return;
        }
        // Leave the poll when `poll` returns, or unwinds (the M that dies
        // is replaced and its successor parks on this parker): from here an
        // unpark only leaves a token.
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.swap(EMPTY, SeqCst);
            }
        }
        let _leave = Leave(&self.state);
        poll();
    }

    /// Wakes the owner, or makes its next `park` return at once. True when
    /// the owner is in [`park_polling`](Self::park_polling): the caller must
    /// then write the netpoller's waker.
    #[must_use = "true means the owner is blocked in the netpoller: wake it through the poller's waker"]
    pub fn unpark(&self) -> bool {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => false,
            PARKED => {
                // Take the lock so the owner is either before its PARKED CAS
                // (then it sees NOTIFIED) or inside `wait` (then it gets the signal).
                drop(lock(&self.lock));
                self.cvar.notify_one();
                false
            }
            POLLING => true,
            other => unreachable!("parker state {other}"),
        }
    }
}
