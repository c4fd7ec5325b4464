//! Loom models of `spool_executor::sync`'s protocols, on the real code:
//! the channel's hand-off, close and cancellation paths (its lock and
//! waiter nodes), and `select!`'s claim word.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//! cargo test --release -p spool-executor --test loom_sync`.
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use loom::sync::Arc;
use loom::thread;

use spool_executor::sync::{TryRecvError, TrySendError, chan};

/// Wakes a loom thread.
struct Unpark(thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` on this loom thread, parking between polls.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(std::sync::Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// A rendezvous hand-off: a blocked receiver gets the value, the sender
/// completes, whichever runs first.
#[test]
fn rendezvous_hand_off() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = thread::spawn(move || block_on(tx.send(7)).is_ok());
        assert_eq!(block_on(rx.recv()), Some(7));
        assert!(t.join().unwrap());
    });
}

/// A receiver cancelled while a sender hands it a value: the value is in
/// the channel afterwards, or the send failed and kept it. Never lost.
#[test]
fn receiver_cancelled_during_hand_off() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let rx = Arc::new(rx);
        let rx2 = rx.clone();
        let t = thread::spawn(move || {
            let mut r = pin!(rx2.recv());
            match poll_once(r.as_mut()) {
                Poll::Ready(v) => v, // handed over before the first poll? impossible: nobody queued
                Poll::Pending => None,
            }
            // `r` is dropped here, possibly right after a sender completed it.
        });
        let sent = tx.try_send(5);
        let got_early = t.join().unwrap();
        assert_eq!(got_early, None);
        match sent {
            Ok(()) => assert_eq!(rx.try_recv(), Ok(5), "a handed value was lost"),
            Err(TrySendError::Full(v)) => {
                assert_eq!(v, 5);
                assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    });
}

/// Close races a blocked receiver and a blocked sender: both wake, the
/// receiver with nothing (or the value, if the hand-off came first), the
/// sender with its value back (or delivered).
#[test]
fn close_wakes_blocked_peers() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let tx2 = tx.clone();
        let r = thread::spawn(move || block_on(rx.recv()));
        let s = thread::spawn(move || block_on(tx2.send(1)));
        tx.close();
        let got = r.join().unwrap();
        let sent = s.join().unwrap();
        match (got, sent) {
            (Some(1), Ok(())) => {}
            (None, Err(e)) => assert_eq!(e.0, 1),
            other => panic!("inconsistent outcome {:?}", (other.0, other.1.is_ok())),
        }
    });
}

/// A select over two rendezvous channels against two senders on other
/// threads: exactly one value is taken by the select; the other sender
/// either fails its try_send or its value is still there for a later
/// receive. Covers the claim word (busy/dirty, claimed, lost).
#[test]
fn select_claims_exactly_one_branch() {
    loom::model(|| {
        let (tx1, rx1) = chan::<u32>(1);
        let (tx2, rx2) = chan::<u32>(1);
        let t1 = thread::spawn(move || tx1.try_send(1).is_ok());
        let t2 = thread::spawn(move || tx2.try_send(2).is_ok());
        let got = block_on(async {
            spool_executor::select! {
                v = rx1.recv() => v.map(|v| (1, v)),
                v = rx2.recv() => v.map(|v| (2, v)),
            }
        });
        let sent1 = t1.join().unwrap();
        let sent2 = t2.join().unwrap();
        assert!(sent1 && sent2, "buffered try_send cannot fail");
        let (branch, v) = got.expect("both channels get a value");
        assert_eq!(branch, v);
        // The losing channel still has its value.
        let rest = if branch == 1 {
            rx2.try_recv()
        } else {
            rx1.try_recv()
        };
        assert_eq!(rest, Ok(3 - branch));
    });
}

/// A select with a blocked receive branch, and a sender that hands it a
/// value via the claim while the select might be polling.
#[test]
fn select_waiter_handed_a_value() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let (_tx2, rx2) = chan::<u32>(0);
        let t = thread::spawn(move || block_on(tx.send(9)).is_ok());
        let got = block_on(async {
            spool_executor::select! {
                v = rx.recv() => v,
                v = rx2.recv() => v,
            }
        });
        assert_eq!(got, Some(9));
        assert!(t.join().unwrap());
    });
}

/// Two threads contend for a `Mutex` (the semaphore's permit word, its
/// queue and the hand-off): both critical sections run, one at a time.
#[test]
fn mutex_contended_hand_off() {
    loom::model(|| {
        let m = Arc::new(spool_executor::sync::Mutex::new(0u32));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            let mut g = block_on(m2.lock());
            *g += 1;
        });
        {
            let mut g = block_on(m.lock());
            *g += 1;
        }
        t.join().unwrap();
        assert_eq!(*block_on(m.lock()), 2);
    });
}

/// A queued acquirer is cancelled while the holder releases (maybe
/// handing it the permit): the permit is never lost; a later try_acquire
/// gets it.
#[test]
fn semaphore_waiter_cancelled_during_hand_off() {
    loom::model(|| {
        let sem = Arc::new(spool_executor::sync::Semaphore::new(1));
        let p = sem.try_acquire().unwrap();
        let sem2 = sem.clone();
        let t = thread::spawn(move || {
            let mut a = pin!(sem2.acquire());
            // Pending (queued) or, if the release came first, Ready with a
            // permit that is dropped at once.
            let _ = poll_once(a.as_mut());
            // `a` is dropped here, maybe right after it was handed the permit.
        });
        drop(p);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
    });
}

/// `notify_one` racing a waiter's registration: the waiter always wakes
/// (directly, or through the stored permit).
#[test]
fn notify_one_vs_registration() {
    loom::model(|| {
        let n = Arc::new(spool_executor::sync::Notify::new());
        let n2 = n.clone();
        let t = thread::spawn(move || block_on(n2.notified()));
        n.notify_one();
        t.join().unwrap();
    });
}
