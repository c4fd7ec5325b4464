//! `SpoolLayer`: turns `tracing` spans and events into Go user tasks, regions
//! and logs, so code already instrumented with `tracing` shows up in spool's
//! traces without changes (cargo feature `tracing`).
//!
//! # Mapping
//!
//! - **Task spans** become user tasks (UserTaskBegin/End). A span is a task
//!   span if it has a field `spool.task = true` (set when the span is made),
//!   or — by default — if it is a root span (no parent), or if the predicate
//!   given to [`SpoolLayer::task_spans`] says so. Its parent task is the
//!   nearest task span above it (0 if none). The task begins at the span's
//!   creation if that happens inside a spool task, else at its first enter
//!   inside one (a span made in `main` and entered by a spawned task begins
//!   there); it ends when the span closes.
//! - **Every other span** is a region while entered: enter →
//!   UserRegionBegin, exit → UserRegionEnd, name = span name, task = its
//!   nearest task ancestor's (0, background, if none). A span instrumenting a
//!   future (`.instrument(span)`) is entered for each poll, so it shows as
//!   one region per poll. Task spans are not regions of themselves: their
//!   extent is the task's, and a per-poll region around a whole task would
//!   cut every region the task holds across an `.await` (Go's regions must
//!   nest), so those would all be dropped.
//! - While a span recorded by the layer is entered, its task is the thread's
//!   current task for [`annotate`](crate::annotate)'s free functions, so
//!   `spool::trace::region_async("db query", ..)` inside a `#[instrument]`ed
//!   function belongs to the span's task (and, unlike the span's own
//!   per-poll regions, covers the time the future waits).
//! - **Events** become user logs (UserLog): category = the event's target
//!   (default) or level ([`LogCategory`]), message = `LEVEL message k=v ...`
//!   with fields formatted like `tracing`'s fmt layer (`Debug` for values).
//!   The task is the event's span's task, else the current
//!   [`annotate`](crate::annotate) task, else 0.
//!
//! # Rules for bad input (the same as [`annotate`](crate::annotate))
//!
//! - Strings over 1024 bytes are clipped at a `char` boundary; `Debug`
//!   output is passed through byte for byte (it is valid UTF-8; control
//!   characters stay). A `Debug` impl that returns `fmt::Error` ends its
//!   value there.
//! - Region ends that would be invalid in Go's format (a span exited on a
//!   different task than it was entered on, or out of order, e.g. an
//!   `Entered` guard held across `.await` and dropped after an inner span's)
//!   are dropped and counted in
//!   [`annotate::dropped_region_events`](crate::annotate::dropped_region_events).
//! - Deep nesting costs O(1) per span (a span copies its parent's task id);
//!   10,000 nested spans are fine.
//! - `spool.task` recorded after creation (`span.record`) is ignored.
//!
//! # Cost with spool tracing off
//!
//! Every callback starts with one relaxed load ([`enabled`]) and returns. The
//! `tracing` registry under the layer still creates and tracks each span,
//! and that is most of the cost: one span made, entered and exited twice and
//! dropped costs about 140-200 ns with `registry().with(SpoolLayer::new())`
//! against 7-18 ns with no subscriber (`benches/annotations.rs`,
//! `annotations_span_round`), i.e. a third of a ~400 ns ping-pong round.
//! When `SpoolLayer` is the only layer, [`SpoolLayer::gate_when_off`] removes
//! that too: spans and events are disabled while spool is not tracing, and
//! the same round costs 10-14 ns. (A per-layer `Filter` cannot do this:
//! `tracing-subscriber` still creates spans that a dynamic per-layer filter
//! rejects.) Spans created while spool tracing is off are never recorded,
//! even if tracing starts while they are open.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::annotate::regions::{self, EndOutcome, Entry};
use crate::annotate::{self, clip, count_dropped_region_event};
use crate::hooks::{self, enabled};

/// The field that marks a span as a user task: `info_span!("req", spool.task = true)`.
pub const TASK_FIELD: &str = "spool.task";

/// What a user log's category (Go's log key) is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogCategory {
    /// The event's target, e.g. `myapp::db` (default).
    #[default]
    Target,
    /// The event's level, e.g. `WARN`.
    Level,
}

/// A `tracing_subscriber::Layer` that records spans and events as Go user
/// tasks, regions and logs in spool's trace; see the module docs.
///
/// ```
/// use spool_tracer::layer::SpoolLayer;
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(SpoolLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let request = tracing::info_span!("request", spool.task = true);
///     let _in = request.enter();
///     tracing::info!(user = "ann", "parsed");
/// });
/// ```
#[derive(Debug, Clone)]
pub struct SpoolLayer {
    roots_are_tasks: bool,
    predicate: Option<fn(&Metadata<'_>) -> bool>,
    category: LogCategory,
    gate: bool,
}

impl Default for SpoolLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SpoolLayer {
    /// A layer where root spans and spans with `spool.task = true` are tasks,
    /// and log categories are event targets.
    pub fn new() -> Self {
        SpoolLayer {
            roots_are_tasks: true,
            predicate: None,
            category: LogCategory::Target,
            gate: false,
        }
    }

    /// Whether root spans (spans without a parent) are tasks (default true).
    pub fn root_spans_are_tasks(mut self, yes: bool) -> Self {
        self.roots_are_tasks = yes;
        self
    }

    /// Also treats spans for which `predicate` returns true as tasks
    /// (e.g. `|m| m.name() == "request"`).
    pub fn task_spans(mut self, predicate: fn(&Metadata<'_>) -> bool) -> Self {
        self.predicate = Some(predicate);
        self
    }

    /// What user-log categories are made of (default [`LogCategory::Target`]).
    pub fn log_category(mut self, category: LogCategory) -> Self {
        self.category = category;
        self
    }

    /// Makes the layer a global gate as well: while spool is not tracing,
    /// every span and event is disabled for the whole subscriber, so the
    /// `tracing` registry does not even create spans (default off). Use it
    /// only when `SpoolLayer` is the only layer that needs spans and events:
    /// it silences every other layer of the same subscriber while tracing is
    /// off. Spans are decided when they are made: one made while tracing is
    /// off stays disabled.
    pub fn gate_when_off(mut self, yes: bool) -> Self {
        self.gate = yes;
        self
    }

    fn is_task(&self, attrs: &Attributes<'_>, is_root: bool) -> bool {
        let meta = attrs.metadata();
        if meta.fields().field(TASK_FIELD).is_some() {
            let mut marked = TaskMark(false);
            attrs.record(&mut marked);
            if marked.0 {
                return true;
            }
        }
        (self.roots_are_tasks && is_root) || self.predicate.is_some_and(|p| p(meta))
    }
}

/// Reads the `spool.task` field.
struct TaskMark(bool);

impl Visit for TaskMark {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == TASK_FIELD {
            self.0 = value;
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

/// What the layer keeps in a span's extensions (only for spans created while
/// spool tracing is on).
#[derive(Debug)]
struct SpoolSpan {
    /// The user task this span's regions (and its events' logs) belong to.
    task: u64,
    /// Set if this span is itself a task span.
    own: Option<OwnTask>,
}

#[derive(Debug)]
struct OwnTask {
    parent: u64,
    /// Whether UserTaskBegin has been written (at creation or first enter).
    begun: AtomicBool,
}

impl OwnTask {
    /// Writes UserTaskBegin once, if a spool task is running here.
    fn begin_once(&self, id: u64, name: &str) {
        if annotate::running_goroutine().is_some() && !self.begun.swap(true, Ordering::Relaxed) {
            hooks::user_task_begin(id, self.parent, clip(name));
        }
    }
}

impl<S> Layer<S> for SpoolLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _meta: &'static Metadata<'static>) -> Interest {
        if self.gate {
            // Whether spool traces changes at run time: ask on every span/event.
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, _meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        !self.gate || enabled()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent();
        let parent_task = parent
            .as_ref()
            .and_then(|p| p.extensions().get::<SpoolSpan>().map(|s| s.task))
            .unwrap_or(0);
        let state = if self.is_task(attrs, parent.is_none()) {
            let task = annotate::next_task_id().get();
            let own = OwnTask {
                parent: parent_task,
                begun: AtomicBool::new(false),
            };
            own.begin_once(task, span.name());
            SpoolSpan {
                task,
                own: Some(own),
            }
        } else {
            SpoolSpan {
                task: parent_task,
                own: None,
            }
        };
        span.extensions_mut().insert(state);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        let Some(state) = ext.get::<SpoolSpan>() else {
            return;
        };
        ambient_enter(id.into_u64(), state.task);
        let name = span.name();
        if let Some(own) = &state.own {
            // A task span is the task, not a region of it (see module docs).
            own.begin_once(state.task, name);
            return;
        }
        let Some(g) = annotate::running_goroutine() else {
            count_dropped_region_event();
            return;
        };
        regions::begin(g, Entry::new(id.into_u64(), state.task, name));
        hooks::user_region_begin(state.task, clip(name));
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        // Undo what on_enter did to the thread's current task (a thread-local
        // check, also with tracing off, so a trace stopped inside a span
        // leaves no stale current task behind).
        ambient_exit(id.into_u64());
        // With tracing off, regions still open stay in the bookkeeping (they
        // are harmless there: see annotate/regions.rs).
        if !enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        let Some(state) = ext.get::<SpoolSpan>() else {
            return;
        };
        if state.own.is_some() {
            return;
        }
        let name = span.name();
        let entry = Entry::new(id.into_u64(), state.task, name);
        // Outside any task: the enter was dropped (and counted) too, or this
        // is an exit on another thread than the enter; nothing to write.
        let Some(g) = annotate::running_goroutine() else {
            return;
        };
        match regions::end(g, &entry) {
            EndOutcome::Matched => hooks::user_region_end(state.task, clip(name)),
            EndOutcome::OutOfOrder => count_dropped_region_event(),
            // Entered while tracing was off, outside a task, or on another G.
            EndOutcome::NotOpen => {}
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if !enabled() {
            return;
        }
        let Some(span) = ctx.span(&id) else { return };
        let ext = span.extensions();
        if let Some(SpoolSpan {
            task,
            own: Some(own),
        }) = ext.get::<SpoolSpan>()
            && own.begun.load(Ordering::Relaxed)
        {
            hooks::user_task_end(*task);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !enabled() {
            return;
        }
        let task = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<SpoolSpan>().map(|s| s.task))
            .unwrap_or_else(annotate::current_user_task_id);
        let meta = event.metadata();
        let category = match self.category {
            LogCategory::Target => meta.target(),
            LogCategory::Level => meta.level().as_str(),
        };
        with_message_buf(|buf| {
            buf.push_str(meta.level().as_str());
            event.record(&mut MessageWriter { buf });
            hooks::user_log(task, clip(category), clip(buf));
        });
    }
}

/// The spans that set this thread's current task (see `ambient_enter`).
struct Entered {
    /// The current task before the first of `spans` was entered.
    base: u64,
    /// (span id, its task), innermost last.
    spans: Vec<(u64, u64)>,
}

thread_local! {
    static ENTERED: RefCell<Entered> = const {
        RefCell::new(Entered { base: 0, spans: Vec::new() })
    };
}

/// Span `span` of task `task` was entered on this thread: it becomes the
/// current task for [`annotate`]'s free functions (`log`, `region`, ...).
fn ambient_enter(span: u64, task: u64) {
    let _ = ENTERED.try_with(|cell| {
        if let Ok(mut e) = cell.try_borrow_mut() {
            if e.spans.is_empty() {
                e.base = annotate::current_user_task_id();
            }
            e.spans.push((span, task));
            annotate::set_current_task(task);
        }
    });
}

/// Span `span` was exited on this thread: the current task goes back to the
/// innermost span still entered, or to what it was before the first one.
/// Exits out of order remove the right entry; unknown spans change nothing.
fn ambient_exit(span: u64) {
    let _ = ENTERED.try_with(|cell| {
        if let Ok(mut e) = cell.try_borrow_mut()
            && let Some(at) = e.spans.iter().rposition(|&(s, _)| s == span)
        {
            e.spans.remove(at);
            let now = e.spans.last().map_or(e.base, |&(_, task)| task);
            annotate::set_current_task(now);
        }
    });
}

thread_local! {
    /// Reused message buffer, so logging does not allocate in steady state.
    static MESSAGE_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Longest message buffer kept for reuse; a bigger one is freed after use.
const MAX_KEPT_BUF: usize = 4 * annotate::MAX_STRING_LEN;

/// Runs `f` with an empty string buffer: the thread's reusable one, or a
/// fresh one if that is in use (a `Debug` impl that logs while being
/// formatted) or gone (thread teardown).
fn with_message_buf(f: impl FnOnce(&mut String)) {
    let mut f = Some(f);
    let _ = MESSAGE_BUF.try_with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            buf.clear();
            (f.take().expect("called once"))(&mut buf);
            if buf.capacity() > MAX_KEPT_BUF {
                *buf = String::new();
            }
        }
    });
    if let Some(f) = f {
        f(&mut String::new());
    }
}

/// Formats an event's fields as ` message k=v k2=v2` (message first, values
/// with `Debug`, `&str` values unquoted like the fmt layer's message).
struct MessageWriter<'a> {
    buf: &'a mut String,
}

impl MessageWriter<'_> {
    /// Stops growing once the clipped message is certain to be complete.
    fn full(&self) -> bool {
        self.buf.len() > annotate::MAX_STRING_LEN
    }
}

impl Visit for MessageWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.full() {
            return;
        }
        if field.name() == "message" {
            self.buf.push(' ');
            self.buf.push_str(value);
        } else {
            let _ = write!(self.buf, " {}={:?}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.full() {
            return;
        }
        // `fmt::Error` from a user `Debug` impl just ends that value.
        let _ = if field.name() == "message" {
            write!(self.buf, " {value:?}")
        } else {
            write!(self.buf, " {}={:?}", field.name(), value)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::prelude::*;

    /// Formats every event the way `SpoolLayer` does, tracing on or off.
    struct Grab(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Grab {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            with_message_buf(|buf| {
                buf.push_str(event.metadata().level().as_str());
                event.record(&mut MessageWriter { buf });
                self.0.lock().unwrap().push(buf.clone());
            });
        }
    }

    fn formatted(f: impl FnOnce()) -> Vec<String> {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sub = tracing_subscriber::registry().with(Grab(out.clone()));
        tracing::subscriber::with_default(sub, f);
        out.lock().unwrap().clone()
    }

    #[test]
    fn message_first_then_fields_with_debug_values() {
        #[derive(Debug)]
        struct Odd;
        let got = formatted(|| {
            tracing::warn!(name = "ann", odd = ?Odd, n = 3, "hello {}", "world");
            tracing::info!(k = 1);
        });
        assert_eq!(
            got,
            ["WARN hello world name=\"ann\" odd=Odd n=3", "INFO k=1"]
        );
    }

    #[test]
    fn odd_debug_output_is_kept_byte_for_byte_and_errors_end_the_value() {
        struct Weird;
        impl fmt::Debug for Weird {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\0nul \u{1b}[31mred\u{fffd}")
            }
        }
        struct Failing;
        impl fmt::Debug for Failing {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("partial")?;
                Err(fmt::Error)
            }
        }
        let got = formatted(|| tracing::info!(w = ?Weird, f = ?Failing, after = 1));
        assert_eq!(
            got,
            ["INFO w=\0nul \u{1b}[31mred\u{fffd} f=partial after=1"]
        );
    }

    #[test]
    fn nested_message_buffers_do_not_share_or_panic() {
        // A `Debug` impl that logs while formatted reaches `with_message_buf`
        // again on the same thread (tracing itself drops such nested events
        // for the same dispatcher, but another subscriber may not).
        let mut seen = Vec::new();
        with_message_buf(|outer| {
            outer.push_str("outer");
            with_message_buf(|inner| {
                assert!(inner.is_empty());
                inner.push_str("inner");
                seen.push(inner.clone());
            });
            seen.push(outer.clone());
        });
        assert_eq!(seen, ["inner", "outer"]);
    }

    #[test]
    fn long_messages_stop_growing_past_the_string_limit() {
        let big = "x".repeat(10 * annotate::MAX_STRING_LEN);
        let got = formatted(|| tracing::info!(a = %big, b = %big));
        // The first value is written whole, the second skipped: the clipped
        // 1024-byte prefix is already complete.
        assert_eq!(got[0].len(), "INFO a=".len() + big.len());
        assert_eq!(clip(&got[0]).len(), annotate::MAX_STRING_LEN);
    }

    #[test]
    fn task_mark_and_predicate_decide_task_spans() {
        // Exercised through a layer that records `is_task` for each new span.
        struct Probe(SpoolLayer, Arc<Mutex<Vec<(&'static str, bool)>>>);
        impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Probe {
            fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
                let root = ctx.span(id).unwrap().parent().is_none();
                self.1
                    .lock()
                    .unwrap()
                    .push((attrs.metadata().name(), self.0.is_task(attrs, root)));
            }
        }
        let run = |layer: SpoolLayer| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sub = tracing_subscriber::registry().with(Probe(layer, seen.clone()));
            tracing::subscriber::with_default(sub, || {
                let root = tracing::info_span!("root");
                let _r = root.enter();
                let _a = tracing::info_span!("marked", spool.task = true);
                let _b = tracing::info_span!("unmarked", spool.task = false);
                let _c = tracing::info_span!("job");
            });
            seen.lock().unwrap().clone()
        };
        assert_eq!(
            run(SpoolLayer::new()),
            [
                ("root", true),
                ("marked", true),
                ("unmarked", false),
                ("job", false)
            ]
        );
        assert_eq!(
            run(SpoolLayer::new()
                .root_spans_are_tasks(false)
                .task_spans(|m| m.name() == "job")),
            [
                ("root", false),
                ("marked", true),
                ("unmarked", false),
                ("job", true)
            ]
        );
    }

    #[test]
    fn with_tracing_off_the_layer_records_nothing() {
        assert!(!enabled());
        let before = annotate::dropped_region_events();
        let sub = tracing_subscriber::registry().with(SpoolLayer::new());
        tracing::subscriber::with_default(sub, || {
            let s = tracing::info_span!("request", spool.task = true);
            let _e = s.enter();
            tracing::info!("event");
        });
        assert_eq!(annotate::dropped_region_events(), before);
        assert!(!annotate::regions::any_open());
    }

    #[test]
    fn gate_disables_spans_and_events_while_off_but_not_by_default() {
        let sub = tracing_subscriber::registry().with(SpoolLayer::new().gate_when_off(true));
        tracing::subscriber::with_default(sub, || {
            assert!(tracing::info_span!("gated").is_disabled());
            assert!(!tracing::enabled!(tracing::Level::ERROR));
        });
        let sub = tracing_subscriber::registry().with(SpoolLayer::new());
        tracing::subscriber::with_default(sub, || {
            assert!(!tracing::info_span!("open").is_disabled());
        });
    }
}
