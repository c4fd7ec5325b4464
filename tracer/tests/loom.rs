//! Loom model of the per-M buffer hand-off (`src/slot.rs`) and the
//! generation flip protocol of `src/writer.rs` / `src/m.rs`:
//! an M writes events into its batch under its slot lock, sealing the batch
//! into the writer's inbox when it sees a newer generation, while the writer
//! publishes the next generation and collects the M's batch.
//!
//! Checked: every event the M wrote in generation 1 reaches the writer
//! exactly once, in emission order (inbox first, then the collected batch,
//! which is the order `finish_generation` writes), and no event of
//! generation 1 is written after the collector took the M's batch.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p spool-tracer --test loom`.

#![cfg(loom)]

#[path = "../src/loom.rs"]
#[allow(dead_code)]
mod loom;
#[path = "../src/slot.rs"]
#[allow(dead_code)]
mod slot;

use ::loom::sync::atomic::{AtomicU64, Ordering};
use ::loom::sync::{Arc, Mutex};
use ::loom::thread;
use slot::Slot;

/// An M's open batch: (generation, events).
type Batch = (u64, Vec<u32>);

#[derive(Default)]
struct MBuf {
    batch: Option<Batch>,
}

struct Shared {
    /// The generation being recorded (the tracer's `GEN`).
    generation: AtomicU64,
    slot: Slot<MBuf>,
    /// Sealed batches on their way to the writer (the tracer's inbox).
    inbox: Mutex<Vec<Batch>>,
    /// (event, generation it was written in), in emission order.
    log: Mutex<Vec<(u32, u64)>>,
}

/// One write section of the M (`m.rs::section` + `open_batch`).
fn write_event(s: &Shared, ev: u32) {
    s.slot
        .with_owner(|buf| {
            let g = s.generation.load(Ordering::Acquire);
            if buf.batch.as_ref().map(|b| b.0) != Some(g) {
                if let Some(old) = buf.batch.take() {
                    s.inbox.lock().unwrap().push(old);
                }
                buf.batch = Some((g, Vec::new()));
            }
            buf.batch.as_mut().unwrap().1.push(ev);
            s.log.lock().unwrap().push((ev, g));
        })
        .expect("the M is not inside another section of its own");
}

#[test]
fn buffer_hand_off_during_generation_flip() {
    ::loom::model(|| {
        let s = Arc::new(Shared {
            generation: AtomicU64::new(1),
            slot: Slot::new(MBuf::default()),
            inbox: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let m = {
            let s = s.clone();
            thread::spawn(move || {
                for ev in 0..3 {
                    write_event(&s, ev);
                }
            })
        };
        // The writer's flip: publish generation 2, collect generation 1.
        s.generation.store(2, Ordering::Release);
        let collected = s.slot.with_locked(|buf| match buf.batch.as_ref() {
            Some(b) if b.0 == 1 => buf.batch.take(),
            _ => None,
        });
        let drained: Vec<Batch> = std::mem::take(&mut *s.inbox.lock().unwrap());
        let mut written: Vec<u32> = Vec::new();
        for b in drained.iter().chain(collected.iter()) {
            if b.0 == 1 {
                written.extend(&b.1);
            }
        }
        m.join().unwrap();
        let gen1: Vec<u32> = s
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, g)| *g == 1)
            .map(|(e, _)| *e)
            .collect();
        assert_eq!(
            written, gen1,
            "generation 1 events lost, duplicated or reordered"
        );
        // Whatever is left belongs to generation 2.
        let rest = s.slot.with_locked(|buf| buf.batch.take());
        assert!(rest.is_none_or(|b| b.0 == 2));
        assert!(s.inbox.lock().unwrap().iter().all(|b| b.0 == 2));
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
