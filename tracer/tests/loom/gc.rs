//! GC-like phases (`src/annotate/gc.rs`, `GcPhases`): the depth count all
//! threads share and the one GC phase Go's format has.

use loom::sync::{Arc, Mutex};
use loom::thread;

use spool_tracer::__loom::GcPhases;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Begin,
    End,
}

/// The events in the order they reach the trace: what the tracer's
/// `record::gc_begin`/`gc_end` see (they drop a GCBegin while a phase is
/// open, and a GCEnd while none is).
struct Trace(Mutex<Vec<Ev>>);

impl Trace {
    fn emit(&self, e: Ev) {
        self.0.lock().unwrap().push(e);
    }
}

/// Interleaving: thread A closes the last open phase (depth 1 -> 0, so it
/// must write GCEnd) while thread B opens a new one (0 -> 1, GCBegin) and
/// closes it, and the main thread nests a phase inside either. The events
/// must reach the trace alternating, starting with GCBegin and ending with
/// GCEnd, each phase whole: if B's GCBegin could overtake A's GCEnd, the
/// tracer would see two begins in a row and drop B's phase. (A lock-free
/// depth count, deciding the event by RMW and writing it after, fails here.)
#[test]
fn gc_last_end_racing_a_new_begin() {
    loom::model(|| {
        let gc = Arc::new(GcPhases::new());
        let trace = Arc::new(Trace(Mutex::new(Vec::new())));
        gc.begin(|| trace.emit(Ev::Begin)); // A's phase, open before the race
        let a = {
            let (gc, trace) = (gc.clone(), trace.clone());
            thread::spawn(move || gc.end(|| trace.emit(Ev::End)))
        };
        let b = {
            let (gc, trace) = (gc.clone(), trace.clone());
            thread::spawn(move || {
                gc.begin(|| trace.emit(Ev::Begin));
                gc.end(|| trace.emit(Ev::End));
            })
        };
        gc.begin(|| trace.emit(Ev::Begin));
        gc.end(|| trace.emit(Ev::End));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(gc.depth(), 0);
        let evs = trace.0.lock().unwrap().clone();
        assert!(!evs.is_empty() && evs.len() % 2 == 0, "{evs:?}");
        for (i, e) in evs.iter().enumerate() {
            let want = if i % 2 == 0 { Ev::Begin } else { Ev::End };
            assert_eq!(*e, want, "events out of order: {evs:?}");
        }
    });
}
