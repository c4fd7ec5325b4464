//! Prints the runtime's metrics once a second while a mixed load runs:
//! `cargo run --release --example metrics [seconds]` (default 3).
//!
//! Each line: live and spawned tasks, polls, steals, parks/unparks,
//! injector and per-P queue depths, blocking threads, long polls, caught
//! waker panics, trace bytes written and trace events lost
//! (`spool::RuntimeMetrics` documents each with its tokio / Go name).

use std::time::Duration;

fn main() -> std::io::Result<()> {
    let secs: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("seconds: a whole number"))
        .unwrap_or(3);
    let rt = spool::Runtime::new()?;
    let h = rt.handle().clone();
    rt.block_on(async move {
        // A load: bursts of short tasks and some sleepers.
        let load = spool::spawn(async {
            loop {
                let hs: Vec<_> = (0..1000u64)
                    .map(|i| {
                        spool::spawn(async move {
                            spool::yield_now().await;
                            if i % 10 == 0 {
                                spool::time::sleep(Duration::from_millis(1)).await;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            }
        });
        for s in 1..=secs {
            spool::time::sleep(Duration::from_secs(1)).await;
            let m = h.metrics();
            println!(
                "t={s}s live={} spawned={} polls={} steals={} parks={} unparks={} injector={} \
                 queues={:?} blocking={} long_polls={} waker_panics={} trace_bytes={} lost={}",
                m.live_tasks,
                m.spawned_tasks,
                m.polls,
                m.steals,
                m.parks,
                m.unparks,
                m.injector_depth,
                m.queue_depths,
                m.blocking_threads,
                m.long_polls,
                m.waker_panics,
                m.trace_bytes_written,
                m.trace_events_lost
            );
        }
        load.abort();
    });
    Ok(())
}
