//! hyper 1.x on spool with no tokio runtime: an http1 server and client
//! doing 10,000 requests over keep-alive connections, every response
//! checked; http2 through `spool::hyper::{Executor, Timer}`.
#![cfg(feature = "hyper")]

mod net_support;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use net_support::watchdog;
use spool::net::{TcpListener, TcpStream};

/// Echoes the request path and body length, so each response is checkable.
async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{path} {}",
        body.len()
    )))))
}

const CONNS: usize = 10;
const PER_CONN: usize = 1_000;

#[test]
fn http1_10000_requests_over_keep_alive() {
    let _w = watchdog("hyper_http1", 120);
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let checked = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = spool::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CONNS {
                let (s, _) = l.accept().await.unwrap();
                conns.push(spool::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .timer(spool::hyper::Timer)
                        .keep_alive(true)
                        .serve_connection(s, service_fn(answer)),
                ));
            }
            for c in conns {
                c.await.unwrap().unwrap();
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                spool::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let (mut send, conn) = hyper::client::conn::http1::handshake(s).await.unwrap();
                    let driver = spool::spawn(conn);
                    for i in 0..PER_CONN {
                        let body = vec![b'x'; i % 100];
                        let req = Request::post(format!("/c{c}/r{i}"))
                            .header("host", "spool")
                            .body(Full::new(Bytes::from(body)))
                            .unwrap();
                        send.ready().await.unwrap();
                        let resp = send.send_request(req).await.unwrap();
                        assert_eq!(resp.status(), 200);
                        let got = resp.into_body().collect().await.unwrap().to_bytes();
                        assert_eq!(got, format!("/c{c}/r{i} {}", i % 100).as_bytes());
                    }
                    drop(send); // closes the keep-alive connection
                    driver.await.unwrap().unwrap();
                    PER_CONN
                })
            })
            .collect();
        let mut n = 0;
        for c in clients {
            n += c.await.unwrap();
        }
        server.await.unwrap();
        n
    });
    assert_eq!(checked, CONNS * PER_CONN);
    assert_eq!(rt.handle().net_stats().registrations, 0);
}

#[test]
fn http2_with_spool_executor_and_timer() {
    let _w = watchdog("hyper_http2", 60);
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = spool::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            hyper::server::conn::http2::Builder::new(spool::hyper::Executor::new())
                .timer(spool::hyper::Timer)
                .serve_connection(s, service_fn(answer))
                .await
                .unwrap();
        });
        let s = TcpStream::connect(addr).await.unwrap();
        let (send, conn) = hyper::client::conn::http2::Builder::new(spool::hyper::Executor::new())
            .timer(spool::hyper::Timer)
            .handshake(s)
            .await
            .unwrap();
        let driver = spool::spawn(conn);
        // 200 requests, 20 in flight at a time on the one connection.
        for batch in 0..10 {
            let hs: Vec<_> = (0..20)
                .map(|k| {
                    let mut send = send.clone();
                    spool::spawn(async move {
                        let req = Request::get(format!("/b{batch}/{k}"))
                            .body(Full::new(Bytes::new()))
                            .unwrap();
                        let resp = send.send_request(req).await.unwrap();
                        let got = resp.into_body().collect().await.unwrap().to_bytes();
                        assert_eq!(got, format!("/b{batch}/{k} 0").as_bytes());
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
        drop(send);
        driver.await.unwrap().unwrap();
        server.await.unwrap();
    });
}

/// With feature `tokio-io` too: tokio's extension traits and hyper-util's
/// `TokioIo` work over spool's streams.
#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_traits_and_tokio_io_adapter() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _w = watchdog("tokio_io", 60);
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = spool::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            // hyper over tokio's traits, through hyper-util's adapter.
            hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(s), service_fn(answer))
                .await
                .unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        AsyncWriteExt::write_all(
            &mut c,
            b"GET /tokio HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut resp = Vec::new();
        AsyncReadExt::read_to_end(&mut c, &mut resp).await.unwrap();
        let text = String::from_utf8(resp).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.ends_with("/tokio 0"), "{text}");
        server.await.unwrap();
    });
}
