//! TCP echo round-trip latency, spool vs tokio: one connection on
//! 127.0.0.1, 64-byte messages; an echo task and a client task on the same
//! runtime (two workers each: spool `procs(2)`, tokio multi-thread
//! `worker_threads(2)`). One criterion iteration is one round trip (client
//! writes 64 bytes, the echo task reads and writes them back, the client
//! reads them), timed inside the client task with `iter_custom`.
//!
//! Run: `cargo bench --bench net`. Results: `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const MSG: usize = 64;

fn spool_rtt(rt: &spool::Runtime, iters: u64) -> Duration {
    rt.block_on(async move {
        let l = spool::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let echo = spool::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut b = [0u8; MSG];
            loop {
                if s.read_exact(&mut b).await.is_err() {
                    return;
                }
                s.write_all(&b).await.unwrap();
            }
        });
        let client = spool::spawn(async move {
            let mut c = spool::net::TcpStream::connect(addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let msg = [7u8; MSG];
            let mut b = [0u8; MSG];
            let start = Instant::now();
            for _ in 0..iters {
                c.write_all(&msg).await.unwrap();
                c.read_exact(&mut b).await.unwrap();
            }
            start.elapsed()
        });
        let t = client.await.unwrap();
        echo.await.unwrap();
        t
    })
}

fn tokio_rtt(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let echo = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut b = [0u8; MSG];
            loop {
                if s.read_exact(&mut b).await.is_err() {
                    return;
                }
                s.write_all(&b).await.unwrap();
            }
        });
        let client = tokio::spawn(async move {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let msg = [7u8; MSG];
            let mut b = [0u8; MSG];
            let start = Instant::now();
            for _ in 0..iters {
                c.write_all(&msg).await.unwrap();
                c.read_exact(&mut b).await.unwrap();
            }
            start.elapsed()
        });
        let t = client.await.unwrap();
        echo.await.unwrap();
        t
    })
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_echo_rtt");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let spool = spool::Builder::new().procs(2).build().unwrap();
    g.bench_function("spool", |b| b.iter_custom(|iters| spool_rtt(&spool, iters)));
    drop(spool);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    g.bench_function("tokio", |b| b.iter_custom(|iters| tokio_rtt(&tokio, iters)));
    drop(tokio);
    g.finish();
}

criterion_group!(net, benches);
criterion_main!(net);
