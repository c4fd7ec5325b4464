//! Issue 12's benchmarks, spool and tokio side by side in one run (2
//! worker threads / Ps each); each measurement is repeated and its median
//! printed, the executors alternating.
//!
//! - `probe`: the main future spawns two tasks per round and awaits both,
//!   100,000 rounds; spool's `Runtime::run` (main is a task on a P) against
//!   tokio's `block_on` (main outside the workers) and, for reference,
//!   tokio with the same loop in a spawned task.
//! - `bip`: `block_in_place` around a ~1 µs call, against the bare call, in
//!   a task; the difference per call is the fast path's overhead.
//! - `spawn_blocking`: a task awaits `spawn_blocking(|| ..)` of a trivial
//!   closure, one at a time: the round trip through the blocking pool.
//! - `idle`: an idle runtime's threads, context switches and CPU time per
//!   second over 3 s (`/proc/self/task/*/{status,schedstat}`): sysmon's
//!   sleep.
//!
//! `cargo bench --bench blocking [-- probe|bip|spawn_blocking|idle]`
//! (no name: all). For instruction counts of the fast path:
//! `valgrind --tool=callgrind BENCH_BINARY bip-count spool|plain N`.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

const PROCS: usize = 2;
const REPEATS: usize = 7;

fn spool_rt() -> spool::Runtime {
    spool::Builder::new().procs(PROCS).build().unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(PROCS)
        .enable_all()
        .build()
        .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

// ---- probe ----

const ROUNDS: u32 = 100_000;

async fn spool_rounds() {
    for i in 0..ROUNDS {
        let a = spool::spawn(async move { black_box(i) });
        let b = spool::spawn(async move { black_box(i + 1) });
        black_box(a.await.unwrap() + b.await.unwrap());
    }
}

async fn tokio_rounds() {
    for i in 0..ROUNDS {
        let a = tokio::spawn(async move { black_box(i) });
        let b = tokio::spawn(async move { black_box(i + 1) });
        black_box(a.await.unwrap() + b.await.unwrap());
    }
}

fn probe() {
    let s = spool_rt();
    let t = tokio_rt();
    let (mut sp, mut tb, mut ts) = (Vec::new(), Vec::new(), Vec::new());
    // One warm-up each.
    s.run(spool_rounds());
    t.block_on(tokio_rounds());
    for _ in 0..REPEATS {
        let now = Instant::now();
        s.run(spool_rounds());
        sp.push(now.elapsed().as_nanos() as f64);
        let now = Instant::now();
        t.block_on(tokio_rounds());
        tb.push(now.elapsed().as_nanos() as f64);
        let now = Instant::now();
        t.block_on(t.spawn(tokio_rounds())).unwrap();
        ts.push(now.elapsed().as_nanos() as f64);
    }
    let (sp, tb, ts) = (median(sp), median(tb), median(ts));
    let r = f64::from(ROUNDS);
    println!("probe: main spawns two tasks and awaits both, {ROUNDS} rounds (median of {REPEATS})");
    println!(
        "  spool Runtime::run      {:>10}  {:>9}/round",
        fmt_ns(sp),
        fmt_ns(sp / r)
    );
    println!(
        "  tokio block_on          {:>10}  {:>9}/round",
        fmt_ns(tb),
        fmt_ns(tb / r)
    );
    println!(
        "  tokio main in a task    {:>10}  {:>9}/round",
        fmt_ns(ts),
        fmt_ns(ts / r)
    );
    println!(
        "  spool/tokio block_on {:.3}x, spool/tokio task {:.3}x",
        sp / tb,
        sp / ts
    );
}

// ---- block_in_place ----

/// Spin iterations that make [`work`] take about 1 µs: scaled twice by
/// the median of 1,001 timed calls (a median, so a preempted call does not
/// move it).
fn calibrate() -> u64 {
    let mut iters = 1000u64;
    for _ in 0..3 {
        let per_call = median(
            (0..1001)
                .map(|_| {
                    let t = Instant::now();
                    black_box(work(black_box(iters)));
                    t.elapsed().as_nanos() as f64
                })
                .collect(),
        );
        iters = ((iters as f64) * 1000.0 / per_call).round().max(1.0) as u64;
    }
    iters
}

/// About `iters` dependent additions the optimizer cannot remove.
#[inline(never)]
fn work(iters: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..iters {
        x = black_box(x.wrapping_add(i));
    }
    x
}

const BIP_CALLS: usize = 20_000;

/// Per-call nanoseconds of `BIP_CALLS` bare calls and as many wrapped ones,
/// interleaved and timed one by one, so that a preempted call is one
/// outlier rather than a shift of the whole block. The task yields after
/// each pair: each wrapped call is the first of its poll (tokio gives the
/// worker's core away on a poll's first `block_in_place` and takes it back
/// when the poll ends; later calls in the same poll would be free).
async fn bip_calls<Y: Future<Output = ()>>(
    iters: u64,
    wrap: impl Fn(&dyn Fn() -> u64) -> u64,
    yield_now: impl Fn() -> Y,
) -> (Vec<f64>, Vec<f64>) {
    let (mut bare, mut wrapped) = (Vec::with_capacity(BIP_CALLS), Vec::with_capacity(BIP_CALLS));
    for _ in 0..BIP_CALLS {
        let t0 = Instant::now();
        black_box(work(black_box(iters)));
        let t1 = Instant::now();
        black_box(wrap(&|| work(black_box(iters))));
        let t2 = Instant::now();
        bare.push((t1 - t0).as_nanos() as f64);
        wrapped.push((t2 - t1).as_nanos() as f64);
        yield_now().await;
    }
    (bare, wrapped)
}

/// Mean of the middle 80 % of `v`.
fn trimmed_mean(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let cut = v.len() / 10;
    let mid = &v[cut..v.len() - cut];
    mid.iter().sum::<f64>() / mid.len() as f64
}

fn bip() {
    let iters = calibrate();
    let s = spool_rt();
    let t = tokio_rt();
    let mut rows: [Vec<[f64; 4]>; 2] = [Vec::new(), Vec::new()];
    let summary = |b: Vec<f64>, w: Vec<f64>| {
        let d: Vec<f64> = b.iter().zip(&w).map(|(b, w)| w - b).collect();
        [median(b), median(w), median(d.clone()), trimmed_mean(d)]
    };
    for _ in 0..REPEATS {
        let (b, w) = s.run(async move {
            bip_calls(iters, |f| spool::block_in_place(f), spool::yield_now).await
        });
        rows[0].push(summary(b, w));
        let (b, w) = t
            .block_on(t.spawn(async move {
                bip_calls(
                    iters,
                    |f| tokio::task::block_in_place(f),
                    tokio::task::yield_now,
                )
                .await
            }))
            .unwrap();
        rows[1].push(summary(b, w));
    }
    println!(
        "bip: block_in_place around a {iters}-iteration (~1 µs) call, {BIP_CALLS} calls a block, \
         each timed, a yield after each; per block the medians and the 80 % trimmed mean of \
         (wrapped - bare); median over {REPEATS} blocks"
    );
    for (name, r) in ["spool", "tokio"].iter().zip(rows) {
        let col = |i: usize| median(r.iter().map(|x| x[i]).collect());
        println!(
            "  {name}  bare {:>9}  wrapped {:>9}  overhead: median {:>9}, trimmed mean {:>9}/call",
            fmt_ns(col(0)),
            fmt_ns(col(1)),
            fmt_ns(col(2)),
            fmt_ns(col(3))
        );
    }
}

/// `bip-count spool|plain N`: N calls of `work(ITERS)`, wrapped in
/// `block_in_place` or not, in a task: for callgrind, whose count
/// difference divided by N is the wrapper's instructions per call.
fn bip_count(mode: &str, n: u32) {
    const ITERS: u64 = 300;
    let s = spool_rt();
    let wrapped = match mode {
        "spool" => true,
        "plain" => false,
        _ => panic!("bip-count spool|plain N"),
    };
    s.run(async move {
        for _ in 0..n {
            if wrapped {
                black_box(spool::block_in_place(|| work(black_box(ITERS))));
            } else {
                black_box(work(black_box(ITERS)));
            }
        }
    });
}

// ---- spawn_blocking ----

const SB_CALLS: u32 = 10_000;

fn spawn_blocking() {
    let s = spool_rt();
    let t = tokio_rt();
    let (mut sv, mut tv) = (Vec::new(), Vec::new());
    for r in 0..=REPEATS {
        let now = Instant::now();
        s.run(async {
            for i in 0..SB_CALLS {
                black_box(spool::spawn_blocking(move || black_box(i)).await.unwrap());
            }
        });
        let sn = now.elapsed().as_nanos() as f64 / f64::from(SB_CALLS);
        let now = Instant::now();
        t.block_on(t.spawn(async {
            for i in 0..SB_CALLS {
                black_box(
                    tokio::task::spawn_blocking(move || black_box(i))
                        .await
                        .unwrap(),
                );
            }
        }))
        .unwrap();
        let tn = now.elapsed().as_nanos() as f64 / f64::from(SB_CALLS);
        if r > 0 {
            // The first round is the warm-up (pool threads start).
            sv.push(sn);
            tv.push(tn);
        }
    }
    let (sn, tn) = (median(sv), median(tv));
    println!(
        "spawn_blocking: a task awaits one trivial closure at a time, {SB_CALLS} calls (median of {REPEATS})"
    );
    println!("  spool {:>9}/call", fmt_ns(sn));
    println!("  tokio {:>9}/call", fmt_ns(tn));
    println!("  spool/tokio {:.3}x", sn / tn);
}

// ---- idle ----

/// (thread id, thread name, voluntary + involuntary context switches, CPU
/// nanoseconds from `schedstat`) of every thread.
fn switches() -> Vec<(String, String, u64, u64)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").unwrap() {
        let e = e.unwrap();
        let dir = e.path();
        let (Ok(comm), Ok(status)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("status")),
        ) else {
            continue; // the thread exited
        };
        let n: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        let cpu_ns = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let tid = e.file_name().to_string_lossy().into_owned();
        v.push((tid, comm.trim().to_string(), n, cpu_ns));
    }
    v
}

/// Per thread-name group (the name without a trailing index), context
/// switches per second over `d`, the group's thread count, and its CPU
/// time per second (µs/s).
fn idle_rates(d: Duration) -> Vec<(String, f64, usize, f64)> {
    let group = |n: &str| n.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
    let before = switches();
    std::thread::sleep(d);
    let after = switches();
    let mut rates: Vec<(String, f64, usize, f64)> = Vec::new();
    for (tid, name, n, cpu) in &after {
        let (b, bcpu) = before
            .iter()
            .find(|x| &x.0 == tid)
            .map_or((0, 0), |x| (x.2, x.3));
        let g = group(name);
        let r = n.saturating_sub(b) as f64 / d.as_secs_f64();
        let c = cpu.saturating_sub(bcpu) as f64 / 1e3 / d.as_secs_f64();
        match rates.iter_mut().find(|x| x.0 == g) {
            Some(x) => {
                x.1 += r;
                x.2 += 1;
                x.3 += c;
            }
            None => rates.push((g, r, 1, c)),
        }
    }
    rates.sort_by(|a, b| a.0.cmp(&b.0));
    rates
}

fn idle() {
    let d = Duration::from_secs(3);
    println!(
        "idle: context switches and CPU time (schedstat) per second of each thread group, \
         idle runtime, over {d:?}"
    );
    {
        let s = spool_rt();
        s.run(async {});
        std::thread::sleep(Duration::from_secs(1)); // sysmon backs off
        for (name, r, n, c) in idle_rates(d) {
            println!("  spool  {name:<22} x{n:<3} {r:>8.1} switches/s  {c:>8.1} µs CPU/s");
        }
    }
    {
        let t = tokio_rt();
        t.block_on(async {});
        std::thread::sleep(Duration::from_secs(1));
        for (name, r, n, c) in idle_rates(d) {
            println!("  tokio  {name:<22} x{n:<3} {r:>8.1} switches/s  {c:>8.1} µs CPU/s");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.first().map(String::as_str) {
        Some("bip-count") => {
            let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            bip_count(args.get(1).map(String::as_str).unwrap_or(""), n);
        }
        Some("probe") => probe(),
        Some("bip") => bip(),
        Some("spawn_blocking") => spawn_blocking(),
        Some("idle") => idle(),
        None => {
            probe();
            bip();
            spawn_blocking();
            idle();
        }
        Some(other) => panic!("unknown benchmark {other:?}: probe, bip, spawn_blocking, idle"),
    }
}
