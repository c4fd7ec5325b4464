//! The event table of Go's v2 trace format (`internal/trace/tracev2/events.go`),
//! declared once in [`event_table!`], and what is generated from it here:
//! the ID constants ([`ev`]), each event's [`EventSpec`] ([`spec`]), the
//! argument counts ([`timed_arg_count`]) and Go's names ([`type_name`]).
//! The reader (`spool_trace::read`) generates its typed `EventKind`, its
//! decoder arms and `EventKind::type_id` from the same table.
//!
//! Argument names are Go's without its type suffixes (`reason_string` →
//! `reason`, `procs_value` → `procs`), except where Go's name says less:
//! `new_g` → `g`, `pstatus`/`gstatus` → `status`, `parent_task` → `parent`,
//! `heapalloc_value`/`heapgoal_value` → `bytes`, `key_string`/`value_string`
//! → `key`/`value`. A timed event's leading timestamp delta (`dt`) is not
//! listed: every timed event has it.

/// Goroutine (task) ID. Go never reuses them; spool uses its task ids.
pub type GoId = u64;
/// Processor ID.
pub type ProcId = u64;
/// Thread (M) ID.
pub type ThreadId = u64;
/// Index into the generation's string table; 0 is the empty string.
pub type StringId = u64;
/// Index into the generation's stack table; 0 means "no stack".
pub type StackId = u64;
/// User task ID (runtime/trace tasks); 0 is the background task.
pub type TaskId = u64;

/// The event table: every event type of the format, in two groups.
///
/// - `structural`: batch framing, table and sync entries, which the reader
///   decodes by hand (they carry data or sit outside M streams):
///   `RustName = ID as CONST "GoName" [args];`
/// - `timed`: events of an M's stream, each a type byte, `dt` and the
///   listed arguments: `RustName = ID as CONST "GoName" { arg: Type, ... };`
///
/// `RustName` is Go's name in Rust's casing (`STWBegin` → `StwBegin`).
///
/// It expands to `$callback! { structural { ... } timed { ... } }`, so each
/// consumer generates what it needs from the one declaration (this crate its
/// constants and specs, the reader its `EventKind`).
///
/// ```
/// macro_rules! count_timed {
///     (structural { $($s:tt)* } timed { $( $(#[$m:meta])* $name:ident = $id:literal as $c:ident $go:literal { $($a:ident : $t:ty),* }; )* }) => {
///         [$(stringify!($name)),*].len()
///     };
/// }
/// assert_eq!(spool_trace_wire::event_table!(count_timed), 40);
/// ```
#[macro_export]
macro_rules! event_table {
    ($callback:ident) => {
        $callback! {
            structural {
                /// Batch header: generation, M (`NONE` for tables and sync), base time, payload size.
                EventBatch = 1 as EVENT_BATCH "EventBatch" [gen, m, time, size];
                /// Start of a stack-table batch.
                Stacks = 2 as STACKS "Stacks" [];
                /// One stack-table entry, followed by `nframes` × (pc, func, file, line).
                Stack = 3 as STACK "Stack" [id, nframes];
                /// Start of a string-table batch.
                Strings = 4 as STRINGS "Strings" [];
                /// One string-table entry, followed by its length and bytes.
                String = 5 as STRING "String" [id];
                /// Start of a CPU-sample batch.
                CpuSamples = 6 as CPU_SAMPLES "CPUSamples" [];
                /// One CPU sample.
                CpuSample = 7 as CPU_SAMPLE "CPUSample" [time, m, p, g, stack];
                /// Trace clock ticks per second (the sync batch).
                Frequency = 8 as FREQUENCY "Frequency" [freq];
                /// Header of an experimental batch, followed by its data.
                ExperimentalBatch = 49 as EXPERIMENTAL_BATCH "ExperimentalBatch" [exp, gen, m, time];
                /// Start of a sync batch (1.25+).
                Sync = 50 as SYNC "Sync" [];
                /// Clock snapshot in the sync batch (1.25+).
                ClockSnapshot = 51 as CLOCK_SNAPSHOT "ClockSnapshot" [dt, mono, sec, nsec];
                /// End of a generation (1.26+).
                EndOfGeneration = 52 as END_OF_GENERATION "EndOfGeneration" [];
            }
            timed {
                /// The number of Ps changed.
                ProcsChange = 9 as PROCS_CHANGE "ProcsChange" { procs: u64, stack: $crate::StackId };
                /// The M took P `p`.
                ProcStart = 10 as PROC_START "ProcStart" { p: $crate::ProcId, p_seq: u64 };
                /// The M released its P.
                ProcStop = 11 as PROC_STOP "ProcStop" {};
                /// The M stole P `p` from M `m` (which was in a syscall).
                ProcSteal = 12 as PROC_STEAL "ProcSteal" { p: $crate::ProcId, p_seq: u64, m: $crate::ThreadId };
                /// P `p`'s status at the start of a generation.
                ProcStatus = 13 as PROC_STATUS "ProcStatus" { p: $crate::ProcId, status: $crate::ProcState };
                /// Goroutine `g` was created.
                GoCreate = 14 as GO_CREATE "GoCreate" { g: $crate::GoId, new_stack: $crate::StackId, stack: $crate::StackId };
                /// Goroutine `g` was created in a syscall.
                GoCreateSyscall = 15 as GO_CREATE_SYSCALL "GoCreateSyscall" { g: $crate::GoId };
                /// Goroutine `g` starts running.
                GoStart = 16 as GO_START "GoStart" { g: $crate::GoId, g_seq: u64 };
                /// The running goroutine exited.
                GoDestroy = 17 as GO_DESTROY "GoDestroy" {};
                /// A goroutine exited in a syscall.
                GoDestroySyscall = 18 as GO_DESTROY_SYSCALL "GoDestroySyscall" {};
                /// The running goroutine stopped, still runnable.
                GoStop = 19 as GO_STOP "GoStop" { reason: $crate::StringId, stack: $crate::StackId };
                /// The running goroutine blocked.
                GoBlock = 20 as GO_BLOCK "GoBlock" { reason: $crate::StringId, stack: $crate::StackId };
                /// Goroutine `g` was made runnable.
                GoUnblock = 21 as GO_UNBLOCK "GoUnblock" { g: $crate::GoId, g_seq: u64, stack: $crate::StackId };
                /// The running goroutine entered a syscall.
                GoSyscallBegin = 22 as GO_SYSCALL_BEGIN "GoSyscallBegin" { p_seq: u64, stack: $crate::StackId };
                /// The running goroutine left its syscall.
                GoSyscallEnd = 23 as GO_SYSCALL_END "GoSyscallEnd" {};
                /// The running goroutine left its syscall and lost its P.
                GoSyscallEndBlocked = 24 as GO_SYSCALL_END_BLOCKED "GoSyscallEndBlocked" {};
                /// Goroutine `g`'s status at the start of a generation.
                GoStatus = 25 as GO_STATUS "GoStatus" { g: $crate::GoId, m: $crate::ThreadId, status: $crate::GoState };
                /// A stop-the-world begins.
                StwBegin = 26 as STW_BEGIN "STWBegin" { kind: $crate::StringId, stack: $crate::StackId };
                /// The stop-the-world ends.
                StwEnd = 27 as STW_END "STWEnd" {};
                /// A GC is active at the start of a generation.
                GcActive = 28 as GC_ACTIVE "GCActive" { gc_seq: u64 };
                /// A GC begins.
                GcBegin = 29 as GC_BEGIN "GCBegin" { gc_seq: u64, stack: $crate::StackId };
                /// The GC ends.
                GcEnd = 30 as GC_END "GCEnd" { gc_seq: u64 };
                /// P `p` is sweeping at the start of a generation.
                GcSweepActive = 31 as GC_SWEEP_ACTIVE "GCSweepActive" { p: $crate::ProcId };
                /// Sweeping begins.
                GcSweepBegin = 32 as GC_SWEEP_BEGIN "GCSweepBegin" { stack: $crate::StackId };
                /// Sweeping ends.
                GcSweepEnd = 33 as GC_SWEEP_END "GCSweepEnd" { swept: u64, reclaimed: u64 };
                /// Goroutine `g` is in a mark assist at the start of a generation.
                GcMarkAssistActive = 34 as GC_MARK_ASSIST_ACTIVE "GCMarkAssistActive" { g: $crate::GoId };
                /// A mark assist begins.
                GcMarkAssistBegin = 35 as GC_MARK_ASSIST_BEGIN "GCMarkAssistBegin" { stack: $crate::StackId };
                /// The mark assist ends.
                GcMarkAssistEnd = 36 as GC_MARK_ASSIST_END "GCMarkAssistEnd" {};
                /// The live heap is `bytes` bytes.
                HeapAlloc = 37 as HEAP_ALLOC "HeapAlloc" { bytes: u64 };
                /// The heap goal is `bytes` bytes.
                HeapGoal = 38 as HEAP_GOAL "HeapGoal" { bytes: u64 };
                /// The running goroutine's label.
                GoLabel = 39 as GO_LABEL "GoLabel" { label: $crate::StringId };
                /// A user task begins.
                UserTaskBegin = 40 as USER_TASK_BEGIN "UserTaskBegin" { task: $crate::TaskId, parent: $crate::TaskId, name: $crate::StringId, stack: $crate::StackId };
                /// A user task ends.
                UserTaskEnd = 41 as USER_TASK_END "UserTaskEnd" { task: $crate::TaskId, stack: $crate::StackId };
                /// A user region begins on the running goroutine.
                UserRegionBegin = 42 as USER_REGION_BEGIN "UserRegionBegin" { task: $crate::TaskId, name: $crate::StringId, stack: $crate::StackId };
                /// A user region ends on the running goroutine.
                UserRegionEnd = 43 as USER_REGION_END "UserRegionEnd" { task: $crate::TaskId, name: $crate::StringId, stack: $crate::StackId };
                /// A user log record.
                UserLog = 44 as USER_LOG "UserLog" { task: $crate::TaskId, key: $crate::StringId, value: $crate::StringId, stack: $crate::StackId };
                /// The running goroutine switches to goroutine `g` (1.23+).
                GoSwitch = 45 as GO_SWITCH "GoSwitch" { g: $crate::GoId, g_seq: u64 };
                /// As `GoSwitch`, and the switching goroutine exits (1.23+).
                GoSwitchDestroy = 46 as GO_SWITCH_DESTROY "GoSwitchDestroy" { g: $crate::GoId, g_seq: u64 };
                /// Goroutine `g` was created blocked (1.23+).
                GoCreateBlocked = 47 as GO_CREATE_BLOCKED "GoCreateBlocked" { g: $crate::GoId, new_stack: $crate::StackId, stack: $crate::StackId };
                /// `GoStatus` with the goroutine's stack (1.23+).
                GoStatusStack = 48 as GO_STATUS_STACK "GoStatusStack" { g: $crate::GoId, m: $crate::ThreadId, status: $crate::GoState, stack: $crate::StackId };
            }
        }
    };
}

/// One event type as the table declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// The wire type byte.
    pub id: u8,
    /// Go's name (`"GoStart"`).
    pub name: &'static str,
    /// Argument names in wire order (for timed events, after `dt`).
    pub args: &'static [&'static str],
    /// Whether it is a timed event of an M's stream (type byte, `dt`, args).
    pub timed: bool,
}

/// Largest type byte in the table.
const MAX_ID: usize = 52;

macro_rules! wire_items {
    (
        structural { $( $(#[$sm:meta])* $sname:ident = $sid:literal as $sconst:ident $sgo:literal [$($sarg:ident),*]; )* }
        timed { $( $(#[$tm:meta])* $tname:ident = $tid:literal as $tconst:ident $tgo:literal { $($targ:ident : $tty:ty),* }; )* }
    ) => {
        /// Event type IDs as on the wire (Go's `tracev2` numbering), named
        /// after Go's events: the one set of IDs the writer, the reader and
        /// the tests use.
        pub mod ev {
            $( $(#[$sm])* pub const $sconst: u8 = $sid; )*
            $( $(#[$tm])* pub const $tconst: u8 = $tid; )*
        }

        /// Specs by type byte (`None` for bytes the format does not use).
        const SPECS: [Option<EventSpec>; MAX_ID + 1] = {
            let mut t = [None; MAX_ID + 1];
            $(
                assert!(t[$sid].is_none(), "duplicate event ID");
                t[$sid] = Some(EventSpec {
                    id: $sid,
                    name: $sgo,
                    args: &[$(stringify!($sarg)),*],
                    timed: false,
                });
            )*
            $(
                assert!(t[$tid].is_none(), "duplicate event ID");
                t[$tid] = Some(EventSpec {
                    id: $tid,
                    name: $tgo,
                    args: &[$(stringify!($targ)),*],
                    timed: true,
                });
            )*
            t
        };
    };
}

event_table!(wire_items);

/// The spec of event type `t`, if the format has one.
///
/// ```
/// let s = spool_trace_wire::spec(spool_trace_wire::ev::GO_UNBLOCK).unwrap();
/// assert_eq!((s.name, s.args, s.timed), ("GoUnblock", &["g", "g_seq", "stack"][..], true));
/// ```
pub const fn spec(t: u8) -> Option<&'static EventSpec> {
    if (t as usize) < SPECS.len() {
        SPECS[t as usize].as_ref()
    } else {
        None
    }
}

/// Number of varints after the type byte of timed event type `t`, including
/// the leading `dt`; `None` if `t` is not a timed event.
///
/// ```
/// use spool_trace_wire::{ev, timed_arg_count};
/// assert_eq!(timed_arg_count(ev::PROC_STOP), Some(1));
/// assert_eq!(timed_arg_count(ev::STRING), None); // structural
/// ```
pub const fn timed_arg_count(t: u8) -> Option<usize> {
    match spec(t) {
        Some(s) if s.timed => Some(s.args.len() + 1),
        _ => None,
    }
}

/// Go's name of event type `t`, `"?"` for bytes the format does not use.
///
/// ```
/// assert_eq!(spool_trace_wire::type_name(20), "GoBlock");
/// assert_eq!(spool_trace_wire::type_name(200), "?");
/// ```
pub const fn type_name(t: u8) -> &'static str {
    match spec(t) {
        Some(s) => s.name,
        None => "?",
    }
}

/// Converts one decoded argument to its typed value (the reader's decoder
/// applies it to every argument, as declared in the table).
pub trait FromArg {
    /// The value for wire argument `v`.
    fn from_arg(v: u64) -> Self;
}

impl FromArg for u64 {
    #[inline]
    fn from_arg(v: u64) -> Self {
        v
    }
}

/// A goroutine status as carried by `GoStatus` (wire values 1..=4).
///
/// ```
/// use spool_trace_wire::GoState;
/// assert_eq!(GoState::from_wire(4), GoState::Waiting);
/// assert_eq!(GoState::Runnable.wire(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GoState {
    /// 1: ready to run, not running.
    Runnable,
    /// 2: running on the emitting M.
    Running,
    /// 3: in a system call (blocking section) on an M.
    Syscall,
    /// 4: blocked.
    Waiting,
    /// Any other wire value (0 = "bad" and unknown values); the ordering layer rejects it.
    Invalid(u64),
}

impl GoState {
    /// Decodes a wire value.
    pub const fn from_wire(v: u64) -> Self {
        match v {
            1 => GoState::Runnable,
            2 => GoState::Running,
            3 => GoState::Syscall,
            4 => GoState::Waiting,
            v => GoState::Invalid(v),
        }
    }

    /// The wire value.
    pub const fn wire(self) -> u64 {
        match self {
            GoState::Runnable => 1,
            GoState::Running => 2,
            GoState::Syscall => 3,
            GoState::Waiting => 4,
            GoState::Invalid(v) => v,
        }
    }
}

impl FromArg for GoState {
    #[inline]
    fn from_arg(v: u64) -> Self {
        GoState::from_wire(v)
    }
}

/// A processor status as carried by `ProcStatus` (wire values 1..=4).
///
/// ```
/// use spool_trace_wire::ProcState;
/// assert_eq!(ProcState::from_wire(2), ProcState::Idle);
/// assert_eq!(ProcState::Running.wire(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcState {
    /// 1: held by an M that runs Gs.
    Running,
    /// 2: not held.
    Idle,
    /// 3: held by an M in a system call.
    Syscall,
    /// 4: in a syscall whose M is unknown (may be stolen).
    SyscallAbandoned,
    /// Any other wire value; the ordering layer rejects it.
    Invalid(u64),
}

impl ProcState {
    /// Decodes a wire value.
    pub const fn from_wire(v: u64) -> Self {
        match v {
            1 => ProcState::Running,
            2 => ProcState::Idle,
            3 => ProcState::Syscall,
            4 => ProcState::SyscallAbandoned,
            v => ProcState::Invalid(v),
        }
    }

    /// The wire value.
    pub const fn wire(self) -> u64 {
        match self {
            ProcState::Running => 1,
            ProcState::Idle => 2,
            ProcState::Syscall => 3,
            ProcState::SyscallAbandoned => 4,
            ProcState::Invalid(v) => v,
        }
    }
}

impl FromArg for ProcState {
    #[inline]
    fn from_arg(v: u64) -> Self {
        ProcState::from_wire(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_contiguous_and_named_after_go() {
        for t in 1..=MAX_ID as u8 {
            let s = spec(t).unwrap_or_else(|| panic!("type {t} missing"));
            assert_eq!(s.id, t);
        }
        assert!(spec(0).is_none() && spec(MAX_ID as u8 + 1).is_none());
        assert_eq!(type_name(ev::STW_BEGIN), "STWBegin");
        assert_eq!(type_name(ev::GC_MARK_ASSIST_END), "GCMarkAssistEnd");
    }

    #[test]
    fn arg_counts_match_gos_table() {
        // Go 1.27's tracev2 `Args` lengths (dt included) for the timed events.
        let go: [(u8, usize); 40] = [
            (9, 3),
            (10, 3),
            (11, 1),
            (12, 4),
            (13, 3),
            (14, 4),
            (15, 2),
            (16, 3),
            (17, 1),
            (18, 1),
            (19, 3),
            (20, 3),
            (21, 4),
            (22, 3),
            (23, 1),
            (24, 1),
            (25, 4),
            (26, 3),
            (27, 1),
            (28, 2),
            (29, 3),
            (30, 2),
            (31, 2),
            (32, 2),
            (33, 3),
            (34, 2),
            (35, 2),
            (36, 1),
            (37, 2),
            (38, 2),
            (39, 2),
            (40, 5),
            (41, 3),
            (42, 4),
            (43, 4),
            (44, 5),
            (45, 3),
            (46, 3),
            (47, 4),
            (48, 5),
        ];
        for (t, n) in go {
            assert_eq!(timed_arg_count(t), Some(n), "{}", type_name(t));
        }
        let timed = (0..=255u8)
            .filter(|&t| timed_arg_count(t).is_some())
            .count();
        assert_eq!(timed, go.len());
    }

    #[test]
    fn statuses_round_trip() {
        for v in 0..6 {
            assert_eq!(GoState::from_wire(v).wire(), v);
            assert_eq!(ProcState::from_wire(v).wire(), v);
        }
    }
}
