//! Scale: a million spawned tasks all complete and none stays alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use spool_executor::{Builder, spawn};

#[test]
fn one_million_tasks_complete() {
    const N: usize = 1_000_000;
    let rt = Builder::new().procs(2).build().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    rt.block_on(async move {
        // Spawned in batches from tasks on both Ps and joined.
        let batches: Vec<_> = (0..100)
            .map(|_| {
                let c = c.clone();
                spawn(async move {
                    let hs: Vec<_> = (0..N / 100)
                        .map(|_| {
                            let c = c.clone();
                            spawn(async move {
                                c.fetch_add(1, Relaxed);
                            })
                        })
                        .collect();
                    for h in hs {
                        h.await.unwrap();
                    }
                })
            })
            .collect();
        for b in batches {
            b.await.unwrap();
        }
    });
    assert_eq!(count.load(Relaxed), N);
    assert_eq!(rt.handle().alive_tasks(), 0);
}
