//! `CountingAlloc`: an optional global-allocator wrapper that counts live heap
//! bytes and reports them to the trace as HeapAlloc events (shown by Go's
//! viewer as the `/memory/classes/heap/objects:bytes` metric).
//!
//! Invariants:
//! - Counting is one relaxed `fetch_add`/`fetch_sub` on the allocator's own
//!   counter per allocation, deallocation or size-changing reallocation,
//!   whether tracing is on or not (so the count is right when tracing starts).
//! - Reporting happens only while tracing is on, from inside the allocation
//!   call, at most once per [`REPORT_STEP`] bytes of change since the last
//!   report (whichever thread crosses the step claims the report with a CAS;
//!   the others skip it).
//! - The allocator never recurses into itself: a report sets a
//!   const-initialised, destructor-free thread-local flag (no allocation to
//!   access it) and allocations made by the tracer while it writes the
//!   HeapAlloc event are counted but not reported. The hook it calls,
//!   [`hooks::heap_alloc`], is written to be safe to call from inside an
//!   allocation (it never blocks on a lock the same thread may hold).
//! - While a thread's tracer state (its M) is being initialised, the same
//!   flag is set (`vocab::without_reports`): the initialisation allocates, and a
//!   report from inside it would re-enter the half-built thread-local.
//! - HeapAlloc needs a thread holding a P; reports from other threads are
//!   dropped by the hook, and the next report from a worker catches up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::hooks;
use crate::vocab::{reports_off, without_reports};

/// Minimum change of the live byte count between two HeapAlloc reports.
/// 64 KiB keeps the event rate at one per 64 KiB of net allocation (about
/// what Go's own runtime does: it reports when a span's worth of objects is
/// allocated or swept), so a workload that allocates a few GB/s writes tens
/// of thousands of events per second at most, while a heap that grows by a
/// few hundred KiB still draws a visible curve.
pub const REPORT_STEP: usize = 64 * 1024;

/// A [`GlobalAlloc`] that delegates to `A` (the system allocator by default)
/// and counts live bytes; see the module docs.
///
/// ```
/// use spool_tracer::alloc::CountingAlloc;
///
/// #[global_allocator]
/// static GLOBAL: CountingAlloc = CountingAlloc::new();
///
/// let v = vec![0u8; 4096];
/// assert!(GLOBAL.live_bytes() >= 4096);
/// # drop(v);
/// ```
#[derive(Debug)]
pub struct CountingAlloc<A = System> {
    inner: A,
    /// Bytes currently allocated through this allocator (requested sizes).
    live: AtomicUsize,
    /// The live count in the last report (or 0 before the first).
    reported: AtomicUsize,
}

impl CountingAlloc<System> {
    /// Counts allocations made with the system allocator.
    pub const fn new() -> Self {
        Self::with(System)
    }
}

impl Default for CountingAlloc<System> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> CountingAlloc<A> {
    /// Counts allocations made with `inner`.
    pub const fn with(inner: A) -> Self {
        CountingAlloc {
            inner,
            live: AtomicUsize::new(0),
            reported: AtomicUsize::new(0),
        }
    }

    /// Bytes currently allocated through this allocator (sum of the sizes
    /// requested, not counting the inner allocator's overhead).
    pub fn live_bytes(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    #[inline]
    fn grew(&self, by: usize) {
        // Relaxed: the counter is a statistic; no memory is published through it.
        let live = self.live.fetch_add(by, Ordering::Relaxed).wrapping_add(by);
        self.maybe_report(live);
    }

    #[inline]
    fn shrank(&self, by: usize) {
        let live = self.live.fetch_sub(by, Ordering::Relaxed).wrapping_sub(by);
        self.maybe_report(live);
    }

    #[inline]
    fn maybe_report(&self, live: usize) {
        if !hooks::enabled() {
            return;
        }
        let last = self.reported.load(Ordering::Relaxed);
        if live.abs_diff(last) >= REPORT_STEP {
            self.report(last, live);
        }
    }

    #[cold]
    #[inline(never)]
    fn report(&self, last: usize, live: usize) {
        // Already inside a report on this thread: the tracer is allocating
        // while writing the event. Counted above; never recurse.
        if reports_off() {
            return;
        }
        // Claim this report; if another thread moved `reported` first, it
        // reports (its value is at least as fresh as ours).
        if self
            .reported
            .compare_exchange(last, live, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        without_reports(|| hooks::heap_alloc(live as u64));
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments
// unchanged and returns its result unchanged, so `inner`'s guarantees are
// ours; the counting on the side never touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size).
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from this allocator (hence
        // from `inner`) with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr`/`layout` came from this
        // allocator and that `new_size` is valid for `layout.align()`.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let old = layout.size();
            if new_size > old {
                self.grew(new_size - old);
            } else if new_size < old {
                self.shrank(old - new_size);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_alloc_realloc_dealloc() {
        let a = CountingAlloc::new();
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: non-zero size; every pointer is freed with the layout it has.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(a.live_bytes(), 100);
            let z = a.alloc_zeroed(layout);
            assert_eq!(*z, 0);
            assert_eq!(a.live_bytes(), 200);
            let p = a.realloc(p, layout, 1000);
            assert_eq!(a.live_bytes(), 1100);
            let p = a.realloc(p, Layout::from_size_align(1000, 8).unwrap(), 10);
            assert_eq!(a.live_bytes(), 110);
            a.dealloc(p, Layout::from_size_align(10, 8).unwrap());
            a.dealloc(z, layout);
        }
        assert_eq!(a.live_bytes(), 0);
    }

    #[test]
    fn no_report_while_tracing_is_off() {
        assert!(!hooks::enabled());
        let a = CountingAlloc::new();
        let layout = Layout::from_size_align(4 * REPORT_STEP, 8).unwrap();
        // SAFETY: non-zero size, freed with the same layout.
        unsafe {
            let p = a.alloc(layout);
            a.dealloc(p, layout);
        }
        assert_eq!(a.reported.load(Ordering::Relaxed), 0);
    }
}
