//! The web UI: the JSON payload built from a [`Model`] and the
//! self-contained HTML page (assets embedded with `include_str!`, data
//! inline). The loopback-only HTTP server that serves it is `server.rs`.
//!
//! Two forms of the same page: the `html` export ([`write_html`]) carries
//! every column inline as JSON arrays; the served page ([`write_served`])
//! carries only the strings and meta data inline and fetches the numeric
//! columns from its own server ([`DATA_PATHS`]) as two little-endian binaries,
//! viewed as typed arrays without parsing (what makes a 10M-event trace
//! open in seconds, not half a minute).
//!
//! Invariants: the `html` export makes no network request (no CDN, no
//! fetch: the data is inline), so it works from `file://`; the served page
//! fetches only from its own origin; the inline JSON never contains `<`
//! (escaped as `\u003c`), so it cannot close its `<script>` element.

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

/// How a column travels in the binary payload (little-endian; the page
/// views it as the typed array of the same name, no parsing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    /// Times, durations, ids: `Float64Array` (exact up to 2^53 ns, 104 days).
    F64,
    /// Indices where -1 means none: `Int32Array`.
    I32,
    /// Indices and counts: `Uint32Array`.
    U32,
    /// Small enums and flags: `Uint8Array`.
    U8,
}

impl Ty {
    fn size(self) -> usize {
        match self {
            Ty::F64 => 8,
            Ty::I32 | Ty::U32 => 4,
            Ty::U8 => 1,
        }
    }

    /// The page's name for it (`meta.binCols`).
    fn code(self) -> u8 {
        match self {
            Ty::F64 => 0,
            Ty::I32 => 1,
            Ty::U32 => 2,
            Ty::U8 => 3,
        }
    }
}

/// A number a column holds.
trait Num: std::fmt::Display + Copy {
    fn as_i128(self) -> i128;
}

macro_rules! num {
    ($($t:ty),*) => {$(impl Num for $t { fn as_i128(self) -> i128 { self as i128 } })*};
}
num!(u8, u32, u64, i64, i128);

impl<T: Num> Num for &T {
    fn as_i128(self) -> i128 {
        (*self).as_i128()
    }
}

/// Where the columns go: inline JSON arrays, or (`bin`) into one binary
/// of two binary buffers, each column 8-byte aligned, the JSON holding
/// `{"$bin":N}` in its place and `binCols` (`[buffer, type, byte offset,
/// length]` per column) at the end.
struct Cols<'a> {
    w: &'a mut dyn Write,
    bin: Option<&'a mut [Vec<u8>; 2]>,
    /// Which binary new columns go to: 0 what the first paint of the
    /// timeline needs, 1 the rest (fetched after that paint).
    part: usize,
    table: Vec<(usize, u8, usize, usize)>,
}

impl Cols<'_> {
    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }

    /// Writes `"key":[v,v,...]` (or its binary placeholder).
    fn arr<T: Num>(&mut self, key: &str, ty: Ty, vals: impl Iterator<Item = T>) -> io::Result<()> {
        write!(self.w, "\"{key}\":")?;
        if let Some(bins) = self.bin.as_deref_mut() {
            let bin = &mut bins[self.part];
            while bin.len() % 8 != 0 {
                bin.push(0);
            }
            let off = bin.len();
            for v in vals {
                let v = v.as_i128();
                match ty {
                    Ty::F64 => bin.extend_from_slice(&(v as f64).to_le_bytes()),
                    Ty::I32 => bin.extend_from_slice(&(v as i32).to_le_bytes()),
                    Ty::U32 => bin.extend_from_slice(&(v as u32).to_le_bytes()),
                    Ty::U8 => bin.push(v as u8),
                }
            }
            let len = (bin.len() - off) / ty.size();
            write!(self.w, "{{\"$bin\":{}}}", self.table.len())?;
            self.table.push((self.part, ty.code(), off, len));
            return Ok(());
        }
        self.w.write_all(b"[")?;
        let mut first = true;
        for v in vals {
            if first {
                write!(self.w, "{v}")?;
            } else {
                write!(self.w, ",{v}")?;
            }
            first = false;
        }
        self.w.write_all(b"]")
    }

    /// Writes `"key":[...]` of sorted `vals` delta-encoded in JSON (first
    /// value, then differences; the page undoes it with a prefix sum, for
    /// the keys in `meta.delta`): sorted times become short numbers. Binary
    /// columns are plain.
    fn delta(&mut self, key: &str, vals: impl Iterator<Item = u64>) -> io::Result<()> {
        if self.bin.is_some() {
            return self.arr(key, Ty::F64, vals);
        }
        let mut prev = 0i128;
        self.arr(
            key,
            Ty::F64,
            vals.map(|v| {
                let d = i128::from(v) - prev;
                prev = i128::from(v);
                d
            }),
        )
    }
}

/// Writes the JSON document the page reads: columnar arrays, times in ns
/// relative to the first event, -1 = none; arrays named in `meta.delta` are
/// delta-encoded.
pub fn write_payload(m: &Model, file_name: &str, w: &mut dyn Write) -> io::Result<()> {
    let mut c = Cols {
        w,
        bin: None,
        part: 0,
        table: Vec::new(),
    };
    write_cols(m, file_name, &mut c)
}

/// Writes the payload with its numeric columns into `bins` instead (the
/// binaries the served page fetches, [`DATA_PATHS`]: first what the
/// timeline's first paint needs — the runs' start, length and task, task
/// ids and sites, counters, STW/GC, logs, regions — then the rest), the
/// JSON keeping the strings, the meta data and `binCols`.
pub fn write_payload_split(
    m: &Model,
    file_name: &str,
    w: &mut dyn Write,
    bins: &mut [Vec<u8>; 2],
) -> io::Result<()> {
    let mut c = Cols {
        w,
        bin: Some(bins),
        part: 0,
        table: Vec::new(),
    };
    write_cols(m, file_name, &mut c)
}

fn write_cols(m: &Model, file_name: &str, c: &mut Cols<'_>) -> io::Result<()> {
    let stop = m.stop.as_ref();
    write!(
        c.w,
        "{{\"meta\":{{\"file\":{},\"version\":{},\"duration\":{},\"events\":{},\"generations\":{},\"fileLen\":{},\"unreadBytes\":{},\"unreadPct\":{},\"stopOffset\":{},\"stop\":{},\"orderError\":{},\"problemCount\":{},\"wallT0\":{},\"runtimeTask\":{},\"delta\":{},",
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
        if c.bin.is_some() {
            "[]"
        } else {
            "[\"procs.start\",\"wakes.time\",\"counters.time\"]"
        },
    )?;
    c.raw(b"\"problems\":[")?;
    for (i, p) in m.problems.iter().enumerate() {
        if i > 0 {
            c.raw(b",")?;
        }
        c.raw(json_str(&p.to_string()).as_bytes())?;
    }
    c.raw(b"]},\"strings\":[")?;
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
            c.raw(b",")?;
        }
        c.raw(json_str(s).as_bytes())?;
    }
    c.raw(b"],\"siteNames\":{")?;
    c.arr("site", Ty::U32, sites.iter())?;
    c.raw(b",")?;
    c.arr("name", Ty::U32, site_names.iter())?;
    c.raw(b"},\"tasks\":{")?;
    let t = &m.tasks;
    c.arr("id", Ty::F64, t.iter().map(|t| t.id))?;
    c.raw(b",")?;
    c.arr("site", Ty::U32, t.iter().map(|t| t.site))?;
    c.raw(b",")?;
    c.part = 1;
    c.arr(
        "created",
        Ty::F64,
        t.iter().map(|t| t.created.map_or(-1, |c| rel(m, c) as i64)),
    )?;
    c.raw(b",")?;
    c.arr("creator", Ty::I32, t.iter().map(|t| idx(t.creator)))?;
    c.raw(b",")?;
    c.arr("running", Ty::F64, t.iter().map(|t| t.running))?;
    c.raw(b",")?;
    c.arr("runnable", Ty::F64, t.iter().map(|t| t.runnable))?;
    c.raw(b",")?;
    c.arr("blocked", Ty::F64, t.iter().map(|t| t.blocked))?;
    c.raw(b",")?;
    c.arr("syscall", Ty::F64, t.iter().map(|t| t.syscall))?;
    c.raw(b",")?;
    c.arr("polls", Ty::U32, t.iter().map(|t| t.polls))?;
    c.raw(b",")?;
    c.arr("maxPoll", Ty::F64, t.iter().map(|t| t.max_poll))?;
    c.raw(b",")?;
    c.arr("maxWait", Ty::F64, t.iter().map(|t| t.max_wait))?;
    c.part = 0;
    c.raw(b"},\"procs\":[")?;
    for (i, p) in m.procs.iter().enumerate() {
        if i > 0 {
            c.raw(b",")?;
        }
        write!(c.w, "{{\"id\":{},\"name\":{},", p.id, proc_names[i])?;
        c.delta("start", p.spans.iter().map(|s| rel(m, s.start)))?;
        c.raw(b",")?;
        c.arr("dur", Ty::F64, p.spans.iter().map(|s| s.end - s.start))?;
        c.raw(b",")?;
        c.arr("task", Ty::U32, p.spans.iter().map(|s| s.task))?;
        c.raw(b",")?;
        c.part = 1;
        c.arr("wake", Ty::I32, p.spans.iter().map(|s| idx(s.wake)))?;
        c.raw(b",")?;
        c.arr("how", Ty::U8, p.spans.iter().map(|s| s.how as u8))?;
        c.raw(b",")?;
        c.arr("reason", Ty::U32, p.spans.iter().map(|s| s.reason))?;
        c.part = 0;
        c.raw(b"}")?;
    }
    c.raw(b"],\"wakes\":{")?;
    c.part = 1;
    c.delta("time", m.wakes.iter().map(|x| rel(m, x.time)))?;
    c.raw(b",")?;
    c.arr("from", Ty::I32, m.wakes.iter().map(|x| idx(x.from)))?;
    c.raw(b",")?;
    c.arr("to", Ty::U32, m.wakes.iter().map(|x| x.to))?;
    c.raw(b",")?;
    c.arr("spawn", Ty::U8, m.wakes.iter().map(|x| u8::from(x.spawn)))?;
    c.raw(b",")?;
    c.arr("stack", Ty::U32, m.wakes.iter().map(|x| x.stack))?;
    c.raw(b"}")?;
    write_extras(m, c)?;
    c.part = 0;
    for (key, ranges) in [("stw", &m.stw), ("gc", &m.gc), ("regions", &m.regions)] {
        write!(c.w, ",\"{key}\":{{")?;
        c.arr("start", Ty::F64, ranges.iter().map(|r| rel(m, r.start)))?;
        c.raw(b",")?;
        c.arr("dur", Ty::F64, ranges.iter().map(|r| r.end - r.start))?;
        c.raw(b",")?;
        c.arr("label", Ty::U32, ranges.iter().map(|r| r.label))?;
        c.raw(b",")?;
        c.arr("task", Ty::I32, ranges.iter().map(|r| idx(r.task)))?;
        c.raw(b"}")?;
    }
    c.raw(b",\"utasks\":{")?;
    let u = &m.user_tasks;
    c.part = 1;
    c.arr("id", Ty::F64, u.iter().map(|u| u.id))?;
    c.raw(b",")?;
    c.arr("name", Ty::U32, u.iter().map(|u| u.name))?;
    c.raw(b",")?;
    c.arr("start", Ty::F64, u.iter().map(|u| rel(m, u.start)))?;
    c.raw(b",")?;
    c.arr(
        "dur",
        Ty::F64,
        u.iter().map(|u| u.end.map_or(-1, |e| (e - u.start) as i64)),
    )?;
    c.raw(b",")?;
    c.arr("task", Ty::I32, u.iter().map(|u| idx(u.task)))?;
    c.raw(b"},\"logs\":{")?;
    let l = &m.logs;
    c.part = 0;
    c.arr("time", Ty::F64, l.iter().map(|l| rel(m, l.time)))?;
    c.raw(b",")?;
    c.arr("task", Ty::I32, l.iter().map(|l| idx(l.task)))?;
    c.raw(b",")?;
    c.arr("key", Ty::U32, l.iter().map(|l| l.key))?;
    c.raw(b",")?;
    c.arr("value", Ty::U32, l.iter().map(|l| l.value))?;
    c.raw(b"},\"counters\":{")?;
    let cn = &m.counters;
    c.delta("time", cn.iter().map(|x| rel(m, x.0)))?;
    c.raw(b",")?;
    c.arr("running", Ty::U32, cn.iter().map(|x| x.1))?;
    c.raw(b",")?;
    c.arr("runnable", Ty::U32, cn.iter().map(|x| x.2))?;
    c.raw(b"}")?;
    if c.bin.is_some() {
        c.raw(b",\"binCols\":[")?;
        for (i, (part, ty, off, len)) in c.table.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            write!(c.w, "{sep}[{part},{ty},{off},{len}]")?;
        }
        c.raw(b"]")?;
    }
    c.raw(b"}")
}

/// Writes the stacks, profiles, problems and utilization sections.
fn write_extras(m: &Model, c: &mut Cols<'_>) -> io::Result<()> {
    // Stacks: frame lists flattened (innermost first), stack i = frames off[i]..off[i+1].
    let st = m.stacks.all();
    c.raw(b",\"stacks\":{")?;
    let mut off = 0u64;
    c.arr(
        "off",
        Ty::U32,
        std::iter::once(0).chain(st.iter().map(|s| {
            off += s.len() as u64;
            off
        })),
    )?;
    c.raw(b",")?;
    c.arr("func", Ty::U32, st.iter().flatten().map(|f| f.func))?;
    c.raw(b",")?;
    c.arr("file", Ty::U32, st.iter().flatten().map(|f| f.file))?;
    c.raw(b",")?;
    c.arr("line", Ty::U32, st.iter().flatten().map(|f| f.line))?;
    c.raw(b"},\"profile\":{")?;
    let p = &m.profile;
    c.arr("kind", Ty::U8, p.iter().map(|r| r.kind as u8))?;
    c.raw(b",")?;
    c.arr("stack", Ty::U32, p.iter().map(|r| r.stack))?;
    c.raw(b",")?;
    c.arr("task", Ty::U32, p.iter().map(|r| r.task))?;
    c.raw(b",")?;
    c.arr("count", Ty::F64, p.iter().map(|r| r.count))?;
    c.raw(b",")?;
    c.arr("time", Ty::F64, p.iter().map(|r| r.time))?;
    c.raw(b"},\"problems\":[")?;
    let pr = Problems::new(m, 20);
    for (i, (title, g)) in pr.groups().iter().enumerate() {
        if i > 0 {
            c.raw(b",")?;
        }
        write!(
            c.w,
            "{{\"title\":{},\"count\":{},\"items\":[",
            json_str(title),
            g.count
        )?;
        for (j, it) in g.items.iter().enumerate() {
            if j > 0 {
                c.raw(b",")?;
            }
            write!(
                c.w,
                "[{},{},{},{}]",
                rel(m, it.time),
                it.dur,
                idx(it.task),
                json_str(&it.text)
            )?;
        }
        c.raw(b"]}")?;
    }
    let u = Utilization::new(m);
    write!(
        c.w,
        "],\"util\":{{\"procs\":{},\"step\":{},",
        u.procs, u.step
    )?;
    c.arr(
        "series",
        Ty::U32,
        u.series.iter().map(|v| (v * 1000.0).round() as u32),
    )?;
    c.raw(b",")?;
    c.arr("window", Ty::F64, u.mmu.iter().map(|x| x.0))?;
    c.raw(b",")?;
    c.arr(
        "mmu",
        Ty::U32,
        u.mmu.iter().map(|x| (x.1 * 1000.0).round() as u32),
    )?;
    c.raw(b",")?;
    c.arr("at", Ty::F64, u.mmu.iter().map(|x| x.2))?;
    c.raw(b"}")
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
    write_page(file_name, w, |w| write_payload(m, file_name, w))
}

/// The paths, relative to the page, of the two binaries of a served page
/// (see [`write_payload_split`]).
pub const DATA_PATHS: [&str; 2] = ["data0.bin", "data1.bin"];

/// Writes the page `serve` serves to `w` and its numeric columns to `bins`
/// (served at [`DATA_PATHS`]): the page parses only the small JSON and
/// fetches the columns as typed arrays, instead of parsing them from
/// JSON (28.6 s for the 307 MB page of a 10M-event trace), and draws the
/// timeline once the first binary is in.
pub fn write_served(
    m: &Model,
    file_name: &str,
    w: &mut dyn Write,
    bins: &mut [Vec<u8>; 2],
) -> io::Result<()> {
    write_page(file_name, w, |w| write_payload_split(m, file_name, w, bins))
}

fn write_page(
    file_name: &str,
    w: &mut dyn Write,
    data: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let title = file_name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut data = Some(data);
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
            "{{DATA}}" => {
                if let Some(f) = data.take() {
                    f(w)?;
                }
            }
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
