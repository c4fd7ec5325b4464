//! A tour of spool's executor: spawn tasks, join them, sleep, yield, time out.
//!
//! Run it with `cargo run --release --example spawn`. With
//! `SPOOL_TRACE=trace.out` set, the same run is recorded as a Go execution
//! trace (see the README).

use std::time::Duration;

use spool::time::{Instant, sleep, timeout};
use spool::{Runtime, spawn, yield_now};

/// A "worker" task: sleeps a little, yields, and returns a result.
async fn fetch(id: u64) -> u64 {
    sleep(Duration::from_millis(5 + id % 10)).await;
    yield_now().await;
    id * id
}

fn main() -> std::io::Result<()> {
    // Report task panics in one line (the join below shows them too).
    std::panic::set_hook(Box::new(|info| eprintln!("[task panicked: {info}]")));
    let rt = Runtime::new()?;
    println!("spool runtime with {} Ps", rt.handle().procs());

    rt.block_on(async {
        let start = Instant::now();

        // 1. Fan out: spawn 100 tasks and join them all.
        let handles: Vec<_> = (0..100).map(|id| spawn(fetch(id))).collect();
        let mut total = 0;
        for h in handles {
            total += h.await.expect("fetch task failed");
        }
        println!(
            "fan-out: 100 tasks, sum of squares = {total} ({:?})",
            start.elapsed()
        );

        // 2. A pipeline: each stage spawns the next.
        fn stage(n: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>> {
            Box::pin(async move {
                if n == 0 {
                    return 0;
                }
                spawn(stage(n - 1)).await.unwrap() + 1
            })
        }
        println!("chain: depth {} reached", stage(50).await);

        // 3. A task that panics is isolated: the join reports it.
        let bad = spawn(async {
            sleep(Duration::from_millis(1)).await;
            if Instant::now().elapsed() >= Duration::ZERO {
                panic!("this task fails on purpose");
            }
        });
        match bad.await {
            Ok(()) => println!("unexpected success"),
            Err(e) => println!("panic caught: {e}"),
        }

        // 4. Time out a slow task, and abort another.
        let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(60))).await;
        println!(
            "timeout: {}",
            if slow.is_err() {
                "gave up after 10ms"
            } else {
                "finished?"
            }
        );
        let forever = spawn(std::future::pending::<()>());
        forever.abort();
        println!(
            "aborted: cancelled = {}",
            forever.await.unwrap_err().is_cancelled()
        );
    });
    Ok(())
}
