//! The tracer-cost anchors of issue 14 on spool: spawn, chan ping-pong and
//! yield, N operations in a fresh process, with the trace (if any) started
//! by `SPOOL_TRACE` or `SPOOL_FLIGHT_RECORDER` when the runtime is built.
//! spool's side of the comparison with Go's `benches/go/anchors` (same
//! shapes, same output line), driven by `benches/anchors.sh`.
//!
//! ```text
//! cargo build --release --example anchors
//! target/release/examples/anchors yield 10000000
//! SPOOL_TRACE=/tmp/s.trace target/release/examples/anchors yield 10000000
//! SPOOL_TRACE=/tmp/s.trace target/release/examples/anchors yield 1000000 --events
//! ```
//!
//! Workloads (ops = N), on a runtime of 2 Ps (Go: `GOMAXPROCS=2`):
//! - `spawn`: one task spawns N tasks in waves of 10,000, each calling
//!   `WaitGroup::done`, and waits for each wave;
//! - `pingpong`: two tasks bounce a value N times over two `chan(0)`s;
//! - `yield`: 4 tasks call `yield_now` N / 4 times each;
//! - `clock`: N back-to-back reads of the clock the tracer stamps events
//!   with (`rdtsc` on x86_64, `Instant::now` elsewhere) on the main thread:
//!   the clock floor the per-event cost is judged against.
//!
//! Output: the line Go's program prints (`spool WORKLOAD traced|untraced N
//! ops: W ns/op wall, C ns/op cpu`), then, when traced, the trace writer
//! thread's CPU time as a share of the process's over the workload, the
//! runtime's build time (with `SPOOL_TRACE` that includes starting the
//! trace; with its CPU time, all threads) and its drop time (stopping it:
//! the last generation written).
//! `--events` reads the finished trace back and prints bytes per event.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spawns per wave of the spawn workload (Go: the same).
const WAVE: u64 = 10_000;
/// Ps of the runtime (Go: `GOMAXPROCS=2`).
const PROCS: usize = 2;
/// Yielding tasks: two per P, as Go's `2 * GOMAXPROCS`.
const YIELDERS: u64 = 2 * PROCS as u64;

async fn spawn(n: u64) {
    let wg = spool::sync::WaitGroup::new();
    let mut left = n;
    while left > 0 {
        let k = left.min(WAVE);
        wg.add(k as usize);
        for _ in 0..k {
            let wg = wg.clone();
            spool::spawn(async move { wg.done() });
        }
        wg.wait().await;
        left -= k;
    }
}

async fn pingpong(n: u64) {
    let (a_tx, a_rx) = spool::sync::chan::<u64>(0);
    let (b_tx, b_rx) = spool::sync::chan::<u64>(0);
    let echo = spool::spawn(async move {
        while let Some(v) = a_rx.recv().await {
            b_tx.send(v).await.expect("pingpong: driver gone");
        }
    });
    let driver = spool::spawn(async move {
        for i in 0..n {
            a_tx.send(i).await.expect("pingpong: echo gone");
            assert_eq!(b_rx.recv().await, Some(i), "pingpong: wrong value");
        }
    });
    driver.await.expect("pingpong driver");
    echo.await.expect("pingpong echo");
}

async fn yields(n: u64) {
    let wg = spool::sync::WaitGroup::new();
    wg.add(YIELDERS as usize);
    for _ in 0..YIELDERS {
        let wg = wg.clone();
        spool::spawn(async move {
            for _ in 0..n / YIELDERS {
                spool::yield_now().await;
            }
            wg.done();
        });
    }
    wg.wait().await;
}

/// N back-to-back clock reads; returns their sum so none is optimised away.
fn clock(n: u64) -> u64 {
    let mut sum = 0u64;
    for _ in 0..n {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        let t = unsafe { std::arch::x86_64::_rdtsc() };
        #[cfg(not(target_arch = "x86_64"))]
        let t = std::time::Instant::now().elapsed().as_nanos() as u64;
        sum = sum.wrapping_add(t);
    }
    sum
}

/// The process's user + system CPU time, all threads.
fn process_cpu() -> Duration {
    // SAFETY: `getrusage` writes into the zeroed struct we pass and reads
    // nothing else; RUSAGE_SELF is always valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (utime + stime) of this process's threads named `name`, from
/// `/proc/self/task/*/stat` (clock ticks; 0 if none runs). The kernel keeps
/// the first 15 bytes of a thread's name, so those are compared.
fn thread_cpu(name: &str) -> Duration {
    let name = &name[..name.len().min(15)];
    let hz = {
        // SAFETY: `sysconf` has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if v > 0 { v as u64 } else { 100 }
    };
    let mut ticks = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 12 {
            ticks += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
    }
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

fn per_op(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n.max(1) as f64
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: anchors spawn|pingpong|yield|clock N [--events]";
    let (workload, n, events) = match args.as_slice() {
        [w, n] => (w.as_str(), n, false),
        [w, n, e] if e == "--events" => (w.as_str(), n, true),
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let Ok(n) = n.parse::<u64>() else {
        eprintln!("N must be a whole number, got {n:?}\n{usage}");
        return ExitCode::from(2);
    };
    if workload == "clock" {
        let (c0, t0) = (process_cpu(), Instant::now());
        std::hint::black_box(clock(n));
        let (wall, cpu) = (t0.elapsed(), process_cpu() - c0);
        println!(
            "spool clock untraced {n} ops: {:.2} ns/op wall, {:.2} ns/op cpu",
            per_op(wall, n),
            per_op(cpu, n)
        );
        return ExitCode::SUCCESS;
    }
    if !["spawn", "pingpong", "yield"].contains(&workload) {
        eprintln!("unknown workload {workload:?}\n{usage}");
        return ExitCode::from(2);
    }
    let trace_path = std::env::var_os(spool::trace::ENV_VAR);
    let (built, built_cpu) = (Instant::now(), process_cpu());
    let rt = match spool::Builder::new().procs(PROCS).build() {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("build runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (build_time, build_cpu) = (built.elapsed(), process_cpu() - built_cpu);
    let traced = spool::trace::is_tracing();
    let (c0, w0) = (process_cpu(), thread_cpu("spool-trace-writer"));
    let t0 = Instant::now();
    rt.block_on(async move {
        match workload {
            "spawn" => spawn(n).await,
            "pingpong" => pingpong(n).await,
            _ => yields(n).await,
        }
    });
    let wall = t0.elapsed();
    let (cpu, writer) = (
        process_cpu() - c0,
        thread_cpu("spool-trace-writer").saturating_sub(w0),
    );
    let mode = if traced { "traced" } else { "untraced" };
    println!(
        "spool {workload} {mode} {n} ops: {:.1} ns/op wall, {:.1} ns/op cpu",
        per_op(wall, n),
        per_op(cpu, n)
    );
    let dropped = Instant::now();
    drop(rt);
    let drop_time = dropped.elapsed();
    if traced {
        println!(
            "  writer thread: {:.1} ns/op cpu, {:.1} % of the process's cpu",
            per_op(writer, n),
            100.0 * writer.as_secs_f64() / cpu.as_secs_f64().max(1e-9),
        );
    }
    println!(
        "  runtime build {:.3} ms ({:.3} ms cpu), drop {:.3} ms",
        build_time.as_secs_f64() * 1e3,
        build_cpu.as_secs_f64() * 1e3,
        drop_time.as_secs_f64() * 1e3
    );
    if events {
        let Some(path) = trace_path.filter(|_| traced) else {
            eprintln!("--events needs a trace: set {}", spool::trace::ENV_VAR);
            return ExitCode::from(2);
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("read {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        };
        match spool_trace::read::read(&bytes) {
            Ok(t) => println!(
                "  trace: {} bytes, {} events, {:.2} bytes/event",
                bytes.len(),
                t.event_count(),
                bytes.len() as f64 / t.event_count().max(1) as f64
            ),
            Err(e) => {
                eprintln!("decode {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
