//! Measures the resident memory of parked tasks: a main task
//! (`Runtime::run`) spawns N tasks (default 1,000,000) that each hold a
//! 16-byte future and wait forever, then prints the RSS growth per task
//! (from `/proc/self/statm`; Linux only), with the size of one task's
//! allocation.
//!
//! The JoinHandles are excluded: they are kept in a `Vec` whose pages are
//! touched before the first measurement, so only the tasks grow the RSS.
//!
//! Three shapes, each measured in a process of its own (a second shape in
//! the same process would reuse the first's freed memory):
//! - `struct`: a 16-byte struct whose `poll` returns `Pending`;
//! - `async`: an `async move` block holding 16 bytes across a never-ready
//!   await (24 bytes: the 16 plus the block's state);
//! - `tokio`: the `async` shape on tokio (2 workers, the main loop in a
//!   spawned task), for comparison.
//!
//! Both futures count their polls in a static (no bytes of their own), so
//! the measurement waits until every task has been polled once.
//!
//! `cargo run --release --example task_memory [N] [struct|async|tokio]` (no
//! shape: all three, one child process each).

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Polls of the parked tasks (each is polled once: nothing wakes it).
static POLLED: AtomicUsize = AtomicUsize::new(0);

/// A 16-byte future that never completes and keeps no waker.
struct Parked {
    _payload: [u64; 2],
}

impl Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        POLLED.fetch_add(1, Ordering::Relaxed);
        Poll::Pending
    }
}

/// The `async` shape: 16 bytes live across an await that never finishes.
/// (An `async move` block capturing them, as a spawn site writes it; an
/// `async fn` would lay its argument out differently.)
#[allow(clippy::manual_async_fn)]
fn async_parked(payload: [u64; 2]) -> impl Future<Output = ()> + Send + 'static {
    async move {
        POLLED.fetch_add(1, Ordering::Relaxed);
        std::future::pending::<()>().await;
        std::hint::black_box(payload);
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

/// Spawns `n` tasks made by `make` from a main task and returns the RSS
/// growth in bytes.
fn measure<F>(n: usize, make: fn() -> F) -> std::io::Result<u64>
where
    F: Future<Output = ()> + Send + 'static,
{
    let rt = spool::Runtime::new()?;
    rt.run(async move {
        // Warm up the runtime (thread stacks, queues) before measuring.
        for _ in 0..1000 {
            spool::spawn(async {}).await.unwrap();
        }
        let mut handles: Vec<spool::JoinHandle<()>> = Vec::with_capacity(n);
        // Touch the handles' pages now, so that they are not counted.
        // SAFETY: the capacity holds `n` handles; the bytes written are
        // never read as handles (`push` overwrites them).
        unsafe {
            std::ptr::write_bytes(handles.as_mut_ptr(), 0, n);
        }
        let before = rss_bytes()?;
        for i in 0..n {
            handles.push(spool::spawn(make()));
            // Let the other P run (and park) the tasks as they come, as a
            // program that spawns over time does; the queues stay short.
            if i % 256 == 255 {
                spool::yield_now().await;
            }
        }
        // Wait until every task has been polled once and parked.
        while POLLED.load(Ordering::Relaxed) < n {
            spool::time::sleep(Duration::from_millis(10)).await;
        }
        spool::time::sleep(Duration::from_millis(200)).await;
        let after = rss_bytes()?;
        std::hint::black_box(&handles);
        std::mem::forget(handles);
        Ok(after - before)
    })
}

/// [`measure`] on tokio: the same loop in a task of a 2-worker runtime.
fn measure_tokio(n: usize) -> std::io::Result<u64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        tokio::spawn(async move {
            for _ in 0..1000 {
                tokio::spawn(async {}).await.unwrap();
            }
            let mut handles: Vec<tokio::task::JoinHandle<()>> = Vec::with_capacity(n);
            // SAFETY: as in `measure`.
            unsafe {
                std::ptr::write_bytes(handles.as_mut_ptr(), 0, n);
            }
            let before = rss_bytes()?;
            for i in 0..n {
                handles.push(tokio::spawn(async_parked([1; 2])));
                if i % 256 == 255 {
                    tokio::task::yield_now().await;
                }
            }
            while POLLED.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let after = rss_bytes()?;
            std::hint::black_box(&handles);
            std::mem::forget(handles);
            Ok(after - before)
        })
        .await
        .unwrap()
    })
}

fn run_shape(n: usize, shape: &str) -> std::io::Result<()> {
    let (grown, size) = match shape {
        "struct" => {
            assert_eq!(std::mem::size_of::<Parked>(), 16);
            (
                measure(n, || Parked { _payload: [0; 2] })?,
                spool_executor::__task_allocation_size::<Parked>(),
            )
        }
        "async" => {
            fn make() -> impl Future<Output = ()> + Send + 'static {
                async_parked([1; 2])
            }
            (measure(n, make)?, allocation_size_of(make))
        }
        "tokio" => {
            let grown = measure_tokio(n)?;
            println!(
                "{n} parked tasks, tokio async future: RSS +{} KiB, {:.1} bytes per task",
                grown / 1024,
                grown as f64 / n as f64,
            );
            return Ok(());
        }
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unknown shape {shape:?}: struct, async or tokio"),
            ));
        }
    };
    println!(
        "{n} parked tasks, {shape} future: RSS +{} KiB, {:.1} bytes per task \
         (task allocation {size} bytes)",
        grown / 1024,
        grown as f64 / n as f64,
    );
    Ok(())
}

/// The task allocation size for the future type `make` returns.
fn allocation_size_of<F>(_make: fn() -> F) -> usize
where
    F: Future,
{
    spool_executor::__task_allocation_size::<F>()
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        None => 1_000_000,
        Some(s) => s.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad task count {s:?}: {e}"),
            )
        })?,
    };
    match args.next() {
        Some(shape) => run_shape(n, &shape),
        None => {
            for shape in ["struct", "async", "tokio"] {
                let status = Command::new(std::env::current_exe()?)
                    .arg(n.to_string())
                    .arg(shape)
                    .status()?;
                if !status.success() {
                    return Err(std::io::Error::other(format!("{shape}: {status}")));
                }
            }
            Ok(())
        }
    }
}
