//! Fuzz-style robustness of the whole viewer pipeline: 1,000 mutated traces
//! (truncations, bit flips, huge varints spliced in, random tails, batch
//! headers with absurd sizes) of a Go-written fixture, a Go syscall trace
//! (`benches/go/tracegen -workload syscall`), spool's demo trace
//! (`examples/trace_demo`) and hand-crafted 1.22/1.26 traces go through the
//! reader, the ordering, the analysis, the summary, the page payload and the
//! pprof export. Each case must: not panic; finish (a watchdog fails the
//! test if the loop stalls for 60 s); keep its peak heap within 64 x the
//! input + 32 MiB (a counting allocator measures it); and, where reading
//! failed, say at which byte ("at byte N", N inside the input).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spool_trace::profile::ProfileKind;

/// Counts live heap bytes and their peak since the last reset.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's layout and
// pointer unchanged; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's (non-zero-size layout).
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: `p` came from `System` with layout `l`; `new` is the caller's.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const GO126: &[u8] = include_bytes!("data/go126.trace");
const GO_SYSCALL: &[u8] = include_bytes!("data/go-syscall.trace");
const SPOOL_DEMO: &[u8] = include_bytes!("data/spool-demo.trace");

/// xorshift64*: fixed seed, reproducible cases.
fn rng(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// A varint of `v` (up to 10 bytes).
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// Mutation `kind` of `base` (kept past the 16-byte header where it matters).
fn mutate(base: &[u8], kind: u64, s: &mut u64) -> Vec<u8> {
    let mut m = base.to_vec();
    let at = |s: &mut u64, m: &[u8]| 16 + (rng(s) as usize) % (m.len() - 16).max(1);
    match kind {
        0 => m.truncate((rng(s) as usize) % (m.len() + 1)),
        1 => {
            for _ in 0..1 + rng(s) % 8 {
                let i = at(s, &m).min(m.len() - 1);
                m[i] ^= 1 << (rng(s) % 8);
            }
        }
        2 => {
            // A huge varint (up to 2^64-1, or an unterminated 10+ byte run) replaces a few bytes.
            let i = at(s, &m).min(m.len());
            let huge = match rng(s) % 3 {
                0 => varint(u64::MAX),
                1 => varint(1 << (32 + rng(s) % 31)),
                _ => vec![0xff; 11 + (rng(s) % 8) as usize],
            };
            let end = (i + (rng(s) % 4) as usize).min(m.len());
            m.splice(i..end, huge);
        }
        3 => {
            // An event batch header claiming an absurd size, spliced at a random point.
            let i = at(s, &m).min(m.len());
            let mut b = vec![1u8];
            for v in [1, 1, 0, rng(s) | (1 << 40)] {
                b.extend(varint(v));
            }
            m.splice(i..i, b);
        }
        _ => {
            let n = (rng(s) % 256) as usize;
            let i = at(s, &m).min(m.len());
            m.truncate(i);
            m.extend((0..n).map(|_| rng(s) as u8));
        }
    }
    m
}

/// Runs every consumer of the model over `data`; returns the reader's stop message, if any.
fn pipeline(data: &[u8]) -> Result<Option<String>, String> {
    let m = match spool_trace::analysis::analyze(data, |_, _| {}) {
        Ok(m) => m,
        Err(e) => return Err(e.to_string()),
    };
    let s = spool_trace::summary::Summary::new(&m, 10);
    let _ = spool_trace::summary::render(&m, &s);
    let _ = spool_trace::web::payload(&m, "fuzz");
    for k in ProfileKind::ALL {
        let _ = spool_trace::pprof::encode(&m, k);
    }
    let _ = spool_trace::util::Utilization::new(&m);
    let mut msgs = Vec::new();
    if let Some(st) = &m.stop {
        msgs.push(st.error.to_string());
    }
    msgs.extend(m.problems.iter().map(|p| p.to_string()));
    if let Some(e) = &m.order_error {
        msgs.push(e.to_string());
    }
    Ok((!msgs.is_empty()).then(|| msgs.join("\n")))
}

/// The byte offsets named in `msg` ("at byte N").
fn offsets(msg: &str) -> Vec<u64> {
    msg.match_indices("at byte ")
        .filter_map(|(i, k)| {
            let rest = &msg[i + k.len()..];
            let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            n.parse().ok()
        })
        .collect()
}

#[test]
fn thousand_mutated_traces() {
    let bases: Vec<Vec<u8>> = vec![
        GO126.to_vec(),
        GO_SYSCALL.to_vec(),
        SPOOL_DEMO.to_vec(),
        common::scenario(22),
        common::scenario(26),
    ];
    // Watchdog: the loop bumps `beat`; a stall of 60 s fails the test.
    static BEAT: AtomicU64 = AtomicU64::new(0);
    static DONE: AtomicU64 = AtomicU64::new(0);
    let dog = std::thread::spawn(|| {
        let mut last = (u64::MAX, Instant::now());
        while DONE.load(Ordering::Relaxed) == 0 {
            std::thread::sleep(Duration::from_millis(200));
            let b = BEAT.load(Ordering::Relaxed);
            if b != last.0 {
                last = (b, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(60) {
                eprintln!("fuzz: case {b} has run for 60 s: hang");
                std::process::abort();
            }
        }
    });
    let mut s = 0x5eed_f00d_dead_beefu64;
    let (mut failed, mut clean, mut not_trace) = (0, 0, 0);
    for case in 0..1000u64 {
        BEAT.store(case, Ordering::Relaxed);
        let base = &bases[(case as usize) % bases.len()];
        let kind = rng(&mut s) % 5;
        let data = mutate(base, kind, &mut s);
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        let before = LIVE.load(Ordering::Relaxed);
        let out = std::panic::catch_unwind(|| pipeline(&data));
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        let out = out.unwrap_or_else(|_| {
            panic!(
                "case {case} (mutation {kind}, {} bytes) panicked",
                data.len()
            )
        });
        let limit = 64 * data.len() + (32 << 20);
        assert!(
            peak <= limit,
            "case {case} (mutation {kind}): peak heap {peak} bytes for a {}-byte input",
            data.len()
        );
        match out {
            Err(msg) => {
                not_trace += 1;
                assert!(msg.contains("at byte "), "case {case}: {msg}");
            }
            Ok(Some(msg)) => {
                failed += 1;
                let offs = offsets(&msg);
                assert!(
                    !offs.is_empty(),
                    "case {case}: error without a byte offset: {msg}"
                );
                for o in offs {
                    assert!(
                        o <= data.len() as u64,
                        "case {case}: offset {o} past the {}-byte input: {msg}",
                        data.len()
                    );
                }
            }
            Ok(None) => clean += 1,
        }
    }
    DONE.store(1, Ordering::Relaxed);
    dog.join().unwrap();
    // The mutations reach both the error paths and the recovery paths.
    assert!(
        failed > 300 && clean > 20,
        "failed {failed}, clean {clean}, not a trace {not_trace}"
    );
}
