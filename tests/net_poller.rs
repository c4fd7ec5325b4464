//! The netpoller's waker (eventfd) is written only to wake an M blocked in
//! the poll: the yield and ping-pong workloads, which register no socket,
//! never write it; with a socket registered an M does sleep in the poll and
//! the waker is what wakes it.

#[path = "../benches/workloads/mod.rs"]
mod workloads;

mod net_support;

use std::time::Duration;

use net_support::watchdog;
use workloads::{Exec, Spool};

#[test]
fn yield_and_ping_pong_never_write_the_poller_waker() {
    let _w = watchdog("waker_writes", 120);
    let e = Spool::build();
    for _ in 0..20 {
        workloads::yield_many(&e);
        workloads::ping_pong(&e);
    }
    let s = e.0.handle().net_stats();
    assert_eq!(s.registrations, 0);
    assert_eq!(
        s.waker_writes, 0,
        "the eventfd was written with no M in the poll"
    );
}

/// With a listener registered, idle Ms sleep in the poll: a spawn from
/// outside the runtime then has to go through the waker (so the writes are
/// real, and counted), and the workloads still complete.
#[test]
fn with_a_socket_registered_an_idle_m_is_woken_through_the_waker() {
    let _w = watchdog("waker_with_io", 120);
    let e = Spool::build();
    let _l =
        e.0.block_on(spool::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    for _ in 0..5 {
        // Let both Ms go idle (one in the poll), then wake them from here.
        std::thread::sleep(Duration::from_millis(10));
        let h = e.0.spawn(async { 1 });
        assert_eq!(e.0.block_on(h).unwrap(), 1);
    }
    let after_spawns = e.0.handle().net_stats().waker_writes;
    assert!(after_spawns >= 1, "no M was ever woken out of the poll");
    for _ in 0..5 {
        workloads::yield_many(&e);
        workloads::ping_pong(&e);
    }
    println!(
        "waker writes: {after_spawns} for 5 remote spawns, {} more for 5 x (yield_many + ping_pong)",
        e.0.handle().net_stats().waker_writes - after_spawns
    );
}
