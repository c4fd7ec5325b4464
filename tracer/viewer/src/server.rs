//! The viewer's HTTP server: one page, on a loopback address, to any number
//! of local clients at once.
//!
//! Each connection gets a thread of its own, up to [`Config::max_connections`]
//! at once (one more is answered `503` at once and closed), so a client that
//! never reads a large page stalls only itself; every socket has read and
//! write timeouts ([`Config::io_timeout`]), so such a client, or one that
//! never finishes its request, is dropped after a while and its thread ends.
//! One request per connection (`Connection: close`); after the answer the
//! server reads and drops what the client still sends, briefly and within
//! a byte bound, so closing does not reset the answer away.
//!
//! What a request must look like to get the page:
//! - a request head (request line and headers) of at most
//!   [`Config::max_header_bytes`], else `431`; parsed by `httparse`, else `400`;
//! - a `Host` header naming this server by a loopback name — `127.0.0.1:PORT`,
//!   `localhost:PORT`, `[::1]:PORT` or the bound address itself — else `403`:
//!   a page of another origin that points a DNS name at 127.0.0.1 (DNS
//!   rebinding) sends its own name as `Host` and cannot read the trace;
//! - `GET` or `HEAD` (else `405`) of `/` or `/index.html`, or of one of the
//!   extra resources given to [`serve_resources`] (the served page's binary
//!   columns), else `404`.
//!
//! Invariants: the listener only ever binds a loopback address ([`serve`]
//! refuses others); a connection thread never outlives its timeouts by
//! more than one read or write; the page bytes are shared, never copied
//! per connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The page's security policy: its own inline script and style, and
/// fetches from this server only (the served page's binary columns).
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'";

/// One more thing the server answers besides the page: `GET /path`.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The absolute path, e.g. `/data.bin`.
    pub path: String,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: Vec<u8>,
}

/// Limits of the server (the defaults are what `spool-trace serve` uses).
///
/// ```
/// let c = spool_trace::server::Config::default();
/// assert!(c.max_connections >= 8 && c.max_header_bytes >= 8 << 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Connections served at once; one more is answered `503`. 32: a
    /// browser opens at most six per host, so this is room for several
    /// tabs while bounding the threads a local flood can cost.
    pub max_connections: usize,
    /// Largest request head (request line and headers) accepted; a larger
    /// one is answered `431`. 16 KiB: browsers send well under 8 KiB.
    pub max_header_bytes: usize,
    /// Read and write timeout of every connection: a client that sends no
    /// complete request, or reads none of the page, for this long is dropped.
    pub io_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_connections: 32,
            max_header_bytes: 16 << 10,
            io_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `page` on `addr` (a loopback address) with the default
/// [`Config`] until the process ends; see [`serve_with`].
///
/// # Errors
/// `addr` is not a loopback address, or it cannot be bound.
///
/// ```
/// let err = spool_trace::server::serve("0.0.0.0:0".parse().unwrap(), Vec::new(), |_| {});
/// assert!(err.unwrap_err().to_string().contains("only loopback"));
/// ```
pub fn serve(addr: SocketAddr, page: Vec<u8>, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    serve_with(addr, page, Config::default(), ready)
}

/// Serves `page` on `addr` (a loopback address) until the process ends.
/// `ready` is called with the bound address once the server accepts
/// connections (port 0 picks a free port).
///
/// # Errors
/// `addr` is not a loopback address, or it cannot be bound. Errors of
/// single connections are not errors of the server: that client is dropped.
///
/// ```no_run
/// use spool_trace::server::{Config, serve_with};
/// let page = b"<!doctype html><title>t</title>".to_vec();
/// serve_with("127.0.0.1:0".parse().unwrap(), page, Config::default(), |addr| {
///     println!("http://{addr}/");
/// })
/// .unwrap();
/// ```
pub fn serve_with(
    addr: SocketAddr,
    page: Vec<u8>,
    config: Config,
    ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    serve_resources(addr, page, Vec::new(), config, ready)
}

/// [`serve_with`], answering `GET` of each of `extra`'s paths too.
///
/// # Errors
/// As [`serve_with`].
pub fn serve_resources(
    addr: SocketAddr,
    page: Vec<u8>,
    extra: Vec<Resource>,
    config: Config,
    ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to serve on {addr}: only loopback addresses (127.0.0.1, ::1) are allowed"
            ),
        ));
    }
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let site = Arc::new(Site {
        page,
        extra,
        hosts: allowed_hosts(bound),
        config,
        open: AtomicUsize::new(0),
    });
    ready(bound);
    for conn in listener.incoming() {
        // A failed accept (the client reset first, or too many open files
        // for a moment) is the client's loss, not the server's end.
        let Ok(stream) = conn else { continue };
        let _ = stream.set_read_timeout(Some(config.io_timeout));
        let _ = stream.set_write_timeout(Some(config.io_timeout));
        let Some(slot) = Slot::take(&site) else {
            // At the cap: a short answer fits in the socket buffer, so this
            // write does not wait for the client.
            let mut stream = stream;
            let _ = respond(
                &mut stream,
                "503 Service Unavailable",
                &[("Retry-After", "1")],
                b"too many connections\n",
                true,
            );
            continue;
        };
        let spawned = std::thread::Builder::new()
            .name("spool-trace-http".into())
            .spawn(move || {
                let mut stream = stream;
                handle(&slot.0, &mut stream);
            });
        // No thread (resource limits): the connection was dropped with
        // the closure, and its slot with it.
        drop(spawned);
    }
    Ok(())
}

/// What every connection thread shares.
struct Site {
    page: Vec<u8>,
    extra: Vec<Resource>,
    /// Accepted `Host` values, lowercase.
    hosts: Vec<String>,
    config: Config,
    /// Connections being served.
    open: AtomicUsize,
}

/// One of [`Config::max_connections`] places; given back when dropped.
struct Slot(Arc<Site>);

impl Slot {
    fn take(site: &Arc<Site>) -> Option<Slot> {
        // Relaxed: a counter; the connection's data travels with the thread.
        let prev = site.open.fetch_add(1, Ordering::Relaxed);
        if prev >= site.config.max_connections {
            site.open.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Slot(Arc::clone(site)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The `Host` values that name this server (see the module doc).
fn allowed_hosts(bound: SocketAddr) -> Vec<String> {
    let port = bound.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let own = bound.to_string();
    if !hosts.contains(&own) {
        hosts.push(own);
    }
    hosts
}

/// A parsed request head, what the server looks at.
struct Head {
    method: String,
    path: String,
    host: Option<String>,
}

/// Why a request head could not be read.
enum HeadError {
    /// Longer than the cap, or more headers than we parse.
    TooLarge,
    /// Not HTTP.
    Malformed,
    /// The client went away or timed out.
    Io,
}

/// Serves one connection: read the head, answer, close.
fn handle(site: &Site, stream: &mut TcpStream) {
    let head = match read_head(stream, site.config.max_header_bytes) {
        Ok(h) => h,
        Err(HeadError::TooLarge) => {
            let _ = respond(
                stream,
                "431 Request Header Fields Too Large",
                &[],
                b"request header too large\n",
                true,
            );
            return;
        }
        Err(HeadError::Malformed) => {
            let _ = respond(stream, "400 Bad Request", &[], b"bad request\n", true);
            return;
        }
        Err(HeadError::Io) => return,
    };
    let host_ok = head
        .host
        .as_deref()
        .is_some_and(|h| site.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)));
    let with_body = head.method != "HEAD";
    let _ = if !host_ok {
        respond(
            stream,
            "403 Forbidden",
            &[],
            b"forbidden: the Host header must name this server by a loopback address\n",
            with_body,
        )
    } else if head.method != "GET" && head.method != "HEAD" {
        respond(
            stream,
            "405 Method Not Allowed",
            &[("Allow", "GET, HEAD")],
            b"method not allowed\n",
            with_body,
        )
    } else if head.path == "/" || head.path == "/index.html" {
        respond(
            stream,
            "200 OK",
            &[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Security-Policy", CSP),
                ("X-Content-Type-Options", "nosniff"),
            ],
            &site.page,
            with_body,
        )
    } else if let Some(r) = site.extra.iter().find(|r| r.path == head.path) {
        respond(
            stream,
            "200 OK",
            &[
                ("Content-Type", r.content_type),
                ("X-Content-Type-Options", "nosniff"),
            ],
            &r.body,
            with_body,
        )
    } else {
        respond(stream, "404 Not Found", &[], b"not found\n", with_body)
    };
}

/// Reads bytes until the head is complete, at most `cap` of them.
fn read_head(stream: &mut TcpStream, cap: usize) -> Result<Head, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(HeadError::Io),
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) if len <= cap => {
                let host = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("host"))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_owned());
                let target = req.path.unwrap_or("/");
                let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
                return Ok(Head {
                    method: req.method.unwrap_or("").to_owned(),
                    path,
                    host,
                });
            }
            Ok(httparse::Status::Complete(_)) => return Err(HeadError::TooLarge),
            Ok(httparse::Status::Partial) if buf.len() > cap => return Err(HeadError::TooLarge),
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(_) => return Err(HeadError::Malformed),
        }
    }
}

/// Writes a whole response and closes the connection's write side.
fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| *k == "Content-Type") {
        head.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    linger(stream);
    Ok(())
}

/// Most bytes [`linger`] reads and drops, and for how long at most.
const LINGER_BYTES: usize = 16 << 20;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Reads and drops what the client still sends (the rest of an oversized
/// head, a body) until it closes, within [`LINGER_BYTES`] and
/// [`LINGER_TIME`]. Closing a socket with unread input sends a reset,
/// which can destroy the response before the client reads it (the client
/// of a `431` is typically still writing).
fn linger(stream: &mut TcpStream) {
    let end = std::time::Instant::now() + LINGER_TIME;
    let mut chunk = [0u8; 16 << 10];
    let mut read = 0;
    while read < LINGER_BYTES {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
    }
}
