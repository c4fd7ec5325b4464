//! `SpoolLayer::gate_when_off(true)` as the only layer: spans and events are
//! disabled outright while spool is not tracing, and recorded as usual while
//! it is (read back with spool's reader, checked with Go's parser).

mod annotations_support;

use annotations_support::*;
use tracing_subscriber::prelude::*;

#[test]
fn gated_layer_is_off_without_a_trace_and_records_with_one() {
    tracing_subscriber::registry()
        .with(spool::trace::SpoolLayer::new().gate_when_off(true))
        .try_init()
        .expect("the only global subscriber of this test binary");

    // No trace: the span is not even created.
    assert!(!spool::trace::is_tracing());
    assert!(tracing::info_span!("request").is_disabled());

    let (disabled_inside, rec) = traced("gate", |rt| {
        rt.block_on(rt.spawn(async {
            let request = tracing::info_span!("request");
            let disabled = request.is_disabled();
            let _in_request = request.enter();
            let _parse = tracing::info_span!("parse").entered();
            tracing::info!("parsed");
            disabled
        }))
        .expect("task")
    });
    assert!(!disabled_inside, "spans are enabled while tracing");
    go_parses(&rec.path);
    let evs = user_events(&rec);
    let t = match evs.first().map(|e| &e.ev) {
        Some(U::TaskBegin { task, .. }) => *task,
        other => panic!("expected a task begin first, got {other:?}"),
    };
    assert_eq!(
        kinds(&evs),
        [
            tb(t, 0, "request"),
            rb(t, "parse"),
            log(t, "annotations_gate", "INFO parsed"),
            re(t, "parse"),
            te(t),
        ]
    );

    // Off again: disabled again.
    assert!(tracing::info_span!("request").is_disabled());
}
