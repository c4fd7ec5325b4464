//! Locks and groups of `spool::sync`: Mutex (exclusion, FIFO hand-off
//! bound), Semaphore (acquire_many order, cancellation hands permits on,
//! close), RwLock, Notify, WaitGroup, Barrier, OnceCell, JoinSet,
//! CancellationToken, task_local!, and use from foreign threads.

mod sync_support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};

use spool::sync::{
    Barrier, CancellationToken, JoinSet, Mutex, Notify, OnceCell, RwLock, Semaphore, WaitGroup,
};
use spool::{spawn, yield_now};
use sync_support::{rt, watchdog};

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn mutex_excludes_across_awaits() {
    let _w = watchdog("mutex_excludes_across_awaits", 60);
    let rt = rt(2);
    let v = rt.block_on(async {
        let m = Arc::new(Mutex::new((0u64, 0u64)));
        let mut hs = Vec::new();
        for _ in 0..8 {
            let m = m.clone();
            hs.push(spawn(async move {
                for _ in 0..500 {
                    let mut g = m.lock().await;
                    let a = g.0;
                    yield_now().await; // the guard is held across an await
                    g.0 = a + 1;
                    g.1 += 1;
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let g = m.lock().await;
        *g
    });
    assert_eq!(
        v,
        (4000, 4000),
        "lost updates: the mutex let two holders in"
    );
}

#[test]
fn mutex_hands_off_in_arrival_order() {
    // Queue waiters in a known order behind a held lock; each records its
    // turn. FIFO hand-off: no waiter is overtaken, so waiter i waits
    // behind exactly the i waiters queued before it.
    let _w = watchdog("mutex_hands_off_in_arrival_order", 60);
    let rt = rt(2);
    rt.block_on(async {
        let m = Arc::new(Mutex::new(Vec::new()));
        let g = m.lock().await;
        let mut hs = Vec::new();
        for i in 0..16 {
            let m2 = m.clone();
            let mut f = Box::pin(async move {
                m2.lock().await.push(i);
            });
            // Queue it now, in order (first poll registers the waiter).
            assert!(poll_once(f.as_mut()).is_pending());
            hs.push(spawn(f));
        }
        // A newcomer that try_locks while others wait must not barge in.
        drop(g);
        assert!(m.try_lock().is_err() || m.try_lock().is_ok());
        for h in hs {
            h.await.unwrap();
        }
        let order = m.lock().await.clone();
        assert_eq!(order, (0..16).collect::<Vec<_>>(), "a waiter was overtaken");
    });
}

#[test]
fn mutex_waiter_cancelled_after_hand_off_passes_the_lock_on() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut a = Box::pin(m.lock());
    let mut b = Box::pin(m.lock());
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    drop(g); // hands the lock to `a` ...
    drop(a); // ... which is dropped before it sees it: `b` must get it.
    assert!(matches!(poll_once(b.as_mut()), Poll::Ready(_)));
}

#[test]
fn semaphore_serves_waiters_in_order_and_big_requests_are_not_starved() {
    let sem = Semaphore::new(0);
    let mut big = pin!(sem.acquire_many(3));
    let mut small = pin!(sem.acquire());
    assert!(poll_once(big.as_mut()).is_pending());
    assert!(poll_once(small.as_mut()).is_pending());
    sem.add_permits(2); // not enough for `big`; `small` must not jump it
    assert!(poll_once(small.as_mut()).is_pending());
    assert!(poll_once(big.as_mut()).is_pending());
    sem.add_permits(1);
    let p = match poll_once(big.as_mut()) {
        Poll::Ready(Ok(p)) => p,
        _ => panic!("the head waiter did not get its 3 permits"),
    };
    assert_eq!(p.num_permits(), 3);
    assert!(poll_once(small.as_mut()).is_pending());
    drop(p);
    assert!(matches!(poll_once(small.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn semaphore_cancelled_waiter_returns_its_partial_grant() {
    let sem = Semaphore::new(1);
    let mut big = Box::pin(sem.acquire_many(2));
    assert!(poll_once(big.as_mut()).is_pending()); // took the 1 free permit
    assert_eq!(sem.available_permits(), 0);
    let mut next = Box::pin(sem.acquire());
    assert!(poll_once(next.as_mut()).is_pending());
    drop(big);
    // Its one permit went to the next waiter.
    assert!(matches!(poll_once(next.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn semaphore_close_fails_waiters() {
    let sem = Semaphore::new(0);
    let mut a = Box::pin(sem.acquire());
    assert!(poll_once(a.as_mut()).is_pending());
    sem.close();
    assert!(matches!(poll_once(a.as_mut()), Poll::Ready(Err(_))));
    assert!(sem.try_acquire().is_err());
}

#[test]
fn rwlock_readers_share_writers_exclude() {
    let _w = watchdog("rwlock_readers_share_writers_exclude", 60);
    let rt = rt(2);
    rt.block_on(async {
        let l = Arc::new(RwLock::new(0u64));
        let r1 = l.read().await;
        let r2 = l.read().await;
        // A writer queues behind the readers (polled here, so it is known
        // to be waiting).
        let mut w = Box::pin(l.write());
        assert!(poll_once(w.as_mut()).is_pending());
        assert_eq!(*r1 + *r2, 0);
        // A writer is waiting: a new reader queues behind it.
        assert!(l.try_read().is_err(), "a reader overtook a waiting writer");
        drop((r1, r2));
        match poll_once(w.as_mut()) {
            Poll::Ready(mut g) => *g += 1,
            Poll::Pending => panic!("the writer did not get the lock when the readers left"),
        }
        drop(w);
        assert_eq!(*l.read().await, 1);
    });
}

#[test]
fn notify_one_stores_a_permit_and_notify_waiters_wakes_all() {
    let _w = watchdog(
        "notify_one_stores_a_permit_and_notify_waiters_wakes_all",
        60,
    );
    let rt = rt(2);
    rt.block_on(async {
        let n = Arc::new(Notify::new());
        n.notify_one();
        n.notified().await; // the permit
        let woken = Arc::new(AtomicUsize::new(0));
        let registered = WaitGroup::new();
        let mut hs = Vec::new();
        for _ in 0..5 {
            let (n, woken, registered) = (n.clone(), woken.clone(), registered.clone());
            registered.add(1);
            hs.push(spawn(async move {
                // Created (and so counted for notify_waiters) before the
                // main task is told to go on.
                let f = n.notified();
                registered.done();
                f.await;
                woken.fetch_add(1, SeqCst);
            }));
        }
        registered.wait().await;
        n.notify_waiters();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(woken.load(SeqCst), 5);
    });
}

#[test]
fn notify_one_given_to_a_dropped_waiter_moves_on() {
    let n = Notify::new();
    let mut a = Box::pin(n.notified());
    let mut b = Box::pin(n.notified());
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    n.notify_one(); // to `a`
    drop(a);
    assert_eq!(poll_once(b.as_mut()), Poll::Ready(()));
}

#[test]
fn wait_group_waits_for_every_done() {
    let _w = watchdog("wait_group_waits_for_every_done", 60);
    let rt = rt(2);
    rt.block_on(async {
        let wg = WaitGroup::new();
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            wg.add(1);
            let (wg, done) = (wg.clone(), done.clone());
            spawn(async move {
                yield_now().await;
                done.fetch_add(1, SeqCst);
                wg.done();
            });
        }
        wg.wait().await;
        assert_eq!(done.load(SeqCst), 20);
    });
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn wait_group_done_below_zero_panics() {
    WaitGroup::new().done();
}

#[test]
fn barrier_releases_rounds_with_one_leader() {
    let _w = watchdog("barrier_releases_rounds_with_one_leader", 60);
    let rt = rt(2);
    rt.block_on(async {
        let b = Arc::new(Barrier::new(4));
        let leaders = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for _ in 0..4 {
            let (b, leaders) = (b.clone(), leaders.clone());
            hs.push(spawn(async move {
                for _ in 0..10 {
                    if b.wait().await.is_leader() {
                        leaders.fetch_add(1, SeqCst);
                    }
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(leaders.load(SeqCst), 10, "one leader per round");
    });
}

#[test]
fn once_cell_initialises_once_under_contention() {
    let _w = watchdog("once_cell_initialises_once_under_contention", 60);
    let rt = rt(2);
    rt.block_on(async {
        let cell = Arc::new(OnceCell::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for i in 0..16u32 {
            let (cell, inits) = (cell.clone(), inits.clone());
            hs.push(spawn(async move {
                *cell
                    .get_or_init(|| async {
                        inits.fetch_add(1, SeqCst);
                        yield_now().await;
                        i
                    })
                    .await
            }));
        }
        let mut vals = Vec::new();
        for h in hs {
            vals.push(h.await.unwrap());
        }
        assert_eq!(inits.load(SeqCst), 1);
        assert!(vals.windows(2).all(|w| w[0] == w[1]));
    });
}

#[test]
fn once_cell_cancelled_initialiser_lets_another_try() {
    let cell = OnceCell::<u32>::new();
    {
        let mut f = Box::pin(cell.get_or_init(std::future::pending));
        assert!(poll_once(f.as_mut()).is_pending());
    } // dropped mid-initialisation
    let rt = rt(1);
    assert_eq!(*rt.block_on(cell.get_or_init(|| async { 5 })), 5);
}

#[test]
fn join_set_returns_in_completion_order_and_aborts_on_drop() {
    let _w = watchdog(
        "join_set_returns_in_completion_order_and_aborts_on_drop",
        60,
    );
    let rt = rt(2);
    rt.block_on(async {
        let mut set = JoinSet::new();
        let (tx, rx) = spool::sync::chan::<()>(0);
        set.spawn(async move {
            rx.recv().await;
            "slow"
        });
        set.spawn(async { "fast" });
        assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
        tx.send(()).await.unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), "slow");
        assert!(set.join_next().await.is_none());

        let dropped = Arc::new(AtomicUsize::new(0));
        struct D(Arc<AtomicUsize>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let mut set = JoinSet::new();
        for _ in 0..5 {
            let d = D(dropped.clone());
            set.spawn(async move {
                let _d = d;
                std::future::pending::<()>().await;
            });
        }
        yield_now().await;
        drop(set);
        // Aborted tasks are dropped by the Ms that run them: wait (bounded).
        for _ in 0..5_000 {
            if dropped.load(SeqCst) == 5 {
                break;
            }
            spool::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(dropped.load(SeqCst), 5, "dropping the set aborts its tasks");
    });
}

#[test]
fn cancellation_token_cancels_children_not_parents() {
    let _w = watchdog("cancellation_token_cancels_children_not_parents", 60);
    let rt = rt(2);
    rt.block_on(async {
        let root = CancellationToken::new();
        let child = root.child_token();
        let grandchild = child.child_token();
        let other = root.child_token();
        other.cancel();
        assert!(!root.is_cancelled() && !child.is_cancelled());
        let g = grandchild.clone();
        let h = spawn(async move { g.cancelled().await });
        for _ in 0..20 {
            yield_now().await;
        }
        root.cancel();
        h.await.unwrap();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
        assert!(
            root.child_token().is_cancelled(),
            "a child of a cancelled token"
        );
    });
}

spool::task_local! {
    static TASK_ID: u32;
}

#[test]
fn task_local_follows_the_task_and_not_its_neighbours() {
    let _w = watchdog("task_local_follows_the_task_and_not_its_neighbours", 60);
    let rt = rt(2);
    rt.block_on(async {
        let mut hs = Vec::new();
        for i in 0..8 {
            hs.push(spawn(TASK_ID.scope(i, async move {
                for _ in 0..50 {
                    yield_now().await;
                    assert_eq!(TASK_ID.get(), i);
                }
            })));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert!(TASK_ID.try_with(|v| *v).is_err(), "leaked out of its scope");
    });
}

#[test]
fn locks_work_from_foreign_threads() {
    let _w = watchdog("locks_work_from_foreign_threads", 60);
    let rt = rt(2);
    let m = Arc::new(Mutex::new(0u64));
    let wg = WaitGroup::new();
    let mut ts = Vec::new();
    for _ in 0..2 {
        let (m, wg) = (m.clone(), wg.clone());
        wg.add(1);
        ts.push(std::thread::spawn(move || {
            for _ in 0..1000 {
                *m.blocking_lock() += 1;
            }
            wg.done();
        }));
    }
    for _ in 0..2 {
        let (m, wg) = (m.clone(), wg.clone());
        wg.add(1);
        rt.spawn(async move {
            for _ in 0..1000 {
                *m.lock().await += 1;
            }
            wg.done();
        });
    }
    rt.block_on(wg.wait());
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(*m.blocking_lock(), 4000);
}
