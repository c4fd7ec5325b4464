//! `spool::select!`: Go's uniform choice among ready branches, `default`,
//! patterns that disable a branch, and the claim rule (a losing branch
//! never takes a value), also across threads.

mod sync_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use spool::sync::{TryRecvError, chan};
use spool::{select, spawn, yield_now};
use sync_support::{rt, watchdog};

#[test]
fn ready_branches_are_chosen_uniformly() {
    let _w = watchdog("ready_branches_are_chosen_uniformly", 60);
    let rt = rt(1);
    let counts = rt.block_on(async {
        let (a_tx, a) = chan::<u8>(1);
        let (b_tx, b) = chan::<u8>(1);
        let (c_tx, c) = chan::<u8>(1);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            // Keep every branch ready.
            let _ = a_tx.try_send(0);
            let _ = b_tx.try_send(1);
            let _ = c_tx.try_send(2);
            let k = select! {
                _ = a.recv() => 0,
                _ = b.recv() => 1,
                _ = c.recv() => 2,
            };
            counts[k] += 1;
        }
        counts
    });
    for (k, &n) in counts.iter().enumerate() {
        let share = f64::from(n) / 30_000.0;
        assert!(
            (0.30..=0.36).contains(&share),
            "branch {k} chosen {:.1} % of the time (counts {counts:?}); want 33 % ± 3 %",
            share * 100.0
        );
    }
}

#[test]
fn two_ready_of_three_are_chosen_evenly() {
    // A random rotation would pick the branch after a gap twice as often;
    // a shuffle does not.
    let rt = rt(1);
    let counts = rt.block_on(async {
        let (a_tx, a) = chan::<u8>(1);
        let (_b_tx, b) = chan::<u8>(1);
        let (c_tx, c) = chan::<u8>(1);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            let _ = a_tx.try_send(0);
            let _ = c_tx.try_send(2);
            let k = select! {
                _ = a.recv() => 0,
                _ = b.recv() => 1,
                _ = c.recv() => 2,
            };
            counts[k] += 1;
        }
        counts
    });
    assert_eq!(counts[1], 0);
    let share = f64::from(counts[0]) / 30_000.0;
    assert!((0.47..=0.53).contains(&share), "counts {counts:?}");
}

#[test]
fn default_runs_when_nothing_is_ready_and_takes_nothing() {
    let rt = rt(1);
    rt.block_on(async {
        let (tx, rx) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(1);
        let got = select! {
            v = rx.recv() => v,
            _ = tx2.send(1) => Some(100),
            default => None,
        };
        // The send branch was ready (room in the buffer), so it may win;
        // the receive was not ready.
        match got {
            Some(100) => assert_eq!(rx2.try_recv(), Ok(1)),
            None => assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty)),
            other => panic!("unexpected {other:?}"),
        }
        let got = select! {
            v = rx.recv() => v,
            default => None,
        };
        assert_eq!(got, None);
        // No waiter was left behind: a rendezvous try_send finds no receiver.
        assert!(tx.try_send(1).is_err());
    });
}

#[test]
fn a_losing_branch_never_takes_a_value() {
    // Two rendezvous senders (tasks on two Ps) race into a select over
    // both channels: exactly one hand-off happens per select; the other
    // sender's value is received afterwards by a plain recv.
    let _w = watchdog("a_losing_branch_never_takes_a_value", 120);
    let rt = rt(2);
    rt.block_on(async {
        for round in 0..500u32 {
            let (tx1, rx1) = chan::<u32>(0);
            let (tx2, rx2) = chan::<u32>(0);
            let s1 = spawn(async move { tx1.send(round).await });
            let s2 = spawn(async move { tx2.send(round + 1_000_000).await });
            let first = select! {
                Some(v) = rx1.recv() => v,
                Some(v) = rx2.recv() => v,
            };
            let second = if first == round {
                rx2.recv().await.unwrap()
            } else {
                rx1.recv().await.unwrap()
            };
            let mut both = [first, second];
            both.sort();
            assert_eq!(both, [round, round + 1_000_000], "round {round}");
            s1.await.unwrap().unwrap();
            s2.await.unwrap().unwrap();
        }
    });
}

#[test]
fn selects_on_both_ends_across_threads_lose_nothing() {
    // Producers select between two channels to send on; consumers select
    // between the two to receive from; counts must match exactly.
    let _w = watchdog("selects_on_both_ends_across_threads_lose_nothing", 120);
    const N: usize = 5_000;
    let rt = rt(2);
    let received = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (tx1, rx1) = chan::<usize>(0);
        let (tx2, rx2) = chan::<usize>(0);
        let mut hs = Vec::new();
        for p in 0..2 {
            let (tx1, tx2) = (tx1.clone(), tx2.clone());
            hs.push(spawn(async move {
                for i in 0..N {
                    let v = p * N + i;
                    select! {
                        r = tx1.send(v) => r.unwrap(),
                        r = tx2.send(v) => r.unwrap(),
                    }
                }
            }));
        }
        drop((tx1, tx2));
        let mut cs = Vec::new();
        for _ in 0..2 {
            let (rx1, rx2) = (rx1.clone(), rx2.clone());
            let (received, sum) = (received.clone(), sum.clone());
            cs.push(spawn(async move {
                let mut open = (true, true);
                while open.0 || open.1 {
                    select! {
                        v = rx1.recv(), if open.0 => match v {
                            Some(v) => { received.fetch_add(1, SeqCst); sum.fetch_add(v, SeqCst); }
                            None => open.0 = false,
                        },
                        v = rx2.recv(), if open.1 => match v {
                            Some(v) => { received.fetch_add(1, SeqCst); sum.fetch_add(v, SeqCst); }
                            None => open.1 = false,
                        },
                    }
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        for c in cs {
            c.await.unwrap();
        }
    });
    assert_eq!(received.load(SeqCst), 2 * N);
    assert_eq!(sum.load(SeqCst), (0..2 * N).sum::<usize>());
}

#[test]
fn a_non_matching_pattern_disables_the_branch() {
    let rt = rt(1);
    rt.block_on(async {
        let (tx, rx) = chan::<u32>(1);
        drop(tx); // rx.recv() is ready with None forever
        let (tx2, rx2) = chan::<u32>(1);
        let h = spawn(async move {
            yield_now().await;
            tx2.send(5).await.unwrap();
        });
        let v = select! {
            Some(v) = rx.recv() => v,
            Some(v) = rx2.recv() => v + 1,
        };
        assert_eq!(v, 6);
        h.await.unwrap();
    });
}

#[test]
fn any_future_can_be_a_branch() {
    let rt = rt(1);
    rt.block_on(async {
        let (_tx, rx) = chan::<u32>(0);
        let v = select! {
            v = rx.recv() => v.unwrap(),
            _ = spool::time::sleep(std::time::Duration::from_millis(2)) => 42,
        };
        assert_eq!(v, 42);
        // The receive that lost left no waiter: a try_send finds nobody.
        assert!(_tx.try_send(1).is_err());
    });
}
