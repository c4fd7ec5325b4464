//! A traced demo for the `spool-trace` viewer: a small pipeline of tasks
//! that sleep, wake each other through channels, yield, and annotate their
//! work with user tasks, regions and logs; one task that blocks its P for
//! 12 ms in a single poll (a long poll); plus one stop-the-world.
//!
//! ```sh
//! cargo run --release --example trace_demo -- demo.trace
//! cargo run --release -p spool-trace -- demo.trace
//! ```
//!
//! The trace goes to the path given as the first argument (default
//! `trace_demo.trace`); an optional second argument sets the number of
//! ping-pong rounds (default 200; 200000 makes a trace of about a million
//! events). The last line printed is the command that shows it.

use std::process::ExitCode;
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use futures_lite::StreamExt;

/// Receives numbers, works on each (a sleep inside a region), logs and forwards the result.
async fn worker(id: usize, mut rx: mpsc::Receiver<u64>, tx: mpsc::Sender<u64>) {
    let mut tx = tx;
    while let Some(v) = rx.next().await {
        let task = spool::trace::Task::new("item");
        task.region_async(
            "work",
            spool::time::sleep(Duration::from_micros(200 + 50 * v % 300)),
        )
        .await;
        task.log("worker", &format!("worker {id} finished item {v}"));
        // A yield in the middle: the task stays runnable and lets others run.
        spool::yield_now().await;
        if tx.try_send(v * v).is_err() {
            break;
        }
        task.end();
    }
}

/// Bounces a value `rounds` times between two tasks.
async fn ping_pong(rounds: usize) -> usize {
    let mut n = 0;
    for r in 0..rounds {
        let (tx, rx) = oneshot::channel();
        let pong = spool::spawn(async move { rx.await.unwrap_or(0) + 1 });
        tx.send(r).ok();
        n += pong.await.unwrap_or(0);
    }
    n
}

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "trace_demo.trace".into());
    let rounds: usize = match std::env::args().nth(2).map(|n| n.parse()) {
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("trace_demo: the second argument (ping-pong rounds) must be a number: {e}");
            return ExitCode::from(2);
        }
        None => 200,
    };
    let rt = match spool::Builder::new().procs(4).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trace_demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Tracing errors (the file cannot be created, a write fails: a full
    // disk) end the demo with the error, not a panic.
    let run = rt.block_on(async {
        spool::trace::start_file(&path)?;
        let (in_tx, in_rx) = mpsc::channel::<u64>(64);
        let (out_tx, mut out_rx) = mpsc::channel::<u64>(256);
        // One receiver shared by the workers through a fan-out task.
        let mut worker_txs = Vec::new();
        let mut workers = Vec::new();
        for id in 0..4 {
            let (tx, rx) = mpsc::channel::<u64>(8);
            worker_txs.push(tx);
            workers.push(spool::spawn(worker(id, rx, out_tx.clone())));
        }
        drop(out_tx);
        let fan_out = spool::spawn(async move {
            let mut in_rx = in_rx;
            let mut i = 0;
            while let Some(v) = in_rx.next().await {
                let tx = &mut worker_txs[i % 4];
                while tx.try_send(v).is_err() {
                    spool::time::sleep(Duration::from_micros(50)).await;
                }
                i += 1;
            }
        });
        let producer = spool::spawn(async move {
            let mut in_tx = in_tx;
            for v in 0..64u64 {
                while in_tx.try_send(v).is_err() {
                    spool::yield_now().await;
                }
                if v % 16 == 15 {
                    spool::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        let pp = spool::spawn(ping_pong(rounds));
        // A classic mistake for the viewer's problems summary to catch: 12 ms
        // of blocking work inside one poll (a long poll) stalls its P.
        let slow = spool::spawn(async {
            let t = std::time::Instant::now();
            while t.elapsed() < Duration::from_millis(12) {
                std::hint::spin_loop();
            }
        });
        producer.await.ok();
        // Close the current generation: the rest of the run lands in a
        // second one. (After a write error this does nothing; `stop`
        // below reports the error.)
        let _ = spool::trace::flush();
        fan_out.await.ok();
        let mut sum = 0;
        for w in workers {
            w.await.ok();
        }
        while let Some(v) = out_rx.next().await {
            sum += v;
        }
        let rounds = pp.await.unwrap_or(0);
        slow.await.ok();
        spool::Handle::current().stop_the_world("demo", || ());
        spool::trace::stop()?;
        Ok::<_, spool::trace::TraceError>(sum as usize + rounds)
    });
    match run {
        Ok(total) => {
            println!("spool trace demo: result {total}, trace written to {path}");
            println!("view it: cargo run --release -p spool-trace -- {path}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trace_demo: {e}");
            ExitCode::FAILURE
        }
    }
}
