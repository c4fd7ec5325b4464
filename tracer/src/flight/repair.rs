//! What a flight-recorder dump adds to its first generation so that Go's
//! parser accepts a window that starts in the middle of a recording.
//!
//! spool writes a task's status lazily, on the task's first event in a
//! generation (`record.rs`); Go's runtime also writes one at every
//! generation's end for each goroutine not seen in it, at a cost per live
//! goroutine per generation. Go's parser lets a goroutine appear through a
//! status only in a trace's first generation ("found goroutine status for
//! new goroutine after the first generation"). A dump's first generation
//! is an arbitrary one of the recording, so a task that existed then but
//! had no event in it, and whose first event in the window comes later,
//! would break the dump. Rather than pay Go's per-generation cost all the
//! time, the dump pays once: [`scan`] reads the window's events and, for
//! every task first met through a status after the first generation,
//! states that status at the start of the first generation:
//!
//! - a `Runnable`, `Waiting` (or `Syscall`) task gets a `GoStatus` in a
//!   batch of no M: untouched since, it has been in that state all along;
//! - a `Running` task (one long poll since before the window) gets a batch
//!   of its own M holding its P's `ProcStatus(Running)` and its
//!   `GoStatus(Running)`, the two events that M writes before its next
//!   event (`record::ctx_slow`): a task runs on one M and that M wrote
//!   nothing about it meanwhile;
//! - a GC-like phase whose `GCBegin` lies before the window gets a
//!   `GCActive` (its `GCEnd` would otherwise find the GC "undetermined");
//! - a stop-the-world range whose `STWBegin` lies before the window (a
//!   boundary inside a stop-the-world: a consumer attached under one) gets
//!   an `STWBegin` on its task's M, after that task's running statuses (the
//!   task that stops the world runs all along); its kind is the fixed
//!   string "stop-the-world", which every generation's table has.
//!
//! The added batches are timed at the first generation's earliest batch,
//! so the parser meets them before any other event of it. A window whose
//! bytes do not decode (never expected) gets no additions.

use std::collections::{HashMap, HashSet};

use spool_trace_wire::varint::{push as push_varint, read as read_varint};
use spool_trace_wire::{GoState, NONE, ProcState, ev, timed_arg_count};

use crate::vocab::StopReason;

/// One batch of a generation, as the scan reads it.
struct Batch<'a> {
    m: u64,
    time: u64,
    payload: &'a [u8],
}

/// Splits encoded batches (a generation's bytes) into [`Batch`]es.
fn batches(mut data: &[u8]) -> Option<Vec<Batch<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data[0] != ev::EVENT_BATCH {
            return None;
        }
        let mut pos = 1;
        let mut field = || {
            let (v, n) = read_varint(&data[pos..]).ok()?;
            pos += n;
            Some(v)
        };
        let (_gen, m, time, size) = (field()?, field()?, field()?, field()?);
        let end = pos.checked_add(usize::try_from(size).ok()?)?;
        let payload = data.get(pos..end)?;
        out.push(Batch { m, time, payload });
        data = &data[end..];
    }
    Some(out)
}

/// Calls `f(type, dt, args)` for each event of an M batch's payload (`args`:
/// the arguments after `dt`). False if the payload does not decode.
fn events(payload: &[u8], mut f: impl FnMut(u8, u64, &[u64])) -> bool {
    let mut pos = 0;
    let mut args = [0u64; 8];
    while pos < payload.len() {
        let t = payload[pos];
        pos += 1;
        let Some(n) = timed_arg_count(t) else {
            return false;
        };
        if n > args.len() {
            return false;
        }
        for a in args.iter_mut().take(n) {
            let Ok((v, len)) = read_varint(&payload[pos..]) else {
                return false;
            };
            *a = v;
            pos += len;
        }
        f(t, args[0], &args[1..n]);
    }
    true
}

/// What the first generation of a dump lacks.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Additions {
    /// `GoStatus(g, m, status)` of tasks not running (m = the status's M).
    waiting: Vec<(u64, u64, u64)>,
    /// Per M: its P, the task it runs, and whether that task's
    /// stop-the-world range is open.
    running: Vec<(u64, u64, u64, bool)>,
    /// `GCActive(seq)` for a phase open when the window starts.
    gc_active: Option<u64>,
}

impl Additions {
    /// Tasks and phases stated (for tests and the dump's report).
    pub(crate) fn len(&self) -> usize {
        self.waiting.len() + self.running.len() + usize::from(self.gc_active.is_some())
    }

    /// Encodes the additions as batches of generation `file_gen` at `time`.
    pub(crate) fn encode(&self, file_gen: u64, time: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut none = Vec::new();
        if let Some(seq) = self.gc_active {
            event(&mut none, ev::GC_ACTIVE, &[seq]);
        }
        for &(g, m, st) in &self.waiting {
            event(&mut none, ev::GO_STATUS, &[g, m, st]);
        }
        if !none.is_empty() {
            frame(&mut out, file_gen, NONE, time, &none);
        }
        for &(m, p, g, stw) in &self.running {
            let mut b = Vec::new();
            event(&mut b, ev::PROC_STATUS, &[p, ProcState::Running.wire()]);
            event(&mut b, ev::GO_STATUS, &[g, m, GoState::Running.wire()]);
            if stw {
                event(
                    &mut b,
                    ev::STW_BEGIN,
                    &[StopReason::StopTheWorld.str_id(), 0],
                );
            }
            frame(&mut out, file_gen, m, time, &b);
        }
        out
    }
}

/// A timed event with `dt` 0.
fn event(out: &mut Vec<u8>, ty: u8, args: &[u64]) {
    out.push(ty);
    push_varint(out, 0);
    for &a in args {
        push_varint(out, a);
    }
}

/// Frames `payload` as a batch (at most one batch's worth is expected:
/// split by the caller's chunking below).
fn frame(out: &mut Vec<u8>, file_gen: u64, m: u64, time: u64, payload: &[u8]) {
    // Keep every batch under the format's size limit.
    const MAX: usize = 60_000;
    let mut rest = payload;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX);
        // Cut on an event boundary: events here are whole and re-scannable.
        if cut < rest.len() {
            let mut pos = 0;
            let mut last = 0;
            while pos < cut {
                last = pos;
                pos = next_event_end(rest, pos);
            }
            cut = if pos == cut { pos } else { last };
        }
        out.push(ev::EVENT_BATCH);
        push_varint(out, file_gen);
        push_varint(out, m);
        push_varint(out, time);
        push_varint(out, cut as u64);
        out.extend_from_slice(&rest[..cut]);
        rest = &rest[cut..];
    }
}

/// End of the event that starts at `pos` in well-formed `payload`.
fn next_event_end(payload: &[u8], mut pos: usize) -> usize {
    let n = timed_arg_count(payload[pos]).unwrap_or(0);
    pos += 1;
    for _ in 0..n {
        while payload[pos] & 0x80 != 0 {
            pos += 1;
        }
        pos += 1;
    }
    pos
}

/// Scans a window (each item one generation, as chunks of whole encoded
/// batches, oldest first) and returns what its first generation must
/// state, with the first generation's earliest batch time; `None` if the
/// bytes do not decode.
pub(crate) fn scan(gens: &[Vec<&[u8]>]) -> Option<(Additions, u64)> {
    let mut add = Additions::default();
    let mut known: HashSet<u64> = HashSet::new();
    let mut running_m: HashSet<u64> = HashSet::new();
    let mut stw_open: HashSet<u64> = HashSet::new();
    let mut gc_seen = false;
    let mut first_time = u64::MAX;
    for (i, chunks) in gens.iter().enumerate() {
        let mut cur_p: HashMap<u64, u64> = HashMap::new();
        let mut cur_g: HashMap<u64, u64> = HashMap::new();
        // A task may get more than one (consistent) status in a generation
        // (a running task's M restates it, then a waker states it waiting):
        // its state when the window starts is that of its earliest one.
        let mut statuses: HashMap<u64, FirstStatus> = HashMap::new();
        let mut created: HashSet<u64> = HashSet::new();
        let mut stw_needed: Vec<(u64, u64, u64)> = Vec::new();
        let mut all = Vec::new();
        for c in chunks {
            all.extend(batches(c)?);
        }
        for b in all {
            if i == 0 && b.time > 0 {
                first_time = first_time.min(b.time);
            }
            match b.payload.first() {
                Some(&t) if t == ev::STRINGS || t == ev::STACKS || t == ev::FREQUENCY => continue,
                None => continue,
                _ => {}
            }
            let mut time = b.time;
            let ok = events(b.payload, |t, dt, a| {
                time = time.saturating_add(dt);
                match t {
                    ev::GO_CREATE | ev::GO_CREATE_SYSCALL | ev::GO_CREATE_BLOCKED => {
                        created.insert(a[0]);
                    }
                    ev::GO_STATUS | ev::GO_STATUS_STACK => {
                        let (g, m, st) = (a[0], a[1], a[2]);
                        if st == GoState::Running.wire() {
                            cur_g.insert(b.m, g);
                        }
                        let s = FirstStatus {
                            time,
                            m,
                            status: st,
                            batch_m: b.m,
                            p: cur_p.get(&b.m).copied(),
                        };
                        statuses
                            .entry(g)
                            .and_modify(|f| {
                                if s.time < f.time {
                                    *f = s;
                                }
                            })
                            .or_insert(s);
                    }
                    ev::GO_START => {
                        cur_g.insert(b.m, a[0]);
                    }
                    ev::GO_STOP | ev::GO_BLOCK | ev::GO_DESTROY => {
                        cur_g.remove(&b.m);
                    }
                    ev::STW_BEGIN => {
                        if let Some(&g) = cur_g.get(&b.m) {
                            stw_open.insert(g);
                        }
                    }
                    ev::STW_END => {
                        if let (Some(&g), Some(&p)) = (cur_g.get(&b.m), cur_p.get(&b.m)) {
                            if !stw_open.remove(&g) {
                                // Opened before the window: open it at its start.
                                stw_needed.push((b.m, p, g));
                            }
                        }
                    }
                    ev::PROC_STATUS => {
                        let running =
                            a[1] == ProcState::Running.wire() || a[1] == ProcState::Syscall.wire();
                        if running {
                            cur_p.insert(b.m, a[0]);
                        }
                    }
                    ev::PROC_START => {
                        cur_p.insert(b.m, a[0]);
                    }
                    ev::PROC_STOP => {
                        cur_p.remove(&b.m);
                    }
                    ev::GC_BEGIN | ev::GC_ACTIVE => gc_seen = true,
                    ev::GC_END => {
                        if !gc_seen && a[0] > 0 {
                            add.gc_active = Some(a[0] - 1);
                        }
                        gc_seen = true;
                    }
                    _ => {}
                }
            });
            if !ok {
                return None;
            }
        }
        let mut first: Vec<(u64, FirstStatus)> = statuses.into_iter().collect();
        first.sort_by_key(|(g, s)| (s.time, *g));
        for (g, s) in first {
            if created.contains(&g) || !known.insert(g) || i == 0 {
                continue;
            }
            if s.status != GoState::Running.wire() {
                add.waiting.push((g, s.m, s.status));
            } else if let Some(p) = s.p {
                if running_m.insert(s.batch_m) {
                    add.running.push((s.batch_m, p, g, false));
                }
            }
        }
        known.extend(created);
        for (m, p, g) in stw_needed {
            match add.running.iter_mut().find(|r| r.2 == g) {
                Some(r) => r.3 = true,
                None => add.running.push((m, p, g, true)),
            }
            running_m.insert(m);
        }
    }
    Some((
        add,
        if first_time == u64::MAX {
            1
        } else {
            first_time
        },
    ))
}

/// A task's earliest status in a generation, with where it was written.
#[derive(Clone, Copy)]
struct FirstStatus {
    time: u64,
    /// The status's M argument.
    m: u64,
    status: u64,
    /// The M whose batch holds it, and that M's P there.
    batch_m: u64,
    p: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(m: u64, time: u64, events_: &[(u8, &[u64])]) -> Vec<u8> {
        let mut p = Vec::new();
        for (t, a) in events_ {
            event(&mut p, *t, a);
        }
        let mut out = Vec::new();
        frame(&mut out, 1, m, time, &p);
        out
    }

    #[test]
    fn tasks_first_seen_through_a_status_later_are_stated_first() {
        let waiting = GoState::Waiting.wire();
        let running = GoState::Running.wire();
        let prun = ProcState::Running.wire();
        // Gen 1: task 5 is created, task 6 has a status.
        let g1 = [
            batch(
                1,
                10,
                &[
                    (ev::PROC_START, &[0, 1]),
                    (ev::GO_CREATE, &[5, 1, 0]),
                    (ev::GO_CREATE, &[9, 1, 0]),
                ],
            ),
            batch(2, 12, &[(ev::GO_STATUS, &[6, NONE, waiting])]),
        ]
        .concat();
        // Gen 2: 5 and 6 again (known), 7 waiting, 8 running on M 3 (P 1).
        let g2 = [
            batch(
                1,
                20,
                &[
                    (ev::GO_STATUS, &[5, NONE, waiting]),
                    (ev::GO_STATUS, &[7, NONE, waiting]),
                ],
            ),
            batch(
                3,
                21,
                &[
                    (ev::PROC_STATUS, &[1, prun]),
                    (ev::GO_STATUS, &[8, 3, running]),
                ],
            ),
            // Task 10: stated waiting in a batch listed first but written
            // later than its running status (the earlier one counts).
            batch(5, 30, &[(ev::GO_STATUS, &[10, NONE, waiting])]),
            batch(
                6,
                25,
                &[
                    (ev::PROC_STATUS, &[3, prun]),
                    (ev::GO_STATUS, &[10, 6, running]),
                ],
            ),
            // Task 9 (known) ends a stop-the-world it began before the window.
            batch(
                4,
                21,
                &[
                    (ev::PROC_STATUS, &[2, prun]),
                    (ev::GO_STATUS, &[9, 4, running]),
                    (ev::STW_END, &[]),
                ],
            ),
            batch(
                2,
                22,
                &[(ev::GO_STATUS, &[6, NONE, waiting]), (ev::GC_END, &[4])],
            ),
        ]
        .concat();
        let (add, t0) = scan(&[vec![g1.as_slice()], vec![g2.as_slice()]]).unwrap();
        assert_eq!(t0, 10);
        assert_eq!(add.waiting, vec![(7, NONE, waiting)]);
        assert_eq!(
            add.running,
            vec![(3, 1, 8, false), (6, 3, 10, false), (4, 2, 9, true)]
        );
        assert_eq!(add.gc_active, Some(3));
        // The encoding re-scans as one status each, in the first generation.
        let enc = add.encode(1, t0);
        let (again, _) = scan(&[vec![enc.as_slice()]]).unwrap();
        assert_eq!(again, Additions::default());
        assert_eq!(batches(&enc).unwrap().len(), 4);
    }

    #[test]
    fn undecodable_bytes_give_no_additions() {
        assert!(scan(&[vec![&[1u8, 2, 3][..]]]).is_none());
        assert!(scan(&[vec![&[ev::EVENT_BATCH, 1, 1, 1, 2, 200, 0][..]]]).is_none());
    }
}
