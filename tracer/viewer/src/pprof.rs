//! `spool-trace pprof`: one of Go's four trace profiles ([`crate::profile`])
//! as a gzip-compressed pprof protobuf (`profile.proto`), shaped like the
//! output of `go tool trace -pprof=KIND`: period type `trace/count`, period
//! 1, sample types `contentions/count` and `delay/nanoseconds`, one sample
//! per distinct stack, locations keyed by PC and functions by file +
//! name, as Go's `traceviewer.BuildProfile` makes them.
//!
//! Invariant: the sum of the samples' delays equals
//! [`Model::profile_total`] for the kind.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::analysis::Model;
use crate::profile::ProfileKind;
use crate::proto::Msg;

/// Interned string table of a pprof profile (index 0 = "").
struct Strings {
    list: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as i64;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// The uncompressed pprof protobuf of profile `kind` of `m`.
///
/// ```
/// let m = spool_trace::analysis::Model::default();
/// let pb = spool_trace::pprof::encode(&m, spool_trace::profile::ProfileKind::Sync);
/// assert!(!pb.is_empty()); // sample and period types even with no samples
/// ```
pub fn encode(m: &Model, kind: ProfileKind) -> Vec<u8> {
    let mut strings = Strings {
        list: vec![String::new()],
        index: HashMap::from([(String::new(), 0)]),
    };
    // Aggregate over tasks: one sample per stack.
    let mut by_stack: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut order = Vec::new();
    for r in m.profile.iter().filter(|r| r.kind == kind) {
        let e = by_stack.entry(r.stack).or_insert_with(|| {
            order.push(r.stack);
            (0, 0)
        });
        e.0 += r.count;
        e.1 += r.time;
    }
    let mut out = Msg::default();
    let value_type = |strings: &mut Strings, ty: &str, unit: &str| {
        let mut v = Msg::default();
        v.int(1, strings.get(ty)).int(2, strings.get(unit));
        v
    };
    for (ty, unit) in [("contentions", "count"), ("delay", "nanoseconds")] {
        let v = value_type(&mut strings, ty, unit);
        out.msg(1, &v);
    }
    let mut locs: HashMap<u64, u64> = HashMap::new();
    let mut funcs: HashMap<(u32, u32), u64> = HashMap::new();
    let mut loc_msgs = Vec::new();
    let mut func_msgs = Vec::new();
    for stack in order {
        let (count, time) = by_stack[&stack];
        let mut ids = Vec::new();
        for f in m.stacks.frames(stack) {
            let next = loc_msgs.len() as u64 + 1;
            let id = *locs.entry(f.pc).or_insert(next);
            if id == next {
                let fnext = func_msgs.len() as u64 + 1;
                let fid = *funcs.entry((f.file, f.func)).or_insert(fnext);
                if fid == fnext {
                    let name = strings.get(m.str(f.func));
                    let file = strings.get(m.str(f.file));
                    let mut fm = Msg::default();
                    fm.uint(1, fid).int(2, name).int(3, name).int(4, file);
                    func_msgs.push(fm);
                }
                let mut line = Msg::default();
                line.uint(1, fid).int(2, i64::from(f.line));
                let mut lm = Msg::default();
                lm.uint(1, id).uint(3, f.pc).msg(4, &line);
                loc_msgs.push(lm);
            }
            ids.push(id);
        }
        let mut s = Msg::default();
        s.packed(1, ids).packed(2, [count, time]);
        out.msg(2, &s);
    }
    for l in &loc_msgs {
        out.msg(4, l);
    }
    for f in &func_msgs {
        out.msg(5, f);
    }
    let period_type = value_type(&mut strings, "trace", "count");
    for s in &strings.list {
        out.str(6, s);
    }
    out.msg(11, &period_type);
    out.int(12, 1);
    out.take()
}

/// Writes profile `kind` of `m` to `w` as gzip-compressed pprof.
pub fn write(m: &Model, kind: ProfileKind, w: &mut dyn Write) -> io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
    gz.write_all(&encode(m, kind))?;
    gz.finish()?;
    Ok(())
}
