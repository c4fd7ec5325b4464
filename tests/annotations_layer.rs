//! Round trips of `SpoolLayer`: code instrumented with `tracing` spans and
//! events, traced with spool, read back with spool's reader (exact event
//! sequences) and checked with Go's parser.

mod annotations_support;

use std::sync::Once;

use annotations_support::*;
use spool::trace::{SpoolLayer, dropped_region_events};
use spool::yield_now;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// Spans are entered on worker threads, so the subscriber must be global.
fn install_layer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::registry()
            .with(SpoolLayer::new())
            .try_init()
            .expect("no other global subscriber in this test binary");
    });
}

/// Checks the trace with Go's parser, then reads back its user events and
/// the id of the first task begun in them.
fn parsed_task_events(rec: &Recorded) -> (Vec<UEv>, u64) {
    go_parses(&rec.path);
    let evs = user_events(rec);
    let t = first_task(&evs);
    (evs, t)
}

/// The id of the first task begun in `evs`.
fn first_task(evs: &[UEv]) -> u64 {
    evs.iter()
        .find_map(|e| match e.ev {
            U::TaskBegin { task, .. } => Some(task),
            _ => None,
        })
        .expect("a task begin")
}

#[test]
fn spans_become_tasks_and_regions_and_events_become_logs() {
    install_layer();
    let ((), rec) = traced("layer-sequence", |rt| {
        rt.block_on(rt.spawn(async {
            let request = tracing::info_span!("request", id = 7);
            let _in_request = request.enter();
            {
                let parse = tracing::info_span!("parse");
                let _in_parse = parse.enter();
                tracing::info!(bytes = 42, "parsed");
            }
            tracing::warn!(target: "db", "slow query");
        }))
        .expect("task")
    });
    let (evs, t) = parsed_task_events(&rec);
    assert_eq!(
        kinds(&evs),
        [
            tb(t, 0, "request"),
            rb(t, "parse"),
            log(t, "annotations_layer", "INFO parsed bytes=42"),
            re(t, "parse"),
            log(t, "db", "WARN slow query"),
            te(t),
        ]
    );
    let g = evs[0].g;
    assert!(evs.iter().all(|e| e.g == g));
}

#[test]
fn an_instrumented_future_is_one_region_per_poll_of_its_task() {
    install_layer();
    let ((), rec) = traced("layer-instrument", |rt| {
        // Made on the test thread (no spool task here): the task begins at
        // the first enter, inside the spawned task.
        let job = tracing::info_span!("job", spool.task = true);
        let step = tracing::info_span!(parent: &job, "step");
        let h = rt.spawn(
            async {
                tracing::info!("first poll");
                yield_now().await;
                tracing::info!("second poll");
            }
            .instrument(step)
            .instrument(job),
        );
        rt.block_on(h).expect("task");
    });
    let (evs, t) = parsed_task_events(&rec);
    // Two polls of the inner "step" future (one region each), then
    // `Instrumented`'s drop, which enters "step" once more to drop its
    // future; then "job" closes: the task ends.
    assert_eq!(
        kinds(&evs),
        [
            tb(t, 0, "job"),
            rb(t, "step"),
            log(t, "annotations_layer", "INFO first poll"),
            re(t, "step"),
            rb(t, "step"),
            log(t, "annotations_layer", "INFO second poll"),
            re(t, "step"),
            rb(t, "step"),
            re(t, "step"),
            te(t),
        ]
    );
    let g = evs[0].g;
    assert!(evs.iter().all(|e| e.g == g));
}

#[test]
fn ten_thousand_nested_spans_nest_as_regions() {
    install_layer();
    const DEPTH: usize = 10_000;
    let ((), rec) = traced("layer-deep", |rt| {
        rt.block_on(rt.spawn(async {
            // Each guard owns its span; popping from the end exits and closes
            // the innermost first, so no span's close cascades up the chain.
            let mut entered = Vec::with_capacity(DEPTH);
            for _ in 0..DEPTH {
                entered.push(tracing::info_span!("level").entered());
            }
            while entered.pop().is_some() {}
        }))
        .expect("task")
    });
    let (evs, t) = parsed_task_events(&rec);
    // The outermost (root) span is the task; the 9,999 inside it are regions.
    let mut want = vec![tb(t, 0, "level")];
    want.extend(std::iter::repeat_n(rb(t, "level"), DEPTH - 1));
    want.extend(std::iter::repeat_n(re(t, "level"), DEPTH - 1));
    want.push(te(t));
    assert!(
        kinds(&evs) == want,
        "nesting differs ({} events)",
        evs.len()
    );
}

#[test]
fn odd_debug_values_and_long_messages_are_kept_and_clipped() {
    install_layer();
    struct Odd;
    impl std::fmt::Debug for Odd {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("nul:\0 esc:\u{1b}[31m bad:\u{fffd} \u{10ffff}")
        }
    }
    let big = "€".repeat(1000);
    let ((), rec) = traced("layer-odd", |rt| {
        let big = big.clone();
        rt.block_on(rt.spawn(async move {
            let _t = tracing::info_span!("t").entered();
            let _s = tracing::info_span!("s").entered();
            tracing::info!(v = ?Odd, "odd");
            tracing::info!(big = %big);
        }))
        .expect("task")
    });
    let (evs, t) = parsed_task_events(&rec);
    let mut clipped = format!("INFO big={big}");
    let mut end = spool::trace::MAX_STRING_LEN;
    while !clipped.is_char_boundary(end) {
        end -= 1;
    }
    clipped.truncate(end);
    assert_eq!(
        kinds(&evs),
        [
            tb(t, 0, "t"),
            rb(t, "s"),
            log(
                t,
                "annotations_layer",
                "INFO odd v=nul:\0 esc:\u{1b}[31m bad:\u{fffd} \u{10ffff}"
            ),
            log(t, "annotations_layer", &clipped),
            re(t, "s"),
            te(t),
        ]
    );
}

#[test]
fn span_guards_dropped_out_of_order_drop_the_invalid_end() {
    install_layer();
    let (dropped, rec) = traced("layer-out-of-order", |rt| {
        let before = dropped_region_events();
        rt.block_on(rt.spawn(async {
            let _t = tracing::info_span!("t").entered();
            let a = tracing::info_span!("a").entered();
            let b = tracing::info_span!("b").entered();
            drop(a); // "b" is innermost: this end would be "misuse of region"
            drop(b);
        }))
        .expect("task");
        dropped_region_events() - before
    });
    go_parses(&rec.path);
    assert_eq!(dropped, 1);
    let evs = user_events(&rec);
    let t = first_task(&evs);
    assert_eq!(
        kinds(&evs),
        [tb(t, 0, "t"), rb(t, "a"), rb(t, "b"), re(t, "b"), te(t)]
    );
}

#[test]
fn api_calls_inside_an_entered_span_belong_to_the_span_task() {
    install_layer();
    let ((), rec) = traced("layer-ambient", |rt| {
        rt.block_on(
            rt.spawn(
                async {
                    spool::trace::log("api", "inside");
                    // Created inside the span: the region belongs to its task and
                    // stays open across the await (one begin, one end).
                    spool::trace::region_async("db query", yield_now()).await;
                }
                .instrument(tracing::info_span!("request")),
            ),
        )
        .expect("task");
        // Outside any span again: background task.
        rt.block_on(rt.spawn(async { spool::trace::log("api", "outside") }))
            .expect("task");
    });
    let (evs, t) = parsed_task_events(&rec);
    assert_eq!(
        kinds(&evs),
        [
            tb(t, 0, "request"),
            log(t, "api", "inside"),
            rb(t, "db query"),
            re(t, "db query"),
            te(t),
            log(0, "api", "outside"),
        ]
    );
}
