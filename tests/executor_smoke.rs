//! Smoke test: the public API runs tasks (quick check used while building).

use std::time::Duration;

#[test]
fn spawn_join_sleep() {
    let rt = spool::Runtime::new().unwrap();
    let v = rt.block_on(async {
        let hs: Vec<_> = (0..100u64)
            .map(|i| {
                spool::spawn(async move {
                    spool::time::sleep(Duration::from_millis(1)).await;
                    spool::yield_now().await;
                    i
                })
            })
            .collect();
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(v, 4950);
}
