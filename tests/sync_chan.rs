//! Channel semantics (`spool::sync::chan`): rendezvous and buffered sends,
//! close, no value lost or duplicated under random cancellation, the
//! `Stream` impl, foreign threads, and a model-queue property test.

mod sync_support;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_lite::StreamExt;
use proptest::prelude::*;
use spool::sync::{TryRecvError, TrySendError, chan, unbounded};
use spool::{spawn, yield_now};
use sync_support::{Rng, rt, watchdog};

/// Polls `f` once with a no-op waker.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

#[test]
fn rendezvous_send_waits_for_a_receiver() {
    let _w = watchdog("rendezvous_send_waits_for_a_receiver", 30);
    let rt = rt(2);
    rt.block_on(async {
        let (tx, rx) = chan::<u32>(0);
        assert_eq!(
            tx.try_send(1),
            Err(TrySendError::Full(1)),
            "no receiver waiting"
        );
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let h = spawn(async move {
            tx.send(7).await.unwrap();
            d.store(1, SeqCst);
        });
        for _ in 0..50 {
            yield_now().await;
        }
        assert_eq!(
            done.load(SeqCst),
            0,
            "an unbuffered send completed without a receiver"
        );
        assert_eq!(rx.len(), 0);
        assert_eq!(rx.recv().await, Some(7));
        h.await.unwrap();
        assert_eq!(done.load(SeqCst), 1);
        assert_eq!(rx.recv().await, None, "last sender dropped: closed");
    });
}

#[test]
fn buffered_fifo_len_capacity() {
    let (tx, rx) = chan::<u32>(3);
    assert_eq!(tx.capacity(), 3);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    assert_eq!(rx.len(), 3);
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(3).unwrap();
    let got: Vec<u32> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_closed());
    tx.close();
    assert!(rx.is_closed() && tx.is_closed());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn blocked_sender_moves_into_the_freed_slot() {
    let (tx, rx) = chan::<u32>(1);
    tx.try_send(1).unwrap();
    let mut s = Box::pin(tx.send(2));
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    // The waiting sender's value is buffered now, and its future completes.
    assert_eq!(rx.len(), 1);
    assert!(matches!(poll_once(&mut s), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn close_wakes_every_blocked_receiver_and_sender() {
    let _w = watchdog("close_wakes_every_blocked_receiver_and_sender", 30);
    let rt = rt(2);
    rt.block_on(async {
        let (tx, rx) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        let receivers: Vec<_> = (0..16)
            .map(|_| {
                let rx = rx.clone();
                spawn(async move { rx.recv().await })
            })
            .collect();
        let senders: Vec<_> = (0..16)
            .map(|i| {
                let tx2 = tx2.clone();
                spawn(async move { tx2.send(i).await })
            })
            .collect();
        // Let all of them block.
        for _ in 0..200 {
            yield_now().await;
        }
        tx.close();
        rx2.close();
        for r in receivers {
            assert_eq!(
                r.await.unwrap(),
                None,
                "a blocked receiver saw a value after close"
            );
        }
        let mut back: Vec<u32> = Vec::new();
        for s in senders {
            back.push(s.await.unwrap().unwrap_err().0);
        }
        back.sort();
        assert_eq!(
            back,
            (0..16).collect::<Vec<_>>(),
            "each failed send gives its value back"
        );
        drop((tx, rx, tx2, rx2));
    });
}

#[test]
fn dropping_every_receiver_fails_senders_and_drops_buffered_values() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<D>(2);
    tx.try_send(D(drops.clone())).unwrap();
    tx.try_send(D(drops.clone())).unwrap();
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(drops.load(SeqCst), 0);
    drop(rx2);
    assert_eq!(
        drops.load(SeqCst),
        2,
        "buffered values dropped with the last receiver"
    );
    assert!(matches!(
        tx.try_send(D(drops.clone())),
        Err(TrySendError::Closed(_))
    ));
}

#[test]
fn a_value_handed_to_a_cancelled_receiver_goes_back() {
    let (tx, rx) = chan::<u32>(0);
    let mut r1 = Box::pin(rx.recv());
    assert!(poll_once(&mut r1).is_pending());
    // The sender hands the value straight to the blocked receiver ...
    tx.try_send(5).unwrap();
    // ... which is dropped before it reads it: the value must come back.
    drop(r1);
    assert_eq!(rx.try_recv(), Ok(5));
    // And with a second receiver waiting, it goes to that one.
    let mut r2 = Box::pin(rx.recv());
    let mut r3 = Box::pin(rx.recv());
    assert!(poll_once(&mut r2).is_pending());
    assert!(poll_once(&mut r3).is_pending());
    tx.try_send(6).unwrap();
    drop(r2);
    assert_eq!(poll_once(&mut r3), Poll::Ready(Some(6)));
}

#[test]
fn receiver_is_a_stream() {
    let _w = watchdog("receiver_is_a_stream", 30);
    let rt = rt(2);
    let v = rt.block_on(async {
        let (tx, mut rx) = chan::<u32>(4);
        spawn(async move {
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(v) = rx.next().await {
            got.push(v);
        }
        got
    });
    assert_eq!(v, (0..100).collect::<Vec<_>>());
}

#[test]
fn unbounded_never_waits() {
    let (tx, rx) = unbounded::<usize>();
    for i in 0..10_000 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(rx.len(), 10_000);
    assert_eq!(
        (0..10_000).map(|_| rx.try_recv().unwrap()).sum::<usize>(),
        49_995_000
    );
}

/// Completes after `n` yields.
async fn yields(n: usize) {
    for _ in 0..n {
        yield_now().await;
    }
}

/// 8 producers and 8 consumers over a small channel; each send and
/// receive future is raced against a random number of yields and dropped
/// (cancelled) if it loses. Every value must arrive exactly once.
fn eight_by_eight(cap: usize, seed: u64) {
    const PER_PRODUCER: u64 = 2_000;
    let rt = rt(2);
    let seen = Arc::new(Mutex::new(vec![0u8; (8 * PER_PRODUCER) as usize]));
    let cancelled = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (tx, rx) = chan::<u64>(cap);
        let mut producers = Vec::new();
        for p in 0..8u64 {
            let tx = tx.clone();
            let cancelled = cancelled.clone();
            producers.push(spawn(async move {
                let mut rng = Rng(seed ^ ((p + 1) * 0x9E37_79B9));
                for i in 0..PER_PRODUCER {
                    let v = p * PER_PRODUCER + i;
                    loop {
                        let patience = rng.below(4) as usize;
                        let sent = if rng.below(2) == 0 {
                            // Go's way: a send raced against a timeout in a
                            // select; the losing send never delivers.
                            spool::select! {
                                r = tx.send(v) => { r.unwrap(); true },
                                _ = yields(patience) => false,
                            }
                        } else {
                            // Poll a few times, then withdraw the send.
                            let mut send = pin!(tx.send(v));
                            let mut sent = false;
                            for _ in 0..=patience {
                                if let Some(r) = futures_lite::future::poll_once(&mut send).await {
                                    r.unwrap();
                                    sent = true;
                                    break;
                                }
                                yield_now().await;
                            }
                            // A receiver may have taken it since the last poll.
                            sent || send.as_mut().cancel().is_none()
                        };
                        if sent {
                            break;
                        }
                        cancelled.fetch_add(1, SeqCst);
                    }
                }
            }));
        }
        drop(tx);
        let mut consumers = Vec::new();
        for c in 0..8u64 {
            let rx = rx.clone();
            let seen = seen.clone();
            let cancelled = cancelled.clone();
            consumers.push(spawn(async move {
                let mut rng = Rng(seed ^ ((c + 101) * 0x85EB_CA6B));
                loop {
                    let patience = rng.below(4) as usize;
                    let got = if rng.below(2) == 0 {
                        spool::select! {
                            r = rx.recv() => Some(r),
                            _ = yields(patience) => None,
                        }
                    } else {
                        // Poll a few times, then drop the receive: a value
                        // handed to it meanwhile goes back to the channel.
                        let mut recv = pin!(rx.recv());
                        let mut got = None;
                        for _ in 0..=patience {
                            if let Some(r) = futures_lite::future::poll_once(&mut recv).await {
                                got = Some(r);
                                break;
                            }
                            yield_now().await;
                        }
                        got
                    };
                    match got {
                        Some(Some(v)) => seen.lock().unwrap()[v as usize] += 1,
                        Some(None) => return,
                        None => {
                            cancelled.fetch_add(1, SeqCst);
                        }
                    }
                }
            }));
        }
        drop(rx);
        for p in producers {
            p.await.unwrap();
        }
        for c in consumers {
            c.await.unwrap();
        }
    });
    let seen = seen.lock().unwrap();
    let lost = seen.iter().filter(|&&n| n == 0).count();
    let dup = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!((lost, dup), (0, 0), "cap {cap}: values lost / duplicated");
    assert!(
        cancelled.load(SeqCst) > 0,
        "the test cancelled no operation"
    );
}

#[test]
fn eight_by_eight_with_random_cancellation_rendezvous() {
    let _w = watchdog("eight_by_eight_rendezvous", 120);
    eight_by_eight(0, 1);
}

#[test]
fn eight_by_eight_with_random_cancellation_buffered() {
    let _w = watchdog("eight_by_eight_buffered", 120);
    eight_by_eight(4, 2);
}

#[test]
fn foreign_threads_send_and_receive() {
    let _w = watchdog("foreign_threads_send_and_receive", 60);
    let rt = rt(2);
    let (tx, rx) = chan::<u64>(0);
    let (back_tx, back_rx) = chan::<u64>(0);
    // A task echoes; two plain threads drive it with blocking calls.
    let echo = rt.spawn(async move {
        while let Some(v) = rx.recv().await {
            back_tx.send(v * 2).await.unwrap();
        }
    });
    let t = std::thread::spawn(move || {
        let mut sum = 0;
        for i in 0..1000 {
            tx.send_blocking(i).unwrap();
            sum += back_rx.recv_blocking().unwrap();
        }
        sum
    });
    assert_eq!(t.join().unwrap(), 999 * 1000);
    rt.block_on(echo).unwrap();
}

#[test]
fn blocking_call_inside_a_task_panics_with_a_clear_message() {
    let rt = rt(1);
    let err = rt
        .block_on(async {
            spawn(async {
                let (tx, _rx) = chan::<u8>(1);
                tx.send_blocking(1)
            })
            .await
        })
        .unwrap_err();
    let msg = err.into_panic();
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("send_blocking called inside a spool task"),
        "{msg}"
    );
}

#[test]
fn wake_from_a_task_lands_on_the_same_m() {
    // Ping-pong on two Ps: each hand-off's wake puts the woken task in the
    // waker's P's runnext, so the pair runs on one M and rarely migrates.
    // (Were wakes sent to the global queue, either M could take each one.)
    const ROUNDS: usize = 2000;
    let _w = watchdog("wake_from_a_task_lands_on_the_same_m", 30);
    let rt = rt(2);
    let migrations = rt.block_on(async {
        let (a_tx, a_rx) = chan::<u32>(0);
        let (b_tx, b_rx) = chan::<u32>(0);
        let h = spawn(async move {
            let mut last = None;
            let mut moved = 0usize;
            while let Some(v) = a_rx.recv().await {
                let here = std::thread::current().id();
                if last.is_some_and(|l| l != here) {
                    moved += 1;
                }
                last = Some(here);
                b_tx.send(v).await.unwrap();
            }
            moved
        });
        let d = spawn(async move {
            for i in 0..ROUNDS as u32 {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await, Some(i));
            }
        });
        d.await.unwrap();
        h.await.unwrap()
    });
    assert!(
        migrations < ROUNDS / 4,
        "the echo task changed threads {migrations} times in {ROUNDS} rounds"
    );
}

/// A model of one channel: a FIFO with a capacity, and a closed flag.
#[derive(Debug, Clone)]
enum Op {
    TrySend(u8),
    TryRecv,
    Close,
    /// Start a send future and poll it once (it may stay blocked).
    StartSend(u8),
    /// Poll every blocked send future once more.
    PollSends,
    /// Withdraw the oldest blocked send (`Send::cancel`).
    CancelSend,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(Op::TrySend),
        Just(Op::TryRecv),
        Just(Op::TryRecv),
        Just(Op::Close),
        any::<u8>().prop_map(Op::StartSend),
        Just(Op::PollSends),
        Just(Op::CancelSend),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn channel_matches_a_model_queue(cap in 0usize..4, ops in proptest::collection::vec(op(), 1..60)) {
        let (tx, rx) = chan::<u8>(cap);
        let mut model: VecDeque<u8> = VecDeque::new();
        // Blocked sends in the model, oldest first (value), mirroring `pending`.
        let mut model_blocked: VecDeque<u8> = VecDeque::new();
        let mut pending: VecDeque<std::pin::Pin<Box<spool::sync::Send<'_, u8>>>> = VecDeque::new();
        let mut closed = false;
        for op in ops {
            match op {
                Op::TrySend(v) => {
                    let r = tx.try_send(v);
                    if closed {
                        prop_assert_eq!(r, Err(TrySendError::Closed(v)));
                    } else if model.len() < cap {
                        prop_assert_eq!(r, Ok(()));
                        model.push_back(v);
                    } else {
                        prop_assert_eq!(r, Err(TrySendError::Full(v)));
                    }
                }
                Op::TryRecv => {
                    let r = rx.try_recv();
                    let expect = if let Some(v) = model.pop_front() {
                        // A blocked sender's value moves into the freed slot.
                        if model.len() < cap {
                            if let Some(b) = model_blocked.pop_front() {
                                model.push_back(b);
                                // Its future is complete now; drop it from the front.
                                let mut f = pending.pop_front().unwrap();
                                prop_assert!(matches!(poll_once(&mut f), Poll::Ready(Ok(()))));
                            }
                        }
                        Ok(v)
                    } else if let Some(b) = model_blocked.pop_front() {
                        let mut f = pending.pop_front().unwrap();
                        prop_assert!(matches!(poll_once(&mut f), Poll::Ready(Ok(()))));
                        Ok(b)
                    } else if closed {
                        Err(TryRecvError::Closed)
                    } else {
                        Err(TryRecvError::Empty)
                    };
                    prop_assert_eq!(r, expect);
                }
                Op::Close => {
                    tx.close();
                    closed = true;
                    // Every blocked send fails with its own value.
                    for (mut f, v) in pending.drain(..).zip(model_blocked.drain(..)) {
                        match poll_once(&mut f) {
                            Poll::Ready(Err(e)) => prop_assert_eq!(e.0, v),
                            other => prop_assert!(false, "blocked send after close: {:?}", other.map(|r| r.is_ok())),
                        }
                    }
                }
                Op::StartSend(v) => {
                    let mut f = Box::pin(tx.send(v));
                    let r = poll_once(&mut f);
                    if closed {
                        prop_assert!(matches!(r, Poll::Ready(Err(_))));
                    } else if model.len() < cap && model_blocked.is_empty() {
                        prop_assert!(matches!(r, Poll::Ready(Ok(()))));
                        model.push_back(v);
                    } else {
                        prop_assert!(r.is_pending());
                        pending.push_back(f);
                        model_blocked.push_back(v);
                    }
                }
                Op::PollSends => {
                    for f in pending.iter_mut() {
                        prop_assert!(poll_once(f).is_pending(), "a blocked send completed on its own");
                    }
                }
                Op::CancelSend => {
                    if let Some(mut f) = pending.pop_front() {
                        let v = model_blocked.pop_front();
                        prop_assert_eq!(f.as_mut().cancel(), v);
                    }
                }
            }
            prop_assert_eq!(rx.len(), model.len());
        }
        drop(pending);
    }
}

#[test]
fn oneshot_send_and_drop() {
    let rt = rt(1);
    rt.block_on(async {
        let (tx, rx) = spool::sync::oneshot::channel::<u32>();
        spawn(async move {
            spool::time::sleep(Duration::from_millis(1)).await;
            tx.send(9).unwrap();
        });
        assert_eq!(rx.await, Ok(9));
        let (tx, rx) = spool::sync::oneshot::channel::<u32>();
        drop(tx);
        assert_eq!(rx.await, Err(spool::sync::oneshot::RecvError));
    });
}

#[test]
fn a_panicking_waiter_waker_does_not_break_the_sender() {
    struct PanicOnWake;
    impl std::task::Wake for PanicOnWake {
        fn wake(self: Arc<Self>) {
            panic!("spool test: this waker panics in wake");
        }
    }
    let _w = watchdog("a_panicking_waiter_waker_does_not_break_the_sender", 30);
    let rt = rt(1);
    let (tx, rx) = chan::<u32>(0);
    // A receiver parked with a waker that panics when woken.
    let waker = Waker::from(Arc::new(PanicOnWake));
    let mut r = Box::pin(rx.recv());
    assert!(
        r.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    // A task hands it a value: the wake panics inside the sender's poll,
    // is caught and counted, and the send completes.
    let sent = rt
        .block_on(rt.spawn(async move { tx.send(4).await.is_ok() }))
        .unwrap();
    assert!(sent);
    assert_eq!(rt.handle().waker_panics(), 1);
    assert_eq!(poll_once(&mut r), Poll::Ready(Some(4)));
}
