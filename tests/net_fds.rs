//! File descriptors: 1,000 TCP connections and a runtime shut down with
//! sockets open leave the process's fd count (`/proc/self/fd`) where it
//! was. In a test binary of their own, one test at a time (the count is
//! process-wide).

mod net_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use net_support::{open_fds, watchdog};
use spool::net::{TcpListener, TcpStream};
use spool::{Builder, Runtime, spawn};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// Serialises the tests of this binary (each counts every fd of the process).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// 1,000 connections opened (in waves of 100 alive at once) and closed: the
/// process's open fd count comes back to where it started, and every
/// registration is gone.
#[test]
fn a_thousand_connections_leave_no_fd_behind() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog("thousand_conns", 60);
    let rt = rt(2);
    let before = open_fds();
    rt.block_on(async {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = l.local_addr().unwrap();
        for wave in 0..10 {
            let acceptor = {
                let l = Arc::clone(&l);
                spawn(async move {
                    let mut v = Vec::new();
                    for _ in 0..100 {
                        v.push(l.accept().await.unwrap().0);
                    }
                    v
                })
            };
            let mut clients = Vec::new();
            for _ in 0..100 {
                clients.push(TcpStream::connect(addr).await.unwrap());
            }
            let servers = acceptor.await.unwrap();
            assert_eq!(servers.len(), 100, "wave {wave}");
            for (mut c, mut s) in clients.into_iter().zip(servers) {
                c.write_all(b"x").await.unwrap();
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await.unwrap();
            }
        }
    });
    assert_eq!(rt.handle().net_stats().registrations, 0);
    assert_eq!(open_fds(), before, "fds leaked");
}

/// The runtime shuts down while tasks hold a listener and blocked streams:
/// every registration is dropped, every fd closed, nothing hangs; a stream
/// kept outside the tasks errors instead of waiting forever.
#[test]
fn shutdown_with_sockets_open() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog("shutdown_open", 30);
    let before = open_fds();
    let (kept, weak) = {
        let rt = rt(2);
        let weak = rt.handle().downgrade();
        let kept = rt.block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let mut streams = Vec::new();
            for _ in 0..20 {
                streams.push(TcpStream::connect(addr).await.unwrap());
            }
            let mut accepted = Vec::new();
            for _ in 0..20 {
                accepted.push(l.accept().await.unwrap().0);
            }
            // Tasks blocked reading, and one blocked accepting.
            for mut s in accepted {
                spawn(async move {
                    let mut b = [0u8; 1];
                    let _ = s.read(&mut b).await;
                });
            }
            spawn(async move {
                let _ = l.accept().await;
            });
            spool::time::sleep(Duration::from_millis(20)).await;
            streams
        });
        // The listener and 20 accepted streams in tasks, 20 kept out here.
        assert_eq!(rt.handle().net_stats().registrations, 41);
        drop(rt);
        (kept, weak)
    };
    // The tasks' sockets are closed; the one we kept is dead but safe.
    assert!(weak.upgrade().is_none(), "every task was freed");
    let mut kept = kept;
    let mut b = [0u8; 1];
    let r = futures_lite::future::block_on(kept[0].read(&mut b));
    assert!(
        r.is_err(),
        "a dead registration errors instead of waiting: {r:?}"
    );
    drop(kept);
    assert_eq!(open_fds(), before, "fds leaked");
}
