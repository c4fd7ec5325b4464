//! The runtime's panic reporting: panics of code the runtime calls but did
//! not write, caught so that they cannot take an M down, and Ms that die
//! anyway.
//!
//! A waker is user code when the runtime did not create it: a future may
//! register any waker with a `Sleep` or a `JoinHandle`, and the runtime
//! calls it later from an M (timer fire, task completion) or from the
//! thread shutting the runtime down. Every such call goes through
//! [`Panics::guard`]: a panic is caught there, so the rest of a wake batch
//! is still woken and the completing task still reaches its terminal state.
//! (Wakers the runtime calls inside a poll of the future that chose them —
//! a `Sleep` swapping an old waker, the budget's `wake_by_ref` — are left
//! alone: their panic unwinds into that poll, where the task's own
//! `catch_unwind` turns it into the task's panic.)
//!
//! Reporting, per runtime:
//! - every caught panic is counted ([`Panics::waker_panics`], read through
//!   `Handle::waker_panics`; issue 14's `Handle::metrics()` surfaces it);
//! - the first one at each [`Site`] is reported on stderr, the later ones
//!   only counted (std's panic hook has already printed each panic's own
//!   message; ours says what spool did about it);
//! - with tracing on, each one is written as a log event of category
//!   [`CATEGORY`] (`spool.panic`), on the running task or the runtime
//!   pseudo-task: a trace is a timeline, so every occurrence is placed at
//!   its time, including those after the first.
//!
//! An M that dies of a panic anyway is a bug of spool's: `sched/worker.rs`
//! catches it at the top of the M, reports it here ([`Panics::m_died`],
//! always on stderr) and starts a replacement M for the P.

use std::any::Any;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spool_tracer::hooks;

/// The trace log category of the runtime's panic reports.
pub(crate) const CATEGORY: &str = "spool.panic";

/// Where the runtime called a waker it did not create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Site {
    /// `TimerHeap::fire` waking the waker a `Sleep` registered.
    TimerWake,
    /// A completing task waking the waker its `JoinHandle` registered.
    JoinWake,
    /// Dropping a registered waker (a freed task's join waker, the timer
    /// heap's wakers at shutdown).
    WakerDrop,
    /// The netpoller waking a task waiting for a socket (or the runtime's
    /// shutdown waking it with an error).
    IoWake,
    /// A `spool::sync` primitive (channel, lock, group) waking a waiter's
    /// waker: the waiter's future chose it, the waking task did not.
    SyncWake,
}

impl Site {
    fn bit(self) -> u32 {
        1 << self as u32
    }

    fn what(self) -> &'static str {
        match self {
            Site::TimerWake => "waking a timer's waker (registered by a `Sleep`)",
            Site::JoinWake => "waking the waker that awaits a finished task's `JoinHandle`",
            Site::WakerDrop => "dropping a waker registered with a `Sleep` or a `JoinHandle`",
            Site::IoWake => "waking a task's waker registered with a socket (a readiness wait)",
            Site::SyncWake => "waking a task blocked on a `spool::sync` channel or lock",
        }
    }
}

/// One runtime's counts of caught panics.
pub struct Panics {
    /// Panics caught from wakers, over every site.
    waker_panics: AtomicU64,
    /// Ms that died of a panic (a spool bug) and were replaced.
    m_deaths: AtomicU64,
    /// [`Site::bit`]s already reported on stderr.
    reported: AtomicU32,
}

impl Panics {
    /// No panic caught yet.
    pub const fn new() -> Panics {
        Panics {
            waker_panics: AtomicU64::new(0),
            m_deaths: AtomicU64::new(0),
            reported: AtomicU32::new(0),
        }
    }

    /// Runs `f`, a call of a waker the runtime did not create, catching a
    /// panic (reported and counted) so the caller goes on.
    #[inline]
    pub(crate) fn guard(&self, site: Site, f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            self.waker_panicked(site, payload);
        }
    }

    #[cold]
    #[inline(never)]
    fn waker_panicked(&self, site: Site, payload: Box<dyn Any + Send>) {
        // Relaxed: a statistic; nothing is ordered by it.
        let n = self.waker_panics.fetch_add(1, Ordering::Relaxed) + 1;
        let msg = message(payload.as_ref());
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("<unnamed>");
        // Relaxed: only "first at this site" matters, which the RMW decides.
        let first = self.reported.fetch_or(site.bit(), Ordering::Relaxed) & site.bit() == 0;
        if first {
            let _ = writeln!(
                std::io::stderr(),
                "spool: a waker panicked ({msg}) while the runtime was {} on thread {thread}; \
                 spool caught the panic and went on. Later waker panics here are only counted \
                 (Handle::waker_panics).",
                site.what()
            );
        }
        if hooks::enabled() {
            hooks::runtime_log(
                CATEGORY,
                &format!("waker panic #{n} ({msg}) while {}", site.what()),
            );
        }
        drop_payload(payload);
    }

    /// An M died of a panic (a spool bug): reported every time, on stderr
    /// and in the trace, and counted. `replaced` says what was done about it.
    #[cold]
    pub(crate) fn m_died(&self, p: usize, payload: &(dyn Any + Send), replaced: &str) {
        self.m_deaths.fetch_add(1, Ordering::Relaxed);
        let msg = message(payload);
        let text = format!(
            "spool: M of P {p} died of a panic ({msg}); this is a bug in spool, please report it. {replaced}"
        );
        let _ = writeln!(std::io::stderr(), "{text}");
        if hooks::enabled() {
            hooks::runtime_log(CATEGORY, &text);
        }
    }

    /// Panics caught from wakers so far.
    pub fn waker_panics(&self) -> u64 {
        self.waker_panics.load(Ordering::Relaxed)
    }

    /// Ms that died of a panic so far.
    #[cfg_attr(not(test), allow(dead_code))] // read by the tests; issue 14's metrics
    pub(crate) fn m_deaths(&self) -> u64 {
        self.m_deaths.load(Ordering::Relaxed)
    }
}

/// A panic payload's message, when it is a string.
pub(crate) fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}

/// Drops a panic payload whose own destructor might panic: a second panic
/// is caught and its payload leaked (dropping it could panic again).
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}
