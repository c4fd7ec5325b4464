//! Unix-socket and UDP equivalents of the TCP tests (smaller): echo with
//! every byte checked, half-close, the OS errors kept.

mod net_support;

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;

use net_support::{pattern, watchdog};
use spool::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};
use spool::{Builder, Runtime, spawn};

fn rt() -> Runtime {
    Builder::new().procs(2).build().unwrap()
}

/// A socket path unique to this test and process, removed first.
fn sock_path(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_echo_50_connections_200_round_trips() {
    let _w = watchdog("unix_echo", 60);
    const CONNS: usize = 50;
    const ROUNDS: usize = 200;
    let path = sock_path("echo");
    let rt = rt();
    let total = rt.block_on(async {
        let l = UnixListener::bind(&path).unwrap();
        let server = spawn(async move {
            let mut hs = Vec::new();
            for _ in 0..CONNS {
                let (mut s, _) = l.accept().await.unwrap();
                hs.push(spawn(async move {
                    let mut b = vec![0u8; 2048];
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
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                let path = path.clone();
                spawn(async move {
                    let mut s = UnixStream::connect(&path).await.unwrap();
                    let mut back = vec![0u8; 1500];
                    let mut bytes = 0;
                    for r in 0..ROUNDS {
                        let len = 1 + (c * 11 + r * 3) % 1500;
                        let msg: Vec<u8> = (0..len).map(|i| pattern(c, r, i)).collect();
                        s.write_all(&msg).await.unwrap();
                        s.read_exact(&mut back[..len]).await.unwrap();
                        assert_eq!(&back[..len], &msg[..], "conn {c} round {r}");
                        bytes += len;
                    }
                    bytes
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        server.await.unwrap();
        total
    });
    let expected: usize = (0..CONNS)
        .flat_map(|c| (0..ROUNDS).map(move |r| 1 + (c * 11 + r * 3) % 1500))
        .sum();
    assert_eq!(total, expected);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_half_close_and_errors() {
    let _w = watchdog("unix_half_close", 30);
    let path = sock_path("half");
    let rt = rt();
    rt.block_on(async {
        let l = UnixListener::bind(&path).unwrap();
        let err = UnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let missing = sock_path("missing");
        let err = UnixStream::connect(&missing).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let mut c = UnixStream::connect(&path).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let (mut r, mut w) = s.into_split();
        c.write_all(b"abc").await.unwrap();
        c.shutdown().await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abc");
        w.write_all(b"still open").await.unwrap();
        drop(w);
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"still open");
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_datagrams_echo() {
    let _w = watchdog("unix_dgram", 30);
    let rt = rt();
    rt.block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 512];
            for _ in 0..300 {
                let n = b.recv(&mut buf).await.unwrap();
                b.send(&buf[..n]).await.unwrap();
            }
        });
        let mut buf = [0u8; 512];
        for r in 0..300 {
            let len = 1 + r % 500;
            let msg: Vec<u8> = (0..len).map(|i| pattern(9, r, i)).collect();
            a.send(&msg).await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg[..], "datagram {r}");
        }
        echo.await.unwrap();
    });
}

/// 20 clients × 200 request/response datagrams against one UDP echo
/// socket shared by two server tasks; every byte checked.
#[test]
fn udp_echo_20_clients_200_datagrams() {
    let _w = watchdog("udp_echo", 60);
    const CLIENTS: usize = 20;
    const ROUNDS: usize = 200;
    let rt = rt();
    rt.block_on(async {
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = server.local_addr().unwrap();
        let servers: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&server);
                spawn(async move {
                    let mut buf = [0u8; 1500];
                    loop {
                        let (n, from) = s.recv_from(&mut buf).await.unwrap();
                        if n == 1 && buf[0] == 0xFF {
                            return;
                        }
                        s.send_to(&buf[..n], from).await.unwrap();
                    }
                })
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                spawn(async move {
                    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                    s.connect(addr).await.unwrap();
                    let mut buf = [0u8; 1500];
                    for r in 0..ROUNDS {
                        let len = 2 + (c * 5 + r * 9) % 1400;
                        let msg: Vec<u8> = (0..len).map(|i| pattern(c, r, i)).collect();
                        s.send(&msg).await.unwrap();
                        let n = s.recv(&mut buf).await.unwrap();
                        assert_eq!(&buf[..n], &msg[..], "client {c} datagram {r}");
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        let stop = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..2 {
            stop.send_to(&[0xFF], addr).await.unwrap();
        }
        for s in servers {
            s.await.unwrap();
        }
    });
}

#[test]
fn udp_bind_of_a_used_port_is_addr_in_use() {
    let rt = rt();
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = UdpSocket::bind(a.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    });
}
