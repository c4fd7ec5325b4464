//! Stop-the-world: park every participant (each M, and each thread inside
//! `block_on`) at a safe point between polls, run a closure, resume.
//!
//! Protocol:
//! 1. The requester takes the STW lock. If another STW is active it waits
//!    for it to end, counting itself as stopped meanwhile if it is a
//!    participant (so two tasks calling `stop_the_world` at once cannot
//!    deadlock waiting for each other).
//! 2. It marks the STW active, sets `requested` and unparks every
//!    participant, so sleeping Ms come to a safe point too.
//! 3. Each participant, between polls (and after every wake while idle),
//!    sees `requested`, counts itself stopped and waits until no STW is active.
//!    A participant that is the requester counts as stopped from the start.
//! 4. When `stopped == participants`, `stw_begin`, the closure, `stw_end`;
//!    then `active = false` and everyone resumes.
//!
//! Invariants: `stopped <= participants`, both changed only under the lock;
//! participants register (`join`) only while no STW is active, and leave
//! (`leave`) under the lock with a notification, so a requester never waits
//! for a thread that has gone.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use spool_tracer::hooks;

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::{Condvar, Mutex, MutexGuard, lock};

struct Inner {
    active: bool,
    stopped: usize,
    participants: usize,
}

/// Stop-the-world coordination for one runtime.
pub struct Stw {
    requested: AtomicBool,
    inner: Mutex<Inner>,
    cvar: Condvar,
}

impl Stw {
    /// `participants`: the Ms that will run (they count before they start).
    pub fn new(participants: usize) -> Stw {
        Stw {
            requested: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                active: false,
                stopped: 0,
                participants,
            }),
            cvar: Condvar::new(),
        }
    }

    /// Cheap check at every safe point.
    #[inline]
    pub fn requested(&self) -> bool {
        // Relaxed: a late observation only delays the stop; the lock in
        // `park` orders everything that matters.
        self.requested.load(Ordering::Relaxed)
    }

    fn wait<'a>(&self, g: MutexGuard<'a, Inner>) -> MutexGuard<'a, Inner> {
        #[cfg(loom)]
        {
            self.cvar.wait(g).unwrap()
        }
        #[cfg(not(loom))]
        {
            self.cvar.wait(g).unwrap_or_else(|e| e.into_inner())
        }
    }

    /// Waits out active STWs as a stopped participant. It stays stopped
    /// until no STW is active at all: if another requester claimed the
    /// world right after the one we stopped for, we were already counted
    /// as stopped by it, so leaving in between would let us run inside it.
    fn wait_stopped<'a>(&self, mut g: MutexGuard<'a, Inner>) -> MutexGuard<'a, Inner> {
        g.stopped += 1;
        self.cvar.notify_all();
        while g.active {
            g = self.wait(g);
        }
        g.stopped -= 1;
        g
    }

    /// A participant at a safe point: if a STW is active, stop until it
    /// ends. `on_stop`/`on_resume` emit the P's trace events.
    pub fn park(&self, on_stop: impl FnOnce(), on_resume: impl FnOnce()) {
        let g = lock(&self.inner);
        if !g.active {
            return;
        }
        on_stop();
        drop(self.wait_stopped(g));
        on_resume();
    }

    /// A new participant (`block_on` starting): waits for any active STW to
    /// end first, so it never runs inside one.
    pub fn join(&self) {
        let mut g = lock(&self.inner);
        while g.active {
            g = self.wait(g);
        }
        g.participants += 1;
    }

    /// A participant goes away (M exit, `block_on` return).
    pub fn leave(&self) {
        let mut g = lock(&self.inner);
        g.participants -= 1;
        self.cvar.notify_all();
    }

    /// Runs `f` with the world stopped. `is_participant`: the caller is an M
    /// or `block_on` thread of this runtime (it counts as stopped).
    /// `unpark_all` wakes every participant so it reaches a safe point.
    pub fn run<R>(
        &self,
        reason: &'static str,
        is_participant: bool,
        unpark_all: impl Fn(),
        f: impl FnOnce() -> R,
    ) -> R {
        let mut g = lock(&self.inner);
        // 1. One STW at a time.
        while g.active {
            g = if is_participant {
                self.wait_stopped(g)
            } else {
                self.wait(g)
            };
        }
        // 2. Claim it and call everyone to a safe point.
        g.active = true;
        self.requested.store(true, Ordering::SeqCst);
        if is_participant {
            g.stopped += 1;
        }
        drop(g);
        unpark_all();
        // 3. Wait for every participant to stop.
        let mut g = lock(&self.inner);
        while g.stopped < g.participants {
            g = self.wait(g);
        }
        hooks::stw_begin(reason);
        drop(g);
        // 4. Run, then resume the world even if `f` panicked.
        let res = catch_unwind(AssertUnwindSafe(f));
        let mut g = lock(&self.inner);
        hooks::stw_end();
        g.active = false;
        self.requested.store(false, Ordering::SeqCst);
        if is_participant {
            g.stopped -= 1;
        }
        self.cvar.notify_all();
        drop(g);
        match res {
            Ok(r) => r,
            Err(p) => resume_unwind(p),
        }
    }
}
