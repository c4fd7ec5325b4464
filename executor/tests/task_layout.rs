//! The task allocation's layout (issue 12's memory target): its size, the
//! per-(type, site) vtables that carry the spawn location, and the
//! one-word join waker in both of its forms.

use std::future::{Future, pending};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};

use spool_executor::{Builder, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// A 16-byte future that never completes.
struct Parked16([u64; 2]);
impl Future for Parked16 {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_16_byte_future_makes_a_72_byte_task() {
    // 56-byte header + 16-byte stage: glibc's 80-byte chunk (was 88, a
    // 96-byte chunk).
    assert_eq!(spool_executor::__task_allocation_size::<Parked16>(), 72);
    let _ = Parked16([0; 2]).0;
}

/// Lines of the live tasks whose type name contains `needle`.
fn live_sites(rt: &Runtime, needle: &str) -> Vec<(u32, String)> {
    let mut v = Vec::new();
    rt.handle().for_each_task(|t| {
        if t.site.type_name.contains(needle) {
            v.push((t.site.location.line(), t.site.type_name.to_string()));
        }
    });
    v.sort();
    v
}

#[test]
fn one_future_type_from_two_sites_keeps_both_locations() {
    let rt = rt(1);
    let line_a = line!() + 1;
    let a = rt.spawn(pending::<u8>());
    let line_b = line!() + 1;
    let b = rt.spawn(pending::<u8>());
    // The same two sites again, from another thread (another site cache).
    let h = rt.handle().clone();
    let (c, d) = std::thread::spawn(move || {
        let c = h.spawn(pending::<u16>());
        let d = h.spawn(pending::<u16>());
        (c, d)
    })
    .join()
    .unwrap();
    let sites = live_sites(&rt, "Pending<u8>");
    let lines: Vec<u32> = sites.iter().map(|s| s.0).collect();
    assert_eq!(lines, vec![line_a, line_b], "{sites:?}");
    let sites16 = live_sites(&rt, "Pending<u16>");
    assert_eq!(sites16.len(), 2, "{sites16:?}");
    assert_ne!(sites16[0].0, sites16[1].0, "{sites16:?}");
    for h in [a, b] {
        h.abort();
    }
    for h in [c, d] {
        h.abort();
    }
}

/// A distinct future type per `N`, spawned from one line.
fn spawn_typed<const N: usize>(rt: &Runtime) -> spool_executor::JoinHandle<usize> {
    rt.spawn(async {
        pending::<()>().await;
        N
    })
}

macro_rules! spawn_all {
    ($rt:expr, $v:expr, $($n:literal)*) => { $( $v.push(spawn_typed::<$n>($rt)); )* };
}

#[test]
fn more_types_than_the_site_cache_holds_keep_their_names() {
    // 100 (type, site) pairs, twice over: more than the 64-entry per-thread
    // cache, so pairs evict each other and come back from the global map.
    let rt = rt(1);
    let mut v = Vec::new();
    for _ in 0..2 {
        spawn_all!(&rt, v,
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
            30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
            57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83
            84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99);
    }
    let mut names = std::collections::HashMap::<String, usize>::new();
    rt.handle().for_each_task(|t| {
        if t.site.type_name.contains("spawn_typed") {
            *names.entry(t.site.type_name.to_string()).or_default() += 1;
        }
    });
    assert_eq!(names.len(), 100, "{names:?}");
    assert!(names.values().all(|&n| n == 2), "{names:?}");
    for n in 0..100 {
        assert!(
            names
                .keys()
                .any(|k| k.contains(&format!("spawn_typed<{n}>"))),
            "{n}: {names:?}"
        );
    }
    for h in &v {
        h.abort();
    }
    let errs = rt.block_on(async move {
        let mut cancelled = 0;
        for h in v {
            cancelled += h.await.unwrap_err().is_cancelled() as usize;
        }
        cancelled
    });
    assert_eq!(errs, 200);
}

/// Counts its wakes; the `Arc`'s count shows whether the slot still holds it.
#[derive(Default)]
struct CountWake(AtomicUsize);
impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_foreign_joiner_replaced_by_another_is_released_and_only_the_last_woken() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Mutex::new(rx);
    // The task waits for `tx` on a blocking recv in a blocking call.
    let mut h = Box::pin(rt.spawn(async move {
        spool_executor::spawn_blocking(move || rx.lock().unwrap().recv().unwrap())
            .await
            .unwrap();
        7u32
    }));
    let (a, b) = (
        Arc::new(CountWake::default()),
        Arc::new(CountWake::default()),
    );
    let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
    assert!(h.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
    assert_eq!(Arc::strong_count(&a), 3, "the slot holds a clone of a");
    // The same waker again: kept, not re-cloned.
    assert!(h.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
    assert_eq!(Arc::strong_count(&a), 3);
    assert!(h.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
    assert_eq!(
        Arc::strong_count(&a),
        2,
        "a's clone was dropped on replacement"
    );
    assert_eq!(Arc::strong_count(&b), 3);
    tx.send(()).unwrap();
    while b.0.load(SeqCst) == 0 {
        std::thread::yield_now();
    }
    assert_eq!(a.0.load(SeqCst), 0);
    let Poll::Ready(v) = h.as_mut().poll(&mut Context::from_waker(&wb)) else {
        panic!("woken but not ready");
    };
    assert_eq!(v.unwrap(), 7);
    drop(h);
    assert_eq!(Arc::strong_count(&b), 2, "the task's slot was released");
}

#[test]
fn task_joiners_and_thread_joiners_both_see_outputs() {
    // Tasks awaiting tasks (the slot keeps a header pointer), a task
    // awaiting a handle first polled by another joiner kind, and
    // block_on/run callers (a boxed waker), each while the joined task is
    // still running, so the slot is used.
    let rt = rt(2);
    let sum = rt.run(async {
        let mut total = 0u64;
        for i in 0..200u64 {
            let (tx, rx) = spool_executor::sync::oneshot::channel::<u64>();
            let inner = spool_executor::spawn(async move { rx.await.unwrap() * 2 });
            let outer = spool_executor::spawn(async move { inner.await.unwrap() + 1 });
            spool_executor::yield_now().await;
            tx.send(i).unwrap();
            total += outer.await.unwrap();
        }
        total
    });
    assert_eq!(sum, (0..200u64).map(|i| i * 2 + 1).sum::<u64>());

    // The handle is polled by a task (header pointer in the slot), then
    // handed to a thread that awaits it with block_on (a boxed waker).
    let (tx, rx) = spool_executor::sync::oneshot::channel::<u8>();
    let (htx, hrx) = mpsc::channel();
    let joined = rt.spawn(async move { rx.await.unwrap() });
    rt.spawn(async move {
        let mut joined = joined;
        let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut joined).poll(cx))).await;
        assert!(first.is_pending());
        htx.send(joined).unwrap();
    });
    let joined = hrx.recv().unwrap();
    let rt_ref = &rt;
    std::thread::scope(|s| {
        let t = s.spawn(move || rt_ref.block_on(joined).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(20));
        tx.send(9).unwrap();
        assert_eq!(t.join().unwrap(), 9);
    });
}
