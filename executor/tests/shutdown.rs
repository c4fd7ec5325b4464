//! Shutdown drops every unfinished future, and no task outlives its runtime.
//!
//! Every task allocation holds a count on its runtime's shared state, so a
//! `WeakHandle` that cannot upgrade after the `Runtime` is dropped proves
//! that every task was freed (a byte-counting allocator is too noisy here:
//! crossbeam-epoch frees old queue buffers lazily).

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use spool_executor::{Builder, spawn};

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn scenario(drops: &Arc<AtomicUsize>) -> (usize, spool_executor::WeakHandle) {
    let rt = Builder::new().procs(2).build().unwrap();
    let weak = rt.handle().downgrade();
    let mut expected = 0;
    // Waiting forever.
    for _ in 0..100 {
        let d = DropCount(drops.clone());
        drop(rt.spawn(async move {
            let _d = d;
            pending::<()>().await
        }));
        expected += 1;
    }
    // Sleeping for an hour (registered in timer heaps).
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let d = DropCount(drops.clone());
            rt.spawn(async move {
                let _d = d;
                spool_executor::time::sleep(Duration::from_secs(3600)).await
            })
        })
        .collect();
    expected += 100;
    // Waiting on each other (JoinHandles inside tasks).
    let d = DropCount(drops.clone());
    rt.spawn(async move {
        let _d = d;
        let inner = spawn(pending::<()>());
        let _ = inner.await;
    });
    expected += 1;
    // Queued but never polled: every P is blocked by a task that waits for
    // a message sent only after the spawns below.
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let (started_tx, started_rx) = mpsc::channel();
    for _ in 0..2 {
        let (rx, started_tx) = (rx.clone(), started_tx.clone());
        rt.spawn(async move {
            started_tx.send(()).unwrap();
            let _ = rx.lock().unwrap().recv_timeout(Duration::from_millis(50));
        });
    }
    started_rx.recv().unwrap();
    for _ in 0..100 {
        let d = DropCount(drops.clone());
        rt.spawn(async move {
            let _d = d;
        });
        expected += 1;
    }
    // Let the sleepers register and everyone park.
    std::thread::sleep(Duration::from_millis(20));
    drop(tx);
    drop(hs);
    drop(rt);
    (expected, weak)
}

#[test]
fn shutdown_drops_unfinished_futures_and_frees_every_task() {
    for _ in 0..5 {
        let drops = Arc::new(AtomicUsize::new(0));
        let (expected, weak) = scenario(&drops);
        assert_eq!(
            drops.load(SeqCst),
            expected,
            "every future was dropped exactly once"
        );
        assert!(
            weak.upgrade().is_none(),
            "a task (or M) still holds the runtime"
        );
    }
}

#[test]
fn shutdown_timeout_with_a_stuck_task() {
    let rt = Builder::new().procs(2).build().unwrap();
    let weak = rt.handle().downgrade();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    // One M is stuck in a poll until we send; the other is free.
    rt.spawn(async move {
        started_tx.send(()).unwrap();
        rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    for _ in 0..10 {
        let d = DropCount(drops.clone());
        rt.spawn(async move {
            let _d = d;
            pending::<()>().await
        });
    }
    rt.shutdown_timeout(Duration::from_millis(10));
    assert_eq!(
        drops.load(SeqCst),
        10,
        "waiting tasks are cancelled despite the stuck M"
    );
    // Release the stuck M: it finishes its poll, exits and lets go.
    tx.send(()).unwrap();
    while weak.upgrade().is_some() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn spawn_after_shutdown_is_cancelled() {
    let rt = Builder::new().procs(1).build().unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let h = handle.spawn(async move {
        let _d = d;
    });
    assert!(h.is_finished());
    assert_eq!(drops.load(SeqCst), 1);
    let err = poll_ready(h).unwrap_err();
    assert!(err.is_cancelled());
}

/// Polls a future on this thread with a no-op waker (it must be ready).
fn poll_ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("not ready"),
    }
}

#[test]
fn runtime_dropped_inside_its_own_task() {
    let rt = Builder::new().procs(2).build().unwrap();
    let weak = rt.handle().downgrade();
    let (tx, rx) = mpsc::channel();
    let slot = Arc::new(std::sync::Mutex::new(None::<spool_executor::Runtime>));
    let s = slot.clone();
    let handle = rt.handle().clone();
    *slot.lock().unwrap() = Some(rt);
    drop(handle.spawn(async move {
        let rt = s.lock().unwrap().take().unwrap();
        drop(rt); // must not deadlock joining this very thread
        tx.send(()).unwrap();
    }));
    drop(handle);
    rx.recv().unwrap();
    while weak.upgrade().is_some() {
        std::thread::sleep(Duration::from_millis(1));
    }
}
