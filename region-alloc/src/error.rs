//! Why an allocation was refused.
//!
//! Every failure of the allocator is one of these values; nothing in the
//! crate panics or aborts on bad input or on a failed mapping.

use core::fmt;

/// Why [`RegionAlloc`](crate::RegionAlloc) could not serve a request.
///
/// # Examples
///
/// ```
/// use region_alloc::{AllocError, RegionAlloc, MAX_ALLOC};
///
/// let region = RegionAlloc::new();
/// let err = region.alloc_bytes(MAX_ALLOC + 1).unwrap_err();
/// assert_eq!(err, AllocError::TooLarge { requested: MAX_ALLOC + 1, max: MAX_ALLOC });
/// assert!(err.to_string().contains("65473"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AllocError {
    /// The request is larger than one block's data area, so no block could
    /// ever hold it.
    TooLarge {
        /// The size asked for, in bytes.
        requested: usize,
        /// The largest size the region serves: [`MAX_ALLOC`](crate::MAX_ALLOC).
        max: usize,
    },
    /// The request's alignment is larger than the region honours.
    AlignTooLarge {
        /// The alignment asked for, in bytes.
        requested: usize,
        /// The largest alignment the region honours:
        /// [`MAX_ALIGN`](crate::MAX_ALIGN).
        max: usize,
    },
    /// The operating system refused to map a new block (out of memory or
    /// address space, or a resource limit such as `RLIMIT_AS` was hit).
    /// Blocks mapped before stay valid and the region stays usable.
    OutOfMemory,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::TooLarge { requested, max } => write!(
                f,
                "region-alloc: request of {requested} bytes exceeds the largest \
                 allocation of {max} bytes (one block's data area)"
            ),
            AllocError::AlignTooLarge { requested, max } => write!(
                f,
                "region-alloc: alignment of {requested} bytes exceeds the largest \
                 supported alignment of {max} bytes"
            ),
            AllocError::OutOfMemory => write!(
                f,
                "region-alloc: the operating system refused to map a new block \
                 (out of memory)"
            ),
        }
    }
}

impl std::error::Error for AllocError {}
