//! One trace generation's memory and tables: the arena its batches are carved
//! from, and its string and stack tables.
//!
//! Invariants:
//! - String and stack IDs are per generation (Go's format): IDs restart at
//!   every generation and every ID an event of this generation uses is in
//!   this generation's tables. Fixed strings ([`FIXED_STRINGS`]) have the same
//!   ID in every generation, so hooks use them without a lookup.
//! - Frames get a fake PC that is stable for the whole process and unique per
//!   (func, file, line): Go's parser deduplicates frames by PC.
//! - Tables are encoded ([`Generation::encode_tables`]) only after every M has
//!   finished writing this generation's events (the writer thread collects
//!   every M's slot first), so no ID is added after the tables are written.
//! - The arena is reset only with `&mut self`, i.e. once the writer holds the
//!   last `Arc` (every batch, sealed or open, holds one).

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, PoisonError};

use spool_trace_wire::varint::push as push_varint;
use spool_trace_wire::{NONE, ev};

use crate::arena::{Arena, ArenaStr, BATCH_CAP};
/// Strings are cut to at most `MAX_STRING_LEN` bytes on a char boundary, the
/// same rule the annotation API applies before it gets here.
use crate::vocab::clip as truncate;
use crate::vocab::{FIXED_STRINGS, SpawnSite};

/// Identity of a one-frame spawn-site stack: Go frames are (func, file, line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FrameKey {
    func: &'static str,
    file: &'static str,
    line: u32,
}

impl From<SpawnSite> for FrameKey {
    fn from(site: SpawnSite) -> Self {
        FrameKey {
            func: site.type_name,
            file: site.location.file(),
            line: site.location.line(),
        }
    }
}

/// Process-wide fake PCs, one per distinct frame, stable across generations
/// and traces so tools that group by PC see the same site everywhere.
static FRAME_PCS: Mutex<Option<HashMap<FrameKey, u64>>> = Mutex::new(None);

/// Fake PCs start here (a nonzero, page-aligned base; Go's validator rejects PC 0).
const PC_BASE: u64 = 0x1000;

fn frame_pc(key: FrameKey) -> u64 {
    let mut map = FRAME_PCS.lock().unwrap_or_else(PoisonError::into_inner);
    let map = map.get_or_insert_with(HashMap::new);
    let next = PC_BASE + map.len() as u64;
    *map.entry(key).or_insert(next)
}

/// One stack-table entry (always one frame).
#[derive(Debug)]
struct StackEntry {
    id: u64,
    pc: u64,
    func: u64,
    file: u64,
    line: u64,
}

#[derive(Debug, Default)]
struct Tables {
    /// Interned strings; their bytes live in the generation's arena.
    strings: HashMap<ArenaStr, u64>,
    /// Strings in ID order after the fixed ones (ID = FIXED_STRINGS.len() + 1 + index).
    string_list: Vec<ArenaStr>,
    stacks: HashMap<FrameKey, u64>,
    stack_list: Vec<StackEntry>,
}

impl Tables {
    fn intern(&mut self, arena: &Arena, s: &str) -> u64 {
        self.intern_stored(arena, s).0
    }

    /// [`intern`](Self::intern), also returning the stored bytes (a
    /// `'static` fixed string or the arena copy; `None` for ID 0), which
    /// stay valid as long as the generation.
    fn intern_stored(&mut self, arena: &Arena, s: &str) -> (u64, Option<NonNull<u8>>) {
        let s = truncate(s);
        if s.is_empty() {
            return (0, None);
        }
        if let Some(i) = FIXED_STRINGS.iter().position(|f| *f == s) {
            let fixed = NonNull::from(FIXED_STRINGS[i].as_bytes()).cast();
            return (i as u64 + 1, Some(fixed));
        }
        if let Some((stored, &id)) = self.strings.get_key_value(s) {
            return (id, Some(NonNull::from(stored.as_str().as_bytes()).cast()));
        }
        let Some(stored) = arena.alloc_str(s) else {
            return (0, None); // Out of memory: the event shows an empty string.
        };
        let id = (FIXED_STRINGS.len() + 1 + self.string_list.len()) as u64;
        self.strings.insert(stored, id);
        self.string_list.push(stored);
        (id, Some(NonNull::from(stored.as_str().as_bytes()).cast()))
    }
}

/// A trace generation: its number, batch memory and tables.
#[derive(Debug)]
pub(crate) struct Generation {
    /// Process-wide generation number (never reused, also across traces).
    global: u64,
    /// Generation number written in the file (1 for a trace's first).
    file_gen: u64,
    /// Clock reading subtracted from every absolute time written (batch
    /// headers), the same for all generations of a trace: absolute values
    /// stay small, so a slightly different `Frequency` per generation moves
    /// converted times by at most the frequency measurement's error.
    tick_base: u64,
    /// Declared before `arena` so it is dropped first (it points into it).
    tables: Mutex<Tables>,
    arena: Arena,
}

impl Generation {
    /// A generation numbered `global` (process-wide) and `file_gen` (in the file).
    pub(crate) fn new(global: u64, file_gen: u64, tick_base: u64, arena: Arena) -> Self {
        Generation {
            global,
            file_gen,
            tick_base,
            tables: Mutex::new(Tables::default()),
            arena,
        }
    }

    /// Process-wide generation number.
    #[inline(always)]
    pub(crate) fn global(&self) -> u64 {
        self.global
    }

    /// The trace's clock base (see the field).
    #[inline(always)]
    pub(crate) fn tick_base(&self) -> u64 {
        self.tick_base
    }

    /// An absolute clock reading as written in the file (never 0).
    #[inline(always)]
    pub(crate) fn file_time(&self, ts: u64) -> u64 {
        ts.saturating_sub(self.tick_base).max(1)
    }

    /// The number written in this generation's batch headers.
    #[inline(always)]
    pub(crate) fn file_gen(&self) -> u64 {
        self.file_gen
    }

    /// A fresh `BATCH_CAP`-byte buffer, or `None` if memory is exhausted.
    pub(crate) fn alloc_batch(&self) -> Option<NonNull<u8>> {
        self.arena.alloc_batch()
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves the tables consistent (each
        // insert is one map insert plus one push), so poisoning is ignored.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ID of `s` in this generation (0 for the empty string).
    #[cfg(test)]
    pub(crate) fn intern(&self, s: &str) -> u64 {
        self.tables().intern(&self.arena, s)
    }

    /// [`intern`](Self::intern), also returning a pointer to bytes equal
    /// to `s` (its first `s.len()` bytes, when `s` was not clipped) that
    /// stay valid while this generation lives; `None` for ID 0.
    pub(crate) fn intern_stored(&self, s: &str) -> (u64, Option<NonNull<u8>>) {
        self.tables().intern_stored(&self.arena, s)
    }

    /// The ID of the one-frame stack for `site` in this generation.
    pub(crate) fn site_stack(&self, site: SpawnSite) -> u64 {
        let key = FrameKey::from(site);
        let mut t = self.tables();
        if let Some(&id) = t.stacks.get(&key) {
            return id;
        }
        let pc = frame_pc(key);
        let func = t.intern(&self.arena, key.func);
        let file = t.intern(&self.arena, key.file);
        let id = t.stack_list.len() as u64 + 1;
        t.stacks.insert(key, id);
        t.stack_list.push(StackEntry {
            id,
            pc,
            func,
            file,
            line: u64::from(key.line),
        });
        id
    }

    /// Appends this generation's string and stack table batches (M = -1)
    /// to `out`, each batch at most `BATCH_CAP` bytes.
    pub(crate) fn encode_tables(&self, ts: u64, out: &mut Vec<u8>) {
        let t = self.tables();
        let fixed = FIXED_STRINGS.iter().copied();
        let dynamic = t.string_list.iter().map(ArenaStr::as_str);
        let strings = fixed.chain(dynamic).enumerate().map(|(i, s)| {
            let mut e = Vec::with_capacity(s.len() + 8);
            e.push(ev::STRING);
            push_varint(&mut e, i as u64 + 1);
            push_varint(&mut e, s.len() as u64);
            e.extend_from_slice(s.as_bytes());
            e
        });
        self.table_batches(ev::STRINGS, strings, ts, out);
        let stacks = t.stack_list.iter().map(|s| {
            let mut e = Vec::with_capacity(24);
            e.push(ev::STACK);
            for v in [s.id, 1, s.pc, s.func, s.file, s.line] {
                push_varint(&mut e, v);
            }
            e
        });
        self.table_batches(ev::STACKS, stacks, ts, out);
    }

    /// Writes `entries` as one or more batches starting with `kind`.
    fn table_batches(
        &self,
        kind: u8,
        entries: impl Iterator<Item = Vec<u8>>,
        ts: u64,
        out: &mut Vec<u8>,
    ) {
        // Leave room for the header (≤ 1 + 3 × 10 + SIZE_SLOT bytes).
        const MAX_PAYLOAD: usize = BATCH_CAP - 64;
        let mut payload = vec![kind];
        for e in entries {
            if payload.len() + e.len() > MAX_PAYLOAD {
                self.push_batch(&payload, ts, out);
                payload.clear();
                payload.push(kind);
            }
            payload.extend_from_slice(&e);
        }
        if payload.len() > 1 {
            self.push_batch(&payload, ts, out);
        }
    }

    /// Frames `payload` as a batch of M = -1.
    pub(crate) fn push_batch(&self, payload: &[u8], ts: u64, out: &mut Vec<u8>) {
        out.push(ev::EVENT_BATCH);
        push_varint(out, self.file_gen);
        push_varint(out, NONE);
        push_varint(out, self.file_time(ts));
        push_varint(out, payload.len() as u64);
        out.extend_from_slice(payload);
    }

    /// Bytes of memory the generation's arena has mapped (its blocks,
    /// spare ones included).
    pub(crate) fn mem_bytes(&self) -> usize {
        self.arena.mapped_bytes()
    }

    /// Takes the arena back for reuse: the tables, which point into it, are
    /// dropped first, then it is reset.
    pub(crate) fn into_arena(self) -> Arena {
        let Generation { arena, tables, .. } = self;
        drop(tables);
        let mut arena = arena;
        arena.reset();
        arena
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{BlockReason, StopReason};
    use std::panic::Location;

    #[test]
    fn strings_are_deduplicated_and_fixed_ids_stable() {
        let g = Generation::new(1, 1, 0, Arena::new());
        assert_eq!(g.intern("yield"), StopReason::Yield.str_id());
        assert_eq!(g.intern("pending"), BlockReason::Pending.str_id());
        assert_eq!(g.intern("forever"), BlockReason::Forever.str_id());
        let a = g.intern("hello");
        assert_eq!(a, FIXED_STRINGS.len() as u64 + 1);
        assert_eq!(g.intern("hello"), a);
        assert_ne!(g.intern("world"), a);
        assert_eq!(g.intern(""), 0);
    }

    #[test]
    fn long_strings_are_truncated_on_char_boundary() {
        let s = "é".repeat(1000); // 2000 bytes
        let t = truncate(&s);
        assert!(t.len() <= crate::vocab::MAX_STRING_LEN);
        assert_eq!(t.len(), 1024);
        let s = format!("a{}", "é".repeat(1000));
        assert_eq!(truncate(&s).len(), 1023);
    }

    #[test]
    fn sites_share_stack_and_pc_by_frame_identity() {
        let g = Generation::new(1, 1, 0, Arena::new());
        let loc = Location::caller();
        let a = SpawnSite {
            location: loc,
            type_name: "a::Fut",
        };
        let b = SpawnSite {
            location: loc,
            type_name: "b::Fut",
        };
        let sa = g.site_stack(a);
        assert_eq!(g.site_stack(a), sa);
        assert_ne!(g.site_stack(b), sa);
        assert_ne!(frame_pc(a.into()), frame_pc(b.into()));
        assert_eq!(frame_pc(a.into()), frame_pc(a.into()));
    }
}
