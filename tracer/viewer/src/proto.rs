//! A minimal protocol-buffers *writer* (wire format only: varints, tags,
//! length-delimited fields, packed repeated integers), enough for the
//! pprof and Perfetto exports. Messages are built inside out: a nested
//! message is encoded into its own buffer and written as bytes.
//!
//! Invariant: every method appends exactly one well-formed field (except
//! [`Msg::packed`] with no values, which appends nothing).

/// An encoded message under construction.
///
/// ```
/// use spool_trace::proto::Msg;
/// let mut m = Msg::default();
/// m.uint(1, 150);
/// assert_eq!(m.bytes(), &[0x08, 0x96, 0x01]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Msg {
    buf: Vec<u8>,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Msg {
    /// The encoded bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the encoded bytes, leaving the message empty.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Encoded length so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn tag(&mut self, field: u32, wire: u8) {
        varint(&mut self.buf, (u64::from(field) << 3) | u64::from(wire));
    }

    /// A varint field (uint32/uint64/int64 with non-negative values, bool, enum).
    pub fn uint(&mut self, field: u32, v: u64) -> &mut Self {
        self.tag(field, 0);
        varint(&mut self.buf, v);
        self
    }

    /// An int64 field (two's complement varint, as protobuf encodes `int64`).
    pub fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.uint(field, v as u64)
    }

    /// A `fixed64` field (8 little-endian bytes).
    pub fn fixed64(&mut self, field: u32, v: u64) -> &mut Self {
        self.tag(field, 1);
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A length-delimited field (bytes, string, nested message).
    pub fn bytes_field(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.tag(field, 2);
        varint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    /// A string field.
    pub fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes_field(field, s.as_bytes())
    }

    /// A nested message field.
    pub fn msg(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.bytes_field(field, &m.buf)
    }

    /// A packed repeated varint field (skipped when empty).
    pub fn packed(&mut self, field: u32, vals: impl IntoIterator<Item = u64>) -> &mut Self {
        let mut body = Vec::new();
        for v in vals {
            varint(&mut body, v);
        }
        if !body.is_empty() {
            self.bytes_field(field, &body);
        }
        self
    }
}
