//! The `export --format chrome-json` subcommand: writes a [`Model`] as
//! Chrome's Trace Event Format (JSON), which Perfetto and chrome://tracing
//! open.
//!
//! Layout: process 1 "Ps" has one track (tid) per P with a complete ("X")
//! slice per task run, plus a "STW" and a "GC" track; process 2 "user
//! regions" has one track per task with its regions (which nest, being
//! LIFO per task); user tasks are async ("b"/"e") events. Flow arrows
//! ("s" at the waker's running slice, "f" at the start of the woken
//! task's next slice, which it binds to) connect waker and wakee (wakes, not spawns). A run's
//! slice is named by its spawn site (function and `file:line`, the file's
//! base name) prefixed with the task id (`G12 worker{…} demo.rs:85`): the export stays
//! under 10x the trace's size (docs/viewer.md).
//!
//! Invariants: slices on one track never partially overlap (P slices are
//! disjoint by construction; regions are nested per task); a flow end is
//! written only after its start, and only when both ends lie inside slices.

use std::io::{self, Write};

use crate::analysis::{Model, NO_INDEX, Range, RunIndex};
use crate::names;

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

/// Microseconds with up to three decimals, trailing zeros dropped (`12.3`, `7`).
fn dur(d: u64) -> String {
    let (us, ns) = (d / 1000, d % 1000);
    match ns {
        0 => format!("{us}"),
        n if n % 100 == 0 => format!("{us}.{}", n / 100),
        n if n % 10 == 0 => format!("{us}.{:02}", n / 10),
        n => format!("{us}.{n:03}"),
    }
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
            w.write_all(b",")?;
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
                r#"{{"ph":"M","pid":1,"tid":{},"name":"thread_name","args":{{"name":{}}}}}"#,
                p.id,
                json_str(&names::proc_name(p))
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
    // Each task's runs, to find the waker's slice of a wake.
    let runs = RunIndex::new(m);
    let waker_slice = |wake: u32| -> Option<(u64, u64)> {
        let wk = m.wakes.get(wake as usize)?;
        let (p, _) = runs.at(m, wk.from, wk.time)?;
        Some((m.procs[p as usize].id, wk.time))
    };
    // Slice names: "G<id> " + the spawn site's display name (computed once
    // per site, already JSON-quoted: the id goes after the opening quote).
    let mut site_names: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
    for t in &m.tasks {
        site_names.entry(t.site).or_insert_with(|| {
            if names::is_runtime_task(t.id) {
                String::from("runtime\"")
            } else {
                json_str(&names::compact(&names::site_name(m.str(t.site)))).replace("\\u003c", "<")
                    [1..]
                    .to_string()
            }
        });
    }
    for p in &m.procs {
        for s in &p.spans {
            let t = &m.tasks[s.task as usize];
            ev(
                w,
                format!(
                    r#"{{"ph":"X","pid":1,"tid":{},"ts":{},"dur":{},"name":"{}{}}}"#,
                    p.id,
                    us(m, s.start),
                    dur(s.end - s.start),
                    if names::is_runtime_task(t.id) {
                        String::new()
                    } else {
                        format!("G{} ", t.id)
                    },
                    site_names[&t.site],
                ),
            )?;
            // Flows for wakes only: spawns would cost two events per task.
            if s.wake != NO_INDEX && !m.wakes[s.wake as usize].spawn {
                if let Some((wp, wt)) = waker_slice(s.wake) {
                    let label = "wake";
                    ev(
                        w,
                        format!(
                            r#"{{"ph":"s","pid":1,"tid":{wp},"ts":{},"id":{},"name":"{label}"}}"#,
                            us(m, wt),
                            s.wake
                        ),
                    )?;
                    ev(
                        w,
                        format!(
                            r#"{{"ph":"f","pid":1,"tid":{},"ts":{},"id":{},"name":"{label}"}}"#,
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
