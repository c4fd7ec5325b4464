//! Per-resource sequence slots (`src/seq.rs`): the `next_seq` CAS loop,
//! the status claim, and the owner's load/store variant, on a loom
//! `AtomicU64` slot.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering::SeqCst};
use loom::thread;

use spool_tracer::__loom::{Seq, claim_status, next_seq, next_seq_owned, pack};

/// Interleaving: a trace starts (generation 2) and, under its
/// stop-the-world, writes the status of a waiting task (`claim_status`)
/// while a thread outside the runtime wakes that task (`next_seq` for its
/// GoUnblock) in the same generation, and a third thread touches the task
/// in the new generation too (another waker: a second `next_seq`). Exactly
/// one of them writes the task's status for generation 2, and the two
/// sequenced events get 1 and 2: Go's parser wants one status per resource
/// per generation, before its first sequenced event, and numbers without
/// gaps or repeats.
#[test]
fn seq_status_claim_racing_two_wakes() {
    loom::model(|| {
        // Last touched in generation 1, at sequence 5.
        let slot = Arc::new(AtomicU64::new(pack(1, 5)));
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let slot = slot.clone();
                thread::spawn(move || next_seq(&*slot, 2))
            })
            .collect();
        let claimed = claim_status(&*slot, 2);
        let qs: Vec<Seq> = wakers.into_iter().map(|w| w.join().unwrap()).collect();
        let statuses = usize::from(claimed) + qs.iter().filter(|q| q.needs_status).count();
        assert_eq!(
            statuses, 1,
            "status written {statuses} times: {qs:?}, claim {claimed}"
        );
        let mut seqs: Vec<u64> = qs.iter().map(|q| q.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, [1, 2], "sequence numbers {qs:?}");
        // A status written by a sequenced event is on its first one.
        for q in &qs {
            assert!(!q.needs_status || q.seq == 1, "status on event {q:?}");
        }
        assert_eq!(slot.load(SeqCst), pack(2, 2));
    });
}

/// Interleaving: a waker on another thread records the task's GoUnblock
/// (`next_seq`) and queues it; the M that pops it records GoStart with the
/// owner's load and store (`next_seq_owned`); the writer publishes
/// generation 2 at any point in between (each side reads the generation
/// when its event starts, as a write section does). The M's event follows
/// the waker's: the next number in the same generation, or number 1 and
/// the status in a newer one; never an older generation than the waker's.
#[test]
fn seq_wake_then_owned_start_across_a_generation_flip() {
    loom::model(|| {
        let slot = Arc::new(AtomicU64::new(pack(1, 3)));
        let generation = Arc::new(AtomicU64::new(1));
        // The run queue hand-off: 0 empty, else the waker's generation.
        let queue = Arc::new(AtomicU64::new(0));
        let writer = {
            let generation = generation.clone();
            thread::spawn(move || generation.store(2, SeqCst))
        };
        let waker = {
            let (slot, generation, queue) = (slot.clone(), generation.clone(), queue.clone());
            thread::spawn(move || {
                let g = generation.load(SeqCst);
                let q = next_seq(&*slot, g);
                // Release: the queue push publishes the task to the M.
                queue.store(g, loom::sync::atomic::Ordering::Release);
                (g, q)
            })
        };
        // The M: pops the task, then starts it.
        let g_wake = loop {
            let g = queue.load(loom::sync::atomic::Ordering::Acquire);
            if g != 0 {
                break g;
            }
            thread::yield_now();
        };
        let g_start = generation.load(SeqCst);
        let cur = slot.load(loom::sync::atomic::Ordering::Acquire);
        let start = next_seq_owned(&*slot, cur, g_start);
        let (g, wake) = waker.join().unwrap();
        writer.join().unwrap();
        assert_eq!(g, g_wake);
        assert!(
            g_start >= g,
            "the M saw generation {g_start} after the waker's {g}"
        );
        let expect_wake = if g == 1 {
            Seq {
                seq: 4,
                needs_status: false,
            }
        } else {
            Seq {
                seq: 1,
                needs_status: true,
            }
        };
        assert_eq!(wake, expect_wake);
        let expect_start = if g_start == g {
            Seq {
                seq: wake.seq + 1,
                needs_status: false,
            }
        } else {
            Seq {
                seq: 1,
                needs_status: true,
            }
        };
        assert_eq!(start, expect_start, "waker {wake:?} in {g}, M in {g_start}");
    });
}
