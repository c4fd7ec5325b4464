//! The public runtime API: `Builder`, `Runtime`, `Handle`, free `spawn`.
//!
//! A `Runtime` owns the M threads and shuts them down when dropped; any
//! number of `Handle`s (cheap `Arc` clones) may spawn onto it from any
//! thread. Invariants: `Runtime::drop` and `shutdown_timeout` run the
//! shutdown sequence of `sched/mod.rs` exactly once; a `Handle` outliving the
//! runtime can still spawn, but its tasks are cancelled at once.

use std::env;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_deque::Worker;
use spool_tracer::hooks::{self, ProcTraceState};

use crate::blocking::pool::{DEFAULT_BLOCKING_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS, Pool};
use crate::context;
use crate::sched::deadlock::{self, Deadlock, Detector};
use crate::sched::long_poll::{self, DEFAULT_LONG_POLL_THRESHOLD, LongPoll, LongPolls};
use crate::sched::metrics::{PCounters, RuntimeMetrics};
use crate::sched::park::Parker;
use crate::sched::pstate::PState;
use crate::sched::sysmon::{self, Sysmon};
use crate::sched::worker::{self, Core, CoreCell};
use crate::sched::{Proc, Shared, block_on, table};
use crate::task::{JoinHandle, TaskInfo};
use crate::time::heap::TimerHeap;

/// The environment variable that sets the number of Ps (when
/// [`Builder::procs`] is not called): a whole number from 1 to [`MAX_PROCS`].
///
/// ```
/// assert_eq!(spool_executor::PROCS_ENV, "SPOOL_PROCS");
/// ```
pub const PROCS_ENV: &str = "SPOOL_PROCS";

/// The most Ps a runtime may have (Go's GOMAXPROCS cap is 2^31; spool keeps
/// per-P structures in arrays and one M per P, so it bounds them sensibly).
///
/// ```
/// assert!(spool_executor::Builder::new().procs(spool_executor::MAX_PROCS + 1).build().is_err());
/// ```
pub const MAX_PROCS: usize = 1024;

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Builder::new()
///     .procs(2)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    procs: Option<usize>,
    thread_name: Option<String>,
    long_poll_threshold: Option<Duration>,
    on_long_poll: Option<OnLongPoll>,
    max_blocking_threads: Option<usize>,
    blocking_keep_alive: Option<Duration>,
    detect_deadlock: bool,
    on_deadlock: Option<OnDeadlock>,
}

/// The user's deadlock callback, in a [`Builder`].
#[derive(Clone)]
struct OnDeadlock(deadlock::Callback);

impl fmt::Debug for OnDeadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnDeadlock(..)")
    }
}

/// The user's long-poll callback, in a [`Builder`].
#[derive(Clone)]
struct OnLongPoll(long_poll::Callback);

impl fmt::Debug for OnLongPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnLongPoll(..)")
    }
}

impl Builder {
    /// A builder with the defaults: `SPOOL_PROCS` or one P per core,
    /// threads named `spool-m-N`.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().build().unwrap();
    /// assert!(rt.handle().procs() >= 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Sets the number of Ps (and M threads). Takes precedence over
    /// `SPOOL_PROCS`; must be between 1 and [`MAX_PROCS`] (checked by `build`).
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().procs(3).build().unwrap();
    /// assert_eq!(rt.handle().procs(), 3);
    /// ```
    pub fn procs(&mut self, n: usize) -> &mut Builder {
        self.procs = Some(n);
        self
    }

    /// Names the M threads `{name}-{index}`.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().thread_name("w").procs(1).build().unwrap();
    /// let name = rt.block_on(async {
    ///     spool_executor::spawn(async { std::thread::current().name().map(String::from) }).await
    /// });
    /// assert_eq!(name.unwrap().as_deref(), Some("w-0"));
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = Some(name.into());
        self
    }

    /// How long one poll of a task may run before sysmon reports it as a
    /// long poll (default [`DEFAULT_LONG_POLL_THRESHOLD`], 10 ms: Go's
    /// preemption point). A report is a `spool.long_poll` log in the trace,
    /// [`RuntimeMetrics::long_polls`](crate::RuntimeMetrics::long_polls),
    /// the flight recorder's `long-poll` trigger and the
    /// [`on_long_poll`](Self::on_long_poll) callback; while the poll lasts,
    /// the tasks queued behind it on its P are moved to other Ps. Must not
    /// be zero (checked by `build`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = spool_executor::Builder::new()
    ///     .long_poll_threshold(Duration::from_millis(50))
    ///     .build()
    ///     .unwrap();
    /// assert!(spool_executor::Builder::new().long_poll_threshold(Duration::ZERO).build().is_err());
    /// ```
    pub fn long_poll_threshold(&mut self, d: Duration) -> &mut Builder {
        self.long_poll_threshold = Some(d);
        self
    }

    /// Calls `f` on sysmon's thread for every long poll it reports (see
    /// [`long_poll_threshold`](Self::long_poll_threshold) and [`LongPoll`]).
    /// `f` should return quickly: sysmon waits for it. A panic in `f` is
    /// caught and reported on stderr.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new()
    ///     .on_long_poll(|lp| eprintln!("{lp}"))
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn on_long_poll(&mut self, f: impl Fn(&LongPoll) + Send + Sync + 'static) -> &mut Builder {
        self.on_long_poll = Some(OnLongPoll(Arc::new(f)));
        self
    }

    /// Turns on deadlock detection (Go's "all goroutines are asleep -
    /// deadlock!"), off by default. When the runtime goes to sleep — every
    /// M parked, nothing runnable, no timer pending, no socket registered,
    /// no blocking call or `spawn_blocking` closure running — while live
    /// tasks exist and every one of them (`block_on`'s main task included)
    /// is blocked on a spool primitive (channel, `select!`, lock,
    /// semaphore, `Notify`, `WaitGroup`, `Barrier`, `JoinHandle`), the
    /// runtime reports `all tasks are asleep - possible deadlock!` with each
    /// task, its spawn site and what it waits on ([`Deadlock`]): to the
    /// [`on_deadlock`](Self::on_deadlock) callback (default: stderr), as a
    /// `spool.deadlock` log in the trace, and to the flight recorder's
    /// `deadlock` trigger. Once per episode: it is reported again only
    /// after some task ran.
    ///
    /// A report, not a panic: a thread outside the runtime may still hold
    /// a `Sender` or a lock and wake a task, and the runtime keeps running.
    /// A task awaiting a future spool does not know (one that set no block
    /// reason) is never counted as deadlocked, nor is one that sleeps or
    /// waits for a socket.
    ///
    /// Cost: none on a runtime without it (the Ms run a copy of their loop
    /// with no detection code). With it, a task's `Pending` poll writes
    /// what it waits on into the state word in the CAS it does anyway, and
    /// the check runs only when the last M parks or a `block_on` thread
    /// blocks while every M is parked.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use spool_executor::{Builder, sync::chan};
    /// let reports = Arc::new(Mutex::new(Vec::new()));
    /// let r = reports.clone();
    /// let rt = Builder::new()
    ///     .detect_deadlock(true)
    ///     .on_deadlock(move |d| r.lock().unwrap().push(d.tasks.len()))
    ///     .build()
    ///     .unwrap();
    /// let (tx, rx) = chan::<()>(0);
    /// // The only task sends on a channel nobody receives from: reported.
    /// let h = rt.spawn(async move { tx.send(()).await });
    /// // (Waiting in a task with `sleep` would keep a timer pending, and a
    /// // runtime with a pending timer is not asleep.)
    /// while reports.lock().unwrap().is_empty() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(reports.lock().unwrap()[0], 1);
    /// drop(rx); // closes the channel: the send fails and the task ends
    /// assert!(rt.block_on(h).unwrap().is_err());
    /// ```
    pub fn detect_deadlock(&mut self, on: bool) -> &mut Builder {
        self.detect_deadlock = on;
        self
    }

    /// Calls `f` with each possible-deadlock report instead of printing it
    /// to stderr (see [`detect_deadlock`](Self::detect_deadlock), which
    /// must be on for any report). It runs on the runtime thread that found
    /// the deadlock (an M about to park, or a `block_on` thread); a panic
    /// in it is caught and reported on stderr.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new()
    ///     .detect_deadlock(true)
    ///     .on_deadlock(|d| eprintln!("{d}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_deadlock(&mut self, f: impl Fn(&Deadlock) + Send + Sync + 'static) -> &mut Builder {
        self.on_deadlock = Some(OnDeadlock(Arc::new(f)));
        self
    }

    /// The most threads the blocking pool (`spawn_blocking`) may have at
    /// once (default [`DEFAULT_MAX_BLOCKING_THREADS`], 512); closures
    /// beyond them wait in a queue. At least 1 (checked by `build`).
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().max_blocking_threads(8).build().unwrap();
    /// let v = rt.block_on(rt.handle().spawn_blocking(|| 3));
    /// assert_eq!(v.unwrap(), 3);
    /// assert!(spool_executor::Builder::new().max_blocking_threads(0).build().is_err());
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = Some(n);
        self
    }

    /// How long an idle blocking-pool thread waits for work before it
    /// exits (default [`DEFAULT_BLOCKING_KEEP_ALIVE`], 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = spool_executor::Builder::new()
    ///     .blocking_keep_alive(Duration::from_millis(50))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.handle().spawn_blocking(|| ())).unwrap();
    /// while rt.handle().metrics().blocking_threads > 0 {
    ///     std::thread::sleep(Duration::from_millis(5)); // exits after 50 ms idle
    /// }
    /// ```
    pub fn blocking_keep_alive(&mut self, d: Duration) -> &mut Builder {
        self.blocking_keep_alive = Some(d);
        self
    }

    /// Builds the runtime and starts its M threads.
    ///
    /// # Errors
    ///
    /// - `SPOOL_PROCS` is set but is not a number from 1 to [`MAX_PROCS`]
    ///   (checked even when [`procs`](Self::procs) is given, so a typo is
    ///   never silently ignored); the message names the variable and value.
    /// - `procs(n)` was given an `n` outside `1..=MAX_PROCS`.
    /// - `long_poll_threshold` or `max_blocking_threads` was given zero.
    /// - Too many runtimes are alive at once, or a thread could not be spawned.
    /// - The OS refused the netpoller (epoll instance or eventfd: the
    ///   process is out of file descriptors).
    ///
    /// ```
    /// let err = spool_executor::Builder::new().procs(0).build().unwrap_err();
    /// assert!(err.to_string().contains("procs"));
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let from_env = procs_from_env()?;
        let procs = match self.procs {
            Some(n) if (1..=MAX_PROCS).contains(&n) => n,
            Some(n) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "spool: Builder::procs({n}) is invalid: the number of Ps must be between 1 and {MAX_PROCS}"
                    ),
                ));
            }
            None => from_env.unwrap_or_else(|| {
                thread::available_parallelism().map_or(1, |n| n.get().min(MAX_PROCS))
            }),
        };
        let long_poll_threshold = self
            .long_poll_threshold
            .unwrap_or(DEFAULT_LONG_POLL_THRESHOLD);
        if long_poll_threshold.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "spool: Builder::long_poll_threshold(0) is invalid: the threshold must be longer than zero",
            ));
        }
        let max_blocking = self
            .max_blocking_threads
            .unwrap_or(DEFAULT_MAX_BLOCKING_THREADS);
        if max_blocking == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "spool: Builder::max_blocking_threads(0) is invalid: the blocking pool needs at least one thread",
            ));
        }
        let keep_alive = self
            .blocking_keep_alive
            .unwrap_or(DEFAULT_BLOCKING_KEEP_ALIVE);
        // The netpoller first: nothing to undo if the OS refuses it.
        let driver = crate::netpoll::driver::Driver::new()?;
        let index = table::reserve().ok_or_else(|| {
            io::Error::other(format!(
                "spool: too many runtimes alive at once (at most {})",
                crate::task::MAX_RUNTIMES
            ))
        })?;
        // Process-wide trace P ids (`sched/trace_ids.rs`); returned when
        // `Shared` is dropped.
        let first_id = crate::sched::trace_ids::reserve_procs(procs as u32);
        let procs_shared: Box<[Proc]> = (0..procs)
            .map(|i| {
                let w = Worker::new_fifo();
                Proc {
                    id: first_id + i as u32,
                    stealer: w.stealer(),
                    trace: ProcTraceState::new(),
                    parker: Parker::new(),
                    timers: TimerHeap::new(),
                    status: PState::new(),
                    core: CoreCell::new(Core::new(i, w)),
                    counters: Default::default(),
                }
            })
            .collect();
        let name = self
            .thread_name
            .clone()
            .unwrap_or_else(|| "spool-m".to_string());
        let shared = Arc::new(Shared::new(
            index,
            procs_shared,
            driver,
            name.clone(),
            Sysmon::new(LongPolls::new(
                long_poll_threshold,
                self.on_long_poll.as_ref().map(|c| Arc::clone(&c.0)),
            )),
            Pool::new(max_blocking, keep_alive),
            self.detect_deadlock
                .then(|| Detector::new(self.on_deadlock.as_ref().map(|c| Arc::clone(&c.0)))),
        ));
        table::publish(index, &shared);
        hooks::procs_change(crate::sched::trace_ids::live_procs());
        let mut threads = Vec::with_capacity(procs);
        let handle = Handle { shared };
        let mut rt = Runtime {
            handle,
            threads: Vec::new(),
            sysmon: None,
        };
        let started = (0..procs)
            .map(|i| {
                let sh = Arc::clone(&rt.handle.shared);
                thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || worker::run(sh, i))
                    .map_err(|e| (format!("M thread {i}"), e))
            })
            .try_for_each(|t| t.map(|t| threads.push(t)))
            .and_then(|()| {
                let sh = Arc::clone(&rt.handle.shared);
                thread::Builder::new()
                    .name(format!("{name}-sysmon"))
                    .spawn(move || sysmon::run(sh))
                    .map_err(|e| ("the sysmon thread".to_string(), e))
            });
        rt.threads = threads;
        match started {
            Ok(t) => rt.sysmon = Some(t),
            Err((what, e)) => {
                // The Ms not started will never leave the STW count; no
                // STW can run on this runtime, which we tear down now.
                rt.shutdown(None);
                return Err(io::Error::new(
                    e.kind(),
                    format!("spool: cannot start {what}: {e}"),
                ));
            }
        }
        crate::trace_ctl::on_build(&rt.handle);
        // Dropping `rt` on an error shuts the runtime down again.
        crate::flight::on_build(&rt.handle)?;
        Ok(rt)
    }
}

/// Reads `SPOOL_PROCS`: `Ok(None)` when unset.
fn procs_from_env() -> io::Result<Option<usize>> {
    let Some(raw) = env::var_os(PROCS_ENV) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "spool: invalid {PROCS_ENV}={raw:?}: {why} (expected a whole number from 1 to {MAX_PROCS})"
            ),
        )
    };
    let s = raw.to_str().ok_or_else(|| bad("not valid UTF-8"))?;
    let n: usize = s.trim().parse().map_err(|e| bad(&format!("{e}")))?;
    if !(1..=MAX_PROCS).contains(&n) {
        return Err(bad("out of range"));
    }
    Ok(Some(n))
}

/// A spool runtime: `procs` M threads running spawned tasks over Ps.
///
/// Dropping it shuts it down: the Ms stop at their next scheduling point,
/// every unfinished task's future is dropped (destructors run) and the
/// threads are joined.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = spool_executor::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let handles: Vec<_> = (0..10u64).map(|i| spool_executor::spawn(async move {
///         spool_executor::time::sleep(Duration::from_millis(1)).await;
///         i
///     })).collect();
///     let mut sum = 0;
///     for h in handles { sum += h.await.unwrap(); }
///     sum
/// });
/// assert_eq!(total, 45);
/// ```
pub struct Runtime {
    handle: Handle,
    /// The first `procs` Ms (later ones are in `Shared`'s replacement list).
    threads: Vec<thread::JoinHandle<()>>,
    sysmon: Option<thread::JoinHandle<()>>,
}

impl Runtime {
    /// A runtime with the default configuration ([`Builder::new`]).
    ///
    /// # Errors
    /// As [`Builder::build`] (an invalid `SPOOL_PROCS`, for example).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(async { "hi" }), "hi");
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the calling thread, with spawns and
    /// timers inside it served by this runtime. The future need not be
    /// `Send`. For the tracer, the calling thread is a pseudo-P running a
    /// "main" task of its own.
    ///
    /// # Panics
    /// If called from inside a spool task or another `block_on` (it would
    /// block a thread the scheduler needs: `.await` instead). A panic of the
    /// future itself propagates to the caller.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let rc = std::rc::Rc::new(5); // not Send: fine for block_on
    /// assert_eq!(rt.block_on(async { *rc }), 5);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Runs `future` as the program's main task, Go's way: an ordinary task
    /// on a P (spawned from here, so its spawn site is the caller), while
    /// the calling thread only waits for its output. A main that spawns
    /// tasks and awaits them then wakes and is woken on the Ms like any
    /// other task (the `runnext` hand-off), instead of paying a cross-thread
    /// wake per await as [`block_on`](Self::block_on)'s pseudo-P does.
    /// The future must be `Send + 'static`; use `block_on` for one that is
    /// not. `#[spool::main]` expands to this.
    ///
    /// # Panics
    /// A panic of the main task propagates to the caller (its payload, as
    /// with `block_on`). Panics if called from inside a spool task or
    /// `block_on`, as `block_on` does.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let v = rt.run(async {
    ///     let a = spool_executor::spawn(async { 20 });
    ///     let b = spool_executor::spawn(async { 22 });
    ///     a.await.unwrap() + b.await.unwrap()
    /// });
    /// assert_eq!(v, 42);
    /// ```
    #[track_caller]
    pub fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.run(future)
    }

    /// Spawns a task from any thread (see [`Handle::spawn`]).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(async { 3 });
    /// assert_eq!(rt.block_on(h).unwrap(), 3);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// A handle to this runtime.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.handle().clone();
    /// std::thread::spawn(move || h.spawn(async {})).join().unwrap();
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Shuts down, waiting at most `timeout` for the M threads to stop.
    /// Threads still busy in a long poll after that are detached (they exit
    /// after that poll); every task not running is cancelled either way.
    /// Dropping or shutting down a runtime from inside one of its own tasks
    /// works the same way: that task's M is not waited for.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_timeout(Duration::from_secs(1));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        let shared = &self.handle.shared;
        shared.begin_shutdown();
        let deadline = timeout.map(|t| Instant::now() + t);
        let me = thread::current().id();
        // The original Ms, then any replacements of Ms that died (a
        // replacement dying during this adds another: loop until none).
        let mut threads: Vec<_> = self.threads.drain(..).collect();
        threads.extend(self.sysmon.take());
        while !threads.is_empty() {
            join_ms(threads, me, deadline);
            threads = shared.take_replacements();
        }
        // Running blocking closures, within what is left of the timeout.
        shared.blocking.shutdown(deadline);
        shared.drain();
        crate::trace_ctl::on_shutdown(&self.handle);
        crate::flight::on_shutdown(&self.handle);
    }
}

/// Joins M threads until `deadline` (see `Runtime::shutdown_timeout`),
/// skipping the calling thread itself.
fn join_ms(threads: Vec<thread::JoinHandle<()>>, me: thread::ThreadId, deadline: Option<Instant>) {
    for t in threads {
        if t.thread().id() == me {
            // Dropped inside one of its own tasks: this M cannot join
            // itself; it exits once the current poll returns.
            continue;
        }
        match deadline {
            None => {
                let _ = t.join();
            }
            Some(d) => {
                while !t.is_finished() && Instant::now() < d {
                    thread::sleep(Duration::from_millis(1));
                }
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() || self.sysmon.is_some() || !self.handle.shared.is_shutdown() {
            self.shutdown(None);
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("procs", &self.handle.procs())
            .finish()
    }
}

/// A cheap, cloneable reference to a runtime: spawn onto it from anywhere.
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = spool_executor::Handle::current();
///     let h = handle.spawn(async { 9 });
///     assert_eq!(h.await.unwrap(), 9);
/// });
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    /// The runtime of the current task or `block_on` call.
    ///
    /// # Panics
    /// If called outside a spool runtime; see [`try_current`](Self::try_current).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let procs = rt.block_on(async { spool_executor::Handle::current().procs() });
    /// assert_eq!(procs, rt.handle().procs());
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().expect(
            "spool: `Handle::current()` called outside a spool runtime (not in a task or `block_on`)",
        )
    }

    /// The runtime of the current task or `block_on` call, if any.
    ///
    /// ```
    /// assert!(spool_executor::Handle::try_current().is_none());
    /// ```
    pub fn try_current() -> Option<Handle> {
        let p = context::current_shared();
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null context pointer is an `Arc<Shared>` kept alive
        // by the worker or block_on that set it; we take a new count.
        unsafe {
            Arc::increment_strong_count(p);
            Some(Handle {
                shared: Arc::from_raw(p),
            })
        }
    }

    /// Spawns `future` as a new task, from any thread (including threads
    /// the runtime does not own). The spawn location (`file:line`) and the
    /// future's type name are recorded for the tracer. If the runtime has
    /// shut down, the task is cancelled at once.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let jh = std::thread::spawn(move || handle.spawn(async { 2 })).join().unwrap();
    /// assert_eq!(rt.block_on(jh).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, Location::caller())
    }

    /// Runs the blocking closure `f` on this runtime's blocking pool, from
    /// any thread; see [`spawn_blocking`](crate::spawn_blocking).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.handle().spawn_blocking(|| std::fs::metadata(".").is_ok());
    /// assert!(rt.block_on(h).unwrap());
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.spawn_blocking(f, Location::caller())
    }

    /// Runs `future` as a main task on a P and waits for it; see [`Runtime::run`].
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.handle().clone();
    /// assert_eq!(std::thread::spawn(move || h.run(async { 5 })).join().unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        assert!(
            !context::is_polling(),
            "spool: `run` was called from inside a spool task or `block_on`; this would block a \
             thread the scheduler needs. `.await` the future instead"
        );
        let main = self.shared.spawn(future, Location::caller());
        match wait(main) {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("spool: the main task was cancelled ({e}): the runtime shut down"),
        }
    }

    /// Runs `future` to completion on the calling thread; see [`Runtime::block_on`].
    ///
    /// # Panics
    /// As [`Runtime::block_on`], and if the runtime has already shut down.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.handle().clone();
    /// assert_eq!(std::thread::spawn(move || h.block_on(async { 4 })).join().unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on::block_on(&self.shared, future, Location::caller())
    }

    /// Stops the world: every P (and every thread in `block_on`) parks at a
    /// safe point between polls, then `f` runs, then everything resumes.
    /// Returns `f`'s value. `reason` is recorded in traces (`STWBegin`).
    /// Callable from a task (its own P counts as stopped), from `block_on`
    /// or from any other thread. A long poll delays the stop until it returns.
    ///
    /// # Panics
    /// If called inside another `stop_the_world` closure. A panic in `f` is
    /// propagated after the world has resumed.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let live = rt.handle().stop_the_world("snapshot", || rt.handle().alive_tasks());
    /// assert_eq!(live, 0);
    /// ```
    pub fn stop_the_world<R>(&self, reason: &'static str, f: impl FnOnce() -> R) -> R {
        self.shared.stop_the_world(reason, f)
    }

    /// A reference that does not keep the runtime alive.
    ///
    /// Every task (finished or not) holds the runtime's shared state until
    /// its last reference is gone, so `upgrade()` returning `None` after the
    /// `Runtime` and all handles are dropped shows that no task leaked.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let weak = rt.handle().downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(rt);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakHandle {
        WeakHandle {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// The number of Ps.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().procs(2).build().unwrap();
    /// assert_eq!(rt.handle().procs(), 2);
    /// ```
    pub fn procs(&self) -> usize {
        self.shared.procs.len()
    }

    /// The number of spawned tasks that have not finished yet.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(std::future::pending::<()>());
    /// assert_eq!(rt.handle().alive_tasks(), 1);
    /// h.abort();
    /// let _ = rt.block_on(h);
    /// assert_eq!(rt.handle().alive_tasks(), 0);
    /// ```
    pub fn alive_tasks(&self) -> usize {
        self.shared.registry.len()
    }

    /// How many panics of wakers the runtime has caught. A future may hand
    /// a `Sleep` or a `JoinHandle` any waker; when the runtime later calls
    /// it (a timer fires, a task completes) and it panics, the panic is
    /// caught so the M goes on, the first one at each place is reported on
    /// stderr (and each one in the trace, as a `spool.panic` log), and all
    /// are counted here.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::sync::Arc;
    /// use std::task::{Context, Wake, Waker};
    /// use std::time::Duration;
    ///
    /// struct Bad;
    /// impl Wake for Bad {
    ///     fn wake(self: Arc<Self>) { panic!("a bad waker") }
    /// }
    ///
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// assert_eq!(rt.handle().waker_panics(), 0);
    /// rt.block_on(async {
    ///     let mut s = Box::pin(spool_executor::time::sleep(Duration::from_millis(1)));
    ///     let bad = Waker::from(Arc::new(Bad));
    ///     assert!(s.as_mut().poll(&mut Context::from_waker(&bad)).is_pending());
    ///     spool_executor::time::sleep(Duration::from_millis(20)).await;
    /// });
    /// while rt.handle().waker_panics() == 0 { std::thread::yield_now(); }
    /// assert_eq!(rt.handle().waker_panics(), 1);
    /// ```
    pub fn waker_panics(&self) -> u64 {
        self.shared.panics.waker_panics()
    }

    /// The scheduler's counters of blocking calls and sysmon (plain
    /// counters since the runtime started; `Handle::metrics` builds on them).
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().procs(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     spool_executor::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(50)))
    /// }))
    /// .unwrap();
    /// let s = rt.handle().sched_stats();
    /// assert_eq!(s.sysmon_wakes, 0); // the lost-wake safety net never fires
    /// assert!(s.retakes >= 1); // sysmon took the P of the 50 ms call
    /// ```
    pub fn sched_stats(&self) -> SchedStats {
        let sh = &self.shared;
        let r = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        SchedStats {
            sysmon_rounds: r(&sh.sysmon.rounds),
            retakes: r(&sh.sysmon.retakes),
            sysmon_wakes: r(&sh.sysmon.lost_wakes),
            ms_started: r(&sh.handoff.ms_started),
            p_waits: r(&sh.handoff.waits),
            long_poll_rescues: r(&sh.sysmon.long_polls.rescued),
            deadlock_reports: sh.deadlock.as_ref().map_or(0, |d| r(&d.reports)),
        }
    }

    /// The netpoller's counters: live socket registrations and writes to
    /// its waker so far (the waker is written only to wake an M blocked in
    /// the poll, so workloads without sockets leave it at zero).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async { spool_executor::yield_now().await });
    /// let s = rt.handle().net_stats();
    /// assert_eq!((s.registrations, s.waker_writes), (0, 0));
    /// ```
    #[doc(hidden)]
    pub fn net_stats(&self) -> NetStats {
        NetStats {
            registrations: self.shared.driver.registrations(),
            waker_writes: self.shared.driver.waker_writes(),
        }
    }

    /// The runtime's metrics now: task counts, per-P scheduler counters
    /// summed, queue depths, caught panics, trace output (see
    /// [`RuntimeMetrics`] for each field and its tokio / Go name).
    ///
    /// Cheap to keep: the counters are per P, bumped by the P's own M
    /// without a locked instruction, and summed here.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().procs(2).build().unwrap();
    /// let hs: Vec<_> = (0..10).map(|_| rt.spawn(async {})).collect();
    /// rt.block_on(async { for h in hs { h.await.unwrap(); } });
    /// let m = rt.handle().metrics();
    /// assert_eq!((m.spawned_tasks, m.live_tasks), (10, 0));
    /// assert!(m.polls >= 10);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        let sh = &self.shared;
        let (live_tasks, spawned_tasks) = sh.registry.counts();
        let sum = |f: fn(&PCounters) -> &std::sync::atomic::AtomicU64| {
            sh.procs
                .iter()
                .map(|p| PCounters::get(f(&p.counters)))
                .sum()
        };
        let lost = spool_tracer::control::lost();
        RuntimeMetrics {
            procs: sh.procs.len(),
            live_tasks,
            spawned_tasks,
            polls: sum(|c| &c.polls),
            steals: sum(|c| &c.steals),
            parks: sum(|c| &c.parks),
            unparks: sum(|c| &c.unparks),
            injector_depth: sh.injector.len(),
            queue_depths: sh.procs.iter().map(|p| p.stealer.len()).collect(),
            blocking_threads: sh.blocking.threads(),
            long_polls: sh
                .sysmon
                .long_polls
                .reported
                .load(std::sync::atomic::Ordering::Relaxed),
            waker_panics: sh.panics.waker_panics(),
            trace_bytes_written: spool_tracer::control::bytes_written(),
            trace_events_lost: lost.no_task
                + lost.no_proc
                + lost.reentrant
                + lost.untraced
                + lost.gc_misuse
                + lost.no_memory,
        }
    }

    /// Calls `f` for every live task: spawned unfinished tasks, then the
    /// main task of every thread in `block_on`. For the tracer's snapshot at
    /// trace start; call it under [`stop_the_world`](Self::stop_the_world)
    /// for a consistent view. `f` must not spawn tasks.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let _h = rt.spawn(std::future::pending::<()>());
    /// let mut n = 0;
    /// rt.handle().for_each_task(|_| n += 1);
    /// assert_eq!(n, 1);
    /// ```
    #[doc(hidden)]
    pub fn for_each_task(&self, mut f: impl FnMut(TaskInfo<'_>)) {
        self.shared.registry.for_each(|h| f(h.info()));
        let b = crate::loom::lock_std(&self.shared.block_ons);
        for slot in b.active.iter() {
            f(slot.info());
        }
    }

    /// Calls `f(id, state, is_pseudo)` for every P and every `block_on`
    /// pseudo-P. For the tracer's snapshot at trace start (under STW). Ids
    /// are the trace's P ids: unique across every runtime in the process, a
    /// runtime's Ps consecutive.
    ///
    /// ```
    /// let rt = spool_executor::Builder::new().procs(2).build().unwrap();
    /// let mut ids = Vec::new();
    /// rt.handle().for_each_proc(|id, _, _| ids.push(id));
    /// assert_eq!(ids.len(), 2);
    /// assert_eq!(ids[1], ids[0] + 1);
    /// ```
    #[doc(hidden)]
    pub fn for_each_proc(&self, mut f: impl FnMut(u32, &ProcTraceState, bool)) {
        for p in self.shared.procs.iter() {
            f(p.id, &p.trace, false);
        }
        let b = crate::loom::lock_std(&self.shared.block_ons);
        for slot in b.active.iter() {
            f(slot.pseudo_p, &slot.proc_trace, true);
        }
    }
}

/// Parks the calling thread (no M, no pseudo-P) until `h` is done: the
/// waiting half of [`Handle::run`].
fn wait<T>(mut h: JoinHandle<T>) -> Result<T, crate::JoinError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark {
        thread: thread::Thread,
        woken: AtomicBool,
    }
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            // Release: pairs with the waiter's swap.
            self.woken.store(true, Ordering::Release);
            self.thread.unpark();
        }
    }
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = std::pin::Pin::new(&mut h).poll(&mut cx) {
            return out;
        }
        // `park` may return spuriously: wait for a wake.
        while !unpark.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

/// Counters of blocking calls and sysmon ([`Handle::sched_stats`]).
///
/// ```
/// let s = spool_executor::Runtime::new().unwrap().handle().sched_stats();
/// assert_eq!(s.retakes, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SchedStats {
    /// Rounds sysmon has run.
    pub sysmon_rounds: u64,
    /// Ps sysmon took from Ms blocked in `block_in_place` (`ProcSteal`s).
    pub retakes: u64,
    /// Times sysmon woke an M for injector work nobody looked for (a lost
    /// wake-up the scheduler's protocols should make impossible: 0).
    pub sysmon_wakes: u64,
    /// M threads started beyond the first `procs`, for retaken Ps.
    pub ms_started: u64,
    /// Times an M back from a blocking call had to wait for a P.
    pub p_waits: u64,
    /// Tasks sysmon moved off the Ps of long polls to other Ps.
    pub long_poll_rescues: u64,
    /// Possible deadlocks reported (`Builder::detect_deadlock`).
    pub deadlock_reports: u64,
}

/// Counters of a runtime's netpoller ([`Handle::net_stats`]).
///
/// ```
/// let s = spool_executor::Runtime::new().unwrap().handle().net_stats();
/// assert_eq!(s.registrations, 0);
/// ```
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetStats {
    /// Sockets registered now.
    pub registrations: usize,
    /// Writes to the poller's waker (eventfd) since the runtime started.
    pub waker_writes: u64,
}

/// A [`Handle`] that does not keep the runtime alive; see [`Handle::downgrade`].
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let weak = rt.handle().downgrade();
/// let h = weak.upgrade().unwrap();
/// assert_eq!(h.procs(), rt.handle().procs());
/// ```
#[derive(Clone, Debug)]
pub struct WeakHandle {
    shared: std::sync::Weak<Shared>,
}

impl WeakHandle {
    /// The runtime, if its shared state still exists.
    ///
    /// ```
    /// let weak = spool_executor::Runtime::new().unwrap().handle().downgrade();
    /// assert!(weak.upgrade().is_none()); // the runtime was dropped at once
    /// ```
    pub fn upgrade(&self) -> Option<Handle> {
        self.shared.upgrade().map(|shared| Handle { shared })
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("procs", &self.procs())
            .finish()
    }
}

/// Spawns `future` onto the current runtime (from inside a task or
/// `block_on`), returning a [`JoinHandle`]. Records the call site and the
/// future's type name as the task's start location for the tracer.
///
/// # Panics
/// If called outside a spool runtime; use [`Handle::spawn`] there.
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let a = spool_executor::spawn(async { 20 });
///     let b = spool_executor::spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let p = context::current_shared();
    assert!(
        !p.is_null(),
        "spool: `spawn` called outside a spool runtime; use `Runtime::spawn` or `Handle::spawn` there"
    );
    // SAFETY: non-null: the worker or block_on that set it keeps the
    // runtime alive. We borrow the Arc without taking a count.
    let shared = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) });
    shared.spawn(future, Location::caller())
}
