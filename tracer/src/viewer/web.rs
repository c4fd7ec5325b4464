//! The web UI: the JSON payload built from a [`Model`], the self-contained
//! HTML page (assets embedded with `include_str!`, data inline), and the
//! loopback-only HTTP server.
//!
//! Invariants: the page makes no network request (no CDN, no fetch: the
//! data is inline), so the same bytes work served and from `file://`; the
//! inline JSON never contains `<` (escaped as `\u003c`), so it cannot close
//! its `<script>` element; the server refuses non-loopback addresses.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;

use super::analysis::{Model, NO};
use super::chrome::json_str;

const PAGE: &str = include_str!("assets/index.html");
const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// At most this many counter points are sent (max per bucket beyond it).
const MAX_COUNTER_POINTS: usize = 20_000;

fn rel(m: &Model, t: u64) -> u64 {
    t.saturating_sub(m.t0)
}

fn idx(i: u32) -> i64 {
    if i == NO { -1 } else { i64::from(i) }
}

/// Appends `"key":[v,v,...]`.
fn arr<T: std::fmt::Display>(out: &mut String, key: &str, vals: impl Iterator<Item = T>) {
    let _ = write!(out, "\"{key}\":[");
    let mut first = true;
    for v in vals {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{v}");
    }
    out.push(']');
}

/// The JSON document the page reads (shape documented in `assets/app.js`'s users:
/// columnar arrays, times in ns relative to the first event, -1 = none).
pub fn payload(m: &Model, file_name: &str) -> String {
    let mut o = String::with_capacity(64 + m.events as usize * 12);
    o.push_str("{\"meta\":{");
    let stop = m.stop.as_ref();
    let _ = write!(
        o,
        "\"file\":{},\"version\":{},\"duration\":{},\"events\":{},\"generations\":{},\"fileLen\":{},\"unreadBytes\":{},\"unreadPct\":{},\"stopOffset\":{},\"stop\":{},\"orderError\":{},\"problemCount\":{},",
        json_str(file_name),
        m.version.map_or(0, |v| v.minor()),
        m.duration(),
        m.events,
        m.generations,
        m.file_len,
        stop.map_or(0, |s| s.unread_bytes),
        m.unread_fraction() * 100.0,
        stop.map_or(0, |s| s.offset),
        stop.map_or("null".into(), |s| json_str(&s.error.to_string())),
        m.order_error
            .as_ref()
            .map_or("null".into(), |e| json_str(&e.to_string())),
        m.problem_count,
    );
    o.push_str("\"problems\":[");
    for (i, p) in m.problems.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(&json_str(&p.to_string()));
    }
    o.push_str("]},\"strings\":[");
    for (i, s) in m.strings.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(&json_str(s));
    }
    o.push_str("],\"tasks\":{");
    let t = &m.tasks;
    arr(&mut o, "id", t.iter().map(|t| t.id));
    o.push(',');
    arr(&mut o, "site", t.iter().map(|t| t.site));
    o.push(',');
    arr(
        &mut o,
        "created",
        t.iter().map(|t| t.created.map_or(-1, |c| rel(m, c) as i64)),
    );
    o.push(',');
    arr(&mut o, "creator", t.iter().map(|t| idx(t.creator)));
    o.push(',');
    arr(&mut o, "running", t.iter().map(|t| t.running));
    o.push(',');
    arr(&mut o, "runnable", t.iter().map(|t| t.runnable));
    o.push(',');
    arr(&mut o, "blocked", t.iter().map(|t| t.blocked));
    o.push(',');
    arr(&mut o, "syscall", t.iter().map(|t| t.syscall));
    o.push(',');
    arr(&mut o, "polls", t.iter().map(|t| t.polls));
    o.push(',');
    arr(&mut o, "maxPoll", t.iter().map(|t| t.max_poll));
    o.push(',');
    arr(&mut o, "maxWait", t.iter().map(|t| t.max_wait));
    o.push_str("},\"procs\":[");
    for (i, p) in m.procs.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(o, "{{\"id\":{},", p.id);
        arr(&mut o, "start", p.spans.iter().map(|s| rel(m, s.start)));
        o.push(',');
        arr(&mut o, "dur", p.spans.iter().map(|s| s.end - s.start));
        o.push(',');
        arr(&mut o, "task", p.spans.iter().map(|s| s.task));
        o.push(',');
        arr(&mut o, "wake", p.spans.iter().map(|s| idx(s.wake)));
        o.push('}');
    }
    o.push_str("],\"states\":{");
    let st = &m.states;
    arr(&mut o, "task", st.iter().map(|s| s.task));
    o.push(',');
    arr(&mut o, "start", st.iter().map(|s| rel(m, s.start)));
    o.push(',');
    arr(&mut o, "dur", st.iter().map(|s| s.end - s.start));
    o.push(',');
    arr(&mut o, "state", st.iter().map(|s| s.state as u8));
    o.push(',');
    arr(&mut o, "reason", st.iter().map(|s| s.reason));
    o.push_str("},\"wakes\":{");
    arr(&mut o, "time", m.wakes.iter().map(|w| rel(m, w.time)));
    o.push(',');
    arr(&mut o, "from", m.wakes.iter().map(|w| idx(w.from)));
    o.push(',');
    arr(&mut o, "to", m.wakes.iter().map(|w| w.to));
    o.push(',');
    arr(&mut o, "spawn", m.wakes.iter().map(|w| u8::from(w.spawn)));
    o.push('}');
    for (key, ranges) in [("stw", &m.stw), ("gc", &m.gc), ("regions", &m.regions)] {
        let _ = write!(o, ",\"{key}\":{{");
        arr(&mut o, "start", ranges.iter().map(|r| rel(m, r.start)));
        o.push(',');
        arr(&mut o, "dur", ranges.iter().map(|r| r.end - r.start));
        o.push(',');
        arr(&mut o, "label", ranges.iter().map(|r| r.label));
        o.push(',');
        arr(&mut o, "task", ranges.iter().map(|r| idx(r.task)));
        o.push('}');
    }
    o.push_str(",\"utasks\":{");
    let u = &m.user_tasks;
    arr(&mut o, "id", u.iter().map(|u| u.id));
    o.push(',');
    arr(&mut o, "name", u.iter().map(|u| u.name));
    o.push(',');
    arr(&mut o, "start", u.iter().map(|u| rel(m, u.start)));
    o.push(',');
    arr(
        &mut o,
        "dur",
        u.iter().map(|u| u.end.map_or(-1, |e| (e - u.start) as i64)),
    );
    o.push(',');
    arr(&mut o, "task", u.iter().map(|u| idx(u.task)));
    o.push_str("},\"logs\":{");
    let l = &m.logs;
    arr(&mut o, "time", l.iter().map(|l| rel(m, l.time)));
    o.push(',');
    arr(&mut o, "task", l.iter().map(|l| idx(l.task)));
    o.push(',');
    arr(&mut o, "key", l.iter().map(|l| l.key));
    o.push(',');
    arr(&mut o, "value", l.iter().map(|l| l.value));
    o.push_str("},\"counters\":{");
    let c = downsample(&m.counters, m.t0, m.duration());
    arr(&mut o, "time", c.iter().map(|c| rel(m, c.0)));
    o.push(',');
    arr(&mut o, "running", c.iter().map(|c| c.1));
    o.push(',');
    arr(&mut o, "runnable", c.iter().map(|c| c.2));
    o.push_str("}}");
    o
}

/// Keeps at most [`MAX_COUNTER_POINTS`] points: the per-bucket maxima.
fn downsample(c: &[(u64, u32, u32)], t0: u64, dur: u64) -> Vec<(u64, u32, u32)> {
    if c.len() <= MAX_COUNTER_POINTS {
        return c.to_vec();
    }
    let width = (dur / (MAX_COUNTER_POINTS as u64 / 2)).max(1);
    let mut out: Vec<(u64, u32, u32)> = Vec::with_capacity(MAX_COUNTER_POINTS);
    for &(t, r, q) in c {
        let b = t0 + (t.saturating_sub(t0) / width) * width;
        match out.last_mut() {
            Some(l) if l.0 == b => {
                l.1 = l.1.max(r);
                l.2 = l.2.max(q);
            }
            _ => out.push((b, r, q)),
        }
    }
    out
}

/// The self-contained HTML page for `m`.
pub fn html(m: &Model, file_name: &str) -> String {
    let data = payload(m, file_name);
    let title = file_name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut out = String::with_capacity(PAGE.len() + STYLE.len() + SCRIPT.len() + data.len());
    // Split on the placeholders in order; the assets themselves are not scanned.
    let mut rest = PAGE;
    for (key, val) in [
        ("{{TITLE}}", title.as_str()),
        ("{{STYLE}}", STYLE),
        ("{{DATA}}", data.as_str()),
        ("{{SCRIPT}}", SCRIPT),
    ] {
        if let Some(i) = rest.find(key) {
            out.push_str(&rest[..i]);
            out.push_str(val);
            rest = &rest[i + key.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Serves `page` on `addr` (must be a loopback address) until the process
/// ends. `ready` is called with the bound address (port 0 picks a free one).
pub fn serve(addr: SocketAddr, page: String, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to serve on {addr}: only loopback addresses (127.0.0.1, ::1) are allowed"
            ),
        ));
    }
    let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| io::Error::other("server has no IP address"))?;
    ready(bound);
    let html_type =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html; charset=utf-8"[..])
            .map_err(|_| io::Error::other("bad header"))?;
    let csp = tiny_http::Header::from_bytes(
        &b"Content-Security-Policy"[..],
        &b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"[..],
    )
    .map_err(|_| io::Error::other("bad header"))?;
    for req in server.incoming_requests() {
        let path = req.url().split(['?', '#']).next().unwrap_or("/");
        let resp = if path == "/" || path == "/index.html" {
            tiny_http::Response::from_string(page.as_str())
                .with_header(html_type.clone())
                .with_header(csp.clone())
                .boxed()
        } else {
            tiny_http::Response::from_string("not found")
                .with_status_code(404)
                .boxed()
        };
        // A client that went away is not an error of the server.
        let _ = req.respond(resp);
    }
    Ok(())
}
