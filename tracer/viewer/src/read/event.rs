//! Typed events of Go's v2 execution trace: [`EventKind`], the enum every
//! timed event decodes into, generated from the wire crate's one event
//! table (`spool_trace_wire::event_table!`) together with its decoder
//! ([`EventKind::from_args`]) and [`EventKind::type_id`], so the three
//! cannot disagree with each other or with the writer's IDs.
//!
//! Invariant (by construction): every type ID for which
//! [`timed_arg_count`] returns `Some(n)` decodes from exactly `n` varints
//! (the first being the timestamp delta, which is not stored in the kind).

use std::fmt;

use spool_trace_wire::FromArg;
pub use spool_trace_wire::{
    GoId, GoState, NONE, ProcId, ProcState, StackId, StringId, TaskId, ThreadId, ev,
    timed_arg_count, type_name,
};

/// Generates `EventKind` from the table's timed events: a variant per
/// event (a unit variant when it has no arguments), `from_args` and `type_id`.
macro_rules! event_kind {
    (
        structural { $($structural:tt)* }
        timed { $( $(#[$meta:meta])* $name:ident = $id:literal as $c:ident $go:literal { $($arg:ident : $ty:ty),* }; )* }
    ) => {
        event_kind!(@variants [] $( [$(#[$meta])* $name { $($arg : $ty),* }] )*);

        impl EventKind {
            /// Builds the kind of timed event type `t` from its arguments after `dt`
            /// (`a.len() == timed_arg_count(t) - 1`; missing ones read as 0).
            /// `None` for a type that is not a timed event.
            pub(crate) fn from_args(t: u8, a: &[u64]) -> Option<EventKind> {
                #[allow(unused_variables, unused_mut)]
                match t {
                    $( ev::$c => {
                        let mut i = 0usize;
                        let mut next = || {
                            let v = a.get(i).copied().unwrap_or(0);
                            i += 1;
                            v
                        };
                        Some(EventKind::$name { $($arg: <$ty as FromArg>::from_arg(next())),* })
                    } )*
                    _ => None,
                }
            }

            /// The wire type ID of this kind.
            pub fn type_id(&self) -> u8 {
                match self {
                    $( EventKind::$name { .. } => ev::$c, )*
                }
            }
        }
    };
    // Accumulate variants: unit ones without braces, the rest with their fields.
    (@variants [$($done:tt)*]) => {
        /// One timed event, decoded. Variants and field names follow the wire
        /// table (Go's `tracev2/events.go`); the timestamp lives in
        /// [`Event`](super::Event), not here. IDs are raw: `NONE`
        /// (`u64::MAX`) means "no thread/proc/goroutine/task".
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(missing_docs)] // The fields are the wire arguments named in the table.
        pub enum EventKind { $($done)* }
    };
    (@variants [$($done:tt)*] [$(#[$meta:meta])* $name:ident {}] $($rest:tt)*) => {
        event_kind!(@variants [$($done)* $(#[$meta])* $name,] $($rest)*);
    };
    (@variants [$($done:tt)*] [$(#[$meta:meta])* $name:ident { $($arg:ident : $ty:ty),+ }] $($rest:tt)*) => {
        event_kind!(@variants [$($done)* $(#[$meta])* $name { $($arg: $ty),+ },] $($rest)*);
    };
}

spool_trace_wire::event_table!(event_kind);

impl EventKind {
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

    #[test]
    fn arguments_land_in_table_order() {
        let k = EventKind::from_args(ev::GO_UNBLOCK, &[7, 8, 9]).unwrap();
        let want = EventKind::GoUnblock {
            g: 7,
            g_seq: 8,
            stack: 9,
        };
        assert_eq!(k, want);
        let k = EventKind::from_args(ev::GO_STATUS, &[1, 2, 4]).unwrap();
        let want = EventKind::GoStatus {
            g: 1,
            m: 2,
            status: GoState::Waiting,
        };
        assert_eq!(k, want);
        let stop = EventKind::from_args(ev::PROC_STOP, &[]);
        assert_eq!(stop, Some(EventKind::ProcStop));
    }
}
