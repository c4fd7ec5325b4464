//! The flight recorder's window: the most recent complete generations, kept
//! in memory as the writer thread finished them (Go's `FlightRecorder`
//! ring, `runtime/trace/recorder.go`).
//!
//! Invariants:
//! - A [`RawGen`] is a complete generation: every batch of it the writer
//!   accepted, in the writer's order (one M's batches in emission order),
//!   then its string and stack tables and its sync batch. Concatenated in
//!   generation order after the file header, consecutive `RawGen`s form a
//!   trace except for the statuses a window that starts late lacks, which
//!   `flight/repair.rs` adds when a dump is written.
//! - The batches point into the generation's arena and each holds an `Arc`
//!   to the generation, so a `RawGen` keeps its memory alive by ownership.
//!   An evicted `RawGen` goes back to the writer ([`Ring::push`] returns
//!   it), which recycles its arena for a later generation: in steady state
//!   the window moves without mapping or unmapping memory.
//! - Only the writer thread pushes; any thread may take a [`Ring::snapshot`]
//!   (a list of `Arc`s, so a dump never holds the lock while it writes).
//! - Eviction follows Go's rule: the newest generation is always kept;
//!   older ones are added back, newest first, while the window holds at
//!   most `max_bytes` and its oldest generation started less than
//!   `min_age` ago. So the window spans at least `min_age` unless that
//!   would exceed `max_bytes`, and holds at most `max_bytes` plus one
//!   generation.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::buf::Sealed;
use crate::generation::Generation;
use crate::vocab::lock;

/// One complete generation held by the window.
#[derive(Debug)]
pub(crate) struct RawGen {
    /// Declared before `generation`: the batches point into its arena.
    pub(crate) batches: Vec<Sealed>,
    /// The string and stack tables and the sync batch, encoded.
    pub(crate) tail: Vec<u8>,
    pub(crate) generation: Arc<Generation>,
    /// When the writer opened the generation.
    pub(crate) started: Instant,
    /// Memory held: the arena's mapped bytes plus the tail.
    pub(crate) mem: usize,
}

/// The window of one flight recorder.
#[derive(Debug)]
pub(crate) struct Ring {
    min_age: Duration,
    max_bytes: usize,
    gens: Mutex<VecDeque<Arc<RawGen>>>,
}

impl Ring {
    pub(crate) fn new(min_age: Duration, max_bytes: usize) -> Ring {
        Ring {
            min_age,
            max_bytes,
            gens: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds the newest generation and evicts what falls out of the window;
    /// returns the evicted generations, oldest first.
    pub(crate) fn push(&self, g: RawGen, now: Instant) -> Vec<Arc<RawGen>> {
        let mut gens = lock(&self.gens);
        gens.push_back(Arc::new(g));
        // Walk from the newest down, keeping while Go's rule allows.
        let mut keep = 1;
        let mut size = gens[gens.len() - 1].mem;
        for i in (0..gens.len() - 1).rev() {
            let oldest_kept = &gens[i + 1];
            if size > self.max_bytes || now.duration_since(oldest_kept.started) > self.min_age {
                break;
            }
            size += gens[i].mem;
            keep += 1;
        }
        let evict = gens.len() - keep;
        gens.drain(..evict).collect()
    }

    /// The generations in the window, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Arc<RawGen>> {
        lock(&self.gens).iter().cloned().collect()
    }

    /// Memory the window holds now.
    pub(crate) fn mem(&self) -> usize {
        lock(&self.gens).iter().map(|g| g.mem).sum()
    }
}
