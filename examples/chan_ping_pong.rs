//! Go's channel ping-pong, the shape of `benches/sync.rs`'s `ping_pong`
//! (two long-lived tasks bounce a value over two `chan(0)`, 2 Ps), ROUNDS
//! rounds in one process: prints the time per round. With
//! `SPOOL_TRACE=path` the runtime records the run, so the trace's event
//! count (`spool-trace check path`) gives the events per round that the
//! tracing-on figure in `docs/benchmarks.md` divides by.
//!
//! ```text
//! cargo run --release --example chan_ping_pong -- 100000
//! SPOOL_TRACE=/tmp/pp.trace target/release/examples/chan_ping_pong 100000
//! ```

use std::time::Instant;

fn main() {
    let rounds: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 100_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: chan_ping_pong [ROUNDS] ({e})");
            std::process::exit(2);
        }
    };
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let t = Instant::now();
    rt.block_on(async {
        let (a_tx, a_rx) = spool::sync::chan::<u64>(0);
        let (b_tx, b_rx) = spool::sync::chan::<u64>(0);
        let echo = spool::spawn(async move {
            while let Some(v) = a_rx.recv().await {
                b_tx.send(v).await.unwrap();
            }
        });
        let driver = spool::spawn(async move {
            for i in 0..rounds {
                a_tx.send(i).await.unwrap();
                assert_eq!(b_rx.recv().await, Some(i));
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
    });
    let el = t.elapsed();
    println!(
        "{rounds} rounds: {:.1} ns per round",
        el.as_nanos() as f64 / rounds as f64
    );
}
