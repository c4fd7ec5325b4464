//! A thread parker with a wake-up token: how an idle M (or a `block_on`
//! thread) sleeps until it is needed or a deadline passes.
//!
//! Protocol (std's generic parker): the state is `EMPTY`, `PARKED` or
//! `NOTIFIED`. `unpark` swaps in `NOTIFIED` and, if the owner was `PARKED`,
//! takes the lock and signals the condvar, so a signal can never fall between
//! the owner's check and its wait. `park` consumes a `NOTIFIED` token at once
//! or sleeps. Only the owning thread calls `park`; anyone may call `unpark`.
//! Spurious returns are allowed; callers re-check their condition.

use std::time::Instant;

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::{Condvar, Mutex, lock};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

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

    /// Wakes the owner, or makes its next `park` return at once.
    pub fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Take the lock so the owner is either before its PARKED CAS
                // (then it sees NOTIFIED) or inside `wait` (then it gets the signal).
                drop(lock(&self.lock));
                self.cvar.notify_one();
            }
            other => unreachable!("parker state {other}"),
        }
    }
}
