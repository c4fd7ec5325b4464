//! P utilization over time and the minimum-mutator-utilization (MMU)
//! curve, Go's GC view adapted to a scheduler: the "mutator" is task code,
//! so utilization at an instant is the fraction of Ps running a task, and
//! stop-the-world time counts as zero (the STW and GC ranges are the dips).
//!
//! Method: the trace is cut into [`BUCKETS`] equal buckets; each bucket
//! gets the exact P-time spent running tasks inside it (a span's overlap
//! with every bucket it touches, via a difference array: O(spans +
//! buckets)), scaled down by the fraction of the bucket inside STW. The
//! MMU for a window of `k` buckets is the smallest sliding sum of `k`
//! buckets over `k` x bucket width x Ps (exact for windows that are whole
//! buckets; the curve starts at one bucket).
//!
//! Invariants: utilizations are in 0..=1; the MMU curve is non-decreasing
//! in practice but is reported as computed (no smoothing).

use spool_trace_wire::ids::RUNTIME_PROC_ID;

use crate::analysis::Model;

/// Buckets the trace is cut into.
pub const BUCKETS: usize = 1 << 15;
/// Points of the utilization-over-time series.
pub const SERIES: usize = 1024;

/// Utilization and MMU of one trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Utilization {
    /// Ps counted (real Ps: not the runtime or foreign pseudo-Ps).
    pub procs: usize,
    /// Width of one series point (ns).
    pub step: u64,
    /// Utilization per series point (0..=1), from `t0`.
    pub series: Vec<f64>,
    /// (window ns, minimum utilization over any window of that width, start of that window ns from `t0`).
    pub mmu: Vec<(u64, f64, u64)>,
}

/// Adds `v` over [a, b) (ns from t0) into per-bucket sums `acc` (width `w`).
fn spread(acc: &mut [f64], diff: &mut [f64], w: f64, a: f64, b: f64, v: f64) {
    let n = acc.len();
    if b <= a || n == 0 {
        return;
    }
    let (i, j) = ((a / w) as usize, (b / w) as usize);
    let (i, j) = (i.min(n - 1), j.min(n - 1));
    if i == j {
        acc[i] += (b - a) * v;
        return;
    }
    acc[i] += ((i + 1) as f64 * w - a) * v;
    acc[j] += (b - j as f64 * w) * v;
    // Whole buckets i+1..j get w*v each.
    diff[i + 1] += w * v;
    diff[j] -= w * v;
}

/// Computes utilization and MMU for `m`.
///
/// ```
/// let u = spool_trace::util::Utilization::new(&spool_trace::analysis::Model::default());
/// assert!(u.series.is_empty() && u.mmu.is_empty());
/// ```
pub fn compute(m: &Model) -> Utilization {
    Utilization::new(m)
}

impl Utilization {
    /// See the module docs.
    pub fn new(m: &Model) -> Utilization {
        let procs: Vec<_> = m.procs.iter().filter(|p| p.id < RUNTIME_PROC_ID).collect();
        let dur = m.duration();
        if procs.is_empty() || dur == 0 {
            return Utilization::default();
        }
        let n = BUCKETS.min(dur as usize).max(1);
        let w = dur as f64 / n as f64;
        let mut run = vec![0.0; n];
        let mut diff = vec![0.0; n + 1];
        for p in &procs {
            for s in &p.spans {
                let a = s.start.saturating_sub(m.t0) as f64;
                let b = s.end.saturating_sub(m.t0) as f64;
                spread(&mut run, &mut diff, w, a, b, 1.0);
            }
        }
        let mut stw = vec![0.0; n];
        let mut sdiff = vec![0.0; n + 1];
        for r in &m.stw {
            let a = r.start.saturating_sub(m.t0) as f64;
            let b = r.end.saturating_sub(m.t0) as f64;
            spread(&mut stw, &mut sdiff, w, a, b, 1.0);
        }
        let (mut c, mut sc) = (0.0, 0.0);
        let cap = w * procs.len() as f64;
        let mut util = Vec::with_capacity(n);
        for i in 0..n {
            c += diff[i];
            sc += sdiff[i];
            let busy = run[i] + c;
            let stw_frac = ((stw[i] + sc) / w).clamp(0.0, 1.0);
            util.push((busy * (1.0 - stw_frac) / cap).clamp(0.0, 1.0));
        }
        // Series: averages of equal groups of buckets.
        let per = n.div_ceil(SERIES);
        let series: Vec<f64> = util
            .chunks(per)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect();
        // MMU over log-spaced windows of k buckets.
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0.0);
        for u in &util {
            prefix.push(prefix[prefix.len() - 1] + u);
        }
        let mut mmu = Vec::new();
        let mut k = 1usize;
        while k <= n {
            let (mut best, mut at) = (f64::INFINITY, 0usize);
            for s in 0..=(n - k) {
                let v = prefix[s + k] - prefix[s];
                if v < best {
                    best = v;
                    at = s;
                }
            }
            mmu.push((
                (k as f64 * w) as u64,
                best / k as f64,
                (at as f64 * w) as u64,
            ));
            let next = ((k as f64) * 1.5).ceil() as usize;
            k = if k < n && next > n {
                n
            } else {
                next.max(k + 1)
            };
        }
        Utilization {
            procs: procs.len(),
            step: (per as f64 * w) as u64,
            series,
            mmu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{End, ProcRow, ProcSpan, Range};

    fn span(start: u64, end: u64) -> ProcSpan {
        ProcSpan {
            task: 0,
            start,
            end,
            wake: crate::analysis::NO_INDEX,
            reason: 0,
            how: End::Exit,
        }
    }

    #[test]
    fn two_ps_half_busy_and_an_stw_dip() {
        let mut m = Model {
            t0: 0,
            t1: 1000,
            ..Model::default()
        };
        m.procs.push(ProcRow {
            id: 0,
            m: 1,
            spans: vec![span(0, 1000)],
        });
        m.procs.push(ProcRow {
            id: 1,
            m: 2,
            spans: vec![],
        });
        m.stw.push(Range {
            start: 500,
            end: 600,
            label: 0,
            task: crate::analysis::NO_INDEX,
        });
        let u = Utilization::new(&m);
        assert_eq!(u.procs, 2);
        assert!((u.series[0] - 0.5).abs() < 1e-9, "{:?}", &u.series[..4]);
        // Windows inside the STW see zero; the whole trace sees 0.45.
        assert_eq!(u.mmu[0].1, 0.0);
        assert!((u.mmu[0].2 as i64 - 500).abs() <= 1);
        let whole = u.mmu.last().unwrap();
        assert_eq!(whole.0, 1000);
        assert!((whole.1 - 0.45).abs() < 1e-9, "{whole:?}");
    }
}
