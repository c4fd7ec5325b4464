//! A P's timer heap (`time/heap.rs`, `TimerHeap`): the relaxed `next`
//! field against inserts and fires on other threads.

use std::sync::Arc as StdArc;
use std::task::{Wake, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::{Entry, Panics, TimerHeap};

/// A waker counting its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A std `Arc`: `Waker::from` needs one (loom does not track it).
fn counter() -> StdArc<Count> {
    StdArc::new(Count(AtomicUsize::new(0)))
}

fn entry(c: &StdArc<Count>) -> StdArc<Entry> {
    StdArc::new(Entry::new(Waker::from(c.clone())))
}

/// Interleaving: a thread off the P inserts a new earliest deadline (5,
/// before the heap's 10) while the P's M fires at time 7, possibly reading
/// a stale `next` (10: "nothing due") on its relaxed fast path. Either the
/// M fires the new timer, or the insert reported it as the new earliest
/// (so `Shared::add_timer` unparks the M) and `next` already says 5 for
/// the M's next look; the timer fires exactly once in the end, and `next`
/// is the earliest remaining deadline.
#[test]
fn timer_next_insert_racing_a_fire() {
    loom::model(|| {
        let heap = Arc::new(TimerHeap::new());
        let (early, late) = (counter(), counter());
        heap.insert(10, entry(&late));
        let kicked = Arc::new(AtomicBool::new(false));
        let inserter = {
            let (heap, early, kicked) = (heap.clone(), early.clone(), kicked.clone());
            thread::spawn(move || {
                if heap.insert(5, entry(&early)) {
                    kicked.store(true, SeqCst); // add_timer's unpark of the owner
                }
            })
        };
        let panics = Panics::new();
        let fired = heap.fire(7, false, &panics);
        inserter.join().unwrap();
        assert!(
            fired == 1 || (kicked.load(SeqCst) && heap.next() == 5),
            "the new timer was neither fired nor announced (fired {fired}, next {})",
            heap.next()
        );
        // The owner's next look (after its unpark) fires what is left.
        heap.fire(7, false, &panics);
        assert_eq!(
            early.0.load(SeqCst),
            1,
            "the due timer fired {} times",
            early.0.load(SeqCst)
        );
        assert_eq!(late.0.load(SeqCst), 0, "a timer fired early");
        assert_eq!(heap.next(), 10);
        assert_eq!(panics.waker_panics(), 0);
    });
}

/// Interleaving: the owning M fires its due timers while a searching M
/// fires the same heap with `try_only` (it gives up if the lock is busy),
/// and a third thread inserts a later timer meanwhile. Every due timer
/// fires exactly once, none early, and `next` ends as the remaining
/// deadline, whichever of the writes (fire's store, insert's store) is last.
#[test]
fn timer_next_two_firers_and_an_insert() {
    loom::model(|| {
        let heap = Arc::new(TimerHeap::new());
        let due: Vec<_> = (0..2).map(|_| counter()).collect();
        for (i, c) in due.iter().enumerate() {
            heap.insert(i as u64 + 1, entry(c));
        }
        let later = counter();
        let thief = {
            let heap = heap.clone();
            thread::spawn(move || heap.fire(5, true, &Panics::new()))
        };
        let inserter = {
            let (heap, later) = (heap.clone(), later.clone());
            thread::spawn(move || {
                heap.insert(9, entry(&later));
            })
        };
        let own = heap.fire(5, false, &Panics::new());
        let stolen = thief.join().unwrap();
        inserter.join().unwrap();
        assert_eq!(own + stolen, 2);
        for c in &due {
            assert_eq!(c.0.load(SeqCst), 1);
        }
        assert_eq!(later.0.load(SeqCst), 0);
        assert_eq!(heap.next(), 9);
    });
}
