//! Unsigned LEB128 varints, the format's only integer encoding.
//!
//! Decoding follows Go's `binary.ReadUvarint`: at most [`MAX_LEN`] bytes,
//! the 10th byte must be 0 or 1, and zero-padded (non-canonical) encodings
//! are accepted, which is what lets a writer reserve a fixed-width slot and
//! fill it in later ([`put_padded`]).

/// Longest encoding of a `u64`.
pub const MAX_LEN: usize = 10;

/// Why a varint could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended inside the varint.
    Eof,
    /// Longer than [`MAX_LEN`] bytes, or the value exceeds `u64::MAX`.
    Overflow,
}

/// Writes `v` at `buf[pos..]`; returns the position after it.
///
/// # Panics
/// If `buf` is too short (the caller reserves [`MAX_LEN`] bytes).
///
/// ```
/// let mut buf = [0u8; 10];
/// assert_eq!(spool_trace_wire::varint::put(&mut buf, 0, 300), 2);
/// assert_eq!(buf[..2], [0xac, 0x02]);
/// ```
#[inline]
pub fn put(buf: &mut [u8], mut pos: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        buf[pos] = (v as u8) | 0x80;
        v >>= 7;
        pos += 1;
    }
    buf[pos] = v as u8;
    pos + 1
}

/// Appends `v` to `out`.
///
/// ```
/// let mut out = Vec::new();
/// spool_trace_wire::varint::push(&mut out, 5);
/// assert_eq!(out, [5]);
/// ```
#[inline]
pub fn push(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes `v` padded to exactly `width` bytes at `buf[pos..]` (legal LEB128:
/// continuation bits on every byte but the last).
///
/// # Panics
/// In debug builds, if `v` does not fit `width * 7` bits.
///
/// ```
/// let mut buf = [0u8; 3];
/// spool_trace_wire::varint::put_padded(&mut buf, 0, 5, 3);
/// assert_eq!(buf, [0x85, 0x80, 0x00]);
/// assert_eq!(spool_trace_wire::varint::read(&buf), Ok((5, 3)));
/// ```
pub fn put_padded(buf: &mut [u8], pos: usize, mut v: u64, width: usize) {
    for i in 0..width {
        let last = i + 1 == width;
        buf[pos + i] = (v as u8 & 0x7f) | if last { 0 } else { 0x80 };
        v >>= 7;
    }
    debug_assert_eq!(v, 0, "value does not fit a {width}-byte varint");
}

/// Decodes one varint at the start of `data`: the value and its length.
///
/// # Errors
/// [`VarintError::Eof`] if `data` ends inside it, [`VarintError::Overflow`]
/// if it is longer than 10 bytes or too large for a `u64`.
///
/// ```
/// use spool_trace_wire::varint::{read, VarintError};
/// assert_eq!(read(&[0xac, 0x02, 0xff]), Ok((300, 2)));
/// assert_eq!(read(&[0x80]), Err(VarintError::Eof));
/// ```
pub fn read(data: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut x: u64 = 0;
    let mut shift = 0u32;
    for i in 0..MAX_LEN {
        let Some(&b) = data.get(i) else {
            return Err(VarintError::Eof);
        };
        if b < 0x80 {
            if i == MAX_LEN - 1 && b > 1 {
                return Err(VarintError::Overflow);
            }
            return Ok((x | (u64::from(b) << shift), i + 1));
        }
        x |= u64::from(b & 0x7f) << shift;
        shift += 7;
    }
    Err(VarintError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_including_none() {
        let mut buf = [0u8; 16];
        for v in [0, 1, 127, 128, 300, 65_536, u64::from(u32::MAX), u64::MAX] {
            let end = put(&mut buf, 0, v);
            assert_eq!(read(&buf), Ok((v, end)));
            let mut out = Vec::new();
            push(&mut out, v);
            assert_eq!(out, buf[..end]);
        }
        assert_eq!(put(&mut buf, 0, u64::MAX), 10, "-1 takes 10 bytes");
    }

    #[test]
    fn padded_canonical_and_max() {
        assert_eq!(
            read(&[0x85, 0x80, 0x00]),
            Ok((5, 3)),
            "zero-padded accepted"
        );
        let mut buf = [0u8; 3];
        put_padded(&mut buf, 0, 65_536, 3);
        assert_eq!(read(&buf), Ok((65_536, 3)));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read(&max), Ok((u64::MAX, 10)));
    }

    #[test]
    fn errors() {
        assert_eq!(read(&[0x80, 0x80]), Err(VarintError::Eof));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(read(&over), Err(VarintError::Overflow));
        assert_eq!(read(&[0x80u8; 11]), Err(VarintError::Overflow));
    }
}
