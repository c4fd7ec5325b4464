//! The global runtime table's slot reservation (`sched/table.rs`:
//! `reserve`, `clear`), on its loom-built two-slot table.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use spool_executor::__loom::{LOOM_SLOTS, table_clear, table_reserve};

/// Interleaving: three runtimes build at once over two free slots, and one
/// is dropped (its slot cleared) while the others still scan: no slot is
/// ever held by two runtimes, a reserver that finds none free gets `None`
/// (the "too many runtimes" error), and a cleared slot can be taken again.
#[test]
fn table_reservations_are_unique_and_cleared_slots_reusable() {
    loom::model(|| {
        assert_eq!(LOOM_SLOTS, 2);
        let holders: Arc<Vec<AtomicUsize>> =
            Arc::new((0..LOOM_SLOTS).map(|_| AtomicUsize::new(0)).collect());
        let builders: Vec<_> = (0..3)
            .map(|_| {
                let holders = holders.clone();
                thread::spawn(move || {
                    let Some(i) = table_reserve() else {
                        return false;
                    };
                    assert_eq!(holders[i].fetch_add(1, SeqCst), 0, "slot {i} taken twice");
                    // The runtime is dropped: free the slot for the next one.
                    holders[i].fetch_sub(1, SeqCst);
                    table_clear(i);
                    true
                })
            })
            .collect();
        let built = builders
            .into_iter()
            .map(|b| b.join().unwrap())
            .filter(|&b| b)
            .count();
        assert!(built >= LOOM_SLOTS, "only {built} runtimes got a free slot");
        // Every slot was given back: both can be taken again, then none.
        let a = table_reserve().expect("a free slot");
        let b = table_reserve().expect("a second free slot");
        assert_ne!(a, b);
        assert_eq!(table_reserve(), None);
        table_clear(a);
        table_clear(b);
    });
}
