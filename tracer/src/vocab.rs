//! The tracer's shared vocabulary, at the bottom of its import graph: the
//! types the seam, the recording code, the buffers and the tables all name
//! (spawn site, per-task and per-P trace slots, stop and block reasons, the
//! fixed string table their string IDs index, the status of a task at
//! trace start), the string clip rule, the "unset" cell value, the
//! heap-report re-entry flag, and the tracer's one lock helper.
//!
//! Invariants:
//! - This module imports nothing from the rest of the crate, so any module
//!   may import it without closing a circle.
//! - Each stop or block reason is declared once, with Go's string for it, in
//!   the [`reasons!`] invocations below; [`FIXED_STRINGS`] and every
//!   reason's string ID are derived from those declarations, so they cannot
//!   disagree. A reason's ID is its position in `FIXED_STRINGS` plus one and
//!   is the same in every generation (the string table of each generation
//!   starts with the fixed strings).

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Tracer-owned per-task state, embedded in the executor's task header.
/// The executor only creates it with [`GoTraceState::new`] and passes `&` it to hooks.
///
/// ```
/// use spool_tracer::hooks::GoTraceState;
/// static STATE: GoTraceState = GoTraceState::new();
/// # let _ = &STATE;
/// ```
#[derive(Debug, Default)]
pub struct GoTraceState(pub(crate) AtomicU64);

impl GoTraceState {
    /// A fresh slot for a task that has not been traced yet.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }
}

/// Tracer-owned per-P state, embedded in the executor's P.
///
/// Field 0 is the P's sequence slot (`seq.rs`). Field 1 is the trace ID of
/// the M that entered a blocking call on this P (Go's `mSyscallID`): written
/// by that M in `go_syscall_begin`, read and cleared by whoever records the
/// P's `ProcSteal`; [`UNSET`] when no traced call is open.
///
/// ```
/// use spool_tracer::hooks::ProcTraceState;
/// let p = ProcTraceState::new();
/// # let _ = p;
/// ```
#[derive(Debug)]
pub struct ProcTraceState(pub(crate) AtomicU64, pub(crate) AtomicU64);

impl ProcTraceState {
    /// A fresh slot for a P that has not been traced yet.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0), AtomicU64::new(UNSET))
    }
}

impl Default for ProcTraceState {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a task was spawned: the `#[track_caller]` location of the `spawn`
/// call and the future's type name. Becomes the task's one-frame start stack.
///
/// ```
/// use spool_tracer::hooks::SpawnSite;
/// let site = SpawnSite { location: std::panic::Location::caller(), type_name: "app::Job" };
/// assert_eq!(site.type_name, "app::Job");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpawnSite {
    /// File and line of the `spawn` call.
    pub location: &'static Location<'static>,
    /// `std::any::type_name` of the spawned future.
    pub type_name: &'static str,
}

/// Declares a reason enum with Go's string for each variant, in table order.
macro_rules! reasons {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every reason, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The reasons' strings, in declaration order (`STRINGS[r as usize]`).
            const STRINGS: &'static [&'static str] = &[$($text),+];

            /// The string the trace records for this reason (Go's wording).
            pub const fn as_str(self) -> &'static str {
                Self::STRINGS[self as usize]
            }
        }
    };
}

reasons! {
    /// Why a running task stopped while still runnable (Go's GoStop reason).
    ///
    /// ```
    /// use spool_tracer::hooks::StopReason;
    /// assert_eq!(StopReason::Yield.as_str(), "yield");
    /// ```
    pub enum StopReason {
        /// The task called `yield_now`.
        Yield => "yield",
        /// The task used up its cooperative poll budget.
        Budget => "budget",
        /// The task was preempted because the world is being stopped.
        StopTheWorld => "stop-the-world",
    }
}

reasons! {
    /// Why a task's poll returned `Pending` (Go's GoBlock reason), as reported
    /// by the primitive that returned `Pending`.
    ///
    /// The strings are Go's: its trace's block reasons (`traceBlockReason` in
    /// `runtime/traceruntime.go`: "network", "select", "chan send", "chan
    /// receive", "sync", "sleep", "forever") or, for the synchronisation
    /// primitives, the finer wait reasons of `runtime/runtime2.go`
    /// (`waitReasonSyncMutexLock` = "sync.Mutex.Lock", ...). `go tool trace`
    /// classifies blocking by these strings (`cmd/trace/pprof.go`):
    /// `-pprof=net` counts exactly "network"; `-pprof=sync` counts every
    /// reason containing "chan", "sync" or "select" — so all the `Chan*`,
    /// `Select` and `Sync*` reasons, but not `Semacquire` (Go's own trace
    /// records a semaphore wait as "sync"; use [`BlockReason::Sync`] where a
    /// semaphore wait should count as synchronisation).
    ///
    /// ```
    /// use spool_tracer::hooks::BlockReason;
    /// assert_eq!(BlockReason::ChanReceive.as_str(), "chan receive");
    /// assert_eq!(BlockReason::Network.as_str(), "network");
    /// ```
    pub enum BlockReason {
        /// A spool timer (`sleep`, `sleep_until`, `timeout`).
        Sleep => "sleep",
        /// Awaiting a `JoinHandle`.
        Join => "join",
        /// Waiting for a stop-the-world to finish.
        StopTheWorld => "stop-the-world",
        /// A future spool does not know returned `Pending`.
        Pending => "pending",
        /// Parked for good (Go's tools leave "forever" out of blocking
        /// profiles); the runtime pseudo-task between its uses.
        Forever => "forever",
        /// Waiting for a socket to become ready (the network poller).
        Network => "network",
        /// A channel receive.
        ChanReceive => "chan receive",
        /// A channel send.
        ChanSend => "chan send",
        /// A select over several channel operations.
        Select => "select",
        /// A synchronisation primitive without a finer reason (Go's generic "sync").
        Sync => "sync",
        /// Locking a mutex.
        MutexLock => "sync.Mutex.Lock",
        /// Read-locking a read-write lock.
        RwMutexRLock => "sync.RWMutex.RLock",
        /// Write-locking a read-write lock.
        RwMutexLock => "sync.RWMutex.Lock",
        /// Waiting for a wait group to reach zero.
        WaitGroupWait => "sync.WaitGroup.Wait",
        /// Waiting on a condition variable.
        CondWait => "sync.Cond.Wait",
        /// Acquiring a semaphore.
        Semacquire => "semacquire",
    }
}

/// Number of fixed strings: every stop reason, then every block reason.
const FIXED_LEN: usize = StopReason::STRINGS.len() + BlockReason::STRINGS.len();

/// Strings registered in every generation with ID = index + 1: the stop
/// reasons' strings, then the block reasons' (a text may appear twice, e.g.
/// "stop-the-world": each reason kind has its own ID for it).
pub(crate) const FIXED_STRINGS: &[&str; FIXED_LEN] = &{
    let mut out = [""; FIXED_LEN];
    let mut i = 0;
    while i < StopReason::STRINGS.len() {
        out[i] = StopReason::STRINGS[i];
        i += 1;
    }
    let mut j = 0;
    while j < BlockReason::STRINGS.len() {
        out[i + j] = BlockReason::STRINGS[j];
        j += 1;
    }
    out
};

impl StopReason {
    /// This reason's ID in every generation's string table.
    #[inline(always)]
    pub(crate) const fn str_id(self) -> u64 {
        self as u64 + 1
    }
}

impl BlockReason {
    /// This reason's ID in every generation's string table.
    #[inline(always)]
    pub(crate) const fn str_id(self) -> u64 {
        (StopReason::STRINGS.len() + self as usize) as u64 + 1
    }
}

/// The status a task has when a trace starts (`control::task_status`).
///
/// Not the executor's task state: only the two states a trace can
/// introduce a task in without seeing it run.
///
/// ```
/// use spool_tracer::control::StatusAtStart;
/// assert_ne!(StatusAtStart::Runnable, StatusAtStart::Waiting);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAtStart {
    /// Queued, waiting for a P.
    Runnable,
    /// Parked until something wakes it.
    Waiting,
}

/// Go's limit on a trace string: longer strings make the parser reject the file.
pub const MAX_STRING_LEN: usize = spool_trace_wire::MAX_STRING_LEN;

/// `s` clipped to at most [`MAX_STRING_LEN`] bytes, cut at a `char` boundary:
/// the one rule the annotation API, the string table and the per-M string
/// cache apply.
///
/// ```
/// use spool_tracer::annotate::clip;
/// let long = "é".repeat(600); // 1200 bytes
/// assert_eq!(clip(&long).len(), 1024);
/// assert_eq!(clip("short"), "short");
/// ```
#[inline]
pub fn clip(s: &str) -> &str {
    if s.len() <= MAX_STRING_LEN {
        return s;
    }
    let mut end = MAX_STRING_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The value of a `u64` cell that holds nothing: no P, no running task, no
/// open batch. Never a P ID, a generation number or a `BASE_GEN`, so "unset"
/// compares unequal to every real value (and to the `GEN` of tracing off, 0).
pub(crate) const UNSET: u64 = u64::MAX;

thread_local! {
    /// Set while this thread is inside a HeapAlloc report (`alloc.rs`) or
    /// builds its per-M state (`mstate.rs`). Const-initialised `Cell<bool>`
    /// has no destructor, so accessing it never allocates or registers anything.
    static IN_REPORT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's HeapAlloc reports off (restoring the previous
/// setting after): for code that must not re-enter the tracer, such as a
/// report itself or the initialiser of the tracer's per-thread state.
pub(crate) fn without_reports<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_REPORT
        .try_with(|flag| flag.replace(true))
        .unwrap_or(true);
    let r = f();
    let _ = IN_REPORT.try_with(|flag| flag.set(was));
    r
}

/// Whether HeapAlloc reports are off on this thread (inside a report, or
/// during thread teardown).
#[inline]
pub(crate) fn reports_off() -> bool {
    IN_REPORT.try_with(Cell::get).unwrap_or(true)
}

/// Locks a tracer mutex, ignoring poison: every critical section in the tracer
/// leaves its data consistent at each step, so a panic elsewhere (e.g. an
/// allocation failure) must not disable tracing for the rest of the process.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(id: u64) -> &'static str {
        FIXED_STRINGS[id as usize - 1]
    }

    #[test]
    fn every_reason_id_names_its_own_string() {
        for &r in StopReason::ALL {
            assert_eq!(text(r.str_id()), r.as_str(), "{r:?}");
        }
        for &r in BlockReason::ALL {
            assert_eq!(text(r.str_id()), r.as_str(), "{r:?}");
        }
        assert_eq!(
            FIXED_STRINGS.len(),
            StopReason::ALL.len() + BlockReason::ALL.len()
        );
    }

    #[test]
    fn block_reasons_use_gos_strings() {
        // Go's spellings (runtime/traceruntime.go, runtime/runtime2.go), which
        // `go tool trace -pprof=net|sync` matches on.
        let want = [
            (BlockReason::Network, "network"),
            (BlockReason::ChanReceive, "chan receive"),
            (BlockReason::ChanSend, "chan send"),
            (BlockReason::Select, "select"),
            (BlockReason::MutexLock, "sync.Mutex.Lock"),
            (BlockReason::RwMutexRLock, "sync.RWMutex.RLock"),
            (BlockReason::RwMutexLock, "sync.RWMutex.Lock"),
            (BlockReason::WaitGroupWait, "sync.WaitGroup.Wait"),
            (BlockReason::CondWait, "sync.Cond.Wait"),
            (BlockReason::Semacquire, "semacquire"),
            (BlockReason::Sleep, "sleep"),
            (BlockReason::Forever, "forever"),
        ];
        for (r, s) in want {
            assert_eq!(r.as_str(), s);
        }
        // `cmd/trace/pprof.go`'s predicates, applied to our strings.
        let net = |s: &str| s == "network";
        let sync = |s: &str| s.contains("chan") || s.contains("sync") || s.contains("select");
        let in_net: Vec<_> = BlockReason::ALL
            .iter()
            .filter(|r| net(r.as_str()))
            .collect();
        assert_eq!(in_net, [&BlockReason::Network]);
        for r in [
            BlockReason::ChanReceive,
            BlockReason::ChanSend,
            BlockReason::Select,
            BlockReason::Sync,
            BlockReason::MutexLock,
            BlockReason::RwMutexRLock,
            BlockReason::RwMutexLock,
            BlockReason::WaitGroupWait,
            BlockReason::CondWait,
        ] {
            assert!(sync(r.as_str()), "{r:?} counts in -pprof=sync");
        }
        assert!(!sync(BlockReason::Semacquire.as_str()));
    }
}
