//! Typed events of Go's v2 execution trace: the event-type table (IDs and
//! argument counts, from `internal/trace/tracev2/events.go`) and the
//! [`EventKind`] enum every timed event decodes into.
//!
//! Invariant: [`timed_arg_count`] and [`EventKind::from_args`] agree; every
//! type ID for which `timed_arg_count` returns `Some(n)` decodes from exactly
//! `n` varints (the first being the timestamp delta, which is not stored in
//! the kind).

use std::fmt;

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

/// The "-1" of the format: no thread / proc / goroutine / task.
pub const NONE: u64 = u64::MAX;

/// Type IDs of the structural (untimed) events, as on the wire.
pub mod ty {
    /// Batch header.
    pub const EVENT_BATCH: u8 = 1;
    /// Start of a stack-table batch.
    pub const STACKS: u8 = 2;
    /// One stack-table entry.
    pub const STACK: u8 = 3;
    /// Start of a string-table batch.
    pub const STRINGS: u8 = 4;
    /// One string-table entry.
    pub const STRING: u8 = 5;
    /// Start of a CPU-sample batch.
    pub const CPU_SAMPLES: u8 = 6;
    /// One CPU sample.
    pub const CPU_SAMPLE: u8 = 7;
    /// Ticks per second.
    pub const FREQUENCY: u8 = 8;
    /// Header of an experimental batch.
    pub const EXPERIMENTAL_BATCH: u8 = 49;
    /// Start of a sync batch (1.25+).
    pub const SYNC: u8 = 50;
    /// Clock snapshot in the sync batch (1.25+).
    pub const CLOCK_SNAPSHOT: u8 = 51;
    /// End of a generation (1.26+).
    pub const END_OF_GENERATION: u8 = 52;
}

/// Number of varint arguments (including the leading `dt`) of timed event
/// type `t`, or `None` if `t` is not a timed event this reader knows.
pub fn timed_arg_count(t: u8) -> Option<usize> {
    Some(match t {
        11 | 17 | 18 | 23 | 24 | 27 | 36 => 1,
        28 | 30 | 31 | 32 | 34 | 35 | 37 | 38 | 39 | 15 => 2,
        9 | 10 | 13 | 16 | 19 | 20 | 22 | 26 | 29 | 33 | 41 | 45 | 46 => 3,
        12 | 14 | 21 | 25 | 42 | 43 | 47 => 4,
        40 | 44 | 48 => 5,
        _ => return None,
    })
}

/// Wire name of an event type ID (Go's names), `"?"` for unknown ones.
pub fn type_name(t: u8) -> &'static str {
    const NAMES: [&str; 53] = [
        "?",
        "EventBatch",
        "Stacks",
        "Stack",
        "Strings",
        "String",
        "CPUSamples",
        "CPUSample",
        "Frequency",
        "ProcsChange",
        "ProcStart",
        "ProcStop",
        "ProcSteal",
        "ProcStatus",
        "GoCreate",
        "GoCreateSyscall",
        "GoStart",
        "GoDestroy",
        "GoDestroySyscall",
        "GoStop",
        "GoBlock",
        "GoUnblock",
        "GoSyscallBegin",
        "GoSyscallEnd",
        "GoSyscallEndBlocked",
        "GoStatus",
        "STWBegin",
        "STWEnd",
        "GCActive",
        "GCBegin",
        "GCEnd",
        "GCSweepActive",
        "GCSweepBegin",
        "GCSweepEnd",
        "GCMarkAssistActive",
        "GCMarkAssistBegin",
        "GCMarkAssistEnd",
        "HeapAlloc",
        "HeapGoal",
        "GoLabel",
        "UserTaskBegin",
        "UserTaskEnd",
        "UserRegionBegin",
        "UserRegionEnd",
        "UserLog",
        "GoSwitch",
        "GoSwitchDestroy",
        "GoCreateBlocked",
        "GoStatusStack",
        "ExperimentalBatch",
        "Sync",
        "ClockSnapshot",
        "EndOfGeneration",
    ];
    NAMES.get(usize::from(t)).copied().unwrap_or("?")
}

/// A goroutine status as carried by `GoStatus` (wire values 1..=4).
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
    pub fn from_wire(v: u64) -> Self {
        match v {
            1 => GoState::Runnable,
            2 => GoState::Running,
            3 => GoState::Syscall,
            4 => GoState::Waiting,
            v => GoState::Invalid(v),
        }
    }
}

/// A processor status as carried by `ProcStatus` (wire values 1..=4).
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
    pub fn from_wire(v: u64) -> Self {
        match v {
            1 => ProcState::Running,
            2 => ProcState::Idle,
            3 => ProcState::Syscall,
            4 => ProcState::SyscallAbandoned,
            v => ProcState::Invalid(v),
        }
    }
}

/// One timed event, decoded. Field names follow `tracev2/events.go`; the
/// timestamp lives in [`Event`](super::Event), not here. IDs are raw: `NONE`
/// (`u64::MAX`) means "no thread/proc/goroutine/task".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // The fields are the wire arguments named in events.go.
pub enum EventKind {
    ProcsChange {
        procs: u64,
        stack: StackId,
    },
    ProcStart {
        p: ProcId,
        p_seq: u64,
    },
    ProcStop,
    ProcSteal {
        p: ProcId,
        p_seq: u64,
        m: ThreadId,
    },
    ProcStatus {
        p: ProcId,
        status: ProcState,
    },
    GoCreate {
        g: GoId,
        new_stack: StackId,
        stack: StackId,
    },
    GoCreateSyscall {
        g: GoId,
    },
    GoStart {
        g: GoId,
        g_seq: u64,
    },
    GoDestroy,
    GoDestroySyscall,
    GoStop {
        reason: StringId,
        stack: StackId,
    },
    GoBlock {
        reason: StringId,
        stack: StackId,
    },
    GoUnblock {
        g: GoId,
        g_seq: u64,
        stack: StackId,
    },
    GoSyscallBegin {
        p_seq: u64,
        stack: StackId,
    },
    GoSyscallEnd,
    GoSyscallEndBlocked,
    GoStatus {
        g: GoId,
        m: ThreadId,
        status: GoState,
    },
    StwBegin {
        kind: StringId,
        stack: StackId,
    },
    StwEnd,
    GcActive {
        gc_seq: u64,
    },
    GcBegin {
        gc_seq: u64,
        stack: StackId,
    },
    GcEnd {
        gc_seq: u64,
    },
    GcSweepActive {
        p: ProcId,
    },
    GcSweepBegin {
        stack: StackId,
    },
    GcSweepEnd {
        swept: u64,
        reclaimed: u64,
    },
    GcMarkAssistActive {
        g: GoId,
    },
    GcMarkAssistBegin {
        stack: StackId,
    },
    GcMarkAssistEnd,
    HeapAlloc {
        bytes: u64,
    },
    HeapGoal {
        bytes: u64,
    },
    GoLabel {
        label: StringId,
    },
    UserTaskBegin {
        task: TaskId,
        parent: TaskId,
        name: StringId,
        stack: StackId,
    },
    UserTaskEnd {
        task: TaskId,
        stack: StackId,
    },
    UserRegionBegin {
        task: TaskId,
        name: StringId,
        stack: StackId,
    },
    UserRegionEnd {
        task: TaskId,
        name: StringId,
        stack: StackId,
    },
    UserLog {
        task: TaskId,
        key: StringId,
        value: StringId,
        stack: StackId,
    },
    GoSwitch {
        g: GoId,
        g_seq: u64,
    },
    GoSwitchDestroy {
        g: GoId,
        g_seq: u64,
    },
    GoCreateBlocked {
        g: GoId,
        new_stack: StackId,
        stack: StackId,
    },
    GoStatusStack {
        g: GoId,
        m: ThreadId,
        status: GoState,
        stack: StackId,
    },
}

impl EventKind {
    /// Builds the kind of timed event type `t` from its arguments after `dt`
    /// (`a.len() == timed_arg_count(t) - 1`). `None` for an unknown type.
    pub(crate) fn from_args(t: u8, a: &[u64]) -> Option<EventKind> {
        use EventKind::*;
        let g = |i: usize| a.get(i).copied().unwrap_or(0);
        Some(match t {
            9 => ProcsChange {
                procs: g(0),
                stack: g(1),
            },
            10 => ProcStart {
                p: g(0),
                p_seq: g(1),
            },
            11 => ProcStop,
            12 => ProcSteal {
                p: g(0),
                p_seq: g(1),
                m: g(2),
            },
            13 => ProcStatus {
                p: g(0),
                status: ProcState::from_wire(g(1)),
            },
            14 => GoCreate {
                g: g(0),
                new_stack: g(1),
                stack: g(2),
            },
            15 => GoCreateSyscall { g: g(0) },
            16 => GoStart {
                g: g(0),
                g_seq: g(1),
            },
            17 => GoDestroy,
            18 => GoDestroySyscall,
            19 => GoStop {
                reason: g(0),
                stack: g(1),
            },
            20 => GoBlock {
                reason: g(0),
                stack: g(1),
            },
            21 => GoUnblock {
                g: g(0),
                g_seq: g(1),
                stack: g(2),
            },
            22 => GoSyscallBegin {
                p_seq: g(0),
                stack: g(1),
            },
            23 => GoSyscallEnd,
            24 => GoSyscallEndBlocked,
            25 => GoStatus {
                g: g(0),
                m: g(1),
                status: GoState::from_wire(g(2)),
            },
            26 => StwBegin {
                kind: g(0),
                stack: g(1),
            },
            27 => StwEnd,
            28 => GcActive { gc_seq: g(0) },
            29 => GcBegin {
                gc_seq: g(0),
                stack: g(1),
            },
            30 => GcEnd { gc_seq: g(0) },
            31 => GcSweepActive { p: g(0) },
            32 => GcSweepBegin { stack: g(0) },
            33 => GcSweepEnd {
                swept: g(0),
                reclaimed: g(1),
            },
            34 => GcMarkAssistActive { g: g(0) },
            35 => GcMarkAssistBegin { stack: g(0) },
            36 => GcMarkAssistEnd,
            37 => HeapAlloc { bytes: g(0) },
            38 => HeapGoal { bytes: g(0) },
            39 => GoLabel { label: g(0) },
            40 => UserTaskBegin {
                task: g(0),
                parent: g(1),
                name: g(2),
                stack: g(3),
            },
            41 => UserTaskEnd {
                task: g(0),
                stack: g(1),
            },
            42 => UserRegionBegin {
                task: g(0),
                name: g(1),
                stack: g(2),
            },
            43 => UserRegionEnd {
                task: g(0),
                name: g(1),
                stack: g(2),
            },
            44 => UserLog {
                task: g(0),
                key: g(1),
                value: g(2),
                stack: g(3),
            },
            45 => GoSwitch {
                g: g(0),
                g_seq: g(1),
            },
            46 => GoSwitchDestroy {
                g: g(0),
                g_seq: g(1),
            },
            47 => GoCreateBlocked {
                g: g(0),
                new_stack: g(1),
                stack: g(2),
            },
            48 => GoStatusStack {
                g: g(0),
                m: g(1),
                status: GoState::from_wire(g(2)),
                stack: g(3),
            },
            _ => return None,
        })
    }

    /// The wire type ID of this kind.
    pub fn type_id(&self) -> u8 {
        use EventKind::*;
        match self {
            ProcsChange { .. } => 9,
            ProcStart { .. } => 10,
            ProcStop => 11,
            ProcSteal { .. } => 12,
            ProcStatus { .. } => 13,
            GoCreate { .. } => 14,
            GoCreateSyscall { .. } => 15,
            GoStart { .. } => 16,
            GoDestroy => 17,
            GoDestroySyscall => 18,
            GoStop { .. } => 19,
            GoBlock { .. } => 20,
            GoUnblock { .. } => 21,
            GoSyscallBegin { .. } => 22,
            GoSyscallEnd => 23,
            GoSyscallEndBlocked => 24,
            GoStatus { .. } => 25,
            StwBegin { .. } => 26,
            StwEnd => 27,
            GcActive { .. } => 28,
            GcBegin { .. } => 29,
            GcEnd { .. } => 30,
            GcSweepActive { .. } => 31,
            GcSweepBegin { .. } => 32,
            GcSweepEnd { .. } => 33,
            GcMarkAssistActive { .. } => 34,
            GcMarkAssistBegin { .. } => 35,
            GcMarkAssistEnd => 36,
            HeapAlloc { .. } => 37,
            HeapGoal { .. } => 38,
            GoLabel { .. } => 39,
            UserTaskBegin { .. } => 40,
            UserTaskEnd { .. } => 41,
            UserRegionBegin { .. } => 42,
            UserRegionEnd { .. } => 43,
            UserLog { .. } => 44,
            GoSwitch { .. } => 45,
            GoSwitchDestroy { .. } => 46,
            GoCreateBlocked { .. } => 47,
            GoStatusStack { .. } => 48,
        }
    }

    /// Go's name of this event type (e.g. `"GoStart"`).
    pub fn name(&self) -> &'static str {
        type_name(self.type_id())
    }

    /// String-table IDs this event references (0 = none).
    pub fn string_ids(&self) -> [StringId; 2] {
        use EventKind::*;
        match *self {
            GoStop { reason, .. } | GoBlock { reason, .. } => [reason, 0],
            StwBegin { kind, .. } => [kind, 0],
            GoLabel { label } => [label, 0],
            UserTaskBegin { name, .. }
            | UserRegionBegin { name, .. }
            | UserRegionEnd { name, .. } => [name, 0],
            UserLog { key, value, .. } => [key, value],
            _ => [0, 0],
        }
    }

    /// Stack-table IDs this event references (0 = none).
    pub fn stack_ids(&self) -> [StackId; 2] {
        use EventKind::*;
        match *self {
            GoCreate {
                new_stack, stack, ..
            }
            | GoCreateBlocked {
                new_stack, stack, ..
            } => [new_stack, stack],
            ProcsChange { stack, .. }
            | GoStop { stack, .. }
            | GoBlock { stack, .. }
            | GoUnblock { stack, .. }
            | GoSyscallBegin { stack, .. }
            | StwBegin { stack, .. }
            | GcBegin { stack, .. }
            | GcSweepBegin { stack }
            | GcMarkAssistBegin { stack }
            | UserTaskBegin { stack, .. }
            | UserTaskEnd { stack, .. }
            | UserRegionBegin { stack, .. }
            | UserRegionEnd { stack, .. }
            | UserLog { stack, .. }
            | GoStatusStack { stack, .. } => [stack, 0],
            _ => [0, 0],
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_table_matches_kinds() {
        for t in 0..=255u8 {
            match timed_arg_count(t) {
                Some(n) => {
                    let args = vec![7u64; n - 1];
                    let k = EventKind::from_args(t, &args).expect("known type decodes");
                    assert_eq!(k.type_id(), t);
                    assert_eq!(k.name(), type_name(t));
                }
                None => assert!(EventKind::from_args(t, &[]).is_none(), "type {t}"),
            }
        }
    }
}
