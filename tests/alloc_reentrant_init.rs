//! `CountingAlloc` must not re-enter the tracer's per-thread state while that
//! state is being initialised: the first tracer call on a fresh thread builds
//! the thread's M (which allocates); if one of those allocations crosses a
//! report step, the report (`hooks::heap_alloc`) must not touch the M that
//! is half built. Here every allocation on an "armed" thread forces a report,
//! so the M's own allocations always cross a step.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use spool::trace::CountingAlloc;
use spool::tracer::alloc::REPORT_STEP;

static COUNTING: CountingAlloc = CountingAlloc::new();

thread_local! {
    /// Set on the test thread: every allocation first swings the live count
    /// by two report steps (up, then back down), so it reports.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

/// Allocations made while armed (proof the swing ran).
static SWINGS: AtomicUsize = AtomicUsize::new(0);

struct Forcing;

impl Forcing {
    fn swing() {
        if ARMED.try_with(Cell::get).unwrap_or(false) {
            SWINGS.fetch_add(1, Ordering::Relaxed);
            let big = Layout::from_size_align(2 * REPORT_STEP, 8).unwrap();
            // SAFETY: non-zero size; freed right away with the same layout.
            unsafe {
                let p = COUNTING.alloc(big);
                if !p.is_null() {
                    COUNTING.dealloc(p, big);
                }
            }
        }
    }
}

// SAFETY: forwards every call to `COUNTING` unchanged; the swing allocates
// and frees a block of its own through it.
unsafe impl GlobalAlloc for Forcing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::swing();
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { COUNTING.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::swing();
        // SAFETY: as for `alloc`.
        unsafe { COUNTING.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `COUNTING` with `layout`.
        unsafe { COUNTING.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::swing();
        // SAFETY: `ptr`/`layout` came from `COUNTING`; the caller checked `new_size`.
        unsafe { COUNTING.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Forcing = Forcing;

#[test]
fn first_tracer_call_on_a_thread_with_reports_forced() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("reentrant-init-{}.trace", std::process::id()));
    spool::trace::start(std::fs::File::create(&path).unwrap()).unwrap();
    let no_proc = spool::trace::lost().no_proc;
    let swings = std::thread::spawn(|| {
        ARMED.with(|a| a.set(true));
        // The thread's first tracer call: builds its M. No task runs here,
        // so the region is dropped (and counted) after the M exists.
        spool::tracer::hooks::user_region_begin(0, "first call");
        ARMED.with(|a| a.set(false));
        SWINGS.load(Ordering::Relaxed)
    })
    .join()
    .expect("the thread's first tracer call survived forced reports");
    assert!(swings > 0, "the M's construction allocated while armed");
    // The reports forced while the M was being built were skipped, not
    // handed to a second, nested M (which has no P: a dropped HeapAlloc).
    // Once the M exists, the region call (no task: dropped as no_task)
    // allocates nothing more, so no report reaches the hook at all.
    assert_eq!(
        spool::trace::lost().no_proc,
        no_proc,
        "a HeapAlloc report ran while the thread's M was being initialised"
    );
    spool::trace::stop().unwrap();
}
