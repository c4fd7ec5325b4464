//! One P's timers: a min-heap of deadlines with lazily cancelled entries.
//!
//! Each P owns a heap (Go's per-P timer heap, `runtime/time.go`); a `Sleep`
//! registers in the heap of the P it runs on (threads outside the runtime
//! spread over the Ps). The M owning the P fires expired entries between
//! polls and sleeps until its next deadline when idle; searching Ms also fire
//! other Ps' expired timers, so a P stuck in a long poll does not delay them.
//!
//! Invariants:
//! - `next` is the earliest deadline in the heap (ns since the runtime's
//!   epoch, `u64::MAX` when empty); written only with the heap lock held, so
//!   a relaxed read is a cheap "anything due?" check that is at worst stale.
//!   A stale read is harmless because of who reads it: the owning M re-reads
//!   it after every wake, and `insert` of a new earliest deadline from
//!   another thread unparks the owner (`Shared::add_timer`); the loom model
//!   `timer_next_*` (`tests/loom.rs`) checks both races on this code.
//! - An entry's waker is taken exactly once, by whoever fires or cancels it
//!   first (under the entry's mutex); a cancelled entry stays in the heap,
//!   waker-less, until its deadline pops it.
//! - Entries pop in `(deadline, registration order)`, so timers fire in
//!   deadline order, and never before their deadline.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::task::Waker;

use crate::loom::atomic::{AtomicU64, Ordering};
use crate::loom::{Mutex, lock, lock_std};
use crate::panics::{Panics, Site};

/// Shared by a `Sleep` and the heap.
pub struct Entry {
    pub(crate) waker: std::sync::Mutex<Option<Waker>>,
}

impl Entry {
    /// An entry registered with `waker`.
    pub fn new(waker: Waker) -> Entry {
        Entry {
            waker: std::sync::Mutex::new(Some(waker)),
        }
    }
}

struct Key {
    when: u64,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Key {
    fn eq(&self, o: &Self) -> bool {
        (self.when, self.seq) == (o.when, o.seq)
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.when, o.seq).cmp(&(self.when, self.seq))
    }
}

#[derive(Default)]
struct Inner {
    heap: BinaryHeap<Key>,
    seq: u64,
}

/// The timers of one P.
pub struct TimerHeap {
    inner: Mutex<Inner>,
    next: AtomicU64,
}

impl TimerHeap {
    /// An empty heap (`next` is `u64::MAX`).
    pub fn new() -> TimerHeap {
        TimerHeap {
            inner: Mutex::new(Inner::default()),
            next: AtomicU64::new(u64::MAX),
        }
    }

    /// Earliest deadline (ns since epoch), `u64::MAX` if none. Relaxed: see module doc.
    #[inline]
    pub fn next(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    /// Adds an entry; true when it became the earliest (the owning M may
    /// need a wake to shorten its sleep).
    pub fn insert(&self, when: u64, entry: Arc<Entry>) -> bool {
        let mut g = lock(&self.inner);
        g.seq += 1;
        let seq = g.seq;
        g.heap.push(Key { when, seq, entry });
        let earliest = when < self.next.load(Ordering::Relaxed);
        if earliest {
            self.next.store(when, Ordering::Relaxed);
        }
        earliest
    }

    /// Pops every entry due at `now` and wakes them in deadline order.
    /// Returns how many wakers it woke. With `try_only`, gives up if the
    /// lock is busy (another M is firing these timers). A waker that panics
    /// is caught and reported (`panics.rs`); the rest of the batch is still
    /// woken.
    pub fn fire(&self, now: u64, try_only: bool, panics: &Panics) -> usize {
        if self.next() > now {
            return 0;
        }
        let mut due = Vec::new();
        {
            let mut g = if try_only {
                match self.inner.try_lock() {
                    Ok(g) => g,
                    Err(_) => return 0,
                }
            } else {
                lock(&self.inner)
            };
            while g.heap.peek().is_some_and(|k| k.when <= now) {
                let k = g.heap.pop().expect("peeked");
                if let Some(w) = lock_std(&k.entry.waker).take() {
                    due.push(w);
                }
            }
            let next = g.heap.peek().map_or(u64::MAX, |k| k.when);
            self.next.store(next, Ordering::Relaxed);
        }
        let n = due.len();
        for w in due {
            // Outside the heap lock: a waker may register a new timer here.
            panics.guard(Site::TimerWake, || w.wake());
        }
        n
    }

    /// Drops every entry (shutdown), releasing the wakers they hold, each
    /// drop guarded (a waker's destructor is user code too).
    pub fn clear(&self, panics: &Panics) {
        let heap = std::mem::take(&mut lock(&self.inner).heap);
        self.next.store(u64::MAX, Ordering::Relaxed);
        for k in heap {
            let w = lock_std(&k.entry.waker).take();
            if let Some(w) = w {
                panics.guard(Site::WakerDrop, || drop(w));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Uses private items: `TimerHeap` and the runtime's `Panics`.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::{Wake, Waker};

    use super::{Entry, TimerHeap};
    use crate::panics::Panics;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    struct Bad;
    impl Wake for Bad {
        fn wake(self: Arc<Self>) {
            panic!("spool test: a timer waker panics");
        }
    }

    fn entry(w: Waker) -> Arc<Entry> {
        Arc::new(Entry::new(w))
    }

    #[test]
    fn a_panicking_waker_does_not_stop_the_rest_of_its_batch() {
        let heap = TimerHeap::new();
        let panics = Panics::new();
        let ok = Arc::new(Count(AtomicUsize::new(0)));
        // One deadline, so one batch, in registration order: bad ones first,
        // then interleaved, then last.
        for i in 0..12 {
            let w = if i % 3 == 0 {
                Waker::from(Arc::new(Bad))
            } else {
                Waker::from(ok.clone())
            };
            heap.insert(100, entry(w));
        }
        assert_eq!(heap.fire(100, false, &panics), 12);
        assert_eq!(
            ok.0.load(SeqCst),
            8,
            "a waker after a panicking one was lost"
        );
        assert_eq!(panics.waker_panics(), 4);
        assert_eq!(heap.next(), u64::MAX);
    }
}
