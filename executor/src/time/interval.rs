//! `interval`: a timer that ticks every period (tokio's `Interval`).
//!
//! The next deadline is kept as an `Instant`; each tick re-arms one
//! [`Sleep`] for it. What happens after a tick was missed (the task was
//! busy past a deadline) is [`MissedTickBehavior`]'s choice.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep, sleep_until};

/// What an [`Interval`] does when a tick was missed.
///
/// ```
/// use spool_executor::time::MissedTickBehavior;
/// assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Tick as fast as possible until caught up (the schedule is kept).
    #[default]
    Burst,
    /// The next tick is one period after the late one.
    Delay,
    /// Skip the missed ticks; the next is on the original schedule.
    Skip,
}

/// Ticks at `start`, then every `period` (see [`interval`]).
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Sleep,
    missed: MissedTickBehavior,
}

/// An interval whose first tick is now (it completes at once) and then
/// every `period`.
///
/// # Panics
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = spool_executor::time::Instant::now();
///     let mut iv = spool_executor::time::interval(Duration::from_millis(5));
///     for _ in 0..3 {
///         iv.tick().await;
///     }
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// An interval whose first tick is at `start`, then every `period`.
///
/// # Panics
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
/// use spool_executor::time::{Instant, interval_at};
/// let rt = spool_executor::Runtime::new().unwrap();
/// let start = Instant::now() + Duration::from_millis(3);
/// let t = rt.block_on(async { interval_at(start, Duration::from_secs(1)).tick().await });
/// assert_eq!(t, start);
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "spool: `interval` period must be non-zero"
    );
    Interval {
        next: start,
        period,
        sleep: sleep_until(start),
        missed: MissedTickBehavior::Burst,
    }
}

impl Interval {
    /// Waits for the next tick; returns its scheduled time.
    ///
    /// Cancel-safe: a dropped `tick()` future loses no tick.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.next;
        let now = Instant::now();
        self.next = match self.missed {
            MissedTickBehavior::Burst => tick + self.period,
            MissedTickBehavior::Delay => now + self.period,
            MissedTickBehavior::Skip => {
                let mut n = tick + self.period;
                if n <= now {
                    // Whole periods since `tick`, plus one.
                    let behind = (now - tick).as_nanos() / self.period.as_nanos().max(1);
                    n = tick + self.period * (behind as u32).saturating_add(1);
                }
                n
            }
        };
        self.sleep = sleep_until(self.next);
        Poll::Ready(tick)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = Instant::now() + self.period;
        self.sleep = sleep_until(self.next);
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How missed ticks are handled.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets how missed ticks are handled.
    pub fn set_missed_tick_behavior(&mut self, b: MissedTickBehavior) {
        self.missed = b;
    }
}
