//! Per-task stacks of open user regions: the bookkeeping that keeps every
//! region end spool writes acceptable to Go's parser.
//!
//! Go's parser keeps, per goroutine, a LIFO stack of the `(task, name)` of the
//! regions it saw begin, and rejects the whole trace ("misuse of region") when
//! a region end does not match the innermost open region of that goroutine
//! (an end with an empty stack is tolerated: the region began before tracing
//! did). Rust code can end regions out of order — guards dropped out of
//! order, a guard moved into another task, `join!` of two region futures, a
//! `tracing` span guard held across `.await` — so this module mirrors the
//! parser's stack per G (spool task) and the callers write an end only when it
//! is the top of the running G's stack.
//!
//! Invariants:
//! - `stacks[g]` holds one [`Entry`] per region begin pushed while G was
//!   running, in begin order, minus the ends that were matched. Empty stacks
//!   are removed, so the map only holds Gs with open regions.
//! - Only the thread polling G pushes to or pops from G's stack (begins and
//!   ends run inside G's poll), so a shard lock is uncontended in practice; the
//!   lock exists because Gs migrate between threads and shards are shared.
//! - Why writing only top-of-stack ends is always valid: the parser's stack for
//!   G holds the begins written in the current trace, and every begin written
//!   later sits above every begin written earlier, so the parser's stack is a
//!   top segment of ours. If our top is an entry written in this trace, it is
//!   the parser's top too; otherwise the parser's stack is empty, which it
//!   tolerates.
//! - Hooks are never called with a shard lock held, and nothing here allocates
//!   from inside the global allocator (alloc.rs never calls in here).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// One open region on a G's stack. Two entries are the same region iff all
/// fields are equal. `key` is unique per begin for the `annotate` API (a
/// counter with [`API_KEY_BIT`] set) and the span id for the `tracing` layer;
/// the name is identified by address and length (never dereferenced), so an
/// entry matches only an end that names the very same `(task, name)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: u64,
    pub(crate) task: u64,
    pub(crate) name_addr: usize,
    pub(crate) name_len: usize,
}

impl Entry {
    /// The entry for a region of `task` named `name`, identified by `key`.
    pub(crate) fn new(key: u64, task: u64, name: &str) -> Self {
        Self {
            key,
            task,
            name_addr: name.as_ptr() as usize,
            name_len: name.len(),
        }
    }
}

/// Set in the keys the `annotate` API hands out, so they never equal a
/// `tracing` span id (span ids are small slab indexes plus one).
pub(crate) const API_KEY_BIT: u64 = 1 << 63;

/// What [`end`] found for the region being ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum EndOutcome {
    /// The region was the innermost open one of G: it was popped; write the end.
    Matched,
    /// The region is open on G but not innermost: writing its end would be
    /// "misuse of region". Nothing was changed; drop the end.
    OutOfOrder,
    /// G has no such open region (its begin was never written, e.g. tracing
    /// was off or the begin ran outside any task). Drop the end silently.
    NotOpen,
}

/// Number of shards; a power of two so the shard is `g & (SHARDS - 1)`.
/// 16 keeps two Gs that run at the same time on different threads
/// (ids are sequential) on different locks most of the time.
const SHARDS: usize = 16;

/// Gs are identified by sequential u64 ids: a multiplicative hash spreads them.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a; only reached if a non-u64 key is ever hashed.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Stacks = HashMap<u64, Vec<Entry>, BuildHasherDefault<IdHasher>>;

static STACKS: LazyLock<[Mutex<Stacks>; SHARDS]> =
    LazyLock::new(|| std::array::from_fn(|_| Mutex::new(Stacks::default())));

/// Total entries over all stacks (a statistic for tests and leak checks).
/// Relaxed: nothing is published through it.
static OPEN: AtomicUsize = AtomicUsize::new(0);

fn shard(g: u64) -> MutexGuard<'static, Stacks> {
    // A panic never happens while the lock is held (no user code, no hooks),
    // but if one did the map is still consistent: take it back.
    STACKS[(g as usize) & (SHARDS - 1)]
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// True if any G has an open region (one relaxed load).
#[cfg(test)]
pub(crate) fn any_open() -> bool {
    OPEN.load(Ordering::Relaxed) != 0
}

/// Records that region `e` began on G `g` (the caller then writes the begin).
pub(crate) fn begin(g: u64, e: Entry) {
    shard(g).entry(g).or_default().push(e);
    OPEN.fetch_add(1, Ordering::Relaxed);
}

/// Ends region `e` on G `g` if it is G's innermost open region.
pub(crate) fn end(g: u64, e: &Entry) -> EndOutcome {
    let mut stacks = shard(g);
    let Some(stack) = stacks.get_mut(&g) else {
        return EndOutcome::NotOpen;
    };
    if stack.last() == Some(e) {
        stack.pop();
        if stack.is_empty() {
            stacks.remove(&g);
        }
        OPEN.fetch_sub(1, Ordering::Relaxed);
        EndOutcome::Matched
    } else if stack.contains(e) {
        EndOutcome::OutOfOrder
    } else {
        EndOutcome::NotOpen
    }
}

/// Removes the innermost occurrence of `e` from G `g`'s stack wherever it is.
/// Only for use while tracing is off: no trace is being written, so no parser
/// stack has to be kept in step, and the next trace starts from a clean slate
/// for this region. Returns whether it was found.
pub(crate) fn forget(g: u64, e: &Entry) -> bool {
    let mut stacks = shard(g);
    let Some(stack) = stacks.get_mut(&g) else {
        return false;
    };
    let Some(at) = stack.iter().rposition(|x| x == e) else {
        return false;
    };
    stack.remove(at);
    if stack.is_empty() {
        stacks.remove(&g);
    }
    OPEN.fetch_sub(1, Ordering::Relaxed);
    true
}

/// Number of open regions on G `g`.
#[cfg(test)]
pub(crate) fn depth(g: u64) -> usize {
    shard(g).get(&g).map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    // These tests use G ids far above anything the executor hands out, one
    // range per test, so they can run in parallel with each other and with
    // the rest of the crate's tests.

    #[test]
    fn lifo_ends_match_and_empty_stacks_are_removed() {
        let g = 1 << 40;
        let a = Entry::new(API_KEY_BIT | 1, 7, "a");
        let b = Entry::new(API_KEY_BIT | 2, 7, "b");
        begin(g, a);
        begin(g, b);
        assert_eq!(depth(g), 2);
        assert_eq!(end(g, &b), EndOutcome::Matched);
        assert_eq!(end(g, &a), EndOutcome::Matched);
        assert_eq!(depth(g), 0);
        assert!(!shard(g).contains_key(&g));
    }

    #[test]
    fn out_of_order_end_is_refused_and_changes_nothing() {
        let g = (1 << 40) + 1;
        let a = Entry::new(API_KEY_BIT | 3, 0, "a");
        let b = Entry::new(API_KEY_BIT | 4, 0, "b");
        begin(g, a);
        begin(g, b);
        assert_eq!(end(g, &a), EndOutcome::OutOfOrder);
        assert_eq!(depth(g), 2);
        assert_eq!(end(g, &b), EndOutcome::Matched);
        assert_eq!(end(g, &a), EndOutcome::Matched);
    }

    #[test]
    fn unknown_end_is_not_open() {
        let g = (1 << 40) + 2;
        let a = Entry::new(API_KEY_BIT | 5, 0, "a");
        assert_eq!(end(g, &a), EndOutcome::NotOpen);
        begin(g, a);
        // Same key, different task: a different region.
        assert_eq!(end(g, &Entry { task: 1, ..a }), EndOutcome::NotOpen);
        assert_eq!(end(g, &a), EndOutcome::Matched);
    }

    #[test]
    fn forget_removes_from_the_middle() {
        let g = (1 << 40) + 3;
        let a = Entry::new(API_KEY_BIT | 6, 0, "a");
        let b = Entry::new(API_KEY_BIT | 7, 0, "b");
        begin(g, a);
        begin(g, b);
        assert!(forget(g, &a));
        assert!(!forget(g, &a));
        assert_eq!(depth(g), 1);
        assert_eq!(end(g, &b), EndOutcome::Matched);
        assert_eq!(depth(g), 0);
    }
}
