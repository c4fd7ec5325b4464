//! Byte-level reading: a bounds-checked cursor over a byte slice that reads
//! single bytes and the wire crate's unsigned LEB128 varints.
//!
//! Invariant: a [`Cursor`] never reads outside its slice; every read either
//! returns a value and advances, or returns a [`WireError`] and leaves the
//! position where the failed item started. Varints follow Go's
//! `binary.ReadUvarint`: at most 10 bytes, the 10th byte must be 0 or 1,
//! zero-padded (non-canonical) encodings are accepted.

use spool_trace_wire::varint;

/// Why a primitive read failed (`Eof`: the slice ended inside the item;
/// `Overflow`: a varint longer than 10 bytes or above `u64::MAX`).
pub(crate) use spool_trace_wire::varint::VarintError as WireError;

/// A forward-only reader over `data`, reporting positions relative to `base`
/// (the absolute file offset of `data[0]`).
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`, whose first byte is at file offset `base`.
    pub(crate) fn new(data: &'a [u8], base: u64) -> Self {
        Cursor { data, pos: 0, base }
    }

    /// Absolute file offset of the next byte to read.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Position within the slice.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads one byte.
    pub(crate) fn byte(&mut self) -> Result<u8, WireError> {
        let b = self.peek().ok_or(WireError::Eof)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads one unsigned LEB128 varint (Go's `binary.ReadUvarint` rules,
    /// `spool_trace_wire::varint::read`).
    pub(crate) fn uvarint(&mut self) -> Result<u64, WireError> {
        let (v, n) = varint::read(&self.data[self.pos..])?;
        self.pos += n;
        Ok(v)
    }

    /// Reads `n` raw bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Eof);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Skips to the end of the slice.
    pub(crate) fn skip_rest(&mut self) {
        self.pos = self.data.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_canonical_padded_and_max() {
        let mut c = Cursor::new(&[0x05, 0x85, 0x80, 0x00, 0xac, 0x02], 100);
        assert_eq!(c.uvarint(), Ok(5));
        assert_eq!(c.uvarint(), Ok(5), "zero-padded varint accepted");
        assert_eq!(c.uvarint(), Ok(300));
        assert!(c.is_empty());
        assert_eq!(c.offset(), 106);
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Cursor::new(&max, 0).uvarint(), Ok(u64::MAX));
    }

    #[test]
    fn varint_errors_leave_position() {
        let mut c = Cursor::new(&[0x80, 0x80], 0);
        assert_eq!(c.uvarint(), Err(WireError::Eof));
        assert_eq!(c.pos(), 0);
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(Cursor::new(&over, 0).uvarint(), Err(WireError::Overflow));
        let long = [0x80u8; 11];
        assert_eq!(Cursor::new(&long, 0).uvarint(), Err(WireError::Overflow));
    }
}
