//! Process-wide trace P ids.
//!
//! Go's trace format has one P namespace per process, but every runtime
//! numbers its Ps `0..procs`. Two runtimes alive while tracing would write
//! `ProcStart`/`ProcStatus` for the same P id, which Go's parser rejects
//! ("inconsistent status for proc 0"). So the ids a runtime hands to the
//! tracer come from this pool instead.
//!
//! Invariants:
//! - An id is held by at most one P or `block_on` pseudo-P in the process at
//!   a time: a runtime reserves a contiguous block of `procs` ids when it is
//!   built and returns it when its shared state is dropped (after every M has
//!   released its P, i.e. written `ProcStop`); a pseudo-P takes one id when
//!   its `block_on` starts and returns it after its `ProcStop`.
//! - Ids stay small and dense (the viewer shows one row per P id): a request
//!   takes the lowest free range that fits (first fit, split), and freed
//!   ranges merge with their neighbours.
//! - A reused id starts with a fresh `ProcTraceState`, so its first event in
//!   the generation is a status event consistent with the previous holder's
//!   last one (`ProcStop` → idle).

use std::sync::Mutex;

use crate::loom::lock_std;

/// Free ranges `(start, len)`, sorted by `start`, non-adjacent; everything at
/// or above `next` is free too.
struct Pool {
    free: Vec<(u32, u32)>,
    next: u32,
    /// Ps reserved by live runtimes (pseudo-Ps not counted): the value
    /// reported by `ProcsChange`.
    procs: u32,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    next: 0,
    procs: 0,
});

impl Pool {
    fn take(&mut self, n: u32) -> u32 {
        if let Some(i) = self.free.iter().position(|&(_, len)| len >= n) {
            let (start, len) = self.free[i];
            if len == n {
                self.free.remove(i);
            } else {
                self.free[i] = (start + n, len - n);
            }
            return start;
        }
        let start = self.next;
        self.next = self
            .next
            .checked_add(n)
            .expect("spool: trace P ids exhausted (more than 2^32 Ps reserved)");
        start
    }

    fn give(&mut self, start: u32, n: u32) {
        let i = self.free.partition_point(|&(s, _)| s < start);
        self.free.insert(i, (start, n));
        // Merge with the right neighbour, then the left one.
        if i + 1 < self.free.len() && start + n == self.free[i + 1].0 {
            self.free[i].1 += self.free[i + 1].1;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == start {
            self.free[i - 1].1 += self.free[i].1;
            self.free.remove(i);
        }
        // A free range that ends at `next` folds back into the tail.
        if let Some(&(s, len)) = self.free.last() {
            if s + len == self.next {
                self.next = s;
                self.free.pop();
            }
        }
    }
}

/// Reserves `n` consecutive P ids for a runtime's Ps; returns the first.
pub(crate) fn reserve_procs(n: u32) -> u32 {
    let mut pool = lock_std(&POOL);
    pool.procs += n;
    pool.take(n)
}

/// Returns a runtime's block (all its Ms have stopped their Ps).
pub(crate) fn release_procs(start: u32, n: u32) {
    let mut pool = lock_std(&POOL);
    pool.procs -= n;
    pool.give(start, n);
}

/// Takes one id for a `block_on` pseudo-P.
pub(crate) fn take_pseudo() -> u32 {
    lock_std(&POOL).take(1)
}

/// Returns a pseudo-P's id (after its `ProcStop`).
pub(crate) fn release_pseudo(id: u32) {
    lock_std(&POOL).give(id, 1);
}

/// Ps of all live runtimes (the process's "GOMAXPROCS" for `ProcsChange`).
pub(crate) fn live_procs() -> u32 {
    lock_std(&POOL).procs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            free: Vec::new(),
            next: 0,
            procs: 0,
        }
    }

    #[test]
    fn blocks_are_disjoint_and_reused_densely() {
        let mut p = pool();
        let a = p.take(2);
        let b = p.take(2);
        let c = p.take(1);
        assert_eq!((a, b, c), (0, 2, 4));
        p.give(a, 2);
        // First fit: a pseudo id lands in the freed block, then a block of
        // 2 does not fit in what is left and goes to the tail.
        assert_eq!(p.take(1), 0);
        assert_eq!(p.take(2), 5);
        p.give(0, 1);
        p.give(b, 2);
        // 0..4 merged into one free range.
        assert_eq!(p.free, vec![(0, 4)]);
        p.give(c, 1);
        p.give(5, 2);
        // Everything free: the tail folds back to 0.
        assert!(p.free.is_empty());
        assert_eq!(p.next, 0);
    }
}
