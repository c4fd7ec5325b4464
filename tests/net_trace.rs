//! Traced network I/O: a task waiting for a socket blocks with Go's reason
//! `network`; the M that polled it ready records the `GoUnblock` from its own
//! P, outside any task (the poller is the cause); Go's parser accepts the
//! file and `go tool trace -pprof=net` finds the network waits.

mod net_support;
mod trace_support;

use std::collections::HashMap;

use net_support::watchdog;
use spool::net::{TcpListener, TcpStream};
use spool_trace::read::{EventKind, NONE};
use trace_support::{go_parse, read_timeline, serial, trace_path};

/// The string ID the file gives the reason "network" (a fixed string: the
/// same ID in every generation).
fn network_id(path: &std::path::Path) -> u64 {
    let trace = spool_trace::read::read(&std::fs::read(path).unwrap()).unwrap();
    let g = &trace.generations[0];
    *g.strings
        .iter()
        .find(|(_, s)| s.as_str() == "network")
        .expect("the reason string \"network\" is in the trace's string table")
        .0
}

#[test]
fn network_waits_block_with_reason_network_and_unblock_from_the_poller() {
    let _s = serial();
    let _w = watchdog("net_trace", 60);
    let path = trace_path("net");
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        spool::trace::start_file(&path).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = spool::spawn(async move {
            let mut hs = Vec::new();
            for _ in 0..8 {
                let (mut s, _) = l.accept().await.unwrap();
                hs.push(spool::spawn(async move {
                    let mut b = [0u8; 256];
                    loop {
                        let n = s.read(&mut b).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        s.write_all(&b[..n]).await.unwrap();
                    }
                }));
            }
            for h in hs {
                h.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..8)
            .map(|_| {
                spool::spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    let mut b = [0u8; 64];
                    for r in 0..100u8 {
                        c.write_all(&[r; 64]).await.unwrap();
                        c.read_exact(&mut b).await.unwrap();
                        assert_eq!(b, [r; 64]);
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
        spool::trace::stop().unwrap();
    });
    let t = read_timeline(&path);
    let c = t.check();
    let network_reason = network_id(&path);
    let network = c.block_reasons.get(&network_reason).copied().unwrap_or(0);
    assert!(
        network >= 8,
        "network waits recorded: {:?}",
        c.block_reasons
    );
    // Every unblock of a G whose last block was a network wait comes from
    // an M that holds a P and runs no task: the poller.
    let mut last_block: HashMap<u64, u64> = HashMap::new();
    let mut from_poller = 0;
    for e in &t.events {
        match e.kind {
            EventKind::GoBlock { reason, .. } => {
                last_block.insert(e.ctx.g, reason);
            }
            EventKind::GoUnblock { g, .. } if last_block.get(&g) == Some(&network_reason) => {
                assert_ne!(
                    e.ctx.p, NONE,
                    "network GoUnblock at {} without a P",
                    e.offset
                );
                assert_eq!(
                    e.ctx.g, NONE,
                    "network GoUnblock at {} from inside task G{}",
                    e.offset, e.ctx.g
                );
                from_poller += 1;
            }
            _ => {}
        }
    }
    assert!(
        from_poller >= network / 2,
        "{from_poller} poller unblocks for {network} network blocks"
    );
    go_parse(&path);
    // Go's network blocking profile has the waits.
    let (delay_ns, samples) = trace_support::go_pprof_total(&path, "net");
    assert!(
        samples > 0 && delay_ns > 0,
        "go tool trace -pprof=net found no network wait ({samples} samples, {delay_ns} ns)"
    );
}

/// A read under a timeout waits on the socket with a deadline: its GoBlock
/// reason is `network`, not the timer's `sleep` (Go reports a read with a
/// deadline as a network wait).
#[test]
fn a_read_under_a_timeout_blocks_as_network() {
    let _s = serial();
    let _w = watchdog("net_trace_timeout", 60);
    let path = trace_path("net-timeout");
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        // Traced from here: the only socket wait is the reader's.
        spool::trace::start_file(&path).unwrap();
        let reader = spool::spawn(async move {
            let mut b = [0u8; 4];
            spool::time::timeout(std::time::Duration::from_secs(30), c.read_exact(&mut b))
                .await
                .unwrap()
                .unwrap();
        });
        spool::time::sleep(std::time::Duration::from_millis(30)).await;
        s.write_all(b"late").await.unwrap();
        reader.await.unwrap();
        spool::trace::stop().unwrap();
    });
    let network_reason = network_id(&path);
    let t = read_timeline(&path);
    let c = t.check();
    assert!(
        c.block_reasons.get(&network_reason).copied().unwrap_or(0) >= 1,
        "the timed read blocked as network: {:?}",
        c.block_reasons
    );
    go_parse(&path);
}
