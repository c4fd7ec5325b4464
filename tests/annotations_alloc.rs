//! Round trip of `CountingAlloc`: with spool's counting allocator as the
//! global allocator, a traced workload that grows the heap by a few MiB
//! writes HeapAlloc events that follow it, and the file passes Go's parser.

mod annotations_support;

use annotations_support::*;
use spool::trace::CountingAlloc;
use spool::yield_now;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new();

const MIB: usize = 1 << 20;

#[test]
fn heap_growth_is_reported_as_heap_alloc_events() {
    let ((low, high), rec) = traced("heap", |rt| {
        rt.block_on(rt.spawn(async {
            let low = GLOBAL.live_bytes();
            let mut held = Vec::new();
            for _ in 0..8 {
                held.push(vec![1u8; MIB]);
                yield_now().await;
            }
            let high = GLOBAL.live_bytes();
            drop(held);
            yield_now().await;
            (low, high)
        }))
        .expect("task")
    });
    go_parses(&rec.path);
    assert!(high >= low + 8 * MIB);
    let reports: Vec<u64> = user_events(&rec)
        .iter()
        .filter_map(|e| match e.ev {
            U::HeapAlloc(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    // Every 1 MiB step crosses the 64 KiB report threshold: at least one
    // report per held MiB, one of them at the high-water mark's level, and
    // one after the drop at (about) the starting level.
    assert!(reports.len() >= 8, "reports: {reports:?}");
    let max = *reports.iter().max().unwrap() as usize;
    assert!(
        max + spool_tracer::alloc::REPORT_STEP >= high,
        "max {max} vs high {high}"
    );
    let last = *reports.last().unwrap() as usize;
    assert!(last < low + MIB, "last {last} vs low {low}");
}
