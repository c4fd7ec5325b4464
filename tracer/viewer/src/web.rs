//! The web UI: the JSON payload built from a [`Model`] and the
//! self-contained HTML page (assets embedded with `include_str!`, data
//! inline). The loopback-only HTTP server that serves it is `server.rs`.
//!
//! Invariants: the page makes no network request (no CDN, no fetch: the
//! data is inline), so the same bytes work served and from `file://`; the
//! inline JSON never contains `<` (escaped as `\u003c`), so it cannot close
//! its `<script>` element.

use std::io::{self, Write};

use std::collections::HashMap;

use crate::analysis::{Model, NO_INDEX};
use crate::chrome::json_str;
use crate::names;
use crate::problems::Problems;
use crate::util::Utilization;

const PAGE: &str = include_str!("assets/index.html");
const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");
const VIEWS: &str = include_str!("assets/views.js");

fn rel(m: &Model, t: u64) -> u64 {
    t.saturating_sub(m.t0)
}

fn idx(i: u32) -> i64 {
    if i == NO_INDEX { -1 } else { i64::from(i) }
}

/// Writes `"key":[v,v,...]`.
fn arr<T: std::fmt::Display>(
    w: &mut dyn Write,
    key: &str,
    vals: impl Iterator<Item = T>,
) -> io::Result<()> {
    write!(w, "\"{key}\":[")?;
    let mut first = true;
    for v in vals {
        if first {
            write!(w, "{v}")?;
        } else {
            write!(w, ",{v}")?;
        }
        first = false;
    }
    w.write_all(b"]")
}

/// Writes `"key":[...]` of `vals` delta-encoded (first value, then
/// differences; the page undoes it with a prefix sum). Sorted times become
/// short numbers.
fn delta(w: &mut dyn Write, key: &str, vals: impl Iterator<Item = u64>) -> io::Result<()> {
    let mut prev = 0i128;
    arr(
        w,
        key,
        vals.map(|v| {
            let d = i128::from(v) - prev;
            prev = i128::from(v);
            d
        }),
    )
}

/// Writes the JSON document the page reads: columnar arrays, times in ns
/// relative to the first event, -1 = none; arrays named in `meta.delta` are
/// delta-encoded.
pub fn write_payload(m: &Model, file_name: &str, w: &mut dyn Write) -> io::Result<()> {
    let stop = m.stop.as_ref();
    write!(
        w,
        "{{\"meta\":{{\"file\":{},\"version\":{},\"duration\":{},\"events\":{},\"generations\":{},\"fileLen\":{},\"unreadBytes\":{},\"unreadPct\":{},\"stopOffset\":{},\"stop\":{},\"orderError\":{},\"problemCount\":{},\"wallT0\":{},\"runtimeTask\":{},\"delta\":[\"procs.start\",\"wakes.time\",\"counters.time\"],",
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
        m.wall_t0
            .map_or("null".into(), |w| format!("{}", w / 1_000_000)),
        m.tasks
            .iter()
            .position(|t| names::is_runtime_task(t.id))
            .map_or(-1, |i| i as i64),
    )?;
    w.write_all(b"\"problems\":[")?;
    for (i, p) in m.problems.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(json_str(&p.to_string()).as_bytes())?;
    }
    w.write_all(b"]},\"strings\":[")?;
    // Display names of spawn sites and Ps are appended to the strings.
    let mut extra: Vec<String> = Vec::new();
    let mut extra_index: HashMap<String, u32> = HashMap::new();
    let mut intern = |s: String| -> u32 {
        if let Some(&i) = extra_index.get(&s) {
            return i;
        }
        let i = (m.strings.len() + extra.len()) as u32;
        extra_index.insert(s.clone(), i);
        extra.push(s);
        i
    };
    let mut sites: Vec<u32> = m.tasks.iter().map(|t| t.site).collect();
    sites.sort_unstable();
    sites.dedup();
    let site_names: Vec<u32> = sites
        .iter()
        .map(|&s| intern(names::site_name(m.str(s))))
        .collect();
    let proc_names: Vec<u32> = m
        .procs
        .iter()
        .map(|p| intern(names::proc_name(p)))
        .collect();
    for (i, s) in m.strings.iter().chain(extra.iter()).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(json_str(s).as_bytes())?;
    }
    w.write_all(b"],\"siteNames\":{")?;
    arr(w, "site", sites.iter())?;
    w.write_all(b",")?;
    arr(w, "name", site_names.iter())?;
    w.write_all(b"},\"tasks\":{")?;
    let t = &m.tasks;
    arr(w, "id", t.iter().map(|t| t.id))?;
    w.write_all(b",")?;
    arr(w, "site", t.iter().map(|t| t.site))?;
    w.write_all(b",")?;
    arr(
        w,
        "created",
        t.iter().map(|t| t.created.map_or(-1, |c| rel(m, c) as i64)),
    )?;
    w.write_all(b",")?;
    arr(w, "creator", t.iter().map(|t| idx(t.creator)))?;
    w.write_all(b",")?;
    arr(w, "running", t.iter().map(|t| t.running))?;
    w.write_all(b",")?;
    arr(w, "runnable", t.iter().map(|t| t.runnable))?;
    w.write_all(b",")?;
    arr(w, "blocked", t.iter().map(|t| t.blocked))?;
    w.write_all(b",")?;
    arr(w, "syscall", t.iter().map(|t| t.syscall))?;
    w.write_all(b",")?;
    arr(w, "polls", t.iter().map(|t| t.polls))?;
    w.write_all(b",")?;
    arr(w, "maxPoll", t.iter().map(|t| t.max_poll))?;
    w.write_all(b",")?;
    arr(w, "maxWait", t.iter().map(|t| t.max_wait))?;
    w.write_all(b"},\"procs\":[")?;
    for (i, p) in m.procs.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{{\"id\":{},\"name\":{},", p.id, proc_names[i])?;
        delta(w, "start", p.spans.iter().map(|s| rel(m, s.start)))?;
        w.write_all(b",")?;
        arr(w, "dur", p.spans.iter().map(|s| s.end - s.start))?;
        w.write_all(b",")?;
        arr(w, "task", p.spans.iter().map(|s| s.task))?;
        w.write_all(b",")?;
        arr(w, "wake", p.spans.iter().map(|s| idx(s.wake)))?;
        w.write_all(b",")?;
        arr(w, "how", p.spans.iter().map(|s| s.how as u8))?;
        w.write_all(b",")?;
        arr(w, "reason", p.spans.iter().map(|s| s.reason))?;
        w.write_all(b"}")?;
    }
    w.write_all(b"],\"wakes\":{")?;
    delta(w, "time", m.wakes.iter().map(|x| rel(m, x.time)))?;
    w.write_all(b",")?;
    arr(w, "from", m.wakes.iter().map(|x| idx(x.from)))?;
    w.write_all(b",")?;
    arr(w, "to", m.wakes.iter().map(|x| x.to))?;
    w.write_all(b",")?;
    arr(w, "spawn", m.wakes.iter().map(|x| u8::from(x.spawn)))?;
    w.write_all(b",")?;
    arr(w, "stack", m.wakes.iter().map(|x| x.stack))?;
    w.write_all(b"}")?;
    write_extras(m, w)?;
    for (key, ranges) in [("stw", &m.stw), ("gc", &m.gc), ("regions", &m.regions)] {
        write!(w, ",\"{key}\":{{")?;
        arr(w, "start", ranges.iter().map(|r| rel(m, r.start)))?;
        w.write_all(b",")?;
        arr(w, "dur", ranges.iter().map(|r| r.end - r.start))?;
        w.write_all(b",")?;
        arr(w, "label", ranges.iter().map(|r| r.label))?;
        w.write_all(b",")?;
        arr(w, "task", ranges.iter().map(|r| idx(r.task)))?;
        w.write_all(b"}")?;
    }
    w.write_all(b",\"utasks\":{")?;
    let u = &m.user_tasks;
    arr(w, "id", u.iter().map(|u| u.id))?;
    w.write_all(b",")?;
    arr(w, "name", u.iter().map(|u| u.name))?;
    w.write_all(b",")?;
    arr(w, "start", u.iter().map(|u| rel(m, u.start)))?;
    w.write_all(b",")?;
    arr(
        w,
        "dur",
        u.iter().map(|u| u.end.map_or(-1, |e| (e - u.start) as i64)),
    )?;
    w.write_all(b",")?;
    arr(w, "task", u.iter().map(|u| idx(u.task)))?;
    w.write_all(b"},\"logs\":{")?;
    let l = &m.logs;
    arr(w, "time", l.iter().map(|l| rel(m, l.time)))?;
    w.write_all(b",")?;
    arr(w, "task", l.iter().map(|l| idx(l.task)))?;
    w.write_all(b",")?;
    arr(w, "key", l.iter().map(|l| l.key))?;
    w.write_all(b",")?;
    arr(w, "value", l.iter().map(|l| l.value))?;
    w.write_all(b"},\"counters\":{")?;
    let c = &m.counters;
    delta(w, "time", c.iter().map(|c| rel(m, c.0)))?;
    w.write_all(b",")?;
    arr(w, "running", c.iter().map(|c| c.1))?;
    w.write_all(b",")?;
    arr(w, "runnable", c.iter().map(|c| c.2))?;
    w.write_all(b"}}")
}

/// Writes the stacks, profiles, problems and utilization sections.
fn write_extras(m: &Model, w: &mut dyn Write) -> io::Result<()> {
    // Stacks: frame lists flattened (innermost first), stack i = frames off[i]..off[i+1].
    let st = m.stacks.all();
    w.write_all(b",\"stacks\":{")?;
    let mut off = 0u64;
    arr(
        w,
        "off",
        std::iter::once(0).chain(st.iter().map(|s| {
            off += s.len() as u64;
            off
        })),
    )?;
    w.write_all(b",")?;
    arr(w, "func", st.iter().flatten().map(|f| f.func))?;
    w.write_all(b",")?;
    arr(w, "file", st.iter().flatten().map(|f| f.file))?;
    w.write_all(b",")?;
    arr(w, "line", st.iter().flatten().map(|f| f.line))?;
    w.write_all(b"},\"profile\":{")?;
    let p = &m.profile;
    arr(w, "kind", p.iter().map(|r| r.kind as u8))?;
    w.write_all(b",")?;
    arr(w, "stack", p.iter().map(|r| r.stack))?;
    w.write_all(b",")?;
    arr(w, "task", p.iter().map(|r| r.task))?;
    w.write_all(b",")?;
    arr(w, "count", p.iter().map(|r| r.count))?;
    w.write_all(b",")?;
    arr(w, "time", p.iter().map(|r| r.time))?;
    w.write_all(b"},\"problems\":[")?;
    let pr = Problems::new(m, 20);
    for (i, (title, g)) in pr.groups().iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            "{{\"title\":{},\"count\":{},\"items\":[",
            json_str(title),
            g.count
        )?;
        for (j, it) in g.items.iter().enumerate() {
            if j > 0 {
                w.write_all(b",")?;
            }
            write!(
                w,
                "[{},{},{},{}]",
                rel(m, it.time),
                it.dur,
                idx(it.task),
                json_str(&it.text)
            )?;
        }
        w.write_all(b"]}")?;
    }
    let u = Utilization::new(m);
    write!(w, "],\"util\":{{\"procs\":{},\"step\":{},", u.procs, u.step)?;
    arr(
        w,
        "series",
        u.series.iter().map(|v| (v * 1000.0).round() as u32),
    )?;
    w.write_all(b",")?;
    arr(w, "window", u.mmu.iter().map(|x| x.0))?;
    w.write_all(b",")?;
    arr(
        w,
        "mmu",
        u.mmu.iter().map(|x| (x.1 * 1000.0).round() as u32),
    )?;
    w.write_all(b",")?;
    arr(w, "at", u.mmu.iter().map(|x| x.2))?;
    w.write_all(b"}")
}

/// The JSON payload as a string (see [`write_payload`]).
pub fn payload(m: &Model, file_name: &str) -> String {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_payload(m, file_name, &mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// Writes the self-contained HTML page for `m` to `w`.
pub fn write_html(m: &Model, file_name: &str, w: &mut dyn Write) -> io::Result<()> {
    let title = file_name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    // Split on the placeholders in order; the assets themselves are not scanned.
    let mut rest = PAGE;
    for key in [
        "{{TITLE}}",
        "{{STYLE}}",
        "{{DATA}}",
        "{{SCRIPT}}",
        "{{VIEWS}}",
    ] {
        let Some(i) = rest.find(key) else { continue };
        w.write_all(&rest.as_bytes()[..i])?;
        match key {
            "{{TITLE}}" => w.write_all(title.as_bytes())?,
            "{{STYLE}}" => w.write_all(STYLE.as_bytes())?,
            "{{DATA}}" => write_payload(m, file_name, w)?,
            "{{SCRIPT}}" => w.write_all(SCRIPT.as_bytes())?,
            _ => w.write_all(VIEWS.as_bytes())?,
        }
        rest = &rest[i + key.len()..];
    }
    w.write_all(rest.as_bytes())
}

/// The self-contained HTML page for `m`.
pub fn html(m: &Model, file_name: &str) -> String {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_html(m, file_name, &mut v);
    String::from_utf8_lossy(&v).into_owned()
}
