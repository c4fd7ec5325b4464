//! `export --format perfetto`: Perfetto's native protobuf trace (a `Trace`
//! of `TracePacket`s with `TrackEvent`s, `perfetto/trace/trace.proto`),
//! which ui.perfetto.dev and `trace_processor` open directly.
//!
//! Layout:
//! - one process track ("spool trace: FILE") with a child track per P
//!   (named as the viewer names Ps), one for stop-the-world ranges, one for
//!   GC ranges and one for problem logs (instants);
//! - each track's events are one packet sequence (its own
//!   `trusted_packet_sequence_id`), whose first packet clears incremental
//!   state, interns the slice names (spawn-site names, `G<id>` kept out of
//!   the name so names intern) and sets the sequence's default track, so
//!   later packets carry only a timestamp, a type and a name ID;
//! - a run of a task is a SLICE_BEGIN / SLICE_END pair on its P's track,
//!   with the task id as a `task` debug annotation;
//! - a wake (GoUnblock by a task) is a flow: its ID (wake index + 1) is in
//!   `flow_ids` of the waker's run and in `terminating_flow_ids` of the run
//!   it enabled. Spawns are not flows (a spawn-heavy trace would pay 20
//!   bytes per task for them); the Chrome JSON export and the viewer show them.
//!
//! Invariants: slices on a track nest (a P's runs never overlap); every
//! terminating flow ID also starts on some slice; timestamps are ns from
//! the trace's first event and non-decreasing within a sequence.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::analysis::{Model, NO_INDEX, Range, RunIndex};
use crate::names;
use crate::proto::Msg;

// Field numbers (perfetto/trace/trace_packet.proto, track_event/*.proto).
const TRACE_PACKET: u32 = 1;
const P_TIMESTAMP: u32 = 8;
const P_SEQ_ID: u32 = 10;
const P_TRACK_EVENT: u32 = 11;
const P_INTERNED: u32 = 12;
const P_SEQ_FLAGS: u32 = 13;
const P_DEFAULTS: u32 = 59;
const P_TRACK_DESCRIPTOR: u32 = 60;
const DEFAULTS_TRACK_EVENT: u32 = 11;
const TED_TRACK_UUID: u32 = 11;
const TD_UUID: u32 = 1;
const TD_NAME: u32 = 2;
const TD_PROCESS: u32 = 3;
const TD_PARENT: u32 = 5;
const PD_PID: u32 = 1;
const PD_NAME: u32 = 6;
const TE_DEBUG: u32 = 4;
const TE_TYPE: u32 = 9;
const TE_NAME_IID: u32 = 10;
const TE_FLOW_IDS: u32 = 47;
const TE_TERMINATING_FLOW_IDS: u32 = 48;
const DA_NAME_IID: u32 = 1;
const DA_UINT: u32 = 3;
const DA_STRING: u32 = 6;
const ID_EVENT_NAMES: u32 = 2;
const ID_DEBUG_NAMES: u32 = 3;
const NAME_IID: u32 = 1;
const NAME_NAME: u32 = 2;
/// SEQ_INCREMENTAL_STATE_CLEARED.
const CLEARED: u64 = 1;
const SLICE_BEGIN: u64 = 1;
const SLICE_END: u64 = 2;
const INSTANT: u64 = 3;
/// Interned debug-annotation names.
const DA_TASK: u64 = 1;
const DA_MESSAGE: u64 = 2;

fn packet(out: &mut dyn Write, p: &Msg) -> io::Result<()> {
    let mut t = Msg::default();
    t.msg(TRACE_PACKET, p);
    out.write_all(t.bytes())
}

fn descriptor(out: &mut dyn Write, uuid: u64, parent: u64, name: &str) -> io::Result<()> {
    let mut d = Msg::default();
    d.uint(TD_UUID, uuid).str(TD_NAME, name);
    if parent != 0 {
        d.uint(TD_PARENT, parent);
    }
    let mut p = Msg::default();
    p.msg(P_TRACK_DESCRIPTOR, &d);
    packet(out, &p)
}

/// Writes the first packet of sequence `seq`: cleared state, interned
/// names, and `track` as the default track.
fn open_sequence(out: &mut dyn Write, seq: u64, track: u64, names: &[String]) -> io::Result<()> {
    let mut interned = Msg::default();
    for (i, n) in names.iter().enumerate() {
        let mut e = Msg::default();
        e.uint(NAME_IID, i as u64 + 1).str(NAME_NAME, n);
        interned.msg(ID_EVENT_NAMES, &e);
    }
    for (iid, n) in [(DA_TASK, "task"), (DA_MESSAGE, "message")] {
        let mut e = Msg::default();
        e.uint(NAME_IID, iid).str(NAME_NAME, n);
        interned.msg(ID_DEBUG_NAMES, &e);
    }
    let mut ted = Msg::default();
    ted.uint(TED_TRACK_UUID, track);
    let mut defaults = Msg::default();
    defaults.msg(DEFAULTS_TRACK_EVENT, &ted);
    let mut p = Msg::default();
    p.uint(P_SEQ_ID, seq)
        .uint(P_SEQ_FLAGS, CLEARED)
        .msg(P_INTERNED, &interned)
        .msg(P_DEFAULTS, &defaults);
    packet(out, &p)
}

/// One TrackEvent packet on sequence `seq` at `ts`.
fn event(out: &mut dyn Write, seq: u64, ts: u64, te: &Msg) -> io::Result<()> {
    let mut p = Msg::default();
    // No SEQ_NEEDS_INCREMENTAL_STATE flag: the sequence never loses its
    // state (one writer, no ring buffer), and the two bytes per packet are
    // a tenth of the output.
    p.uint(P_TIMESTAMP, ts)
        .uint(P_SEQ_ID, seq)
        .msg(P_TRACK_EVENT, te);
    packet(out, &p)
}

fn ranges(
    out: &mut dyn Write,
    m: &Model,
    seq: u64,
    track: u64,
    list: &[Range],
    names: &mut Vec<String>,
) -> io::Result<()> {
    let mut iid: HashMap<u32, u64> = HashMap::new();
    for r in list {
        let next = iid.len() as u64 + 1;
        if *iid.entry(r.label).or_insert(next) == next {
            names.push(m.str(r.label).to_string());
        }
    }
    open_sequence(out, seq, track, names)?;
    for r in list {
        let mut b = Msg::default();
        b.uint(TE_TYPE, SLICE_BEGIN)
            .uint(TE_NAME_IID, iid[&r.label]);
        event(out, seq, r.start - m.t0, &b)?;
        let mut e = Msg::default();
        e.uint(TE_TYPE, SLICE_END);
        event(out, seq, r.end - m.t0, &e)?;
    }
    Ok(())
}

/// Writes `m` as a Perfetto protobuf trace to `out` (see the module docs).
///
/// ```
/// let m = spool_trace::analysis::Model::default();
/// let mut out = Vec::new();
/// spool_trace::perfetto::write(&m, "t", &mut out).unwrap();
/// assert!(!out.is_empty()); // the process track descriptor at least
/// ```
pub fn write(m: &Model, file_name: &str, out: &mut dyn Write) -> io::Result<()> {
    const ROOT: u64 = 1;
    let mut root = Msg::default();
    let mut pd = Msg::default();
    pd.uint(PD_PID, 1)
        .str(PD_NAME, &format!("spool trace: {file_name}"));
    root.uint(TD_UUID, ROOT).msg(TD_PROCESS, &pd);
    let mut p = Msg::default();
    p.msg(P_TRACK_DESCRIPTOR, &root);
    packet(out, &p)?;
    // Slice names: spawn-site names (interned once per sequence).
    let mut site_iid: HashMap<u32, u64> = HashMap::new();
    let mut site_names: Vec<String> = Vec::new();
    for t in &m.tasks {
        let next = site_names.len() as u64 + 1;
        if *site_iid.entry(t.site).or_insert(next) == next {
            site_names.push(if names::is_runtime_task(t.id) {
                String::from("runtime")
            } else {
                names::site_name(m.str(t.site))
            });
        }
    }
    // Flows started by each run: the wakes whose waker ran then. Wakes are in
    // time order and a task's runs do not overlap, so each wake belongs to
    // the run of its waker containing its time. Sorted by (P, span, wake):
    // each P's spans then take their flows in order, 12 bytes a wake.
    let mut started: Vec<(u32, u32, u32)> = Vec::new();
    // Flow ids (wake index + 1) that started somewhere and have not ended.
    let mut open = vec![false; m.wakes.len() + 1];
    {
        let runs = RunIndex::new(m);
        for (i, w) in m.wakes.iter().enumerate() {
            if w.spawn {
                continue;
            }
            if let Some((p, s)) = runs.at(m, w.from, w.time) {
                started.push((p, s, i as u32));
                open[i + 1] = true;
            }
        }
    }
    started.sort_unstable();
    let mut next = 0;
    for (i, p) in m.procs.iter().enumerate() {
        let track = 100 + i as u64;
        let seq = 1 + i as u64;
        descriptor(out, track, ROOT, &names::proc_name(p))?;
        open_sequence(out, seq, track, &site_names)?;
        for (si, s) in p.spans.iter().enumerate() {
            let Some(t) = m.tasks.get(s.task as usize) else {
                continue;
            };
            let mut b = Msg::default();
            b.uint(TE_TYPE, SLICE_BEGIN)
                .uint(TE_NAME_IID, site_iid[&t.site]);
            let mut da = Msg::default();
            da.uint(DA_NAME_IID, DA_TASK).uint(DA_UINT, t.id);
            b.msg(TE_DEBUG, &da);
            while let Some(&(fp, fs, wake)) = started.get(next) {
                if (fp, fs) != (i as u32, si as u32) {
                    break;
                }
                b.fixed64(TE_FLOW_IDS, u64::from(wake) + 1);
                next += 1;
            }
            // The flow ends here only if it started somewhere (a wake by a
            // thread outside any task has no slice to start from).
            let w = u64::from(s.wake) + 1;
            if s.wake != NO_INDEX && open.get(w as usize).is_some_and(|&o| o) {
                open[w as usize] = false;
                b.fixed64(TE_TERMINATING_FLOW_IDS, w);
            }
            event(out, seq, s.start - m.t0, &b)?;
            let mut e = Msg::default();
            e.uint(TE_TYPE, SLICE_END);
            event(out, seq, s.end - m.t0, &e)?;
        }
    }
    let base = m.procs.len() as u64 + 1;
    for (k, (name, list)) in [("stop-the-world", &m.stw), ("GC", &m.gc)]
        .into_iter()
        .enumerate()
    {
        if list.is_empty() {
            continue;
        }
        let track = 10 + k as u64;
        descriptor(out, track, ROOT, name)?;
        let mut names = Vec::new();
        ranges(out, m, base + k as u64, track, list, &mut names)?;
    }
    // Problem logs as instants with their message.
    let marks: Vec<_> = m
        .logs
        .iter()
        .filter(|l| {
            let c = m.str(l.key);
            c.starts_with("spool.") && c != "spool"
        })
        .collect();
    if !marks.is_empty() {
        let (track, seq) = (12, base + 2);
        descriptor(
            out,
            track,
            ROOT,
            "spool logs (long polls, panics, deadlocks)",
        )?;
        let mut cats: HashMap<u32, u64> = HashMap::new();
        let mut names = Vec::new();
        for l in &marks {
            let next = names.len() as u64 + 1;
            if *cats.entry(l.key).or_insert(next) == next {
                names.push(m.str(l.key).to_string());
            }
        }
        open_sequence(out, seq, track, &names)?;
        for l in marks {
            let mut te = Msg::default();
            te.uint(TE_TYPE, INSTANT).uint(TE_NAME_IID, cats[&l.key]);
            let mut da = Msg::default();
            da.uint(DA_NAME_IID, DA_MESSAGE)
                .str(DA_STRING, m.str(l.value));
            te.msg(TE_DEBUG, &da);
            event(out, seq, l.time - m.t0, &te)?;
        }
    }
    Ok(())
}
