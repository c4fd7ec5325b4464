//! Per-request user tasks, regions and logs in spool's trace, from code that
//! is instrumented with `tracing` (through `spool::trace::SpoolLayer`) and
//! from spool's own annotation API.
//!
//! ```text
//! SPOOL_TRACE=annotations.trace cargo run --release --example annotations
//! go tool trace annotations.trace        # "User-defined tasks" and "User-defined regions"
//! ```
//!
//! What the trace shows:
//! - one user task per request (the `request` span, marked `spool.task = true`),
//!   with a region `parse` (a span), a region `db query` (spool's
//!   `region_async`, covering the wait) and a log per request
//!   (category = the event's target, message = level, message and fields);
//! - a background `cache refresh` task made with `spool::trace::Task`, whose
//!   `refresh` region is held across `.await`, so it covers the waiting time;
//! - a `compact` phase marked with `GcGuard` (shown as a GC phase), and the
//!   heap curve from `CountingAlloc`.

use std::time::Duration;

use spool::trace::{CountingAlloc, GcGuard, SpoolLayer, Task, region_async};
use tracing::{Instrument, info, info_span};
use tracing_subscriber::prelude::*;

/// Heap accounting: the trace gets a HeapAlloc event per 64 KiB of change.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new();

const REQUESTS: u32 = 40;

fn main() {
    // SpoolLayer is the only layer here, so it may also gate: with spool not
    // tracing, spans and events are then disabled outright (nearly free).
    tracing_subscriber::registry()
        .with(SpoolLayer::new().gate_when_off(true))
        .init();
    // `SPOOL_TRACE=path` is read here; the file is complete at shutdown.
    let rt = spool::Runtime::new().expect("spool runtime");
    let served = rt.block_on(async {
        let refresh = spool::spawn(cache_refresh());
        let requests: Vec<_> = (0..REQUESTS)
            .map(|id| {
                let span = info_span!("request", spool.task = true, id);
                spool::spawn(handle_request(id).instrument(span))
            })
            .collect();
        let mut served = 0;
        for r in requests {
            served += r.await.expect("request task");
        }
        refresh.await.expect("refresh task");
        {
            let _gc = GcGuard::begin();
            compact();
        }
        served
    });
    drop(rt);
    println!("served {served} rows for {REQUESTS} requests");
    if std::env::var_os(spool::trace::ENV_VAR).is_none() {
        println!(
            "(set {}=annotations.trace to record a trace)",
            spool::trace::ENV_VAR
        );
    }
}

/// One request: parse, query, respond; each step a span, so a region.
async fn handle_request(id: u32) -> usize {
    let query = {
        let _parse = info_span!("parse").entered();
        parse(id)
    };
    // spool's own region inside the request span: it belongs to the request
    // task and stays open while the query waits (a span's regions are per
    // poll).
    let rows = region_async("db query", db_query(id, query)).await;
    info!(id, rows = rows.len(), "responded");
    rows.len()
}

fn parse(id: u32) -> String {
    format!("SELECT * FROM orders WHERE customer = {}", id % 7)
}

/// A pretend database: waits 1-3 ms, then returns 1-5 rows.
async fn db_query(id: u32, query: String) -> Vec<String> {
    spool::time::sleep(Duration::from_millis(1 + u64::from(id % 3))).await;
    (0..id % 5 + 1)
        .map(|i| format!("{query}: row {i}"))
        .collect()
}

/// Background work annotated with spool's own API.
async fn cache_refresh() {
    let task = Task::new("cache refresh");
    for round in 0..3 {
        task.region_async("refresh", async {
            spool::time::sleep(Duration::from_millis(2)).await;
        })
        .await;
        task.log("cache", &format!("round {round} refreshed"));
    }
}

/// Something GC-like: rebuild a table (allocates, so the heap curve moves).
fn compact() {
    let table: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 16 * 1024]).collect();
    let kept: usize = table.iter().map(Vec::len).sum();
    info!(kept, "compacted");
}
