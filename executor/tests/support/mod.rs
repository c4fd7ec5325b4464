//! Helpers shared by the executor's behaviour tests (`mod support;` in
//! each test file that needs them).

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on its own thread and returns its value. A panic in `f` is
/// resumed here, so the test fails with `f`'s own message; a run longer
/// than `secs` fails the test naming `what`: in these scenarios a hang of
/// the runtime, which would otherwise hang the test instead of failing it.
pub fn within_secs<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("{what} did not finish within {secs} s: the runtime hangs"),
    }
}
