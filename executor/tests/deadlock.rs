//! Deadlock detection (`Builder::detect_deadlock`): a runtime whose live
//! tasks all wait on spool primitives, with nothing else that could wake
//! them, reports it once per episode (with each task's spawn site and
//! reason) and keeps running; a task that sleeps, waits on a socket or
//! awaits a foreign future makes it no deadlock; without detection nothing
//! is reported. Every scenario runs under a watchdog; a report is waited
//! for (up to 30 s), the absence of one is checked after the runtime had
//! time to go to sleep with the wait in progress.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use spool_executor::sync::{Barrier, Mutex as SpoolMutex, chan};
use spool_executor::{Builder, Deadlock, Runtime, time::sleep};

mod support;
use support::within_secs;

type Reports = Arc<Mutex<Vec<Deadlock>>>;

/// A runtime of `procs` Ps whose deadlock reports land in the returned list.
fn detecting(procs: usize) -> (Runtime, Reports) {
    let reports: Reports = Arc::default();
    let r = reports.clone();
    let rt = Builder::new()
        .procs(procs)
        .detect_deadlock(true)
        .on_deadlock(move |d| r.lock().unwrap().push(d.clone()))
        .build()
        .unwrap();
    (rt, reports)
}

/// Waits (up to 30 s) until `reports` holds at least `n` reports.
fn wait_reports(reports: &Reports, n: usize) -> Vec<Deadlock> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let r = reports.lock().unwrap().clone();
        if r.len() >= n {
            return r;
        }
        assert!(Instant::now() < end, "waited 30 s for {n} reports: {r:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A future spool does not know: ready once a std thread sets `done`.
#[derive(Default)]
struct Foreign {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Foreign {
    fn complete(&self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

struct AwaitForeign(Arc<Foreign>);

impl Future for AwaitForeign {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.0.done.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_two_task_channel_deadlock_is_reported_with_both_sites_and_reasons() {
    within_secs(30, "two-task channel deadlock", || {
        let (rt, reports) = detecting(2);
        let (a_tx, a_rx) = chan::<u32>(0);
        let (b_tx, b_rx) = chan::<u32>(0);
        // A waits for a value on `a` before it would receive on `b`; B
        // sends on `b` before it would send on `a`: each waits for the other.
        let line_a = line!() + 1;
        let a = rt.spawn(async move {
            let v = a_rx.recv().await;
            let _ = b_rx.recv().await;
            v
        });
        let line_b = line!() + 1;
        let b = rt.spawn(async move {
            let _ = b_tx.send(1).await;
            let _ = a_tx.send(2).await;
        });
        let r = wait_reports(&reports, 1);
        let d = &r[0];
        assert_eq!(d.tasks.len(), 2, "{d}");
        let ta = d.tasks.iter().find(|t| t.task == a.id()).expect("task A");
        let tb = d.tasks.iter().find(|t| t.task == b.id()).expect("task B");
        assert_eq!(ta.reason, "chan receive");
        assert_eq!(tb.reason, "chan send");
        assert_eq!((ta.location.file(), ta.location.line()), (file!(), line_a));
        assert_eq!((tb.location.file(), tb.location.line()), (file!(), line_b));
        assert!(!ta.main && !tb.main);
        let text = d.to_string();
        assert!(
            text.starts_with("all tasks are asleep - possible deadlock!\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "task G{} [chan receive]: spawned at {}:{line_a}:",
                a.id(),
                file!()
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "task G{} [chan send]: spawned at {}:{line_b}:",
                b.id(),
                file!()
            )),
            "{text}"
        );
        // Once per episode: the Ms stay asleep and nothing is reported again.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(reports.lock().unwrap().len(), 1);
        assert_eq!(rt.handle().sched_stats().deadlock_reports, 1);
        // A report, not a panic: the runtime still runs tasks.
        assert_eq!(rt.block_on(async { 6 * 7 }), 42);
        a.abort();
        b.abort();
        assert!(rt.block_on(a).unwrap_err().is_cancelled());
    });
}

#[test]
fn a_mutex_deadlock_is_reported() {
    within_secs(30, "mutex deadlock", || {
        let (rt, reports) = detecting(2);
        let m1 = Arc::new(SpoolMutex::new(0u32));
        let m2 = Arc::new(SpoolMutex::new(0u32));
        let both = Arc::new(Barrier::new(2));
        // Lock order 1-2 against 2-1, each holding its first lock once both do.
        let (a1, a2, ab) = (m1.clone(), m2.clone(), both.clone());
        let a = rt.spawn(async move {
            let _g1 = a1.lock().await;
            ab.wait().await;
            let _g2 = a2.lock().await;
        });
        let (b1, b2, bb) = (m1.clone(), m2.clone(), both.clone());
        let b = rt.spawn(async move {
            let _g2 = b2.lock().await;
            bb.wait().await;
            let _g1 = b1.lock().await;
        });
        let r = wait_reports(&reports, 1);
        let d = &r[0];
        assert_eq!(d.tasks.len(), 2, "{d}");
        for id in [a.id(), b.id()] {
            let t = d.tasks.iter().find(|t| t.task == id).expect("both tasks");
            assert_eq!(t.reason, "sync.Mutex.Lock", "{d}");
        }
        a.abort();
        b.abort();
    });
}

#[test]
fn block_on_main_task_is_part_of_the_report() {
    within_secs(30, "block_on main task", || {
        let (rt, reports) = detecting(2);
        let (tx, rx) = chan::<u32>(0);
        let r2 = reports.clone();
        // Once reported, a thread outside the runtime ends the deadlock.
        let unblocker = std::thread::spawn(move || {
            wait_reports(&r2, 1);
            tx.send_blocking(5).unwrap();
        });
        let line = line!() + 1;
        let got = rt.block_on(async move {
            let h = spool_executor::spawn(async move { rx.recv().await });
            h.await.unwrap()
        });
        assert_eq!(got, Some(5));
        unblocker.join().unwrap();
        let r = reports.lock().unwrap().clone();
        assert_eq!(r.len(), 1, "{r:?}");
        let d = &r[0];
        assert_eq!(d.tasks.len(), 2, "{d}");
        let main = d.tasks.iter().find(|t| t.main).expect("the main task");
        assert_eq!(main.reason, "join");
        assert_eq!(
            (main.location.file(), main.location.line()),
            (file!(), line)
        );
        let other = d.tasks.iter().find(|t| !t.main).expect("the spawned task");
        assert_eq!(other.reason, "chan receive");
        assert!(
            d.to_string()
                .contains(&format!("main task G{} [join]: block_on at", main.task))
        );
    });
}

#[test]
fn each_new_deadlock_after_progress_is_reported_again() {
    within_secs(30, "report per episode", || {
        let (rt, reports) = detecting(2);
        let (tx, rx) = chan::<u32>(0);
        let h = rt.spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        wait_reports(&reports, 1);
        // A foreign thread's send wakes the task, which then waits again:
        // a new episode, one more report.
        tx.send_blocking(1).unwrap();
        wait_reports(&reports, 2);
        tx.send_blocking(2).unwrap();
        wait_reports(&reports, 3);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(reports.lock().unwrap().len(), 3);
        drop(tx); // closes the channel: the task ends
        assert_eq!(rt.block_on(h).unwrap(), 2);
    });
}

/// A task blocked on a channel for good (its sender lives in `keep`)
/// alongside `other`: the runtime is asleep but must not report while
/// `other` waits on something that ends by itself or from outside.
fn no_report_while<F>(name: &'static str, setup: impl FnOnce(&Runtime) -> F + Send + 'static)
where
    F: FnOnce() + Send + 'static,
{
    within_secs(30, name, move || {
        let (rt, reports) = detecting(2);
        // The other wait first: the runtime must not look stuck while
        // only `stuck` has been spawned.
        let finish = setup(&rt);
        let (keep, rx) = chan::<u32>(0);
        let stuck = rt.spawn(async move { rx.recv().await });
        // Long enough for both Ms to park many times over.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            reports.lock().unwrap().is_empty(),
            "{name}: {:?}",
            reports.lock().unwrap()
        );
        finish();
        // The other wait is over: now only `stuck` is left, a deadlock.
        wait_reports(&reports, 1);
        drop(keep);
        assert_eq!(rt.block_on(stuck).unwrap(), None);
    });
}

#[test]
fn a_deadlock_behind_a_cancelled_timer_is_reported_when_the_timer_expires() {
    within_secs(30, "cancelled timer", || {
        let (rt, reports) = detecting(2);
        let (tx, rx) = chan::<u32>(0);
        let h = rt.spawn(async move {
            // The receive wins; the dropped sleep's entry stays in its P's
            // heap (cancelled lazily) until its deadline.
            let first = spool_executor::select! {
                v = rx.recv() => v,
                _ = sleep(Duration::from_millis(300)) => None,
            };
            (first, rx.recv().await)
        });
        // Let the select register both branches (the timer too), then win it.
        std::thread::sleep(Duration::from_millis(50));
        tx.send_blocking(1).unwrap();
        // Reported once the entry expires: the M that wakes for it finds
        // nothing to run and checks again before it sleeps on.
        let r = wait_reports(&reports, 1);
        assert_eq!(r[0].tasks.len(), 1);
        assert_eq!(r[0].tasks[0].reason, "chan receive");
        drop(tx);
        assert_eq!(rt.block_on(h).unwrap(), (Some(1), None));
    });
}

#[test]
fn no_report_while_a_task_sleeps_on_a_timer() {
    no_report_while("timer", |rt| {
        let (done_tx, done_rx) = mpsc::channel();
        let _h = rt.spawn(async move {
            sleep(Duration::from_millis(600)).await;
            done_tx.send(()).unwrap();
        });
        move || done_rx.recv().unwrap()
    });
}

#[test]
fn no_report_while_a_select_waits_on_a_channel_with_a_timeout() {
    // Blocked as "select" (a spool reason): only the pending timer says
    // the runtime is not stuck.
    no_report_while("select with a timeout", |rt| {
        let (done_tx, done_rx) = mpsc::channel();
        let (tx, rx) = chan::<u32>(0);
        let _h = rt.spawn(async move {
            let _open = tx; // nobody sends, but the channel stays open
            let got = spool_executor::select! {
                v = rx.recv() => v,
                _ = sleep(Duration::from_millis(600)) => None,
            };
            done_tx.send(got).unwrap();
        });
        move || assert_eq!(done_rx.recv().unwrap(), None)
    });
}

#[test]
fn no_report_while_a_task_waits_on_a_socket() {
    // Blocked as "select" over a channel and an accept: only the
    // registered socket says the runtime is not stuck.
    no_report_while("socket", |rt| {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let (tx, rx) = chan::<u32>(0);
        let _h = rt.spawn(async move {
            let _open = tx; // nobody sends, but the channel stays open
            let l = spool_executor::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            addr_tx.send(l.local_addr().unwrap()).unwrap();
            let accepted = spool_executor::select! {
                _ = rx.recv() => false,
                r = l.accept() => r.is_ok(),
            };
            drop(l);
            done_tx.send(accepted).unwrap();
        });
        let addr = addr_rx.recv().unwrap();
        move || {
            let _c = std::net::TcpStream::connect(addr).unwrap();
            assert!(done_rx.recv().unwrap());
        }
    });
}

#[test]
fn no_report_while_a_task_awaits_a_foreign_future() {
    no_report_while("foreign future", |rt| {
        let f = Arc::new(Foreign::default());
        let (f2, (done_tx, done_rx)) = (f.clone(), mpsc::channel());
        let _h = rt.spawn(async move {
            AwaitForeign(f2).await;
            done_tx.send(()).unwrap();
        });
        move || {
            // Completed by a std thread, as the test's name says.
            std::thread::spawn(move || f.complete()).join().unwrap();
            done_rx.recv().unwrap();
        }
    });
}

#[test]
fn nothing_is_reported_without_detection() {
    within_secs(30, "detection off", || {
        let reports: Reports = Arc::default();
        let r = reports.clone();
        let rt = Builder::new()
            .procs(2)
            .on_deadlock(move |d| r.lock().unwrap().push(d.clone()))
            .build()
            .unwrap();
        let (tx, rx) = chan::<u32>(0);
        let h = rt.spawn(async move { rx.recv().await });
        std::thread::sleep(Duration::from_millis(300));
        assert!(reports.lock().unwrap().is_empty());
        assert_eq!(rt.handle().sched_stats().deadlock_reports, 0);
        drop(tx);
        assert_eq!(rt.block_on(h).unwrap(), None);
    });
}

/// Names the child mode of [`the_default_report_goes_to_stderr`].
const CHILD: &str = "SPOOL_DEADLOCK_TEST_CHILD";

#[test]
fn the_default_report_goes_to_stderr() {
    if std::env::var_os(CHILD).is_some() {
        // The child: a deadlock with no callback set.
        let rt = Builder::new()
            .procs(2)
            .detect_deadlock(true)
            .build()
            .unwrap();
        let (_tx, rx) = chan::<u32>(0);
        let _h = rt.spawn(async move { rx.recv().await });
        let end = Instant::now() + Duration::from_secs(30);
        while rt.handle().sched_stats().deadlock_reports == 0 {
            assert!(Instant::now() < end, "no report in 30 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_default_report_goes_to_stderr",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{err}");
    assert_eq!(
        err.matches("spool: all tasks are asleep - possible deadlock!")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("[chan receive]: spawned at"), "{err}");
}

#[test]
fn a_panicking_callback_is_caught() {
    within_secs(30, "panicking callback", || {
        let rt = Builder::new()
            .procs(2)
            .detect_deadlock(true)
            .on_deadlock(|_| panic!("callback panics"))
            .build()
            .unwrap();
        let (tx, rx) = chan::<u32>(0);
        let h = rt.spawn(async move { rx.recv().await });
        let end = Instant::now() + Duration::from_secs(30);
        while rt.handle().sched_stats().deadlock_reports == 0 {
            assert!(Instant::now() < end, "no report in 30 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        // The M that ran the callback is alive: the runtime still works.
        tx.send_blocking(3).unwrap();
        assert_eq!(rt.block_on(h).unwrap(), Some(3));
    });
}
