//! Signals through the netpoller: `signal(kind)` and `ctrl_c()` wake their
//! task when the process gets the signal; every listener sees it; dropping
//! a listener closes its fds. In a binary of its own (signals are
//! process-wide), one test at a time.

mod net_support;

use std::sync::Mutex;
use std::time::Duration;

use net_support::{open_fds, watchdog};
use spool::signal::{SignalKind, ctrl_c, signal};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn raise(sig: libc::c_int) {
    // SAFETY: raising a signal whose handler (signal-hook's) is installed.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

#[test]
fn every_listener_of_sigusr1_gets_it() {
    let _s = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog("sigusr1", 30);
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let mut a = signal(SignalKind::user_defined1()).unwrap();
        let mut b = signal(SignalKind::user_defined1()).unwrap();
        let waiter = spool::spawn(async move { b.recv().await });
        spool::time::sleep(Duration::from_millis(20)).await;
        raise(libc::SIGUSR1);
        assert_eq!(a.recv().await, Some(()));
        assert_eq!(waiter.await.unwrap(), Some(()));
        // A second delivery is a second recv.
        raise(libc::SIGUSR1);
        assert_eq!(a.recv().await, Some(()));
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _s = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog("ctrl_c", 30);
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        // A listener of our own first: from here SIGINT is handled (the
        // default action would end the test process), whenever the spawned
        // `ctrl_c` installs its own.
        let _guard = signal(SignalKind::interrupt()).unwrap();
        let mut h = spool::spawn(ctrl_c());
        // Raise until `ctrl_c` (which listens from its first poll) sees one.
        let mut raised = 0;
        loop {
            raise(libc::SIGINT);
            raised += 1;
            if let Ok(r) = spool::time::timeout(Duration::from_millis(50), &mut h).await {
                r.unwrap().unwrap();
                break;
            }
            assert!(raised < 100, "ctrl_c never completed");
        }
    });
}

#[test]
fn dropped_listeners_leave_no_fd_behind() {
    let _s = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = spool::Builder::new().procs(1).build().unwrap();
    let before = open_fds();
    rt.block_on(async {
        let v: Vec<_> = (0..10)
            .map(|_| signal(SignalKind::hangup()).unwrap())
            .collect();
        assert_eq!(open_fds(), before + 20, "two fds per listener");
        drop(v);
    });
    assert_eq!(open_fds(), before);
    assert_eq!(rt.handle().net_stats().registrations, 0);
}

#[test]
fn forbidden_signals_are_refused_with_a_clear_error() {
    let _s = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = spool::Builder::new().procs(1).build().unwrap();
    let err = rt
        .block_on(async { signal(SignalKind::from_raw(libc::SIGKILL)) })
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("cannot be handled"), "{err}");
}
