//! spool's channels and locks against Go's and the popular Rust ones, side
//! by side in one run (issue 13).
//!
//! - `ping_pong`: two long-lived tasks bounce a value over two unbuffered
//!   channels, [`ROUNDS`] rounds per iteration (Go: `BenchmarkChanPingPong`
//!   in `benches/go/sync_test.go`). Peers: tokio `mpsc` (capacity 1, its
//!   least), flume `bounded(0)`, async-channel `bounded(1)` (its least),
//!   kanal `bounded_async(0)`, each on a 2-worker tokio runtime.
//! - `mpmc`: 4 producers and 4 consumers move [`MESSAGES`] values through
//!   a channel of capacity 1024.
//! - `mutex`: [`LOCKERS`] tasks share [`LOCKS`] lock/unlock pairs of one
//!   mutex (a counter behind it), spool `sync::Mutex` vs
//!   `tokio::sync::Mutex` (Go: `BenchmarkMutexContended`).
//! - `ping_pong_traced`: spool's ping-pong with a trace being recorded (to
//!   a sink), for the cost of tracing a hand-off.
//!
//! Every runtime has two workers. Run: `cargo bench --bench sync`.
//! Results: `docs/benchmarks.md`, "Channels and locks".

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// Rounds of `ping_pong` per iteration.
const ROUNDS: u64 = 10_000;
/// Values through the channel per `mpmc` iteration.
const MESSAGES: u64 = 1_000_000;
/// Lock/unlock pairs per `mutex` iteration, over [`LOCKERS`] tasks.
const LOCKS: u64 = 1_000_000;
/// Tasks contending for the mutex.
const LOCKERS: u64 = 8;

fn spool_rt() -> spool::Runtime {
    spool::Builder::new().procs(2).build().unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn spool_ping_pong(rt: &spool::Runtime) {
    rt.block_on(async {
        let (a_tx, a_rx) = spool::sync::chan::<u64>(0);
        let (b_tx, b_rx) = spool::sync::chan::<u64>(0);
        let echo = spool::spawn(async move {
            while let Some(v) = a_rx.recv().await {
                b_tx.send(v).await.unwrap();
            }
        });
        let driver = spool::spawn(async move {
            for i in 0..ROUNDS {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await, Some(i));
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
    });
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (a_tx, mut a_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (b_tx, mut b_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = a_rx.recv().await {
                b_tx.send(v).await.unwrap();
            }
        });
        let driver = tokio::spawn(async move {
            for i in 0..ROUNDS {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await, Some(i));
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
    });
}

fn flume_ping_pong(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (a_tx, a_rx) = flume::bounded::<u64>(0);
        let (b_tx, b_rx) = flume::bounded::<u64>(0);
        let echo = tokio::spawn(async move {
            while let Ok(v) = a_rx.recv_async().await {
                b_tx.send_async(v).await.unwrap();
            }
        });
        let driver = tokio::spawn(async move {
            for i in 0..ROUNDS {
                a_tx.send_async(i).await.unwrap();
                assert_eq!(b_rx.recv_async().await, Ok(i));
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
    });
}

fn async_channel_ping_pong(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (a_tx, a_rx) = async_channel::bounded::<u64>(1);
        let (b_tx, b_rx) = async_channel::bounded::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Ok(v) = a_rx.recv().await {
                b_tx.send(v).await.unwrap();
            }
        });
        let driver = tokio::spawn(async move {
            for i in 0..ROUNDS {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await, Ok(i));
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
    });
}

fn kanal_ping_pong(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (a_tx, a_rx) = kanal::bounded_async::<u64>(0);
        let (b_tx, b_rx) = kanal::bounded_async::<u64>(0);
        let echo = tokio::spawn(async move {
            while let Ok(v) = a_rx.recv().await {
                b_tx.send(v).await.unwrap();
            }
        });
        let driver = tokio::spawn(async move {
            for i in 0..ROUNDS {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await.unwrap(), i);
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
    });
}

/// `mpmc` for one channel flavour: 4 producers, 4 consumers, `MESSAGES`
/// values, capacity 1024, on a tokio runtime; the producers
/// and consumers' loops are written out per channel API.
macro_rules! mpmc_tokio {
    ($rt:expr, $make:expr, |$tx:ident, $v:ident| $send:expr, |$rx:ident| $recv:expr) => {
        $rt.block_on(async {
            let ($tx, $rx) = $make;
            let mut hs = Vec::new();
            for p in 0..4u64 {
                let $tx = $tx.clone();
                hs.push(tokio::spawn(async move {
                    for i in 0..MESSAGES / 4 {
                        let $v = p * MESSAGES + i;
                        $send;
                    }
                }));
            }
            drop($tx);
            let mut cs = Vec::new();
            for _ in 0..4 {
                #[allow(unused_mut)]
                let mut $rx = $rx.clone();
                cs.push(tokio::spawn(async move {
                    let mut n = 0u64;
                    while let Some(_v) = $recv {
                        n += 1;
                    }
                    n
                }));
            }
            drop($rx);
            for h in hs {
                h.await.unwrap();
            }
            let mut n = 0;
            for c in cs {
                n += c.await.unwrap();
            }
            assert_eq!(n, MESSAGES);
        })
    };
}

fn spool_mpmc(rt: &spool::Runtime) {
    rt.block_on(async {
        let (tx, rx) = spool::sync::chan::<u64>(1024);
        let mut hs = Vec::new();
        for p in 0..4u64 {
            let tx = tx.clone();
            hs.push(spool::spawn(async move {
                for i in 0..MESSAGES / 4 {
                    tx.send(p * MESSAGES + i).await.unwrap();
                }
            }));
        }
        drop(tx);
        let mut cs = Vec::new();
        for _ in 0..4 {
            let rx = rx.clone();
            cs.push(spool::spawn(async move {
                let mut n = 0u64;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            }));
        }
        drop(rx);
        for h in hs {
            h.await.unwrap();
        }
        let mut n = 0;
        for c in cs {
            n += c.await.unwrap();
        }
        assert_eq!(n, MESSAGES);
    });
}

/// tokio's mpsc is single-consumer: its four consumers share the receiver
/// through a `tokio::sync::Mutex`.
fn tokio_mpmc(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1024);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let mut hs = Vec::new();
        for p in 0..4u64 {
            let tx = tx.clone();
            hs.push(tokio::spawn(async move {
                for i in 0..MESSAGES / 4 {
                    tx.send(p * MESSAGES + i).await.unwrap();
                }
            }));
        }
        drop(tx);
        let mut cs = Vec::new();
        for _ in 0..4 {
            let rx = rx.clone();
            cs.push(tokio::spawn(async move {
                let mut n = 0u64;
                while rx.lock().await.recv().await.is_some() {
                    n += 1;
                }
                n
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let mut n = 0;
        for c in cs {
            n += c.await.unwrap();
        }
        assert_eq!(n, MESSAGES);
    });
}

fn spool_mutex(rt: &spool::Runtime) {
    rt.block_on(async {
        let m = std::sync::Arc::new(spool::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let m = m.clone();
                spool::spawn(async move {
                    for _ in 0..LOCKS / LOCKERS {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, LOCKS);
    });
}

fn tokio_mutex(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let m = std::sync::Arc::new(tokio::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..LOCKS / LOCKERS {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, LOCKS);
    });
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g
}

fn ping_pong(c: &mut Criterion) {
    let mut g = group(c, "ping_pong");
    let s = spool_rt();
    spool_ping_pong(&s);
    g.bench_function("spool", |b| b.iter(|| spool_ping_pong(&s)));
    drop(s);
    let t = tokio_rt();
    g.bench_function("tokio_mpsc", |b| b.iter(|| tokio_ping_pong(&t)));
    g.bench_function("flume", |b| b.iter(|| flume_ping_pong(&t)));
    g.bench_function("async_channel", |b| b.iter(|| async_channel_ping_pong(&t)));
    g.bench_function("kanal", |b| b.iter(|| kanal_ping_pong(&t)));
    g.finish();
}

fn mpmc(c: &mut Criterion) {
    let mut g = group(c, "mpmc");
    g.sample_size(10);
    let s = spool_rt();
    g.bench_function("spool", |b| b.iter(|| spool_mpmc(&s)));
    drop(s);
    let t = tokio_rt();
    g.bench_function("tokio_mpsc", |b| b.iter(|| tokio_mpmc(&t)));
    g.bench_function("flume", |b| {
        b.iter(|| {
            mpmc_tokio!(
                t,
                flume::bounded::<u64>(1024),
                |tx, v| tx.send_async(v).await.unwrap(),
                |rx| rx.recv_async().await.ok()
            )
        })
    });
    g.bench_function("async_channel", |b| {
        b.iter(|| {
            mpmc_tokio!(
                t,
                async_channel::bounded::<u64>(1024),
                |tx, v| tx.send(v).await.unwrap(),
                |rx| rx.recv().await.ok()
            )
        })
    });
    g.bench_function("kanal", |b| {
        b.iter(|| {
            mpmc_tokio!(
                t,
                kanal::bounded_async::<u64>(1024),
                |tx, v| tx.send(v).await.unwrap(),
                |rx| rx.recv().await.ok()
            )
        })
    });
    g.finish();
}

fn mutex(c: &mut Criterion) {
    let mut g = group(c, "mutex");
    g.sample_size(10);
    let s = spool_rt();
    g.bench_function("spool", |b| b.iter(|| spool_mutex(&s)));
    drop(s);
    let t = tokio_rt();
    g.bench_function("tokio", |b| b.iter(|| tokio_mutex(&t)));
    g.finish();
}

/// spool's ping-pong untraced and traced, back to back (the trace goes to
/// a sink: this measures recording, not disk).
fn ping_pong_traced(c: &mut Criterion) {
    let mut g = group(c, "ping_pong_traced");
    let s = spool_rt();
    spool_ping_pong(&s);
    g.bench_function("off", |b| b.iter(|| spool_ping_pong(&s)));
    s.block_on(async { spool::trace::start(std::io::sink()) })
        .expect("start a trace");
    g.bench_function("on", |b| b.iter(|| spool_ping_pong(&s)));
    s.block_on(async { spool::trace::stop() })
        .expect("stop the trace");
    g.finish();
}

criterion_group!(sync, ping_pong, mpmc, mutex, ping_pong_traced);
criterion_main!(sync);
