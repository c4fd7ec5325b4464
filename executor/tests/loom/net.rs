//! The netpoller (`net/`): an M parked in the poll (`Parker::park_polling`)
//! and woken only through the poller's waker, and a registration's
//! readiness/waker protocol (`ScheduledIo`): readiness set while a task
//! registers interest, a tick-checked clear racing a newer event, and a
//! shutdown racing a waiter. Each drives the real code.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::{Direction, Parker, Ready, ScheduledIo};

/// The netpoller park: an M blocks in a (model) poll that only the poller's
/// waker ends; an unpark racing with it either leaves a token the M sees
/// before polling, or finds `POLLING` and writes the waker. A lost wake is a
/// deadlock, which loom reports.
#[test]
fn park_polling_is_always_woken_through_the_waker() {
    use loom::sync::{Condvar, Mutex};
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let work = Arc::new(AtomicBool::new(false));
        // The eventfd: set by a waker write, cleared by the poll that sees it.
        let efd = Arc::new((Mutex::new(false), Condvar::new()));
        let writes = Arc::new(AtomicUsize::new(0));
        let m = {
            let (parker, work, efd) = (parker.clone(), work.clone(), efd.clone());
            thread::spawn(move || {
                while !work.load(SeqCst) {
                    parker.park_polling(|| {
                        let (lock, cv) = &*efd;
                        let mut set = lock.lock().unwrap();
                        while !*set {
                            set = cv.wait(set).unwrap();
                        }
                        *set = false;
                    });
                }
            })
        };
        work.store(true, SeqCst);
        if parker.unpark() {
            writes.fetch_add(1, SeqCst);
            let (lock, cv) = &*efd;
            *lock.lock().unwrap() = true;
            cv.notify_one();
        }
        m.join().unwrap();
        assert!(writes.load(SeqCst) <= 1);
    });
}

/// A std waker that counts its wakes in a loom atomic.
struct CountWaker(AtomicUsize);

impl std::task::Wake for CountWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn count_waker() -> (std::sync::Arc<CountWaker>, std::task::Waker) {
    let w = std::sync::Arc::new(CountWaker(AtomicUsize::new(0)));
    (w.clone(), std::task::Waker::from(w))
}

/// Readiness set by the poller while a task registers interest: the task
/// either sees the readiness or is woken (no lost wake-up).
#[test]
fn readiness_set_while_registering_is_not_lost() {
    loom::model(|| {
        let io = Arc::new(ScheduledIo::new());
        let poller = {
            let io = io.clone();
            thread::spawn(move || {
                let mut wake = Vec::new();
                io.set_readiness(Ready::READABLE, &mut wake);
                wake.into_iter().for_each(std::task::Waker::wake);
            })
        };
        let (count, waker) = count_waker();
        let cx = std::task::Context::from_waker(&waker);
        let saw = io.poll_ready(&cx, Direction::Read).is_ready();
        poller.join().unwrap();
        assert!(
            saw || count.0.load(SeqCst) == 1,
            "readiness was set, yet the task neither saw it nor was woken"
        );
    });
}

/// Edge-triggered readiness: a task that observed readiness, then saw
/// `WouldBlock`, clears what it observed while the poller reports a new
/// event. The tick check keeps the new event: unless the task observed
/// the new event itself, readiness is still set afterwards.
#[test]
fn clear_after_would_block_keeps_a_newer_event() {
    loom::model(|| {
        let io = Arc::new(ScheduledIo::new());
        // First edge (tick 1).
        io.set_readiness(Ready::READABLE, &mut Vec::new());
        let poller = {
            let io = io.clone();
            thread::spawn(move || io.set_readiness(Ready::READABLE, &mut Vec::new()))
        };
        let ev = io.ready_event(Direction::Read).unwrap();
        assert!(!ev.ready.is_empty());
        // The syscall said WouldBlock: clear what we observed.
        io.clear_readiness(ev);
        poller.join().unwrap();
        let after = io.ready_event(Direction::Read).unwrap();
        let saw_new_event = ev.tick() == 2;
        assert!(
            saw_new_event || !after.ready.is_empty(),
            "the poller's newer event was cleared by a stale observation"
        );
    });
}

/// A registration released while a task waits on it: the task is woken
/// and its next poll fails (no hang on a dead registration).
#[test]
fn shutdown_racing_a_waiter_wakes_it_with_an_error() {
    loom::model(|| {
        let io = Arc::new(ScheduledIo::new());
        let closer = {
            let io = io.clone();
            thread::spawn(move || {
                let mut wake = Vec::new();
                io.shutdown(&mut wake);
                wake.into_iter().for_each(std::task::Waker::wake);
            })
        };
        let (count, waker) = count_waker();
        let cx = std::task::Context::from_waker(&waker);
        let first = io.poll_ready(&cx, Direction::Write);
        closer.join().unwrap();
        match first {
            std::task::Poll::Ready(r) => assert!(r.is_err()),
            std::task::Poll::Pending => {
                assert_eq!(count.0.load(SeqCst), 1, "the waiter was not woken");
                assert!(matches!(
                    io.poll_ready(&cx, Direction::Write),
                    std::task::Poll::Ready(Err(_))
                ));
            }
        }
    });
}
