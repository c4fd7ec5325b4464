//! Viewer tests: exact summary numbers on a hand-crafted trace with known
//! tasks, sleeps and wakes; Chrome JSON validity (parses, slices nest per
//! track, every flow end has a start); the HTML page is self-contained.
#![cfg(feature = "cli")]

mod common;

use std::collections::HashMap;

use spool_trace::analysis::{self, NO_INDEX, State};
use spool_trace::summary::Summary;
use spool_trace::{chrome, web};

const GO126: &[u8] = include_bytes!("data/go126.trace");

fn model(bytes: &[u8]) -> analysis::Model {
    analysis::analyze(bytes, |_, _| {}).expect("valid header")
}

#[test]
fn summary_numbers_are_exact() {
    for minor in [22, 26] {
        let m = model(&common::scenario(minor));
        assert!(m.order_error.is_none() && m.stop.is_none());
        let s = Summary::new(&m, 10);
        assert_eq!(s.duration, 2000 - 90);
        assert_eq!(s.events, 26);
        assert_eq!(s.tasks, 3);
        assert_eq!(s.procs, 2);
        let site = |name: &str| s.sites.iter().find(|x| x.site.starts_with(name)).unwrap();
        let w = site("app::worker");
        assert_eq!(w.site, "app::worker (/src/app.rs:10)");
        assert_eq!(w.count, 2);
        // G2 ran 500..900 and 1300..1400, G3 450..1100.
        assert_eq!(w.running, 400 + 100 + 650);
        // G2 waited 200..500 and 1000..1300, G3 300..450.
        assert_eq!(w.runnable, 300 + 300 + 150);
        // G2 slept 900..1000.
        assert_eq!(w.blocked, 100);
        assert_eq!(w.blocked_by, vec![("sleep".to_string(), 100)]);
        // G1 existed before the trace; its site is learned from its first stack.
        let main = &s.sites.iter().find(|x| x.count == 1).unwrap();
        assert_eq!(main.running, 300 + 400);
        assert_eq!(main.runnable, 150);
        assert_eq!(main.blocked_by, vec![("join".to_string(), 950)]);
        assert_eq!(s.slowest_sched[0].value, 300);
        assert_eq!(s.slowest_sched[0].id, 2);
        assert_eq!((s.longest_poll[0].id, s.longest_poll[0].value), (3, 650));
        assert_eq!((s.stw_count, s.stw_total, s.stw_max), (1, 100, 100));
        assert_eq!(s.user_tasks.len(), 1);
        assert_eq!(
            (
                s.user_tasks[0].name.as_str(),
                s.user_tasks[0].count,
                s.user_tasks[0].max
            ),
            ("req", 1, 250)
        );
        assert_eq!(
            (s.regions[0].name.as_str(), s.regions[0].total),
            ("phase", 90)
        );
        // Who woke whom: G3 woke G2 at 1000, G2 woke G1 at 1350; G1 spawned G2 and G3.
        let id = |i: u32| {
            if i == NO_INDEX {
                0
            } else {
                m.tasks[i as usize].id
            }
        };
        let wakes: Vec<_> = m
            .wakes
            .iter()
            .map(|w| (w.time, id(w.from), id(w.to), w.spawn))
            .collect();
        assert_eq!(
            wakes,
            vec![
                (200, 1, 2, true),
                (300, 1, 3, true),
                (1000, 3, 2, false),
                (1350, 2, 1, false)
            ]
        );
        // P slices: P0 ran G1, G3, G1; P1 ran G2 twice; the second G2 run links to G3's wake.
        let p1: Vec<_> = m.procs[1]
            .spans
            .iter()
            .map(|s| (id(s.task), s.start, s.end))
            .collect();
        assert_eq!(p1, vec![(2, 500, 900), (2, 1300, 1400)]);
        let w = m.procs[1].spans[1].wake;
        assert_eq!(m.wakes[w as usize].time, 1000);
        // Task state intervals of G2, in order, derived from runs and wakes.
        let g2 = m.tasks.iter().position(|t| t.id == 2).unwrap() as u32;
        let st: Vec<_> = m
            .task_states(g2)
            .iter()
            .map(|s| (s.state, s.start, s.end, m.str(s.reason).to_string()))
            .collect();
        let r = |s: &str| s.to_string();
        assert_eq!(
            st,
            vec![
                (State::Runnable, 200, 500, r("")),
                (State::Running, 500, 900, r("")),
                (State::Blocked, 900, 1000, r("sleep")),
                (State::Runnable, 1000, 1300, r("")),
                (State::Running, 1300, 1400, r(""))
            ]
        );
        // G1 blocked on "join" 400..1350 after its first run, then ran to its exit.
        let g1 = m.tasks.iter().position(|t| t.id == 1).unwrap() as u32;
        let st: Vec<_> = m
            .task_states(g1)
            .iter()
            .map(|s| (s.state, s.start, s.end))
            .collect();
        assert_eq!(
            st,
            vec![
                (State::Running, 100, 400),
                (State::Blocked, 400, 1350),
                (State::Runnable, 1350, 1500),
                (State::Running, 1500, 1900)
            ]
        );
        assert_eq!(m.procs[0].spans.last().unwrap().how, analysis::End::Exit);
        let text = spool_trace::summary::render(&m, &s);
        assert!(
            text.contains("worker src/app.rs:10")
                && text.contains("sleep: 100ns")
                && text.contains("Problems"),
            "{text}"
        );
    }
}

/// Checks Trace Event Format structure; returns (slices, flows).
fn check_chrome(json: &str) -> (usize, usize) {
    let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let evs = v["traceEvents"].as_array().expect("traceEvents array");
    let mut tracks: HashMap<(i64, i64), Vec<(f64, f64)>> = HashMap::new();
    let mut starts = std::collections::HashSet::new();
    let (mut slices, mut flows) = (0, 0);
    for e in evs {
        let ph = e["ph"].as_str().expect("ph");
        let key = (
            e["pid"].as_i64().unwrap_or(0),
            e["tid"].as_i64().unwrap_or(0),
        );
        match ph {
            "X" => {
                let ts = e["ts"].as_f64().unwrap();
                let d = e["dur"].as_f64().unwrap();
                assert!(d >= 0.0);
                tracks.entry(key).or_default().push((ts, ts + d));
                slices += 1;
            }
            "s" => {
                starts.insert(e["id"].as_u64().unwrap());
            }
            "f" => {
                assert!(
                    starts.contains(&e["id"].as_u64().unwrap()),
                    "flow end without start: {e}"
                );
                flows += 1;
            }
            "M" | "b" | "e" => {}
            other => panic!("unexpected phase {other}"),
        }
    }
    // Slices on one track nest or are disjoint (never partially overlap).
    for (track, mut v) in tracks {
        v.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap()
                .then(b.1.partial_cmp(&a.1).unwrap())
        });
        let mut stack: Vec<(f64, f64)> = Vec::new();
        for s in v {
            while stack.last().is_some_and(|top| top.1 <= s.0) {
                stack.pop();
            }
            if let Some(top) = stack.last() {
                assert!(
                    s.1 <= top.1 + 1e-9,
                    "slices overlap on track {track:?}: {top:?} vs {s:?}"
                );
            }
            stack.push(s);
        }
    }
    (slices, flows)
}

#[test]
fn chrome_json_is_valid_and_nests() {
    let m = model(&common::scenario(26));
    let mut out = Vec::new();
    chrome::write(&m, &mut out).unwrap();
    let (slices, flows) = check_chrome(std::str::from_utf8(&out).unwrap());
    // 5 task runs + 1 STW + 1 region.
    assert_eq!(slices, 7);
    // Wakes (not spawns) whose waker was running on a P: G3 -> G2, G2 -> G1.
    assert_eq!(flows, 2);
    let m = model(GO126);
    let mut out = Vec::new();
    chrome::write(&m, &mut out).unwrap();
    let (slices, flows) = check_chrome(std::str::from_utf8(&out).unwrap());
    assert!(slices > 50 && flows > 20, "{slices} {flows}");
}

#[test]
fn html_is_self_contained() {
    let m = model(GO126);
    let page = web::html(&m, "go</script>126.trace");
    for bad in [
        "http://",
        "https://",
        "src=\"//",
        "XMLHttpRequest",
        "{{DATA}}",
        "{{SCRIPT}}",
        "{{STYLE}}",
        "{{TITLE}}",
        "{{VIEWS}}",
    ] {
        assert!(!page.contains(bad), "page contains {bad}");
    }
    assert_eq!(
        page.matches("</script>").count(),
        3,
        "inline data cannot close its script (data, app.js, views.js)"
    );
    let start = page.find("application/json\">").unwrap() + "application/json\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
    assert_eq!(data["meta"]["events"].as_u64(), Some(m.events));
    assert_eq!(data["tasks"]["id"].as_array().unwrap().len(), m.tasks.len());
    // Every column is inline: the page's fetch of data0.bin/data1.bin (the
    // served page's) is never taken.
    assert!(data.get("binCols").is_none() && !page[start..end].contains("$bin"));
}

/// Decodes column `n` of a split payload's binaries (`binCols[n]` =
/// `[buffer, type, offset, length]`, types f64, i32, u32, u8).
fn bin_column(table: &serde_json::Value, bins: &[Vec<u8>; 2], n: usize) -> Vec<f64> {
    let c: Vec<usize> = table[n]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let (b, ty, off, len) = (&bins[c[0]], c[1], c[2], c[3]);
    let size = [8, 4, 4, 1][ty];
    assert_eq!(off % 8, 0, "column {n} is not 8-byte aligned");
    (0..len)
        .map(|i| {
            let x = &b[off + i * size..off + (i + 1) * size];
            match ty {
                0 => f64::from_le_bytes(x.try_into().unwrap()),
                1 => f64::from(i32::from_le_bytes(x.try_into().unwrap())),
                2 => f64::from(u32::from_le_bytes(x.try_into().unwrap())),
                _ => f64::from(x[0]),
            }
        })
        .collect()
}

/// Walks the inline payload `a` and the split one `b` together: where `b`
/// has a `{"$bin": N}` placeholder, `a`'s array (delta-decoded when its key
/// is in `delta`) must equal the decoded column. Returns the columns seen.
fn same_columns(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: &str,
    table: &serde_json::Value,
    bins: &[Vec<u8>; 2],
    delta: &[&str],
) -> usize {
    use serde_json::Value;
    match (a, b) {
        (Value::Array(x), Value::Object(o)) if o.contains_key("$bin") => {
            let n = o["$bin"].as_u64().unwrap() as usize;
            let mut want: Vec<f64> = x.iter().map(|v| v.as_f64().unwrap()).collect();
            let key = path.rsplit('.').next().unwrap();
            let section = path.trim_start_matches('.').split('.').next().unwrap();
            if delta.contains(&format!("{section}.{key}").as_str()) {
                for i in 1..want.len() {
                    want[i] += want[i - 1];
                }
            }
            assert_eq!(want, bin_column(table, bins, n), "column {path}");
            1
        }
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .filter(|(k, _)| k.as_str() != "meta")
            .map(|(k, v)| same_columns(v, &y[k], &format!("{path}.{k}"), table, bins, delta))
            .sum(),
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            x.iter()
                .zip(y)
                .map(|(v, w)| same_columns(v, w, path, table, bins, delta))
                .sum()
        }
        _ => {
            assert_eq!(a, b, "{path}");
            0
        }
    }
}

/// The served page's payload (JSON with placeholders, two binaries) holds
/// exactly the numbers of the inline one, the timeline's first-paint
/// columns in the first binary.
#[test]
fn served_page_columns_match_the_inline_json() {
    for data in [GO126, include_bytes!("data/spool-demo.trace")] {
        let m = model(data);
        let inline: serde_json::Value = serde_json::from_str(&web::payload(&m, "t")).unwrap();
        let (mut json, mut bins) = (Vec::new(), [Vec::new(), Vec::new()]);
        web::write_payload_split(&m, "t", &mut json, &mut bins).unwrap();
        let split: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let table = &split["binCols"];
        assert_eq!(split["meta"]["delta"], serde_json::json!([]));
        let delta: Vec<&str> = inline["meta"]["delta"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut a = inline.clone();
        let mut b = split.clone();
        b.as_object_mut().unwrap().remove("binCols");
        a.as_object_mut().unwrap().remove("meta");
        b.as_object_mut().unwrap().remove("meta");
        let n = same_columns(&a, &b, "", table, &bins, &delta);
        assert_eq!(n, table.as_array().unwrap().len(), "every column checked");
        // What the first paint draws is in data0; wakes are not.
        let part = |v: &serde_json::Value| table[v["$bin"].as_u64().unwrap() as usize][0].as_u64();
        assert_eq!(part(&split["procs"][0]["start"]), Some(0));
        assert_eq!(part(&split["tasks"]["site"]), Some(0));
        assert_eq!(part(&split["wakes"]["time"]), Some(1));
        assert!(m.wakes.len() > 10 && bins[1].len() > bins[0].len() / 4);
    }
}

#[test]
fn truncated_and_garbage_inputs_never_panic() {
    let base = common::scenario(26);
    let mut s = 0x1234_5678_9abc_def1u64;
    for i in 0..600 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let src: &[u8] = if i % 2 == 0 { GO126 } else { &base };
        let mut b = src.to_vec();
        if i % 3 == 0 {
            b.truncate(16 + (s as usize) % (b.len() - 16));
        } else {
            let at = 16 + (s as usize) % (b.len() - 16);
            b[at] = (s >> 32) as u8;
        }
        if let Ok(m) = analysis::analyze(&b, |_, _| {}) {
            let sum = Summary::new(&m, 5);
            let _ = spool_trace::summary::render(&m, &sum);
            let mut out = Vec::new();
            chrome::write(&m, &mut out).unwrap();
            let _ = web::payload(&m, "x");
        }
    }
    let m = model(&GO126[..GO126.len() / 2]);
    assert!(m.unread_fraction() > 0.4);
    assert!(web::payload(&m, "t").contains("\"unreadBytes\":"));
}

/// `summary` analyses without the timeline (exited tasks folded into
/// per-site totals and bounded rankings): it must print exactly what the
/// full analysis prints, on Go, spool and hand-crafted traces.
#[test]
fn summary_without_timeline_is_the_same() {
    let inputs: [&[u8]; 4] = [
        GO126,
        include_bytes!("data/spool-demo.trace"),
        include_bytes!("data/go-syscall.trace"),
        &common::scenario(26),
    ];
    for data in inputs {
        let full = model(data);
        let lean =
            analysis::analyze_with(data, analysis::Options { timeline: false }, |_, _| {}).unwrap();
        assert!(lean.wakes.is_empty() && lean.procs.iter().all(|p| p.spans.is_empty()));
        let (a, b) = (Summary::new(&full, 10), Summary::new(&lean, 10));
        let (mut sa, mut sb) = (a.sites.clone(), b.sites.clone());
        sa.sort_by(|x, y| x.site.cmp(&y.site));
        sb.sort_by(|x, y| x.site.cmp(&y.site));
        assert_eq!(sa, sb);
        assert_eq!(
            spool_trace::summary::render(&full, &a),
            spool_trace::summary::render(&lean, &b)
        );
        for k in spool_trace::profile::ProfileKind::ALL {
            assert_eq!(full.profile_total(k), lean.profile_total(k));
        }
    }
}
