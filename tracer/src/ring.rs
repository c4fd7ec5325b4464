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
//!   older ones are added back, newest first, while they fit in
//!   `max_bytes` and the oldest generation kept so far started less than
//!   `min_age` ago. So the window spans at least `min_age` unless that
//!   would exceed `max_bytes`, and holds at most `max_bytes` (or just the
//!   newest generation, if that alone is larger).
//! - The writer makes room before it opens a generation
//!   ([`Ring::make_room`]: what pushing the generation it is closing will
//!   evict, evicted early), so the evicted arena becomes the new
//!   generation's at once instead of waiting beside it as a spare: the
//!   recorder's memory is the window plus the generation being recorded,
//!   at most `max_bytes` plus one generation.

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

    /// How many of `gens` (the newest last) stay when a newer generation
    /// of `mem` bytes started at `started` joins them at `now`: walking
    /// from the newest down, each older one is kept while it fits in
    /// `max_bytes` and the oldest kept so far is younger than `min_age`.
    fn kept(
        &self,
        gens: &VecDeque<Arc<RawGen>>,
        mem: usize,
        started: Instant,
        now: Instant,
    ) -> usize {
        let (mut size, mut oldest_started) = (mem, started);
        let mut keep = 0;
        for g in gens.iter().rev() {
            if size + g.mem > self.max_bytes || now.duration_since(oldest_started) > self.min_age {
                break;
            }
            size += g.mem;
            oldest_started = g.started;
            keep += 1;
        }
        keep
    }

    /// Adds the newest generation and evicts what falls out of the window;
    /// returns the evicted generations, oldest first.
    pub(crate) fn push(&self, g: RawGen, now: Instant) -> Vec<Arc<RawGen>> {
        let mut gens = lock(&self.gens);
        let evict = gens.len() - self.kept(&gens, g.mem, g.started, now);
        let evicted = gens.drain(..evict).collect();
        gens.push_back(Arc::new(g));
        evicted
    }

    /// Evicts now what [`push`](Self::push)ing a generation of about `mem`
    /// bytes, started at `started`, will evict; returns it, oldest first.
    /// The push that follows evicts at most more (its generation is no
    /// smaller and its `now` no earlier), never less.
    pub(crate) fn make_room(&self, mem: usize, started: Instant, now: Instant) -> Vec<Arc<RawGen>> {
        let mut gens = lock(&self.gens);
        let evict = gens.len() - self.kept(&gens, mem, started, now);
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

#[cfg(all(test, not(loom)))]
mod tests {
    //! Uses the private `RawGen` and `Ring` (in-crate for that reason).
    use super::*;
    use crate::arena::Arena;

    const MIB: usize = 1 << 20;

    /// Generation `global` of `mem` bytes, started at `started`.
    fn raw(global: u64, mem: usize, started: Instant) -> RawGen {
        RawGen {
            batches: Vec::new(),
            tail: Vec::new(),
            generation: Arc::new(Generation::new(global, global, 0, Arena::default())),
            started,
            mem,
        }
    }

    fn globals(r: &Ring) -> Vec<u64> {
        r.snapshot().iter().map(|g| g.generation.global()).collect()
    }

    #[test]
    fn the_window_stays_within_max_bytes() {
        let now = Instant::now();
        let r = Ring::new(Duration::from_secs(3600), 16 * MIB);
        for g in 1..=10 {
            r.push(raw(g, 4 * MIB + 1000, now), now);
            assert!(
                r.mem() <= 16 * MIB,
                "generation {g}: window {} > 16 MiB",
                r.mem()
            );
        }
        // Three of 4 MiB + 1000 fit in 16 MiB, not four.
        assert_eq!(globals(&r), vec![8, 9, 10]);
        // A newest generation larger than max_bytes is kept alone.
        r.push(raw(11, 17 * MIB, now), now);
        assert_eq!(globals(&r), vec![11]);
    }

    #[test]
    fn min_age_lets_older_generations_go() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let r = Ring::new(Duration::from_millis(1500), 64 * MIB);
        for g in 0..5u32 {
            r.push(raw(u64::from(g), MIB, t0 + s * g), t0 + s * g);
        }
        // At 4 s: 4 (0 s old) and 3 (1 s) are younger than min_age, so 2
        // (2 s old) is kept to cover the 1.5 s; 1 and 0 are not needed.
        assert_eq!(globals(&r), vec![2, 3, 4]);
    }

    #[test]
    fn make_room_evicts_what_the_push_would() {
        let now = Instant::now();
        let r = Ring::new(Duration::from_secs(3600), 16 * MIB);
        for g in 1..=3 {
            r.push(raw(g, 5 * MIB, now), now);
        }
        // A fourth of 5 MiB pushes out the first: make_room does it early,
        // and the push that follows evicts nothing more.
        let early = r.make_room(5 * MIB, now, now);
        assert_eq!(
            early
                .iter()
                .map(|g| g.generation.global())
                .collect::<Vec<_>>(),
            vec![1]
        );
        assert!(r.push(raw(4, 5 * MIB, now), now).is_empty());
        assert_eq!(globals(&r), vec![2, 3, 4]);
    }
}
