//! The viewer's HTTP server (`spool_trace::server`) in process, on
//! 127.0.0.1 port 0: a client that never reads stalls nobody else and is
//! dropped after the I/O timeout; only loopback `Host` names get the page;
//! oversized request heads get 431; the connection cap answers 503.
//! Every client has socket timeouts, so no test can hang.
#![cfg(feature = "cli")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use spool_trace::server::{Config, Resource, serve_resources, serve_with};

/// Starts a server for `page` on a thread of its own (it runs until the
/// test process ends) and returns its address.
fn start(page: Vec<u8>, config: Config) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        serve_with("127.0.0.1:0".parse().unwrap(), page, config, |a| {
            tx.send(a).unwrap();
        })
        .unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("server up")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `head` (a full request head) and reads the whole response.
fn request(addr: SocketAddr, head: &str) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read the response");
    out
}

fn get(addr: SocketAddr, path: &str, host: &str) -> Vec<u8> {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

fn status(resp: &[u8]) -> String {
    let line = resp.split(|&b| b == b'\r').next().unwrap_or_default();
    String::from_utf8_lossy(line).into_owned()
}

/// The body of a response (after the blank line).
fn body(resp: &[u8]) -> &[u8] {
    let i = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    &resp[i + 4..]
}

/// A page larger than both sockets' buffers together (loopback buffers
/// grow to a few MiB), as the 23.5 MB page of a 6.7 MB trace.
fn big_page() -> Vec<u8> {
    (0..24 << 20).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn a_client_that_never_reads_does_not_stall_another() {
    let page = big_page();
    let addr = start(page.clone(), Config::default());
    // Asks for the page and never reads it: the server's write to it blocks.
    let mut stuck = connect(addr);
    write!(stuck, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let resp = get(addr, "/", &addr.to_string());
    let took = t.elapsed();
    assert_eq!(status(&resp), "HTTP/1.1 200 OK");
    assert!(body(&resp) == page.as_slice(), "page corrupted");
    // The bound; a served page takes milliseconds, a stalled one
    // waits for the stuck client (forever, or the I/O timeout: 10 s).
    assert!(
        took < Duration::from_secs(1),
        "the second client waited {took:?}"
    );
    drop(stuck);
}

#[test]
fn a_client_that_never_reads_is_dropped_after_the_io_timeout() {
    let page = big_page();
    let config = Config {
        io_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let addr = start(page.clone(), config);
    let mut stuck = connect(addr);
    write!(stuck, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    // Well past the timeout: the server's blocked write gives up and closes.
    std::thread::sleep(Duration::from_millis(1500));
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match stuck.read(&mut chunk) {
            Ok(0) | Err(_) => break, // closed (EOF or reset)
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    assert!(
        got.len() < page.len(),
        "the whole page arrived: the stuck client was never dropped"
    );
}

/// The served page's binaries: each extra resource at its path, the page
/// still at `/`, anything else 404, and the Host check applies to them too.
#[test]
fn extra_resources_are_served_at_their_paths() {
    let (tx, rx) = mpsc::channel();
    let extra = vec![
        Resource {
            path: "/data0.bin".into(),
            content_type: "application/octet-stream",
            body: vec![1, 2, 3],
        },
        Resource {
            path: "/data1.bin".into(),
            content_type: "application/octet-stream",
            body: big_page(),
        },
    ];
    std::thread::spawn(move || {
        let page = b"<p>page</p>".to_vec();
        serve_resources(
            "127.0.0.1:0".parse().unwrap(),
            page,
            extra,
            Config::default(),
            |a| {
                tx.send(a).unwrap();
            },
        )
        .unwrap();
    });
    let addr: SocketAddr = rx.recv_timeout(Duration::from_secs(10)).expect("server up");
    let host = addr.to_string();
    let r = get(addr, "/data0.bin", &host);
    assert_eq!(status(&r), "HTTP/1.1 200 OK");
    assert!(String::from_utf8_lossy(&r).contains("Content-Type: application/octet-stream"));
    assert_eq!(body(&r), [1, 2, 3]);
    assert!(body(&get(addr, "/data1.bin", &host)) == big_page().as_slice());
    assert_eq!(body(&get(addr, "/", &host)), b"<p>page</p>");
    assert_eq!(
        status(&get(addr, "/data2.bin", &host)),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status(&get(addr, "/data0.bin", "evil.example:80")),
        "HTTP/1.1 403 Forbidden"
    );
    // The page may fetch from its own origin, and only from it.
    let head = String::from_utf8_lossy(&get(addr, "/", &host)).into_owned();
    assert!(head.contains("connect-src 'self'") && head.contains("default-src 'none'"));
}

#[test]
fn only_loopback_host_names_get_the_page() {
    let addr = start(b"the page".to_vec(), Config::default());
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let resp = get(addr, "/", &host);
        assert_eq!(status(&resp), "HTTP/1.1 200 OK", "Host: {host}");
        assert_eq!(body(&resp), b"the page");
    }
    for host in [
        "evil.example.com".to_string(),
        format!("evil.example.com:{port}"),
        "127.0.0.1".to_string(), // no port: not this server's origin
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("localhost.evil.example.com:{port}"),
    ] {
        let resp = get(addr, "/", &host);
        assert_eq!(status(&resp), "HTTP/1.1 403 Forbidden", "Host: {host}");
        assert!(!resp.windows(8).any(|w| w == b"the page"), "Host: {host}");
    }
    let resp = request(addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status(&resp), "HTTP/1.1 403 Forbidden", "no Host header");
}

#[test]
fn an_oversized_request_head_gets_431() {
    let addr = start(b"the page".to_vec(), Config::default());
    let mut s = connect(addr);
    let mut w = s.try_clone().unwrap();
    // 10 MB of header, written from a thread: the server stops reading it
    // long before the end.
    let writer = std::thread::spawn(move || {
        let _ = write!(w, "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Big: ");
        let junk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            if w.write_all(&junk).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"\r\n\r\n");
    });
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let _ = writer.join();
    assert_eq!(
        status(&resp),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // A head just under the cap is fine.
    let pad = "x".repeat(12 << 10);
    let resp = request(
        addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Pad: {pad}\r\n\r\n"),
    );
    assert_eq!(status(&resp), "HTTP/1.1 200 OK");
}

#[test]
fn connections_past_the_cap_get_503_and_slots_come_back() {
    let config = Config {
        max_connections: 2,
        ..Config::default()
    };
    let addr = start(b"the page".to_vec(), config);
    // Two connections that have sent nothing yet hold both slots.
    let idle: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let resp = get(addr, "/", &addr.to_string());
    assert_eq!(status(&resp), "HTTP/1.1 503 Service Unavailable");
    drop(idle);
    // Their threads see EOF and give the slots back.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = get(addr, "/", &addr.to_string());
        if status(&resp) == "HTTP/1.1 200 OK" {
            break;
        }
        assert!(Instant::now() < end, "slots never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn other_methods_and_paths() {
    let addr = start(b"the page".to_vec(), Config::default());
    let resp = get(addr, "/index.html?x=1", &addr.to_string());
    assert_eq!(status(&resp), "HTTP/1.1 200 OK");
    let resp = get(addr, "/etc/passwd", &addr.to_string());
    assert_eq!(status(&resp), "HTTP/1.1 404 Not Found");
    let resp = request(
        addr,
        &format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"),
    );
    assert_eq!(status(&resp), "HTTP/1.1 405 Method Not Allowed");
    let resp = request(addr, &format!("HEAD / HTTP/1.1\r\nHost: {addr}\r\n\r\n"));
    assert_eq!(status(&resp), "HTTP/1.1 200 OK");
    assert!(body(&resp).is_empty(), "HEAD has no body");
    let resp = request(addr, "NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(status(&resp), "HTTP/1.1 400 Bad Request");
}
