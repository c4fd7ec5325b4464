//! Helpers shared by the network tests: a watchdog (a hang fails the test
//! instead of stalling CI) and the process's open-fd count.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Aborts the process with a message if not dropped within `secs`.
pub struct Watchdog(Option<mpsc::Sender<()>>);

pub fn watchdog(name: &'static str, secs: u64) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs)) {
            eprintln!("watchdog: test `{name}` still running after {secs} s: hung");
            std::process::exit(101);
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Open file descriptors of this process (entries of /proc/self/fd, minus
/// the one `read_dir` itself holds).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
        - 1
}

/// Byte `i` of message `round` on connection `conn`: every byte differs
/// from its neighbours' so a mix-up between connections or rounds shows.
pub fn pattern(conn: usize, round: usize, i: usize) -> u8 {
    (conn.wrapping_mul(31) ^ round.wrapping_mul(17) ^ i.wrapping_mul(7)) as u8
}
