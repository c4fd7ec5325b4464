//! Stop-the-world (`sched/stw.rs`, `Stw`): its `active`/`stopped`/
//! `participants` counters against requesters, participants at safe points,
//! and participants joining and leaving.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::Stw;

/// What the world looks like to a stop-the-world closure.
struct World {
    stw: Stw,
    /// Participants between two safe points ("polling a task").
    running: AtomicUsize,
    /// Closures running.
    in_closure: AtomicUsize,
}

impl World {
    fn new(participants: usize) -> Arc<World> {
        Arc::new(World {
            stw: Stw::new(participants),
            running: AtomicUsize::new(0),
            in_closure: AtomicUsize::new(0),
        })
    }

    /// A participant's safe point (the M loop's check between polls).
    fn safe_point(&self) {
        if self.stw.requested() {
            self.stw.park(|| {}, || {});
        }
    }

    /// A participant polls one task: it must never overlap a closure.
    fn poll(&self) {
        self.running.fetch_add(1, SeqCst);
        assert_eq!(
            self.in_closure.load(SeqCst),
            0,
            "a participant ran inside a stop-the-world"
        );
        self.running.fetch_sub(1, SeqCst);
    }

    /// `Shared::stop_the_world`: no participant runs and no other closure
    /// runs while ours does. Participants never sleep in these models, so
    /// waking them (`unpark_all`) is a no-op.
    fn stop_the_world(&self, is_participant: bool) {
        self.stw.run(
            "model",
            is_participant,
            || {},
            || {
                assert_eq!(self.in_closure.fetch_add(1, SeqCst), 0, "two STWs at once");
                assert_eq!(self.running.load(SeqCst), 0, "a participant is running");
                self.in_closure.fetch_sub(1, SeqCst);
            },
        );
    }
}

/// Interleaving: two participants request a stop-the-world at once (two
/// tasks calling `stop_the_world`): each counts as stopped while it waits
/// for the other's, so neither waits for the other forever (a deadlock is a
/// loom failure); an outside requester (`is_participant == false`) races
/// them. Every closure runs alone, with no participant between safe points.
#[test]
fn stw_concurrent_requesters_from_inside_and_outside() {
    loom::model(|| {
        let w = World::new(2);
        let ps: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || {
                    w.safe_point();
                    w.poll();
                    w.stop_the_world(true);
                    w.safe_point();
                    w.stw.leave();
                })
            })
            .collect();
        w.stop_the_world(false);
        for p in ps {
            p.join().unwrap();
        }
    });
}

/// Interleaving: a participant polls past a stale `requested` (a relaxed
/// load) while a requester waits, and a new participant (`block_on`
/// starting: `join`) arrives and leaves during the stop-the-world. The
/// requester must wait for the polling participant to stop or leave, the
/// joiner must not start inside the stop-the-world, and a leave must wake
/// a requester waiting for the one that left.
#[test]
fn stw_participants_polling_joining_and_leaving() {
    loom::model(|| {
        let w = World::new(1);
        let m = {
            let w = w.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    w.safe_point();
                    w.poll();
                }
                w.stw.leave();
            })
        };
        let joiner = {
            let w = w.clone();
            thread::spawn(move || {
                w.stw.join();
                w.poll();
                w.safe_point();
                w.stw.leave();
            })
        };
        w.stop_the_world(false);
        m.join().unwrap();
        joiner.join().unwrap();
    });
}
