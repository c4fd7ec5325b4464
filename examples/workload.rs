//! Runs one scheduler workload of `benches/workloads` on one executor, N
//! times, and prints the mean time per iteration: the driver behind the
//! instruction counts and A/B runs in `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release --example workload -- spool ping_pong 100
//! valgrind --tool=callgrind target/release/examples/workload spool yield_many 15
//! SPOOL_TRACE=/tmp/t.trace target/release/examples/workload spool yield_many 300
//! ```
//!
//! Executors: `spool`, `spool-detect` (spool built with
//! `Builder::detect_deadlock(true)`, to count what detection costs),
//! `tokio`, `async-executor`. Workloads: the six of
//! `benches/workloads/mod.rs`. One warm-up iteration runs before timing.

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use workloads::{AsyncExecutor, Exec, Spool, Tokio};

fn run<E: Exec>(workload: &str, iters: u32) -> Result<(), String> {
    let names = workloads::all::<E>().map(|(n, _)| n);
    let Some((_, work)) = workloads::all::<E>()
        .into_iter()
        .find(|(n, _)| *n == workload)
    else {
        return Err(format!(
            "unknown workload {workload:?}; expected one of {names:?}"
        ));
    };
    let e = E::build();
    work(&e);
    let t = Instant::now();
    for _ in 0..iters {
        work(&e);
    }
    let per = t.elapsed() / iters.max(1);
    println!(
        "{} {workload} {iters} iterations: {per:?} per iteration",
        E::NAME
    );
    Ok(())
}

/// spool with deadlock detection on; otherwise [`Spool`].
struct SpoolDetect(Spool);

impl Exec for SpoolDetect {
    const NAME: &'static str = "spool-detect";
    type Spawner = ();
    fn build() -> Self {
        SpoolDetect(Spool(
            spool::Builder::new()
                .procs(workloads::WORKERS)
                .detect_deadlock(true)
                .build()
                .expect("build spool runtime"),
        ))
    }
    fn spawner(&self) -> Self::Spawner {}
    fn spawn_in<F: Future<Output = ()> + Send + 'static>(s: &Self::Spawner, f: F) {
        Spool::spawn_in(s, f)
    }
    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        self.0.spawn_remote(f)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        Spool::yield_now()
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        Spool::sleep(d)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: workload EXECUTOR WORKLOAD ITERATIONS (executors: spool, spool-detect, tokio, async-executor)";
    let [exec, workload, iters] = args.as_slice() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let iters: u32 = match iters.parse() {
        Ok(n) => n,
        Err(_) => {
            eprintln!("ITERATIONS must be a non-negative integer, got {iters:?}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let result = match exec.as_str() {
        "spool" => run::<Spool>(workload, iters),
        "spool-detect" => run::<SpoolDetect>(workload, iters),
        "tokio" => run::<Tokio>(workload, iters),
        "async-executor" => run::<AsyncExecutor>(workload, iters),
        other => Err(format!("unknown executor {other:?}\n{usage}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
