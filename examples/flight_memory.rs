//! Where the flight recorder's memory goes: a steady load of short tasks
//! runs for `BASE` seconds with no recorder (the baseline RSS), then for
//! `SECONDS` more with a [`FlightRecorder`] of `MAX_BYTES`; once a second it
//! prints the process's RSS, its growth over the baseline and the window's
//! own memory (`FlightRecorder::window_bytes`), so the rest of the growth
//! (the generation being recorded, the writer's spare arena) is the
//! difference. The measurement behind "Flight recorder memory" in
//! `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release --example flight_memory -- [SECONDS] [MAX_BYTES] [BASE]
//! ```
//!
//! Defaults: 40 s, 16 MiB, 5 s. The load: 4 tasks, each looping 1,000
//! `yield_now` then a 1 ms sleep (about 10 MB of trace a second here), so
//! the window fills by `max_bytes` within seconds and then moves.

use std::time::{Duration, Instant};

use spool::trace::{FlightRecorder, FlightRecorderConfig};

/// Tasks of the load.
const TASKS: usize = 4;

/// The process's resident set in KiB (`VmRSS` of `/proc/self/status`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .map(|s| s.parse().expect("arguments: whole numbers"))
        .unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let (secs, max_bytes, base) = (arg(1, 40), arg(2, 16 << 20), arg(3, 5));
    let rt = spool::Builder::new().procs(2).build()?;
    for _ in 0..TASKS {
        rt.spawn(async {
            loop {
                for _ in 0..1000 {
                    spool::yield_now().await;
                }
                spool::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
    let t0 = Instant::now();
    let mut baseline = 0;
    println!("   s   RSS KiB  growth KiB  window KiB");
    for s in 1..=base {
        std::thread::sleep(Duration::from_secs(1));
        baseline = baseline.max(rss_kib());
        println!("{s:4} {:9} {:>11} {:>11}", rss_kib(), "-", "-");
    }
    let fr = FlightRecorder::new(FlightRecorderConfig {
        max_bytes,
        ..FlightRecorderConfig::default()
    });
    rt.block_on(async { fr.start() })
        .map_err(|e| std::io::Error::other(format!("start the flight recorder: {e}")))?;
    let mut peak = 0;
    for s in base + 1..=base + secs {
        std::thread::sleep(Duration::from_secs(1));
        let (rss, window) = (rss_kib(), fr.window_bytes() as u64 / 1024);
        let growth = rss.saturating_sub(baseline);
        peak = peak.max(growth);
        println!("{s:4} {rss:9} {growth:11} {window:11}");
    }
    fr.stop();
    println!(
        "baseline {baseline} KiB (max over the first {base} s); peak growth with the recorder {peak} KiB; \
         bound max_bytes + 4 MiB + 2 MiB = {} KiB; {:.0} s in all",
        (max_bytes + (6 << 20)) / 1024,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
