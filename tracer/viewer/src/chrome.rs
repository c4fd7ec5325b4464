//! The `export --format chrome-json` subcommand: writes a [`Model`] as
//! Chrome's Trace Event Format (JSON), which Perfetto and chrome://tracing
//! open.
//!
//! Layout: process 1 "Ps" has one track (tid) per P with a complete ("X")
//! slice per task run, plus a "STW" and a "GC" track; process 2 "user
//! regions" has one track per task with its regions (which nest, being
//! LIFO per task); user tasks are async ("b"/"e") events. Flow arrows
//! ("s" at the waker's running slice, "f" with `bp:"e"` at the woken
//! task's next slice) connect waker and wakee.
//!
//! Invariants: slices on one track never partially overlap (P slices are
//! disjoint by construction; regions are nested per task); a flow end is
//! written only after its start, and only when both ends lie inside slices.

use std::io::{self, Write};

use crate::analysis::{Model, NO_INDEX, Range};

/// JSON string literal for `s` (escapes quotes, control chars and `<`).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn us(m: &Model, t: u64) -> String {
    dur(t.saturating_sub(m.t0))
}

fn dur(d: u64) -> String {
    format!("{}.{:03}", d / 1000, d % 1000)
}

/// A complete ("X") slice for a labeled range on track `pid`/`tid`.
fn labeled_slice(m: &Model, pid: u32, tid: u64, r: &Range, cat: &str) -> String {
    format!(
        r#"{{"ph":"X","pid":{pid},"tid":{tid},"ts":{},"dur":{},"name":{},"cat":"{cat}"}}"#,
        us(m, r.start),
        dur(r.end - r.start),
        json_str(m.str(r.label))
    )
}

const STW_TID: u64 = 1 << 40;
const GC_TID: u64 = (1 << 40) + 1;

/// Writes `m` as Trace Event Format JSON to `w`.
pub fn write(m: &Model, w: &mut impl Write) -> io::Result<()> {
    let mut first = true;
    let mut ev = |w: &mut dyn Write, s: String| -> io::Result<()> {
        if !first {
            w.write_all(b",\n")?;
        }
        first = false;
        w.write_all(s.as_bytes())
    };
    w.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
    ev(
        w,
        r#"{"ph":"M","pid":1,"name":"process_name","args":{"name":"Ps"}}"#.into(),
    )?;
    ev(
        w,
        r#"{"ph":"M","pid":2,"name":"process_name","args":{"name":"user regions"}}"#.into(),
    )?;
    ev(
        w,
        r#"{"ph":"M","pid":3,"name":"process_name","args":{"name":"user tasks"}}"#.into(),
    )?;
    for p in &m.procs {
        ev(
            w,
            format!(
                r#"{{"ph":"M","pid":1,"tid":{},"name":"thread_name","args":{{"name":"P{}"}}}}"#,
                p.id, p.id
            ),
        )?;
    }
    ev(
        w,
        format!(
            r#"{{"ph":"M","pid":1,"tid":{STW_TID},"name":"thread_name","args":{{"name":"STW"}}}}"#
        ),
    )?;
    ev(
        w,
        format!(
            r#"{{"ph":"M","pid":1,"tid":{GC_TID},"name":"thread_name","args":{{"name":"GC"}}}}"#
        ),
    )?;
    // Each task's runs (p, start, end), to find the waker's slice of a wake.
    let mut runs: Vec<Vec<(u64, u64, u64)>> = vec![Vec::new(); m.tasks.len()];
    for p in &m.procs {
        for s in &p.spans {
            if let Some(r) = runs.get_mut(s.task as usize) {
                r.push((p.id, s.start, s.end));
            }
        }
    }
    for r in &mut runs {
        r.sort_by_key(|x| x.1);
    }
    let waker_slice = |wake: u32| -> Option<(u64, u64)> {
        let wk = m.wakes.get(wake as usize)?;
        let r = runs.get(wk.from as usize)?;
        let i = r.partition_point(|x| x.1 <= wk.time);
        let (p, s, e) = *r.get(i.checked_sub(1)?)?;
        (s <= wk.time && wk.time <= e).then_some((p, wk.time))
    };
    for p in &m.procs {
        for s in &p.spans {
            let t = &m.tasks[s.task as usize];
            let name = format!("G{} {}", t.id, m.str(t.site));
            ev(
                w,
                format!(
                    r#"{{"ph":"X","pid":1,"tid":{},"ts":{},"dur":{},"name":{},"cat":"task","args":{{"task":{},"site":{}}}}}"#,
                    p.id,
                    us(m, s.start),
                    dur(s.end - s.start),
                    json_str(&name),
                    t.id,
                    json_str(m.str(t.site))
                ),
            )?;
            if s.wake != NO_INDEX {
                if let Some((wp, wt)) = waker_slice(s.wake) {
                    let wk = &m.wakes[s.wake as usize];
                    let label = if wk.spawn { "spawn" } else { "wake" };
                    ev(
                        w,
                        format!(
                            r#"{{"ph":"s","pid":1,"tid":{wp},"ts":{},"id":{},"name":"{label}","cat":"wake"}}"#,
                            us(m, wt),
                            s.wake
                        ),
                    )?;
                    ev(
                        w,
                        format!(
                            r#"{{"ph":"f","bp":"e","pid":1,"tid":{},"ts":{},"id":{},"name":"{label}","cat":"wake"}}"#,
                            p.id,
                            us(m, s.start),
                            s.wake
                        ),
                    )?;
                }
            }
        }
    }
    for (ranges, tid) in [(&m.stw, STW_TID), (&m.gc, GC_TID)] {
        for r in ranges.iter() {
            ev(w, labeled_slice(m, 1, tid, r, "stw"))?;
        }
    }
    for r in &m.regions {
        let tid = m.tasks.get(r.task as usize).map_or(0, |t| t.id);
        ev(w, labeled_slice(m, 2, tid, r, "region"))?;
    }
    for (i, u) in m.user_tasks.iter().enumerate() {
        let Some(end) = u.end else { continue };
        for (ph, t) in [("b", u.start), ("e", end)] {
            ev(
                w,
                format!(
                    r#"{{"ph":"{ph}","pid":3,"tid":1,"ts":{},"id":{i},"name":{},"cat":"user task"}}"#,
                    us(m, t),
                    json_str(m.str(u.name))
                ),
            )?;
        }
    }
    w.write_all(b"\n]}\n")
}
