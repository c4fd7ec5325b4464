//! Trace timestamps: the invariant TSC scaled down, or `CLOCK_MONOTONIC`.
//!
//! Invariants:
//! - [`now`] never returns 0 (Go's parser treats time 0 as "unset").
//! - The clock source is chosen once per process ([`init`]) and never changes,
//!   so every timestamp of a trace has the same unit.
//! - Per-M monotonicity is not this module's job: each M clamps its stamps to
//!   its previous one (see `mstate.rs`).
//!
//! Why the TSC: back to back, `rdtsc` costs 9.9 ns here (`cargo bench
//! --bench tracer -- trace_clock`) versus ~26-41 ns for `clock_gettime`
//! (see `docs/trace-format.md`), and the tracer reads the clock once per
//! event (once per task switch with `go_start_next`). Between other work it
//! costs less: out-of-order execution overlaps most of it (measured in
//! `docs/benchmarks.md`). The TSC is used only when CPUID
//! reports it invariant (constant rate, not stopped in deep C-states);
//! otherwise the tracer falls back to nanoseconds since process start.
//! TSC ticks are shifted right by [`TSC_SHIFT`] (64 cycles, ~25 ns at this
//! machine's 2.6 GHz), the same trade Go makes with `nanotime()/64`: deltas
//! between nearby events fit one varint byte. (A shift of 7 was measured to
//! save under 1% of trace bytes on the tracer bench's workloads, so the finer
//! resolution stays.) The tick rate is measured against `CLOCK_MONOTONIC` over
//! the whole trace and written as each generation's `Frequency`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

/// Right shift applied to raw TSC readings: one tick = 64 cycles.
pub(crate) const TSC_SHIFT: u32 = 6;

/// Which clock [`now`] reads: 0 = not chosen yet, 1 = TSC, 2 = monotonic ns.
/// Relaxed is enough: [`init`] stores it before tracing is enabled (a Release
/// store of the enabled flag publishes it), and a racing reader that still
/// sees 0 falls back to the monotonic clock, which only happens before the
/// first trace starts.
static SOURCE: AtomicU8 = AtomicU8::new(0);
const SRC_TSC: u8 = 1;

/// Process epoch for the monotonic fallback.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Chooses the clock source (idempotent). Called when a trace starts.
pub(crate) fn init() {
    EPOCH.get_or_init(Instant::now);
    if SOURCE.load(Ordering::Relaxed) == 0 {
        let src = if tsc_is_invariant() { SRC_TSC } else { 2 };
        SOURCE.store(src, Ordering::Relaxed);
    }
}

/// The current trace tick (never 0).
#[inline(always)]
pub(crate) fn now() -> u64 {
    if SOURCE.load(Ordering::Relaxed) == SRC_TSC {
        tsc() >> TSC_SHIFT
    } else {
        mono_ns() + 1
    }
}

/// Nanoseconds since the process epoch on `CLOCK_MONOTONIC`.
pub(crate) fn mono_ns() -> u64 {
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tsc() -> u64 {
    #[allow(unused_unsafe)]
    // SAFETY: `rdtsc` has no preconditions on x86_64; it only reads a counter.
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn tsc() -> u64 {
    mono_ns()
}

#[cfg(target_arch = "x86_64")]
fn tsc_is_invariant() -> bool {
    #[allow(unused_unsafe)]
    // SAFETY: `cpuid` is available on every x86_64 CPU; leaf 0x8000_0000
    // reports the highest extended leaf, so we only query 0x8000_0007 if it exists.
    let max_ext = unsafe { core::arch::x86_64::__cpuid(0x8000_0000) }.eax;
    if max_ext < 0x8000_0007 {
        return false;
    }
    #[allow(unused_unsafe)]
    // SAFETY: as above; the leaf was just checked to exist.
    let edx = unsafe { core::arch::x86_64::__cpuid(0x8000_0007) }.edx;
    // EDX bit 8: invariant TSC.
    edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc_is_invariant() -> bool {
    false
}

/// A pair of readings of the trace clock and `CLOCK_MONOTONIC`, used to
/// measure the trace clock's rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calibration {
    ticks: u64,
    ns: u64,
}

impl Calibration {
    /// Reads both clocks now.
    pub(crate) fn take() -> Self {
        Self {
            ticks: now(),
            ns: mono_ns(),
        }
    }

    /// Trace ticks per second measured from `self` to now. Waits until at
    /// least 1 ms has passed since `self` so the estimate is not dominated by
    /// the clocks' read granularity (only ever true for traces shorter than that).
    pub(crate) fn frequency_since(&self) -> u64 {
        let mut end = Self::take();
        while end.ns.saturating_sub(self.ns) < 1_000_000 {
            std::thread::sleep(std::time::Duration::from_micros(200));
            end = Self::take();
        }
        let dticks = end.ticks.saturating_sub(self.ticks) as f64;
        let dns = (end.ns - self.ns) as f64;
        let freq = (dticks * 1e9 / dns).round();
        // Never write Frequency 0 (the parser would compute infinite times).
        if freq >= 1.0 {
            freq as u64
        } else {
            1_000_000_000
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_nonzero_and_monotonic_on_one_thread() {
        init();
        let mut last = now();
        assert_ne!(last, 0);
        for _ in 0..10_000 {
            let t = now();
            assert!(t >= last, "clock went backwards: {t} < {last}");
            last = t;
        }
    }

    #[test]
    fn frequency_is_plausible() {
        init();
        let c = Calibration::take();
        let f = c.frequency_since();
        // Between 1 MHz and 10 GHz whatever the source.
        assert!((1_000_000..10_000_000_000).contains(&f), "frequency {f}");
    }
}
