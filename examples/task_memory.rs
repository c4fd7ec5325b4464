//! Measures the resident memory of parked tasks: spawns N tasks (default
//! 1,000,000) that each hold a 16-byte future and wait forever, then prints
//! the RSS growth per task (from `/proc/self/statm`; Linux only).
//!
//! `cargo run --release --example task_memory [N]`

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A 16-byte future that never completes and keeps no waker.
struct Parked {
    _payload: [u64; 2],
}

impl Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

fn rss_bytes() -> std::io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected /proc/self/statm: {statm:?}")))?;
    Ok(pages * 4096)
}

fn main() -> std::io::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        None => 1_000_000,
        Some(s) => s.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad task count {s:?}: {e}"),
            )
        })?,
    };
    assert_eq!(std::mem::size_of::<Parked>(), 16);
    let rt = spool::Runtime::new()?;
    // Warm up the runtime (thread stacks, queues) before measuring.
    rt.block_on(async {
        for _ in 0..1000 {
            spool::spawn(async {}).await.unwrap();
        }
    });
    let before = rss_bytes()?;
    for _ in 0..n {
        // Detached: the JoinHandle is dropped, as for a fire-and-forget goroutine.
        drop(rt.spawn(Parked { _payload: [0; 2] }));
    }
    // Wait until every task has been polled once and parked.
    while rt.handle().alive_tasks() < n {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    rt.block_on(async {
        for _ in 0..10 {
            spool::yield_now().await;
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let after = rss_bytes()?;
    let per_task = (after - before) as f64 / n as f64;
    println!(
        "{n} parked tasks with a 16-byte future: RSS +{} KiB, {per_task:.1} bytes per task",
        (after - before) / 1024
    );
    Ok(())
}
