//! A hyper "hello world" HTTP/1.1 server on spool: no tokio runtime, the
//! sockets on spool's netpoller, each connection a task.
//!
//! ```text
//! cargo run --release --features hyper --example http_server -- 127.0.0.1:3000
//! SPOOL_TRACE=http.trace cargo run --release --features hyper --example http_server
//! curl http://127.0.0.1:3000/
//! ```
//!
//! The argument is `ADDR:PORT` or just `PORT` (default 127.0.0.1:3000);
//! `SPOOL_PROCS` sets the number of Ps. SIGINT (Ctrl-C) or SIGTERM stops it
//! gracefully, so a trace (`SPOOL_TRACE`) is complete: the viewer then shows
//! one task per connection and its `network` waits.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::process::ExitCode;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use spool::net::TcpListener;
use spool::signal::{SignalKind, signal};

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// `PORT` or `ADDR:PORT` from the command line.
fn addr_arg() -> Result<String, String> {
    match std::env::args().nth(1) {
        None => Ok("127.0.0.1:3000".into()),
        Some(a) if a.parse::<u16>().is_ok() => Ok(format!("127.0.0.1:{a}")),
        Some(a) if a.contains(':') => Ok(a),
        Some(a) => Err(format!(
            "expected PORT or ADDR:PORT (e.g. 3000 or 127.0.0.1:3000), got {a:?}"
        )),
    }
}

async fn serve(addr: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    loop {
        // The next connection, unless SIGINT/SIGTERM comes first.
        let accepted = {
            let mut accept = pin!(listener.accept());
            poll_fn(|cx| {
                if int.poll_recv(cx).is_ready() || term.poll_recv(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await
        };
        let Some(accepted) = accepted else {
            println!("signal received: shutting down");
            return Ok(());
        };
        let (stream, _) = accepted?;
        stream.set_nodelay(true)?;
        spool::spawn(async move {
            let conn = http1::Builder::new()
                .timer(spool::hyper::Timer)
                .serve_connection(stream, service_fn(hello));
            if let Err(e) = conn.await {
                // A client going away mid-request is not the server's error.
                if !e.is_incomplete_message() {
                    eprintln!("connection error: {e}");
                }
            }
        });
    }
}

fn main() -> ExitCode {
    let addr = match addr_arg() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("http_server: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match spool::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_server: {e}");
            ExitCode::FAILURE
        }
    }
}
