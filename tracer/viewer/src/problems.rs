//! The "problems" summary shown at the top of the page and of `summary`:
//! what a person opening a trace should look at first.
//!
//! - long polls: spool's `spool.long_poll` log events (sysmon's reports),
//!   and every task whose longest poll exceeded [`LONG_POLL_NS`] (the same
//!   threshold, for traces without the reports, e.g. Go's);
//! - the longest scheduler latencies (one per task, longest first);
//! - possible deadlocks: log events whose category names a deadlock
//!   (`spool.deadlock`, written by the runtime's detector);
//! - panics: `spool.panic` log events;
//! - lost events: `spool.lost` log events, and what the reader could not
//!   read (unread bytes, problems inside generations, an ordering error).
//!
//! Invariant: every entry points at a time (and a task where there is
//! one) of the model, so the page can link it into the timeline.

use crate::analysis::{Model, NO_INDEX};

/// Log category of a long-poll report.
pub const LONG_POLL: &str = "spool.long_poll";
/// Log category of a caught panic.
pub const PANIC: &str = "spool.panic";
/// Log category prefix of a possible-deadlock report.
pub const DEADLOCK: &str = "spool.deadlock";
/// Log category of a lost-events report.
pub const LOST: &str = "spool.lost";
pub use crate::analysis::LONG_POLL_NS;

/// One problem occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// When (absolute ns).
    pub time: u64,
    /// How long, for intervals (ns; 0 for instants).
    pub dur: u64,
    /// Task index, or [`NO_INDEX`] (none, or a task folded away by an
    /// analysis without the timeline).
    pub task: u32,
    /// The task's name ("G12 worker{…} demo.rs:85", "runtime"), or empty.
    pub who: String,
    /// What happened, for people.
    pub text: String,
}

/// One kind of problem: its total count and the first (or worst) few.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// Occurrences in the trace.
    pub count: u64,
    /// Up to `top` of them.
    pub items: Vec<Item>,
}

/// The problems of one trace; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// `spool.long_poll` reports, in time order.
    pub long_poll_logs: Group,
    /// Tasks whose longest poll exceeded [`LONG_POLL_NS`], longest first.
    pub long_polls: Group,
    /// Longest single scheduler latencies, one per task, longest first.
    pub sched: Group,
    /// Possible-deadlock reports.
    pub deadlocks: Group,
    /// Caught panics.
    pub panics: Group,
    /// Lost events: `spool.lost` reports and what the reader could not read.
    pub lost: Group,
}

fn is_deadlock(cat: &str) -> bool {
    cat.starts_with(DEADLOCK) || cat.contains("deadlock")
}

impl Problems {
    /// Computes the problems of `m`, keeping `top` items per group.
    ///
    /// ```
    /// let m = spool_trace::analysis::Model::default();
    /// let p = spool_trace::problems::Problems::new(&m, 5);
    /// assert_eq!(p.total(), 0);
    /// ```
    pub fn new(m: &Model, top: usize) -> Problems {
        let mut p = Problems::default();
        for l in &m.logs {
            let cat = m.str(l.key);
            let group = match cat {
                LONG_POLL => &mut p.long_poll_logs,
                PANIC => &mut p.panics,
                LOST => &mut p.lost,
                c if is_deadlock(c) => &mut p.deadlocks,
                _ => continue,
            };
            group.count += 1;
            if group.items.len() < top {
                group.items.push(Item {
                    time: l.time,
                    dur: 0,
                    task: l.task,
                    who: if l.task == NO_INDEX {
                        String::new()
                    } else {
                        crate::names::task_name(m, l.task)
                    },
                    text: m.str(l.value).to_string(),
                });
            }
        }
        // (duration, start, task index or NO_INDEX, text prefix for folded tasks).
        type Ranked = (u64, u64, u32, String);
        let ranked = |f: fn(&crate::analysis::Task) -> (u64, u64),
                      folded: &[crate::analysis::FoldedTask],
                      min: u64| {
            let mut v: Vec<Ranked> = m
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| !t.gone)
                .map(|(i, t)| {
                    let (d, at) = f(t);
                    (d, at, i as u32, String::new())
                })
                .filter(|x| x.0 > min)
                .collect();
            let count = v.len() as u64;
            v.extend(folded.iter().filter(|x| x.value > min).map(|x| {
                let who = format!("G{} {}", x.id, crate::names::site_name(m.str(x.site)));
                (x.value, x.at, NO_INDEX, who)
            }));
            v.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.2.cmp(&b.2)));
            v.truncate(top);
            (count, v)
        };
        let (n, v) = ranked(
            |t| (t.max_poll, t.max_poll_at),
            &m.folded.top_poll,
            LONG_POLL_NS,
        );
        p.long_polls.count = n + m.folded.long_polls;
        p.long_polls.items = v
            .into_iter()
            .map(|(d, at, t, who)| Item {
                time: at,
                dur: d,
                task: t,
                who: if t == NO_INDEX {
                    who
                } else {
                    crate::names::task_name(m, t)
                },
                text: format!("one poll ran {}", fmt_ns(d)),
            })
            .collect();
        let (n, v) = ranked(|t| (t.max_wait, t.max_wait_at), &m.folded.top_wait, 0);
        p.sched.count = n + m.folded.waited;
        p.sched.items = v
            .into_iter()
            .map(|(d, at, t, who)| Item {
                time: at,
                dur: d,
                task: t,
                who: if t == NO_INDEX {
                    who
                } else {
                    crate::names::task_name(m, t)
                },
                text: format!("waited {} for a P", fmt_ns(d)),
            })
            .collect();
        let read_lost = [
            m.stop.as_ref().map(|s| {
                (
                    m.t1,
                    format!(
                        "{} bytes at the end of the file could not be read: {}",
                        s.unread_bytes, s.error
                    ),
                )
            }),
            m.order_error
                .as_ref()
                .map(|e| (m.t1, format!("analysis stopped early: {e}"))),
            (m.problem_count > 0).then(|| {
                (
                    m.t0,
                    format!(
                        "{} batch(es) skipped inside the trace; first: {}",
                        m.problem_count,
                        m.problems
                            .first()
                            .map_or_else(String::new, |e| e.to_string())
                    ),
                )
            }),
        ];
        for (time, text) in read_lost.into_iter().flatten() {
            p.lost.count += 1;
            p.lost.items.push(Item {
                time,
                dur: 0,
                task: NO_INDEX,
                who: String::new(),
                text,
            });
        }
        p
    }

    /// Number of problem occurrences, scheduler latencies not counted
    /// (every trace has some).
    pub fn total(&self) -> u64 {
        self.long_poll_logs.count
            + self.long_polls.count
            + self.deadlocks.count
            + self.panics.count
            + self.lost.count
    }

    /// The groups with their titles, in display order.
    pub fn groups(&self) -> [(&'static str, &Group); 6] {
        [
            ("possible deadlocks", &self.deadlocks),
            ("panics", &self.panics),
            (
                "long polls reported (spool.long_poll)",
                &self.long_poll_logs,
            ),
            ("polls longer than 10ms", &self.long_polls),
            ("lost events", &self.lost),
            ("longest scheduler latencies", &self.sched),
        ]
    }
}

/// Formats nanoseconds for people (`1.25ms`).
///
/// ```
/// assert_eq!(spool_trace::problems::fmt_ns(1_250_000), "1.250ms");
/// assert_eq!(spool_trace::problems::fmt_ns(999), "999ns");
/// ```
pub fn fmt_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.3}ms", f / 1e6)
    } else {
        format!("{:.3}s", f / 1e9)
    }
}
