//! The scheduler workloads and the executors they run on, shared by the
//! `scheduler` bench (spool vs tokio vs async-executor) and the `tracer`
//! bench (spool with tracing off vs on).
//!
//! Each workload is written once against the small [`Exec`] trait, so every
//! executor runs exactly the same logic; only the spawn / block_on / yield /
//! sleep calls differ. Each executor gets [`WORKERS`] workers:
//! - spool: `Builder::new().procs(2)`;
//! - tokio: multi-thread runtime, `worker_threads(2)`;
//! - async-executor: one `Executor` run by two threads (`ex.run(shutdown)`),
//!   the main thread waits with `futures_lite::future::block_on`; timers come
//!   from async-io (the smol stack's timer).
//!
//! Every workload ends by signalling the main thread through a
//! `futures-channel` oneshot, which the main thread awaits with the
//! executor's own `block_on`. Invariant: a workload returns only after every
//! task it spawned has finished its work.

// Each bench binary uses a subset of the executors.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use futures_channel::oneshot;

/// Workers (Ps) per executor.
pub const WORKERS: usize = 2;

/// Ps of the spool runtime: [`WORKERS`], or `WORKLOAD_PROCS` when set (the
/// one-P callgrind counts of `docs/benchmarks.md`, which repeat within
/// ±1 % where two Ps' stealing and parking move them by up to ±10 %).
fn spool_procs() -> usize {
    std::env::var("WORKLOAD_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WORKERS)
}
/// Tasks spawned by `spawn_many_local`, `spawn_many_remote` and `timers`.
pub const NUM_SPAWN: usize = 10_000;
/// `yield_now` calls per task in `yield_many`.
pub const NUM_YIELD: usize = 1_000;
/// Rounds of `ping_pong`.
pub const NUM_PINGS: usize = 1_000;
/// Depth of `chained_spawn`.
pub const CHAIN_DEPTH: usize = 1_000;

// ---------------------------------------------------------------------------
// The executor abstraction: just what the workloads need.
// ---------------------------------------------------------------------------

/// One executor under test. `Spawner` is what a running task uses to spawn
/// (a cheap clone captured by the task), so the in-task spawn path is the
/// executor's natural one (`tokio::spawn`-style, local queue when it has one).
pub trait Exec {
    /// Name shown in criterion's output.
    const NAME: &'static str;
    /// Handle a task uses to spawn more tasks.
    type Spawner: Clone + Send + Sync + 'static;
    /// Builds the executor with [`WORKERS`] workers.
    fn build() -> Self;
    /// A spawner for use inside tasks.
    fn spawner(&self) -> Self::Spawner;
    /// Spawns from inside a running task; the task is detached.
    fn spawn_in<F: Future<Output = ()> + Send + 'static>(s: &Self::Spawner, f: F);
    /// Spawns from the main thread (not a worker); the task is detached.
    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, f: F);
    /// Blocks the main thread on `f`.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// Yields to the scheduler once.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Sleeps for `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
}

/// spool with two Ps.
pub struct Spool(pub spool::Runtime);

impl Exec for Spool {
    const NAME: &'static str = "spool";
    type Spawner = ();
    fn build() -> Self {
        Spool(
            spool::Builder::new()
                .procs(spool_procs())
                .build()
                .expect("build spool runtime"),
        )
    }
    fn spawner(&self) -> Self::Spawner {}
    fn spawn_in<F: Future<Output = ()> + Send + 'static>(_: &Self::Spawner, f: F) {
        drop(spool::spawn(f));
    }
    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        drop(self.0.spawn(f));
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        spool::yield_now()
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        spool::time::sleep(d)
    }
}

/// tokio's multi-thread runtime with two workers.
pub struct Tokio(tokio::runtime::Runtime);

impl Exec for Tokio {
    const NAME: &'static str = "tokio";
    type Spawner = tokio::runtime::Handle;
    fn build() -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .enable_time()
                .build()
                .expect("build tokio runtime"),
        )
    }
    fn spawner(&self) -> Self::Spawner {
        self.0.handle().clone()
    }
    fn spawn_in<F: Future<Output = ()> + Send + 'static>(_: &Self::Spawner, f: F) {
        drop(tokio::spawn(f));
    }
    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        drop(self.0.spawn(f));
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

/// async-executor: one shared `Executor` driven by two threads.
pub struct AsyncExecutor {
    ex: Arc<async_executor::Executor<'static>>,
    /// Dropping the senders ends the threads' `ex.run(..)`.
    shutdown: Vec<oneshot::Sender<()>>,
    threads: Vec<ThreadHandle<()>>,
}

impl Exec for AsyncExecutor {
    const NAME: &'static str = "async-executor";
    type Spawner = Arc<async_executor::Executor<'static>>;
    fn build() -> Self {
        let ex = Arc::new(async_executor::Executor::new());
        let mut shutdown = Vec::new();
        let mut threads = Vec::new();
        for i in 0..WORKERS {
            let (tx, rx) = oneshot::channel::<()>();
            let ex = ex.clone();
            shutdown.push(tx);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("async-executor-{i}"))
                    .spawn(move || {
                        let _ = futures_lite::future::block_on(ex.run(rx));
                    })
                    .expect("spawn async-executor thread"),
            );
        }
        AsyncExecutor {
            ex,
            shutdown,
            threads,
        }
    }
    fn spawner(&self) -> Self::Spawner {
        self.ex.clone()
    }
    fn spawn_in<F: Future<Output = ()> + Send + 'static>(s: &Self::Spawner, f: F) {
        s.spawn(f).detach();
    }
    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        self.ex.spawn(f).detach();
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        futures_lite::future::block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
    async fn sleep(d: Duration) {
        async_io::Timer::after(d).await;
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        self.shutdown.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Workloads.
// ---------------------------------------------------------------------------

/// Counts tasks down; the one that brings the count to zero sends `done`.
struct Latch {
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Latch {
    fn new(n: usize) -> (Arc<Latch>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let latch = Latch {
            remaining: AtomicUsize::new(n),
            done: Mutex::new(Some(tx)),
        };
        (Arc::new(latch), rx)
    }

    /// Bumps the counter (down); the last one signals.
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.done.lock().unwrap().take();
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
        }
    }
}

/// A task spawns `NUM_SPAWN` tasks that each bump a counter, waits for all of
/// them, then tells the main thread.
pub fn spawn_many_local<E: Exec>(e: &E) {
    let (to_main, from_task) = oneshot::channel::<()>();
    let s = e.spawner();
    e.spawn_remote(async move {
        let (latch, all_done) = Latch::new(NUM_SPAWN);
        for _ in 0..NUM_SPAWN {
            let latch = latch.clone();
            E::spawn_in(&s, async move { latch.count_down() });
        }
        all_done.await.unwrap();
        to_main.send(()).unwrap();
    });
    e.block_on(from_task).unwrap();
}

/// The main thread spawns `NUM_SPAWN` tasks and waits for all of them.
pub fn spawn_many_remote<E: Exec>(e: &E) {
    let (latch, all_done) = Latch::new(NUM_SPAWN);
    for _ in 0..NUM_SPAWN {
        let latch = latch.clone();
        e.spawn_remote(async move { latch.count_down() });
    }
    e.block_on(all_done).unwrap();
}

/// `2 × WORKERS` tasks each yield `NUM_YIELD` times.
pub fn yield_many<E: Exec>(e: &E) {
    let tasks = 2 * WORKERS;
    let (latch, all_done) = Latch::new(tasks);
    for _ in 0..tasks {
        let latch = latch.clone();
        e.spawn_remote(async move {
            for _ in 0..NUM_YIELD {
                E::yield_now().await;
            }
            latch.count_down();
        });
    }
    e.block_on(all_done).unwrap();
}

/// `NUM_PINGS` rounds, spawned by one task; each round is a task that spawns a
/// partner and bounces a message to it and back through two oneshots.
/// (Same shape as tokio's own `ping_pong` bench.)
pub fn ping_pong<E: Exec>(e: &E) {
    let (latch, all_done) = Latch::new(NUM_PINGS);
    let s = e.spawner();
    e.spawn_remote(async move {
        for _ in 0..NUM_PINGS {
            let latch = latch.clone();
            let s2 = s.clone();
            E::spawn_in(&s, async move {
                let (tx1, rx1) = oneshot::channel::<()>();
                let (tx2, rx2) = oneshot::channel::<()>();
                E::spawn_in(&s2, async move {
                    rx1.await.unwrap();
                    tx2.send(()).unwrap();
                });
                tx1.send(()).unwrap();
                rx2.await.unwrap();
                latch.count_down();
            });
        }
    });
    e.block_on(all_done).unwrap();
}

/// Each task spawns the next, `CHAIN_DEPTH` deep; the last one signals.
pub fn chained_spawn<E: Exec>(e: &E) {
    fn link<E: Exec>(s: E::Spawner, done: oneshot::Sender<()>, n: usize) {
        if n == 0 {
            let _ = done.send(());
        } else {
            let s2 = s.clone();
            E::spawn_in(&s, async move { link::<E>(s2, done, n - 1) });
        }
    }
    let (done, rx) = oneshot::channel();
    let s = e.spawner();
    e.spawn_remote(async move { link::<E>(s, done, CHAIN_DEPTH) });
    e.block_on(rx).unwrap();
}

/// One task spawns `NUM_SPAWN` tasks that each sleep 1 ms.
pub fn timers<E: Exec>(e: &E) {
    let (latch, all_done) = Latch::new(NUM_SPAWN);
    let s = e.spawner();
    e.spawn_remote(async move {
        for _ in 0..NUM_SPAWN {
            let latch = latch.clone();
            E::spawn_in(&s, async move {
                E::sleep(Duration::from_millis(1)).await;
                latch.count_down();
            });
        }
    });
    e.block_on(all_done).unwrap();
}

/// A workload instantiated for executor `E`.
pub type Work<E> = fn(&E);

/// The six workloads, by name, for executor `E`.
pub fn all<E: Exec>() -> [(&'static str, Work<E>); 6] {
    [
        ("spawn_many_local", spawn_many_local::<E>),
        ("spawn_many_remote", spawn_many_remote::<E>),
        ("yield_many", yield_many::<E>),
        ("ping_pong", ping_pong::<E>),
        ("chained_spawn", chained_spawn::<E>),
        ("timers", timers::<E>),
    ]
}
