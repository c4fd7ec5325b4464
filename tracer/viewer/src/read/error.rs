//! Errors of the reader: what is wrong, at which byte offset of the file,
//! and in which batch (the offset of its header byte).
//!
//! Invariant: every error carries the absolute file offset of the first byte
//! that could not be understood, so a user can `xxd -s OFFSET` the file.

use std::fmt;

/// What went wrong while decoding. Displayed in lowercase, without offset
/// (the offset is added by [`ReadError`]'s `Display`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The first 16 bytes are not `go 1.NN trace\0\0\0`.
    NotATrace {
        /// What was found instead (escaped, at most 16 bytes).
        found: String,
    },
    /// A well-formed header naming a version this reader does not decode.
    UnsupportedVersion {
        /// The `NN` of `go 1.NN trace`.
        minor: u32,
    },
    /// The file ended inside an item.
    Truncated {
        /// The item (e.g. "batch header", "batch payload").
        what: &'static str,
    },
    /// A varint longer than 10 bytes or above `u64::MAX`.
    BadVarint {
        /// The item being read.
        what: &'static str,
    },
    /// A byte other than `EventBatch`/`ExperimentalBatch`/`EndOfGeneration` where a batch must start.
    ExpectedBatch {
        /// The byte found.
        found: u8,
    },
    /// Batch size above the format's 65,536-byte maximum.
    BatchTooLarge {
        /// The declared size.
        size: u64,
    },
    /// Generation number 0 (a sentinel the runtime never writes).
    ZeroGeneration,
    /// Generations not consecutive (before 1.26) or interleaved (1.26).
    GenerationOutOfOrder {
        /// The generation being read.
        current: u64,
        /// The generation number found.
        found: u64,
    },
    /// 1.26: the file ended before the generation's `EndOfGeneration`.
    IncompleteGeneration,
    /// An `EndOfGeneration` byte in a trace older than 1.26.
    UnexpectedEndOfGeneration,
    /// The generation has no sync batch / `Frequency` event.
    NoFrequency,
    /// The generation's `Frequency` is 0.
    ZeroFrequency,
    /// 1.25+: the sync batch lacks its `ClockSnapshot`.
    NoClockSnapshot,
    /// More than one `Frequency` (or `ClockSnapshot`) in a generation.
    DuplicateSync,
    /// An event type this reader does not know; the rest of its batch was skipped.
    UnknownEvent {
        /// The type byte.
        ty: u8,
    },
    /// A known event type where it may not appear (e.g. a `String` in an event batch).
    UnexpectedEvent {
        /// The type byte.
        ty: u8,
        /// Where it was found.
        context: &'static str,
    },
    /// Two strings (or stacks) with the same ID in one generation.
    DuplicateId {
        /// "string" or "stack".
        table: &'static str,
        /// The ID.
        id: u64,
    },
    /// A string longer than the format's 1,024-byte maximum.
    StringTooLong {
        /// Its length.
        len: u64,
    },
    /// A stack with more than 128 frames.
    TooManyFrames {
        /// The declared frame count.
        n: u64,
    },
    /// A reference to a string or stack ID the generation does not define.
    UnknownId {
        /// "string" or "stack".
        table: &'static str,
        /// The ID.
        id: u64,
    },
    /// Nothing follows the header of a pre-1.26 trace: no generation at
    /// all, which Go's parser rejects ("no frequency event found"). What a
    /// traced program leaves when its trace stopped, or its writes failed,
    /// before the first generation was complete.
    EmptyTrace,
    /// Timestamp arithmetic overflowed `u64`.
    TimestampOverflow,
    /// The ordering layer could not make sense of the event (see [`crate::read::order`]).
    Order {
        /// What is inconsistent.
        message: String,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::event::type_name;
        match self {
            ErrorKind::NotATrace { found } => write!(
                f,
                "not a Go execution trace: expected header \"go 1.NN trace\", found \"{found}\""
            ),
            ErrorKind::UnsupportedVersion { minor } => write!(
                f,
                "unsupported trace version go 1.{minor} (supported: 1.22, 1.23, 1.25, 1.26)"
            ),
            ErrorKind::Truncated { what } => write!(f, "file ends inside {what}"),
            ErrorKind::BadVarint { what } => write!(f, "malformed varint in {what}"),
            ErrorKind::ExpectedBatch { found } => {
                write!(f, "expected a batch header (byte 1), found byte {found}")
            }
            ErrorKind::BatchTooLarge { size } => {
                write!(f, "batch size {size} exceeds the maximum of 65536")
            }
            ErrorKind::ZeroGeneration => write!(f, "invalid generation number 0"),
            ErrorKind::GenerationOutOfOrder { current, found } => {
                write!(
                    f,
                    "generation {found} found while reading generation {current}"
                )
            }
            ErrorKind::IncompleteGeneration => write!(
                f,
                "file ends before the generation's EndOfGeneration; trace likely truncated"
            ),
            ErrorKind::UnexpectedEndOfGeneration => {
                write!(f, "EndOfGeneration byte in a trace older than go 1.26")
            }
            ErrorKind::NoFrequency => write!(f, "generation has no Frequency event"),
            ErrorKind::ZeroFrequency => write!(f, "Frequency is 0 ticks per second"),
            ErrorKind::NoClockSnapshot => write!(f, "sync batch has no ClockSnapshot event"),
            ErrorKind::DuplicateSync => {
                write!(
                    f,
                    "more than one Frequency or ClockSnapshot in a generation"
                )
            }
            ErrorKind::UnknownEvent { ty } => {
                write!(f, "unknown event type {ty}; rest of the batch skipped")
            }
            ErrorKind::UnexpectedEvent { ty, context } => {
                write!(f, "unexpected {} (type {ty}) in {context}", type_name(*ty))
            }
            ErrorKind::DuplicateId { table, id } => {
                write!(f, "two {table}s with id {id} in one generation")
            }
            ErrorKind::StringTooLong { len } => {
                write!(f, "string of {len} bytes exceeds the maximum of 1024")
            }
            ErrorKind::TooManyFrames { n } => {
                write!(f, "stack with {n} frames exceeds the maximum of 128")
            }
            ErrorKind::UnknownId { table, id } => {
                write!(f, "reference to undefined {table} id {id}")
            }
            ErrorKind::EmptyTrace => write!(
                f,
                "the trace is empty: nothing follows the 16-byte header, not even one generation \
                 (Go's parser rejects it too: \"no frequency event found\"); the traced program \
                 wrote nothing usable, because its trace stopped or its writes failed before the \
                 first generation was complete"
            ),
            ErrorKind::TimestampOverflow => write!(f, "timestamp overflows 64 bits"),
            ErrorKind::Order { message } => write!(f, "{message}"),
        }
    }
}

/// An error with its location: `offset` is the absolute byte offset in the
/// file, `batch` the offset of the enclosing batch's header byte (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// Absolute byte offset of the offending item.
    pub offset: u64,
    /// Offset of the header byte of the batch containing it, if any.
    pub batch: Option<u64>,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl ReadError {
    /// Whether this is only a warning: the trace is still consistent (an
    /// unknown event type whose batch was skipped).
    pub fn is_warning(&self) -> bool {
        matches!(self.kind, ErrorKind::UnknownEvent { .. })
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}", self.offset)?;
        if let Some(b) = self.batch {
            write!(f, " (batch at byte {b})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ReadError {}
