//! The `summary` subcommand: aggregate numbers computed from a [`Model`]
//! ([`Summary`], testable) and their rendering as terminal tables.
//!
//! Invariant: every number printed comes from [`Summary`]; rendering does
//! no arithmetic beyond formatting.

use std::collections::HashMap;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::analysis::{Model, NO_INDEX};
use crate::names;
use crate::problems::Problems;
use crate::profile::ProfileKind;

/// Per-spawn-site aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteStats {
    /// Spawn site label.
    pub site: String,
    /// Number of tasks.
    pub count: u64,
    /// Total running time (ns).
    pub running: u64,
    /// Total runnable-waiting time (ns).
    pub runnable: u64,
    /// Total blocked time (ns).
    pub blocked: u64,
    /// Total syscall time (ns).
    pub syscall: u64,
    /// Blocked time by reason, largest first.
    pub blocked_by: Vec<(String, u64)>,
}

/// Latency statistics of one user task or region name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latency {
    /// Name.
    pub name: String,
    /// Completed instances.
    pub count: u64,
    /// Sum of durations (ns).
    pub total: u64,
    /// Shortest (ns).
    pub min: u64,
    /// Median (ns, lower median).
    pub p50: u64,
    /// Longest (ns).
    pub max: u64,
}

/// One task in a "slowest" list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRank {
    /// Task id.
    pub id: u64,
    /// Spawn site.
    pub site: String,
    /// The ranked value (ns).
    pub value: u64,
}

/// All numbers of the terminal summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Trace duration (ns).
    pub duration: u64,
    /// Events decoded.
    pub events: u64,
    /// Tasks seen.
    pub tasks: u64,
    /// Ps seen.
    pub procs: u64,
    /// Per spawn site, by total running time, largest first.
    pub sites: Vec<SiteStats>,
    /// Top tasks by longest single scheduling wait.
    pub slowest_sched: Vec<TaskRank>,
    /// Top tasks by longest single poll.
    pub longest_poll: Vec<TaskRank>,
    /// Stop-the-world count.
    pub stw_count: u64,
    /// Stop-the-world total (ns).
    pub stw_total: u64,
    /// Longest stop-the-world (ns).
    pub stw_max: u64,
    /// User task latencies by name.
    pub user_tasks: Vec<Latency>,
    /// User region latencies by name.
    pub regions: Vec<Latency>,
    /// The problems summary (printed first).
    pub problems: Problems,
    /// Go's four trace profiles: (kind, total ns, samples).
    pub profiles: Vec<(ProfileKind, u64, u64)>,
}

fn latencies(items: impl Iterator<Item = (String, u64)>) -> Vec<Latency> {
    let mut by: HashMap<String, Vec<u64>> = HashMap::new();
    for (n, d) in items {
        by.entry(n).or_default().push(d);
    }
    let mut out: Vec<Latency> = by
        .into_iter()
        .map(|(name, mut v)| {
            v.sort_unstable();
            Latency {
                name,
                count: v.len() as u64,
                total: v.iter().sum(),
                min: v[0],
                p50: v[(v.len() - 1) / 2],
                max: v[v.len() - 1],
            }
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(&b.name)));
    out
}

impl Summary {
    /// Computes the summary of `m`, keeping `top` tasks in the ranked lists.
    pub fn new(m: &Model, top: usize) -> Summary {
        let mut sites: HashMap<u32, SiteStats> = HashMap::new();
        let new_site = |site: u32, id: u64| SiteStats {
            site: if names::is_runtime_task(id) {
                String::from("runtime")
            } else {
                m.str(site).to_string()
            },
            count: 0,
            running: 0,
            runnable: 0,
            blocked: 0,
            syscall: 0,
            blocked_by: Vec::new(),
        };
        for (&site, f) in &m.folded.sites {
            let s = sites.entry(site).or_insert_with(|| new_site(site, 0));
            s.count += f[0];
            s.running += f[1];
            s.runnable += f[2];
            s.blocked += f[3];
            s.syscall += f[4];
        }
        for t in m.tasks.iter().filter(|t| !t.gone) {
            let s = sites.entry(t.site).or_insert_with(|| SiteStats {
                site: if names::is_runtime_task(t.id) {
                    String::from("runtime")
                } else {
                    m.str(t.site).to_string()
                },
                count: 0,
                running: 0,
                runnable: 0,
                blocked: 0,
                syscall: 0,
                blocked_by: Vec::new(),
            });
            s.count += 1;
            s.running += t.running;
            s.runnable += t.runnable;
            s.blocked += t.blocked;
            s.syscall += t.syscall;
        }
        for (&(site, r), &d) in &m.blocked_by {
            if let Some(s) = sites.get_mut(&site) {
                s.blocked_by.push((m.str(r).to_string(), d));
            }
        }
        let mut sites: Vec<SiteStats> = sites.into_values().collect();
        for s in &mut sites {
            s.blocked_by
                .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        sites.sort_by(|a, b| b.running.cmp(&a.running).then(a.site.cmp(&b.site)));
        // Live tasks and the folded rankings of exited ones, longest first.
        let rank = |f: fn(&crate::analysis::Task) -> u64,
                    folded: &[crate::analysis::FoldedTask]| {
            let mut v: Vec<TaskRank> = folded
                .iter()
                .map(|x| TaskRank {
                    id: x.id,
                    site: format!("G{} {}", x.id, names::site_name(m.str(x.site))),
                    value: x.value,
                })
                .collect();
            let mut live: Vec<usize> = (0..m.tasks.len())
                .filter(|&i| !m.tasks[i].gone && f(&m.tasks[i]) > 0)
                .collect();
            let key = |i: &usize| (std::cmp::Reverse(f(&m.tasks[*i])), m.tasks[*i].id);
            if live.len() > top {
                live.select_nth_unstable_by_key(top, key);
                live.truncate(top);
            }
            v.extend(live.into_iter().map(|i| TaskRank {
                id: m.tasks[i].id,
                site: names::task_name(m, i as u32),
                value: f(&m.tasks[i]),
            }));
            v.sort_by_key(|r| (std::cmp::Reverse(r.value), r.id));
            v.truncate(top);
            v
        };
        let stw: Vec<u64> = m.stw.iter().map(|r| r.end - r.start).collect();
        Summary {
            duration: m.duration(),
            events: m.events,
            tasks: m.tasks.iter().filter(|t| !t.gone).count() as u64 + m.folded.tasks,
            procs: m.procs.len() as u64,
            sites,
            slowest_sched: rank(|t| t.max_wait, &m.folded.top_wait),
            longest_poll: rank(|t| t.max_poll, &m.folded.top_poll),
            stw_count: stw.len() as u64,
            stw_total: stw.iter().sum(),
            stw_max: stw.iter().copied().max().unwrap_or(0),
            user_tasks: latencies(
                m.user_tasks
                    .iter()
                    .filter_map(|u| Some((m.str(u.name).to_string(), u.end? - u.start))),
            ),
            regions: latencies(
                m.regions
                    .iter()
                    .filter(|r| r.task != NO_INDEX)
                    .map(|r| (m.str(r.label).to_string(), r.end - r.start)),
            ),
            problems: Problems::new(m, top.min(10)),
            profiles: ProfileKind::ALL
                .into_iter()
                .map(|k| {
                    let (t, c) = m.profile_total(k);
                    (k, t, c)
                })
                .collect(),
        }
    }
}

/// The "Problems" block: one line per kind with its count, then up to
/// five occurrences each (time, task, what); "none" when there are none.
fn render_problems(m: &Model, p: &Problems) -> String {
    let mut out = String::from("Problems\n");
    if p.total() == 0 {
        out += "  none: no long polls, possible deadlocks, panics or lost events\n";
    }
    for (title, g) in p.groups() {
        if g.count == 0 {
            continue;
        }
        out += &format!("  {title}: {}\n", g.count);
        for it in g.items.iter().take(5) {
            let who = if it.who.is_empty() {
                String::new()
            } else {
                format!(" {}", it.who)
            };
            out += &format!(
                "    at {}{who}: {}\n",
                fmt_ns(it.time.saturating_sub(m.t0)),
                it.text
            );
        }
    }
    out + "\n"
}

/// Formats nanoseconds for people: `850ns`, `12.3µs`, `4.56ms`, `1.234s`.
pub fn fmt_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", f / 1e6)
    } else {
        format!("{:.3}s", f / 1e9)
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    // Numbers right, text left.
    for (i, h) in header.iter().enumerate() {
        let text = matches!(
            *h,
            "spawn site" | "blocked by reason" | "task" | "name" | "profile"
        );
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(if text {
                CellAlignment::Left
            } else {
                CellAlignment::Right
            });
        }
    }
    t
}

/// Renders the summary as text (tables), with `problems` lines first.
pub fn render(m: &Model, s: &Summary) -> String {
    let mut out = String::new();
    if let Some(stop) = &m.stop {
        out += &format!(
            "WARNING: {:.1}% of the file could not be read ({} bytes from byte {}): {}\n",
            m.unread_fraction() * 100.0,
            stop.unread_bytes,
            stop.offset,
            stop.error
        );
    }
    if let Some(e) = &m.order_error {
        out += &format!("WARNING: analysis stopped early: {e}\n");
    }
    if m.problem_count > 0 {
        out += &format!("WARNING: {} problem(s) inside the trace", m.problem_count);
        if let Some(p) = m.problems.first() {
            out += &format!(", first: {p}");
        }
        out += "\n";
    }
    out += &render_problems(m, &s.problems);
    let mut t = table(&["duration", "events", "tasks", "Ps", "generations"]);
    t.add_row(vec![
        fmt_ns(s.duration),
        s.events.to_string(),
        s.tasks.to_string(),
        s.procs.to_string(),
        m.generations.to_string(),
    ]);
    out += &format!("{t}\n\nTasks by spawn site\n");
    let mut t = table(&[
        "spawn site",
        "tasks",
        "running",
        "mean running",
        "runnable (sched latency)",
        "mean runnable",
        "blocked",
        "blocked by reason",
    ]);
    for site in s.sites.iter().take(40) {
        let n = site.count.max(1);
        let reasons: Vec<String> = site
            .blocked_by
            .iter()
            .take(4)
            .map(|(r, d)| {
                format!(
                    "{}: {}",
                    if r.is_empty() { "(none)" } else { r },
                    fmt_ns(*d)
                )
            })
            .collect();
        t.add_row(vec![
            names::site_name(&site.site),
            site.count.to_string(),
            fmt_ns(site.running),
            fmt_ns(site.running / n),
            fmt_ns(site.runnable),
            fmt_ns(site.runnable / n),
            fmt_ns(site.blocked),
            reasons.join(", "),
        ]);
    }
    out += &format!("{t}\n");
    if s.sites.len() > 40 {
        out += &format!("({} more spawn sites)\n", s.sites.len() - 40);
    }
    for (title, list) in [
        (
            "Slowest tasks by scheduling latency (longest single runnable wait)",
            &s.slowest_sched,
        ),
        ("Tasks with the longest single poll", &s.longest_poll),
    ] {
        out += &format!("\n{title}\n");
        let mut t = table(&["task", "time"]);
        for r in list {
            t.add_row(vec![r.site.clone(), fmt_ns(r.value)]);
        }
        out += &format!("{t}\n");
    }
    out += "\nBlocking profiles (as go tool trace -pprof=KIND; spool-trace pprof --kind KIND writes them)\n";
    let mut t = table(&["profile", "samples", "total"]);
    for (k, time, count) in &s.profiles {
        let what = match k {
            ProfileKind::Net => "net: blocked on the network",
            ProfileKind::Sync => "sync: blocked on channels, select, locks",
            ProfileKind::Syscall => "syscall: in system calls",
            ProfileKind::Sched => "sched: runnable, waiting for a P",
        };
        t.add_row(vec![what.to_string(), count.to_string(), fmt_ns(*time)]);
    }
    out += &format!("{t}\n");
    out += "\nStop-the-world\n";
    let mut t = table(&["count", "total", "max"]);
    t.add_row(vec![
        s.stw_count.to_string(),
        fmt_ns(s.stw_total),
        fmt_ns(s.stw_max),
    ]);
    out += &format!("{t}\n");
    for (title, list) in [("User tasks", &s.user_tasks), ("User regions", &s.regions)] {
        if list.is_empty() {
            continue;
        }
        out += &format!("\n{title} (latency per name)\n");
        let mut t = table(&["name", "count", "total", "min", "median", "max"]);
        for l in list {
            t.add_row(vec![
                l.name.clone(),
                l.count.to_string(),
                fmt_ns(l.total),
                fmt_ns(l.min),
                fmt_ns(l.p50),
                fmt_ns(l.max),
            ]);
        }
        out += &format!("{t}\n");
    }
    out
}
