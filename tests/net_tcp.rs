//! TCP on spool's netpoller: echo under load with every byte checked,
//! half-close, the OS errors kept, waits that end with an error instead of a
//! hang, timeouts that leave a stream usable, no leaked fds, and shutdown
//! with sockets open.

mod net_support;

use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use net_support::{pattern, watchdog};
use spool::net::{TcpListener, TcpStream};
use spool::{Builder, Runtime, spawn};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

const CONNS: usize = 200;
const ROUNDS: usize = 500;

/// 200 connections × 500 round trips at once; each message has its own
/// length and bytes, and the client checks every byte of every echo.
#[test]
fn echo_200_connections_500_round_trips_every_byte_checked() {
    let _w = watchdog("echo_200x500", 120);
    let rt = rt(2);
    let checked = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let mut handlers = Vec::new();
            for _ in 0..CONNS {
                let (mut s, _) = listener.accept().await.unwrap();
                handlers.push(spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for h in handlers {
                h.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut bytes = 0usize;
                    let mut back = vec![0u8; 1024];
                    for r in 0..ROUNDS {
                        let len = 1 + (c * 7 + r * 13) % 1000;
                        let msg: Vec<u8> = (0..len).map(|i| pattern(c, r, i)).collect();
                        s.write_all(&msg).await.unwrap();
                        s.read_exact(&mut back[..len]).await.unwrap();
                        assert_eq!(&back[..len], &msg[..], "conn {c} round {r}: echo differs");
                        bytes += len;
                    }
                    s.shutdown().await.unwrap();
                    let mut rest = Vec::new();
                    assert_eq!(s.read_to_end(&mut rest).await.unwrap(), 0);
                    bytes
                })
            })
            .collect();
        let mut total = 0;
        for h in clients {
            total += h.await.unwrap();
        }
        server.await.unwrap();
        total
    });
    let expected: usize = (0..CONNS)
        .flat_map(|c| (0..ROUNDS).map(move |r| 1 + (c * 7 + r * 13) % 1000))
        .sum();
    assert_eq!(checked, expected);
    assert_eq!(
        rt.handle().net_stats().registrations,
        0,
        "every socket deregistered"
    );
}

/// `shutdown()` closes only the write half: the peer reads the data then
/// EOF, and can still answer on the other half.
#[test]
fn half_close_then_read_to_eof() {
    let _w = watchdog("half_close", 30);
    let rt = rt(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            s.write_all(format!("{} bytes", got.len()).as_bytes())
                .await
                .unwrap();
            got
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&[7u8; 10_000]).await.unwrap();
        c.shutdown().await.unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"10000 bytes");
        assert_eq!(server.await.unwrap(), vec![7u8; 10_000]);
    });
}

#[test]
fn connect_to_a_closed_port_is_connection_refused() {
    let _w = watchdog("refused", 30);
    let rt = rt(2);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(
        err.raw_os_error(),
        Some(libc::ECONNREFUSED),
        "the errno is kept"
    );
}

#[test]
fn bind_of_a_used_port_is_addr_in_use() {
    let rt = rt(1);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    });
}

/// The peer's stream is dropped while a task is blocked reading ours: the
/// reader wakes with EOF (clean close) or `ConnectionReset` (the dropped
/// side had unread data, so the kernel sent a reset), never hangs.
#[test]
fn peer_dropped_while_a_task_is_blocked_reading() {
    let _w = watchdog("peer_dropped", 30);
    let rt = rt(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        // Clean: nothing unread on the dropped side -> EOF.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let reader = spawn(async move {
            let mut b = [0u8; 16];
            c.read(&mut b).await
        });
        spool::time::sleep(Duration::from_millis(20)).await;
        drop(s);
        assert_eq!(reader.await.unwrap().unwrap(), 0);
        // Unread data on the dropped side -> reset.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        c.write_all(b"never read").await.unwrap();
        let reader = spawn(async move {
            let mut b = [0u8; 16];
            c.read(&mut b).await
        });
        spool::time::sleep(Duration::from_millis(20)).await;
        drop(s);
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

/// A task blocked reading is aborted: its stream (and registration) is
/// dropped, the JoinHandle reports the cancellation, nothing hangs.
#[test]
fn task_blocked_reading_is_aborted() {
    let _w = watchdog("abort_reader", 30);
    let rt = rt(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let h = spawn(async move {
            let mut b = [0u8; 1];
            s.read(&mut b).await
        });
        spool::time::sleep(Duration::from_millis(10)).await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        // The aborted task's stream was closed: we read EOF.
        let mut b = [0u8; 1];
        assert_eq!(c.read(&mut b).await.unwrap(), 0);
    });
    assert_eq!(rt.handle().net_stats().registrations, 0);
}

/// A read under a timeout that fires gives `Elapsed`, and the stream reads
/// normally afterwards (the dropped read future left no stale state).
#[test]
fn read_under_an_expiring_timeout_then_a_successful_read() {
    let _w = watchdog("timeout_read", 30);
    let rt = rt(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let mut b = [0u8; 5];
        let r = spool::time::timeout(Duration::from_millis(30), c.read(&mut b)).await;
        assert!(r.is_err(), "nothing was sent: the timeout fires");
        s.write_all(b"hello").await.unwrap();
        let n = spool::time::timeout(Duration::from_secs(10), c.read_exact(&mut b))
            .await
            .expect("the data arrives")
            .unwrap();
        assert_eq!((n, &b), (5, b"hello"));
    });
}

/// The task waiting in `accept` is aborted (so its listener is dropped
/// with the accept pending): it ends cancelled, the port is free again.
#[test]
fn listener_dropped_while_accept_is_pending() {
    let _w = watchdog("listener_dropped", 30);
    let rt = rt(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let h = spawn(async move { l.accept().await.map(|_| ()) });
        spool::time::sleep(Duration::from_millis(10)).await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::ConnectionRefused,
            "the listener is closed"
        );
        // And the address can be bound again.
        TcpListener::bind(addr).await.unwrap();
    });
}

/// A listener shared by two accept loops: both get connections, the
/// listener's drop (when both tasks end) closes it.
#[test]
fn two_tasks_accepting_on_one_listener() {
    let _w = watchdog("two_acceptors", 30);
    let rt = rt(2);
    let served = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = l.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let (l, served) = (Arc::clone(&l), Arc::clone(&served));
                spawn(async move {
                    while served.load(SeqCst) < 50 {
                        match spool::time::timeout(Duration::from_millis(200), l.accept()).await {
                            Ok(r) => {
                                r.unwrap();
                                served.fetch_add(1, SeqCst);
                            }
                            Err(_) => continue,
                        }
                    }
                })
            })
            .collect();
        let mut keep = Vec::new();
        for _ in 0..50 {
            keep.push(TcpStream::connect(addr).await.unwrap());
        }
        for a in acceptors {
            a.await.unwrap();
        }
    });
    assert_eq!(served.load(SeqCst), 50);
}

/// `block_on` waiting on a socket while every M sleeps: the Ms must move
/// into the poll when the first socket is registered (from the block_on
/// thread, which is no M), or the read would never be woken.
#[test]
fn block_on_reads_with_every_m_idle() {
    let _w = watchdog("block_on_idle", 30);
    let rt = rt(2);
    // Let both Ms park on their condvars first (no socket registered yet).
    std::thread::sleep(Duration::from_millis(20));
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_l.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = std_l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"late").unwrap();
    });
    let got = rt.block_on(async {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.unwrap();
        b
    });
    writer.join().unwrap();
    assert_eq!(&got, b"late");
}

#[test]
fn from_std_and_into_std_round_trip() {
    use std::io::{Read, Write};
    let _w = watchdog("std_round_trip", 30);
    let rt = rt(1);
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_l.local_addr().unwrap();
    let (l, c) = rt.block_on(async move {
        let l = TcpListener::from_std(std_l).unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        s.write_all(b"async").await.unwrap();
        (l.into_std().unwrap(), c.into_std().unwrap())
    });
    let mut c = c;
    c.set_nonblocking(false).unwrap();
    let mut b = [0u8; 5];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"async");
    // The std listener still listens, blocking.
    l.set_nonblocking(false).unwrap();
    let _c2 = std::net::TcpStream::connect(addr).unwrap();
    let (mut s2, _) = l.accept().unwrap();
    s2.write_all(b"ok").unwrap();
    assert_eq!(rt.handle().net_stats().registrations, 0);
}

/// `into_split`: one task reads while another writes the same stream.
#[test]
fn owned_halves_read_and_write_concurrently() {
    let _w = watchdog("owned_halves", 30);
    let rt = rt(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let echo = spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (mut r, mut w) = s.into_split();
            let mut buf = [0u8; 1024];
            loop {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).await.unwrap();
            }
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = c.into_split();
        const N: usize = 1 << 20;
        let writer = spawn(async move {
            let data: Vec<u8> = (0..N).map(|i| pattern(1, 0, i)).collect();
            w.write_all(&data).await.unwrap();
            // Dropping the write half sends FIN.
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        echo.await.unwrap();
        assert_eq!(got.len(), N);
        assert!(got.iter().enumerate().all(|(i, &b)| b == pattern(1, 0, i)));
    });
}
