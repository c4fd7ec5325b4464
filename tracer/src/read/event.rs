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

/// Event type IDs as on the wire (Go's `tracev2` numbering, named after
/// Go's event names): the one table the writer, the reader and the tests use.
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
    /// `ProcsChange`.
    pub const PROCS_CHANGE: u8 = 9;
    /// `ProcStart`.
    pub const PROC_START: u8 = 10;
    /// `ProcStop`.
    pub const PROC_STOP: u8 = 11;
    /// `ProcSteal`.
    pub const PROC_STEAL: u8 = 12;
    /// `ProcStatus`.
    pub const PROC_STATUS: u8 = 13;
    /// `GoCreate`.
    pub const GO_CREATE: u8 = 14;
    /// `GoCreateSyscall`.
    pub const GO_CREATE_SYSCALL: u8 = 15;
    /// `GoStart`.
    pub const GO_START: u8 = 16;
    /// `GoDestroy`.
    pub const GO_DESTROY: u8 = 17;
    /// `GoDestroySyscall`.
    pub const GO_DESTROY_SYSCALL: u8 = 18;
    /// `GoStop`.
    pub const GO_STOP: u8 = 19;
    /// `GoBlock`.
    pub const GO_BLOCK: u8 = 20;
    /// `GoUnblock`.
    pub const GO_UNBLOCK: u8 = 21;
    /// `GoSyscallBegin`.
    pub const GO_SYSCALL_BEGIN: u8 = 22;
    /// `GoSyscallEnd`.
    pub const GO_SYSCALL_END: u8 = 23;
    /// `GoSyscallEndBlocked`.
    pub const GO_SYSCALL_END_BLOCKED: u8 = 24;
    /// `GoStatus`.
    pub const GO_STATUS: u8 = 25;
    /// `STWBegin`.
    pub const STW_BEGIN: u8 = 26;
    /// `STWEnd`.
    pub const STW_END: u8 = 27;
    /// `GCActive`.
    pub const GC_ACTIVE: u8 = 28;
    /// `GCBegin`.
    pub const GC_BEGIN: u8 = 29;
    /// `GCEnd`.
    pub const GC_END: u8 = 30;
    /// `GCSweepActive`.
    pub const GC_SWEEP_ACTIVE: u8 = 31;
    /// `GCSweepBegin`.
    pub const GC_SWEEP_BEGIN: u8 = 32;
    /// `GCSweepEnd`.
    pub const GC_SWEEP_END: u8 = 33;
    /// `GCMarkAssistActive`.
    pub const GC_MARK_ASSIST_ACTIVE: u8 = 34;
    /// `GCMarkAssistBegin`.
    pub const GC_MARK_ASSIST_BEGIN: u8 = 35;
    /// `GCMarkAssistEnd`.
    pub const GC_MARK_ASSIST_END: u8 = 36;
    /// `HeapAlloc`.
    pub const HEAP_ALLOC: u8 = 37;
    /// `HeapGoal`.
    pub const HEAP_GOAL: u8 = 38;
    /// `GoLabel`.
    pub const GO_LABEL: u8 = 39;
    /// `UserTaskBegin`.
    pub const USER_TASK_BEGIN: u8 = 40;
    /// `UserTaskEnd`.
    pub const USER_TASK_END: u8 = 41;
    /// `UserRegionBegin`.
    pub const USER_REGION_BEGIN: u8 = 42;
    /// `UserRegionEnd`.
    pub const USER_REGION_END: u8 = 43;
    /// `UserLog`.
    pub const USER_LOG: u8 = 44;
    /// `GoSwitch`.
    pub const GO_SWITCH: u8 = 45;
    /// `GoSwitchDestroy`.
    pub const GO_SWITCH_DESTROY: u8 = 46;
    /// `GoCreateBlocked`.
    pub const GO_CREATE_BLOCKED: u8 = 47;
    /// `GoStatusStack`.
    pub const GO_STATUS_STACK: u8 = 48;
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
        ty::PROC_STOP
        | ty::GO_DESTROY
        | ty::GO_DESTROY_SYSCALL
        | ty::GO_SYSCALL_END
        | ty::GO_SYSCALL_END_BLOCKED
        | ty::STW_END
        | ty::GC_MARK_ASSIST_END => 1,
        ty::GC_ACTIVE
        | ty::GC_END
        | ty::GC_SWEEP_ACTIVE
        | ty::GC_SWEEP_BEGIN
        | ty::GC_MARK_ASSIST_ACTIVE
        | ty::GC_MARK_ASSIST_BEGIN
        | ty::HEAP_ALLOC
        | ty::HEAP_GOAL
        | ty::GO_LABEL
        | ty::GO_CREATE_SYSCALL => 2,
        ty::PROCS_CHANGE
        | ty::PROC_START
        | ty::PROC_STATUS
        | ty::GO_START
        | ty::GO_STOP
        | ty::GO_BLOCK
        | ty::GO_SYSCALL_BEGIN
        | ty::STW_BEGIN
        | ty::GC_BEGIN
        | ty::GC_SWEEP_END
        | ty::USER_TASK_END
        | ty::GO_SWITCH
        | ty::GO_SWITCH_DESTROY => 3,
        ty::PROC_STEAL
        | ty::GO_CREATE
        | ty::GO_UNBLOCK
        | ty::GO_STATUS
        | ty::USER_REGION_BEGIN
        | ty::USER_REGION_END
        | ty::GO_CREATE_BLOCKED => 4,
        ty::USER_TASK_BEGIN | ty::USER_LOG | ty::GO_STATUS_STACK => 5,
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
            ty::PROCS_CHANGE => ProcsChange {
                procs: g(0),
                stack: g(1),
            },
            ty::PROC_START => ProcStart {
                p: g(0),
                p_seq: g(1),
            },
            ty::PROC_STOP => ProcStop,
            ty::PROC_STEAL => ProcSteal {
                p: g(0),
                p_seq: g(1),
                m: g(2),
            },
            ty::PROC_STATUS => ProcStatus {
                p: g(0),
                status: ProcState::from_wire(g(1)),
            },
            ty::GO_CREATE => GoCreate {
                g: g(0),
                new_stack: g(1),
                stack: g(2),
            },
            ty::GO_CREATE_SYSCALL => GoCreateSyscall { g: g(0) },
            ty::GO_START => GoStart {
                g: g(0),
                g_seq: g(1),
            },
            ty::GO_DESTROY => GoDestroy,
            ty::GO_DESTROY_SYSCALL => GoDestroySyscall,
            ty::GO_STOP => GoStop {
                reason: g(0),
                stack: g(1),
            },
            ty::GO_BLOCK => GoBlock {
                reason: g(0),
                stack: g(1),
            },
            ty::GO_UNBLOCK => GoUnblock {
                g: g(0),
                g_seq: g(1),
                stack: g(2),
            },
            ty::GO_SYSCALL_BEGIN => GoSyscallBegin {
                p_seq: g(0),
                stack: g(1),
            },
            ty::GO_SYSCALL_END => GoSyscallEnd,
            ty::GO_SYSCALL_END_BLOCKED => GoSyscallEndBlocked,
            ty::GO_STATUS => GoStatus {
                g: g(0),
                m: g(1),
                status: GoState::from_wire(g(2)),
            },
            ty::STW_BEGIN => StwBegin {
                kind: g(0),
                stack: g(1),
            },
            ty::STW_END => StwEnd,
            ty::GC_ACTIVE => GcActive { gc_seq: g(0) },
            ty::GC_BEGIN => GcBegin {
                gc_seq: g(0),
                stack: g(1),
            },
            ty::GC_END => GcEnd { gc_seq: g(0) },
            ty::GC_SWEEP_ACTIVE => GcSweepActive { p: g(0) },
            ty::GC_SWEEP_BEGIN => GcSweepBegin { stack: g(0) },
            ty::GC_SWEEP_END => GcSweepEnd {
                swept: g(0),
                reclaimed: g(1),
            },
            ty::GC_MARK_ASSIST_ACTIVE => GcMarkAssistActive { g: g(0) },
            ty::GC_MARK_ASSIST_BEGIN => GcMarkAssistBegin { stack: g(0) },
            ty::GC_MARK_ASSIST_END => GcMarkAssistEnd,
            ty::HEAP_ALLOC => HeapAlloc { bytes: g(0) },
            ty::HEAP_GOAL => HeapGoal { bytes: g(0) },
            ty::GO_LABEL => GoLabel { label: g(0) },
            ty::USER_TASK_BEGIN => UserTaskBegin {
                task: g(0),
                parent: g(1),
                name: g(2),
                stack: g(3),
            },
            ty::USER_TASK_END => UserTaskEnd {
                task: g(0),
                stack: g(1),
            },
            ty::USER_REGION_BEGIN => UserRegionBegin {
                task: g(0),
                name: g(1),
                stack: g(2),
            },
            ty::USER_REGION_END => UserRegionEnd {
                task: g(0),
                name: g(1),
                stack: g(2),
            },
            ty::USER_LOG => UserLog {
                task: g(0),
                key: g(1),
                value: g(2),
                stack: g(3),
            },
            ty::GO_SWITCH => GoSwitch {
                g: g(0),
                g_seq: g(1),
            },
            ty::GO_SWITCH_DESTROY => GoSwitchDestroy {
                g: g(0),
                g_seq: g(1),
            },
            ty::GO_CREATE_BLOCKED => GoCreateBlocked {
                g: g(0),
                new_stack: g(1),
                stack: g(2),
            },
            ty::GO_STATUS_STACK => GoStatusStack {
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
            ProcsChange { .. } => ty::PROCS_CHANGE,
            ProcStart { .. } => ty::PROC_START,
            ProcStop => ty::PROC_STOP,
            ProcSteal { .. } => ty::PROC_STEAL,
            ProcStatus { .. } => ty::PROC_STATUS,
            GoCreate { .. } => ty::GO_CREATE,
            GoCreateSyscall { .. } => ty::GO_CREATE_SYSCALL,
            GoStart { .. } => ty::GO_START,
            GoDestroy => ty::GO_DESTROY,
            GoDestroySyscall => ty::GO_DESTROY_SYSCALL,
            GoStop { .. } => ty::GO_STOP,
            GoBlock { .. } => ty::GO_BLOCK,
            GoUnblock { .. } => ty::GO_UNBLOCK,
            GoSyscallBegin { .. } => ty::GO_SYSCALL_BEGIN,
            GoSyscallEnd => ty::GO_SYSCALL_END,
            GoSyscallEndBlocked => ty::GO_SYSCALL_END_BLOCKED,
            GoStatus { .. } => ty::GO_STATUS,
            StwBegin { .. } => ty::STW_BEGIN,
            StwEnd => ty::STW_END,
            GcActive { .. } => ty::GC_ACTIVE,
            GcBegin { .. } => ty::GC_BEGIN,
            GcEnd { .. } => ty::GC_END,
            GcSweepActive { .. } => ty::GC_SWEEP_ACTIVE,
            GcSweepBegin { .. } => ty::GC_SWEEP_BEGIN,
            GcSweepEnd { .. } => ty::GC_SWEEP_END,
            GcMarkAssistActive { .. } => ty::GC_MARK_ASSIST_ACTIVE,
            GcMarkAssistBegin { .. } => ty::GC_MARK_ASSIST_BEGIN,
            GcMarkAssistEnd => ty::GC_MARK_ASSIST_END,
            HeapAlloc { .. } => ty::HEAP_ALLOC,
            HeapGoal { .. } => ty::HEAP_GOAL,
            GoLabel { .. } => ty::GO_LABEL,
            UserTaskBegin { .. } => ty::USER_TASK_BEGIN,
            UserTaskEnd { .. } => ty::USER_TASK_END,
            UserRegionBegin { .. } => ty::USER_REGION_BEGIN,
            UserRegionEnd { .. } => ty::USER_REGION_END,
            UserLog { .. } => ty::USER_LOG,
            GoSwitch { .. } => ty::GO_SWITCH,
            GoSwitchDestroy { .. } => ty::GO_SWITCH_DESTROY,
            GoCreateBlocked { .. } => ty::GO_CREATE_BLOCKED,
            GoStatusStack { .. } => ty::GO_STATUS_STACK,
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
