//! Loom models of the per-M buffer slot (`src/slot.rs`) and of the batch
//! hand-off at a generation flip (`src/handoff.rs`). Both run the crate's
//! real code, exported under `cfg(loom)` as `spool_tracer::__loom`: the M
//! writes through `section_on` + `ensure_batch`, the writer's flip
//! publishes the next generation and takes the M's batch with
//! `collect_slot`, an exiting M hands its batch over with `hand_over`. Only
//! the batch type is the model's (a generation number and a list of event
//! numbers) and the inbox a loom `Mutex<Vec<_>>`.
//!
//! Checked: every event the M wrote in generation 1 reaches the writer
//! exactly once, in emission order (inbox first, then the collected batch,
//! which is the order `finish_generation` writes), and no event of
//! generation 1 is written after the collector took the M's batch — also
//! when the M exits during the flip.
//!
//! `loom/seq.rs` models the per-resource sequence slots (`src/seq.rs`: the
//! `next_seq` CAS loop, the status claim, the owner's variant) and
//! `loom/gc.rs` the GC phase count (`src/annotate/gc.rs`), on the same
//! real code.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p spool-tracer --test loom`.

#![cfg(loom)]

// The sequence slots and the GC phase count (their own files).
#[path = "loom/gc.rs"]
mod gc;
#[path = "loom/seq.rs"]
mod seq;

use ::loom::sync::atomic::{AtomicU64, Ordering};
use ::loom::sync::{Arc, Mutex};
use ::loom::thread;
use spool_tracer::__loom::{
    MBuf, OpenBatch, Slot, collect_slot, ensure_batch, hand_over, section_on,
};

/// The model's batch: its generation and the events written into it.
#[derive(Debug)]
struct Batch {
    generation: u64,
    events: Vec<u32>,
}

impl OpenBatch for Batch {
    type Sealed = Batch;
    fn global(&self) -> u64 {
        self.generation
    }
    fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
    fn seal(self) -> Batch {
        self
    }
}

struct Shared {
    /// The generation being recorded (the tracer's `GEN`).
    generation: AtomicU64,
    slot: Slot<MBuf<Batch>>,
    /// Sealed batches on their way to the writer (the tracer's inbox).
    inbox: Mutex<Vec<Batch>>,
    /// (event, generation it was written in), in emission order.
    log: Mutex<Vec<(u32, u64)>>,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            generation: AtomicU64::new(1),
            slot: Slot::new(MBuf::default()),
            inbox: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        })
    }

    fn push(&self, b: Batch) {
        self.inbox.lock().unwrap().push(b);
    }
}

/// One write section of the M, as `mstate::writer_on_chained` does it.
fn write_event(s: &Shared, ev: u32) {
    section_on(&s.slot, &s.generation, |buf, gen_now| {
        let open = || {
            Some(Batch {
                generation: gen_now,
                events: Vec::new(),
            })
        };
        ensure_batch(buf, gen_now, open, |b| s.push(b)).expect("tracing is on");
        let b = buf.batch.as_mut().expect("a batch is open");
        b.events.push(ev);
        s.log.lock().unwrap().push((ev, b.generation));
    })
    .expect("the M is not inside another section of its own");
}

/// The writer's flip of generation 1 (steps 1-3 of `writer.rs`); returns
/// the generation-1 events it writes, in order.
fn flip(s: &Shared) -> Vec<u32> {
    s.generation.store(2, Ordering::Release);
    let collected = collect_slot(&s.slot, 1);
    let drained: Vec<Batch> = std::mem::take(&mut *s.inbox.lock().unwrap());
    let mut written = Vec::new();
    for b in drained.into_iter().chain(collected) {
        if b.generation == 1 {
            written.extend(b.events);
        } else {
            // A batch of generation 2 waits for the next flip.
            s.push(b);
        }
    }
    written
}

fn logged_in_gen1(s: &Shared) -> Vec<u32> {
    let log = s.log.lock().unwrap();
    log.iter()
        .filter(|(_, g)| *g == 1)
        .map(|(e, _)| *e)
        .collect()
}

#[test]
fn buffer_hand_off_during_generation_flip() {
    ::loom::model(|| {
        let s = Shared::new();
        let m = {
            let s = s.clone();
            thread::spawn(move || {
                for ev in 0..3 {
                    write_event(&s, ev);
                }
            })
        };
        let written = flip(&s);
        m.join().unwrap();
        assert_eq!(
            written,
            logged_in_gen1(&s),
            "generation 1 events lost, duplicated or reordered"
        );
        // Whatever is left belongs to generation 2.
        let rest = s.slot.with_locked(|buf| buf.batch.take());
        assert!(rest.is_none_or(|b| b.generation == 2));
        assert!(s.inbox.lock().unwrap().iter().all(|b| b.generation == 2));
    });
}

#[test]
fn thread_exit_during_generation_flip_loses_no_event() {
    ::loom::model(|| {
        let s = Shared::new();
        let m = {
            let s = s.clone();
            thread::spawn(move || {
                write_event(&s, 0);
                write_event(&s, 1);
                // Thread exit (`MState::drop`): hand the open batch over.
                s.slot.with_locked(|buf| hand_over(buf, |b| s.push(b)));
            })
        };
        let mut written = flip(&s);
        m.join().unwrap();
        // A batch handed over after the flip drained the inbox is written
        // by the next flip (the writer keeps reading its inbox).
        let late: Vec<Batch> = std::mem::take(&mut *s.inbox.lock().unwrap());
        let late_gen1: Vec<u32> = late
            .iter()
            .filter(|b| b.generation == 1)
            .flat_map(|b| b.events.iter().copied())
            .collect();
        assert!(
            late_gen1.is_empty(),
            "a generation 1 batch reached the inbox after the flip collected the M"
        );
        written.extend(late_gen1);
        assert_eq!(
            written,
            logged_in_gen1(&s),
            "generation 1 events lost, duplicated or reordered"
        );
    });
}

#[test]
fn slot_lock_excludes_a_concurrent_collector() {
    ::loom::model(|| {
        let slot = Arc::new(Slot::new(0u32));
        let t = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.with_owner(|v| *v += 1).expect("not re-entered");
                // A section re-entered on the owning thread is refused, not
                // deadlocked, and leaves the value alone.
                slot.with_owner(|v| {
                    *v += 1;
                    assert!(slot.with_owner(|v| *v += 10).is_none());
                })
                .expect("not re-entered");
            })
        };
        let seen = slot.with_locked(|v| std::mem::take(v));
        t.join().unwrap();
        let left = slot.with_locked(|v| *v);
        assert_eq!(seen + left, 2, "an increment was lost or duplicated");
    });
}
