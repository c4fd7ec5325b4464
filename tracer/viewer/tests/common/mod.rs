//! A tiny test-only encoder of Go v2 traces, independent of spool's writer,
//! so reader and viewer tests can hand-craft exact scenarios.
//!
//! Time unit: with `FREQ = 1e9`, ticks are nanoseconds, so expected
//! durations in tests are the tick differences written here.
#![allow(dead_code)]

/// Ticks per second used by [`TraceBuilder`]: ticks are nanoseconds.
pub const FREQ: u64 = 1_000_000_000;
/// "-1" on the wire.
pub const NONE: u64 = u64::MAX;

/// Appends `v` as an unsigned LEB128 varint.
pub fn uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One M's events: (type, absolute ticks, arguments after dt).
type Stream = Vec<(u8, u64, Vec<u64>)>;

/// One generation under construction.
#[derive(Default)]
pub struct Gen {
    strings: Vec<(u64, String)>,
    stacks: Vec<(u64, Vec<[u64; 4]>)>,
    /// Per-M event streams: (m, [(type, abs ticks, args)]).
    streams: Vec<(u64, Stream)>,
}

impl Gen {
    /// Interns `s` and returns its ID (IDs from 1, dense).
    pub fn string(&mut self, s: &str) -> u64 {
        if let Some((id, _)) = self.strings.iter().find(|(_, x)| x == s) {
            return *id;
        }
        let id = self.strings.len() as u64 + 1;
        self.strings.push((id, s.to_string()));
        id
    }

    /// Adds a one-frame stack `func` at `file:line` and returns its ID.
    pub fn stack(&mut self, func: &str, file: &str, line: u64) -> u64 {
        let f = self.string(func);
        let fl = self.string(file);
        let id = self.stacks.len() as u64 + 1;
        self.stacks.push((id, vec![[0x1000 + id, f, fl, line]]));
        id
    }

    /// Appends timed event `ty` with `args` (after dt) at absolute tick `t` to M `m`'s stream.
    pub fn ev(&mut self, m: u64, t: u64, ty: u8, args: &[u64]) -> &mut Self {
        let i = match self.streams.iter().position(|(mm, _)| *mm == m) {
            Some(i) => i,
            None => {
                self.streams.push((m, Vec::new()));
                self.streams.len() - 1
            }
        };
        self.streams[i].1.push((ty, t, args.to_vec()));
        self
    }
}

/// Builds a whole trace file.
pub struct TraceBuilder {
    pub minor: u32,
    pub out: Vec<u8>,
    next_gen: u64,
}

impl TraceBuilder {
    /// A trace with header `go 1.{minor} trace`.
    pub fn new(minor: u32) -> Self {
        let mut out = format!("go 1.{minor} trace").into_bytes();
        out.extend_from_slice(&[0, 0, 0]);
        TraceBuilder {
            minor,
            out,
            next_gen: 1,
        }
    }

    fn batch(&mut self, generation: u64, m: u64, time: u64, payload: &[u8]) {
        self.out.push(1);
        uvarint(&mut self.out, generation);
        uvarint(&mut self.out, m);
        uvarint(&mut self.out, time);
        uvarint(&mut self.out, payload.len() as u64);
        self.out.extend_from_slice(payload);
    }

    /// Writes one generation (sync batch, tables, one batch per M stream).
    pub fn generation(&mut self, g: &Gen) -> &mut Self {
        let generation = self.next_gen;
        self.next_gen += 1;
        let first_t = g
            .streams
            .iter()
            .flat_map(|(_, e)| e.iter().map(|x| x.1))
            .min()
            .unwrap_or(1)
            .max(1);
        // Sync batch.
        let mut p = Vec::new();
        if self.minor >= 25 {
            p.push(50);
        }
        p.push(8);
        uvarint(&mut p, FREQ);
        if self.minor >= 25 {
            p.push(51);
            for v in [0, first_t, 1_700_000_000, 5] {
                uvarint(&mut p, v);
            }
        }
        self.batch(generation, NONE, first_t, &p);
        for (m, evs) in &g.streams {
            let base = evs.first().map_or(first_t, |e| e.1);
            let mut p = Vec::new();
            let mut last = base;
            for (ty, t, args) in evs {
                p.push(*ty);
                uvarint(&mut p, t - last);
                last = *t;
                for a in args {
                    uvarint(&mut p, *a);
                }
            }
            self.batch(generation, *m, base, &p);
        }
        if !g.stacks.is_empty() {
            let mut p = vec![2u8];
            for (id, frames) in &g.stacks {
                p.push(3);
                uvarint(&mut p, *id);
                uvarint(&mut p, frames.len() as u64);
                for f in frames {
                    for v in f {
                        uvarint(&mut p, *v);
                    }
                }
            }
            self.batch(generation, NONE, first_t, &p);
        }
        if !g.strings.is_empty() {
            let mut p = vec![4u8];
            for (id, s) in &g.strings {
                p.push(5);
                uvarint(&mut p, *id);
                uvarint(&mut p, s.len() as u64);
                p.extend_from_slice(s.as_bytes());
            }
            self.batch(generation, NONE, first_t, &p);
        }
        if self.minor >= 26 {
            self.out.push(52);
        }
        self
    }

    /// The file bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.out.clone()
    }
}

/// Event type IDs: the reader's wire table.
pub use spool_trace_wire::ev;

/// A small two-worker scenario (used by reader and viewer tests), in trace
/// version `minor`. Known facts (ticks = ns):
///
/// - P0 Running on M1 from t=90; P1 Idle on M2, started at 480.
/// - G1 "main" (status Running on M1 from t=100) creates G2 "app::worker" at 200 and
///   G3 "app::worker" at 300, then blocks ("join") at 400.
/// - M2 starts G2 at 500 (scheduling latency 300), G2 blocks "sleep" at 900 (ran 400).
/// - M1 starts G3 at 450 (latency 150), G3 unblocks G2 at 1000, G3 ends at 1100 (ran 650).
/// - M2 starts G2 again at 1300 (runnable wait 300), G2 unblocks G1 at 1350,
///   G2 ends at 1400 (second run 100; total run 500; blocked "sleep" 900..1000 = 100).
/// - M1 starts G1 at 1500 (runnable 1350..1500 = 150; blocked "join" 400..1350 = 950),
///   G1 does STW 1600..1700, user task "req" 1550..1800 with region "phase" 1560..1650
///   and a log "k"="hello world", G1 ends at 1900.
pub fn scenario(minor: u32) -> Vec<u8> {
    use ev::*;
    let mut g = Gen::default();
    let main_stack = g.stack("main.main", "/src/main.rs", 1);
    let worker = g.stack("app::worker", "/src/app.rs", 10);
    let site = g.stack("main.spawn", "/src/main.rs", 5);
    let join = g.string("join");
    let sleep = g.string("sleep");
    let stw = g.string("user");
    let req = g.string("req");
    let phase = g.string("phase");
    let k = g.string("k");
    let hello = g.string("hello world");
    let _ = main_stack;
    // M1 / P0 / G1
    g.ev(1, 90, PROC_STATUS, &[0, 1])
        .ev(1, 100, GO_STATUS, &[1, 1, 2])
        .ev(1, 200, GO_CREATE, &[2, worker, site])
        .ev(1, 300, GO_CREATE, &[3, worker, site])
        .ev(1, 400, GO_BLOCK, &[join, 0])
        .ev(1, 450, GO_START, &[3, 1])
        .ev(1, 1000, GO_UNBLOCK, &[2, 2, 0])
        .ev(1, 1100, GO_DESTROY, &[])
        .ev(1, 1500, GO_START, &[1, 2])
        .ev(1, 1550, USER_TASK_BEGIN, &[7, 0, req, 0])
        .ev(1, 1560, USER_REGION_BEGIN, &[7, phase, 0])
        .ev(1, 1600, STW_BEGIN, &[stw, 0])
        .ev(1, 1650, USER_REGION_END, &[7, phase, 0])
        .ev(1, 1660, USER_LOG, &[7, k, hello, 0])
        .ev(1, 1700, STW_END, &[])
        .ev(1, 1800, USER_TASK_END, &[7, 0])
        .ev(1, 1900, GO_DESTROY, &[])
        .ev(1, 2000, PROC_STOP, &[]);
    // M2 / P1
    g.ev(2, 150, PROC_STATUS, &[1, 2])
        .ev(2, 480, PROC_START, &[1, 1])
        .ev(2, 500, GO_START, &[2, 1])
        .ev(2, 900, GO_BLOCK, &[sleep, 0])
        .ev(2, 1300, GO_START, &[2, 3])
        .ev(2, 1350, GO_UNBLOCK, &[1, 1, 0])
        .ev(2, 1400, GO_DESTROY, &[])
        .ev(2, 1450, PROC_STOP, &[]);
    let mut b = TraceBuilder::new(minor);
    b.generation(&g);
    b.bytes()
}
