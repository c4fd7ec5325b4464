//! The 16-byte file header `go 1.NN trace\0\0\0` and the format versions
//! spool reads and writes.
//!
//! spool's writer writes [`Version::WRITTEN`] (`go 1.22 trace`); its reader
//! accepts every version listed in [`Version`].

use std::fmt;

/// Length of the file header.
pub const HEADER_LEN: usize = 16;

/// A trace format version (the `NN` of the `go 1.NN trace` header).
///
/// ```
/// use spool_trace_wire::Version;
/// assert_eq!(&Version::Go126.header(), b"go 1.26 trace\0\0\0");
/// assert_eq!(Version::WRITTEN, Version::Go122);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `go 1.22 trace`: events 1-44, sync batch = `Frequency`.
    Go122,
    /// `go 1.23 trace`: adds GoSwitch, GoCreateBlocked, GoStatusStack, experimental batches.
    Go123,
    /// `go 1.25 trace`: sync batch = `Sync`, `Frequency`, `ClockSnapshot`.
    Go125,
    /// `go 1.26 trace`: each generation ends with an `EndOfGeneration` byte.
    Go126,
}

impl Version {
    /// The version spool's tracer writes.
    pub const WRITTEN: Version = Version::Go122;

    /// The minor version number (22, 23, 25 or 26).
    pub const fn minor(self) -> u32 {
        match self {
            Version::Go122 => 22,
            Version::Go123 => 23,
            Version::Go125 => 25,
            Version::Go126 => 26,
        }
    }

    /// The 16-byte file header of this version.
    pub const fn header(self) -> [u8; HEADER_LEN] {
        let mut h = *b"go 1.00 trace\0\0\0";
        let m = self.minor();
        h[5] = b'0' + (m / 10) as u8;
        h[6] = b'0' + (m % 10) as u8;
        h
    }

    /// The version with minor number `m`, if spool knows it.
    pub const fn from_minor(m: u32) -> Option<Version> {
        Some(match m {
            22 => Version::Go122,
            23 => Version::Go123,
            25 => Version::Go125,
            26 => Version::Go126,
            _ => return None,
        })
    }
}

/// Why a file's first bytes are not a header spool reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Not `go 1.NN trace\0\0\0`; `found` is the first bytes, escaped.
    NotATrace {
        /// The first (up to 16) bytes, ASCII-escaped.
        found: String,
    },
    /// A trace header of a version spool does not read.
    UnsupportedVersion {
        /// The header's minor version.
        minor: u32,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::NotATrace { found } => {
                write!(
                    f,
                    "not a Go execution trace: expected header \"go 1.NN trace\", found \"{found}\""
                )
            }
            HeaderError::UnsupportedVersion { minor } => {
                write!(
                    f,
                    "unsupported trace version go 1.{minor} (supported: 1.22, 1.23, 1.25, 1.26)"
                )
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// Parses the 16-byte header at the start of `data`.
///
/// # Errors
/// [`HeaderError::NotATrace`] unless `data` starts with `go 1.NN trace\0\0\0`;
/// [`HeaderError::UnsupportedVersion`] for a version not in [`Version`].
///
/// ```
/// use spool_trace_wire::{parse_header, HeaderError, Version};
/// assert_eq!(parse_header(b"go 1.26 trace\0\0\0"), Ok(Version::Go126));
/// assert_eq!(parse_header(b"go 1.24 trace\0\0\0"), Err(HeaderError::UnsupportedVersion { minor: 24 }));
/// assert!(parse_header(b"PK\x03\x04 not a trace").is_err());
/// ```
pub fn parse_header(data: &[u8]) -> Result<Version, HeaderError> {
    let head = &data[..data.len().min(HEADER_LEN)];
    let not_trace = || HeaderError::NotATrace {
        found: head.escape_ascii().to_string(),
    };
    if head.len() < HEADER_LEN || &head[..5] != b"go 1." || &head[7..16] != b" trace\0\0\0" {
        return Err(not_trace());
    }
    let (a, b) = (head[5], head[6]);
    if !a.is_ascii_digit() || !b.is_ascii_digit() {
        return Err(not_trace());
    }
    let minor = u32::from(a - b'0') * 10 + u32::from(b - b'0');
    Version::from_minor(minor).ok_or(HeaderError::UnsupportedVersion { minor })
}
