//! User annotations: tasks, regions, logs, labels and GC-like phases — the
//! `spool::trace` counterpart of Go's `runtime/trace` API.
//!
//! Everything here is a cheap no-op while tracing is off: each call makes one
//! relaxed load ([`hooks::enabled`]) before any formatting, allocation or
//! lookup (task ids are still handed out, one relaxed `fetch_add`, so a
//! [`UserTask`] made while tracing is off keeps a valid id if tracing starts).
//!
//! # Rules (what gets written, and what is dropped)
//!
//! Go's format ties user events to the goroutine that emits them, so every
//! event here is attributed to the spool task (G) running on the calling
//! thread:
//! - Called from a thread that is not polling a spool task (e.g. `main`
//!   outside `block_on`), task/log/label events are dropped and counted by
//!   the hooks, and regions are dropped and counted here
//!   ([`dropped_region_events`]); the format forbids them there.
//! - A region's end is written only if that region is the innermost open
//!   region of the running task (Go's parser rejects the whole file with
//!   "misuse of region" otherwise). An end on a different task than the
//!   begin, or out of order (guards dropped out of order, `join!` of two
//!   region futures), is dropped and counted; the region then stays open on
//!   its task, and so do the regions around it (their ends would be out of
//!   order too). Use separate spawned tasks for concurrent regions.
//! - Names, categories, messages and labels longer than Go's 1024-byte string
//!   limit are clipped to at most 1024 bytes at a `char` boundary ([`clip`]).
//!   Content is passed through byte for byte otherwise (control characters,
//!   `U+FFFD`, NULs included); Rust strings are always valid UTF-8.
//! - Empty labels are ignored (Go's trace validator rejects them).
//! - User task ids come from one global counter starting at 1: unique per process,
//!   never 0 (0 is Go's "background task").
//!
//! # Which user task a region or log belongs to
//!
//! [`UserTask::region`]/[`UserTask::log`] name it explicitly. The free functions
//! [`region`], [`region_async`], [`region_guard`] and [`log`] use the
//! *current* task: the one made current by [`UserTask::in_scope`] (a closure) or
//! [`UserTask::instrument`] (a future, current during each of its polls), or,
//! with the `tracing` layer, the task of the innermost entered span; else 0,
//! Go's background task.
//!
//! # Regions across `.await`
//!
//! A [`RegionGuard`] or [`InRegion`] future that stays alive across an
//! `.await` keeps its region open while the task is suspended: the region
//! covers the waiting time (what you want for "db query"). The task may be
//! resumed on another thread; the region stays on the task, because regions
//! are attributed to the running task, not to the thread. If the guard is
//! moved into another task and dropped there, its end is dropped and counted
//! (see Rules).

pub(crate) mod gc;
pub(crate) mod regions;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::hooks::{self, enabled};
use regions::{EndOutcome, Entry};

pub use crate::vocab::{MAX_STRING_LEN, clip};

/// The id the next user task gets; starts at 1 so no id is 0.
static NEXT_TASK_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh user-task id: unique in the process, never 0. Shared with the
/// `tracing` layer so API tasks and span tasks never collide.
pub(crate) fn next_task_id() -> NonZeroU64 {
    // Relaxed: only uniqueness matters, which the RMW gives on its own.
    let id = NEXT_TASK_ID.fetch_add(1, Ordering::Relaxed);
    // 2^64 tasks at one per nanosecond is 584 years; wrap-around to 0 would
    // need that, so this never fails in practice — but never hand out 0.
    NonZeroU64::new(id).unwrap_or(NonZeroU64::MIN)
}

/// Keys of API region begins (see `regions::Entry`); counter from 1.
static NEXT_REGION_KEY: AtomicU64 = AtomicU64::new(1);

/// Region ends dropped (wrong task, out of order) and region begins dropped
/// (no running task) since the process started.
static DROPPED_REGION_EVENTS: AtomicU64 = AtomicU64::new(0);

/// How many region begins and ends were dropped because writing them would
/// make an invalid trace: a begin outside any spool task, an end on a
/// different task than its begin or outside any task, or an end that is not
/// the innermost open region of its task. Counts the `tracing` layer's
/// regions too.
pub fn dropped_region_events() -> u64 {
    DROPPED_REGION_EVENTS.load(Ordering::Relaxed)
}

pub(crate) fn count_dropped_region_event() {
    DROPPED_REGION_EVENTS.fetch_add(1, Ordering::Relaxed);
}

/// The spool task (G) running on this thread as the current trace knows it,
/// if any (`hooks::running_task`). Only called while tracing is on.
#[inline]
pub(crate) fn running_goroutine() -> Option<u64> {
    hooks::running_task()
}

thread_local! {
    /// The current user task of this thread (0 = background), set by
    /// `UserTask::in_scope` and `UserTask::instrument` for the duration of a closure
    /// or a poll. Const-initialised and `Drop`-free: no allocation, no
    /// destructor registration.
    static CURRENT_TASK: Cell<u64> = const { Cell::new(0) };
}

/// The id of the current user task on this thread (see the module docs), or
/// 0 (Go's background task) if none.
///
/// ```
/// use spool_tracer::annotate::{current_user_task_id, UserTask};
/// let t = UserTask::new("request");
/// assert_eq!(current_user_task_id(), 0);
/// t.in_scope(|| assert_eq!(current_user_task_id(), t.id()));
/// ```
#[inline]
pub fn current_user_task_id() -> u64 {
    CURRENT_TASK.try_with(Cell::get).unwrap_or(0)
}

/// Makes `id` the current task of this thread; returns the previous one.
/// (The `tracing` layer uses it so that the free functions called inside an
/// entered span are attributed to the span's task.)
#[cfg(feature = "tracing")]
pub(crate) fn set_current_task(id: u64) -> u64 {
    CURRENT_TASK.try_with(|c| c.replace(id)).unwrap_or(0)
}

/// Restores the previous current task when dropped (also on unwind).
struct CurrentTaskReset(u64);

impl CurrentTaskReset {
    fn set(id: u64) -> Self {
        Self(CURRENT_TASK.try_with(|c| c.replace(id)).unwrap_or(0))
    }
}

impl Drop for CurrentTaskReset {
    fn drop(&mut self) {
        let _ = CURRENT_TASK.try_with(|c| c.set(self.0));
    }
}

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------

/// A user task: a logical operation (one request, one job) that may span
/// several spool tasks (Go's `trace.Task`). It begins when made (UserTaskBegin)
/// and ends when [`UserTask::end`] is called or it is dropped (UserTaskEnd).
///
/// Both events are attributed to the spool task running on the calling
/// thread; made or ended outside any spool task, that event is dropped (see
/// the module docs).
///
/// ```
/// use spool_tracer::annotate::UserTask;
/// let request = UserTask::new("request");
/// let query = UserTask::new_child(&request, "db query");
/// assert_ne!(request.id(), query.id());
/// request.region("parse", || { /* ... */ });
/// query.end();
/// // `request` ends when dropped.
/// ```
#[derive(Debug)]
#[must_use = "a UserTask ends when dropped"]
pub struct UserTask {
    id: NonZeroU64,
}

impl UserTask {
    /// Begins a top-level user task named `name`.
    pub fn new(name: &str) -> UserTask {
        Self::begin(0, name)
    }

    /// Begins a user task named `name` whose parent is `parent`.
    pub fn new_child(parent: &UserTask, name: &str) -> UserTask {
        Self::begin(parent.id.get(), name)
    }

    fn begin(parent: u64, name: &str) -> UserTask {
        let id = next_task_id();
        if enabled() {
            hooks::user_task_begin(id.get(), parent, clip(name));
        }
        UserTask { id }
    }

    /// This task's id: unique in the process, never 0.
    pub fn id(&self) -> u64 {
        self.id.get()
    }

    /// Ends the task now (the same as dropping it).
    pub fn end(self) {
        drop(self);
    }

    /// Runs `f` with this task as the thread's current task, so the free
    /// functions ([`region`], [`log`], ...) inside `f` are attributed to it.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _reset = CurrentTaskReset::set(self.id.get());
        f()
    }

    /// Wraps `fut` so this task is the current task during each of its polls
    /// (the async counterpart of [`UserTask::in_scope`]).
    ///
    /// ```
    /// use spool_tracer::annotate::{current_user_task_id, UserTask};
    /// let t = UserTask::new("job");
    /// let id = t.id();
    /// let fut = t.instrument(async move { assert_eq!(current_user_task_id(), id) });
    /// # let _ = fut;
    /// ```
    pub fn instrument<F: Future>(&self, fut: F) -> InTask<F> {
        InTask {
            task: self.id.get(),
            fut,
        }
    }

    /// Runs `f` inside a region named `name` of this task.
    pub fn region<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        let _region = RegionGuard::begin(self.id.get(), name);
        f()
    }

    /// Wraps `fut` in a region named `name` of this task (see [`region_async`]).
    pub fn region_async<'a, F: Future>(&self, name: &'a str, fut: F) -> InRegion<'a, F> {
        InRegion::new(self.id.get(), name, fut)
    }

    /// A region named `name` of this task that ends when the guard drops.
    pub fn region_guard<'a>(&self, name: &'a str) -> RegionGuard<'a> {
        RegionGuard::begin(self.id.get(), name)
    }

    /// Logs `message` under `category` in this task (Go's `trace.Log`).
    pub fn log(&self, category: &str, message: &str) {
        if enabled() {
            hooks::user_log(self.id.get(), clip(category), clip(message));
        }
    }
}

impl Drop for UserTask {
    fn drop(&mut self) {
        if enabled() {
            hooks::user_task_end(self.id.get());
        }
    }
}

/// A future that makes a user task current during each poll; see
/// [`UserTask::instrument`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct InTask<F> {
    task: u64,
    fut: F,
}

impl<F: Future> Future for InTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of
        // `self`, `InTask` has no `Drop` impl that could move it, and `InTask`
        // is `Unpin` only when `F` is (auto trait). `task` is plain data.
        let this = unsafe { self.get_unchecked_mut() };
        let _reset = CurrentTaskReset::set(this.task);
        // SAFETY: see above; `this.fut` stays pinned where it is.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        fut.poll(cx)
    }
}

// ---------------------------------------------------------------------------
// Regions
// ---------------------------------------------------------------------------

/// The part of a region that exists only if its begin was written.
#[derive(Debug)]
struct Opened {
    /// The spool task (G) that was running when the region began.
    g: u64,
    entry: Entry,
}

/// An open region; the region ends when the guard drops (UserRegionEnd).
///
/// Holding a guard across `.await` is fine: the region covers the time the
/// task waits, on whatever thread the task resumes (see the module docs).
/// Dropping guards out of order, or on another task, drops the end (counted
/// in [`dropped_region_events`]) instead of writing an invalid trace.
///
/// ```
/// use spool_tracer::annotate::region_guard;
/// let _parse = region_guard("parse");
/// // ... the region ends at the end of scope
/// ```
#[derive(Debug)]
#[must_use = "the region ends when the guard is dropped"]
pub struct RegionGuard<'a> {
    task: u64,
    name: &'a str,
    opened: Option<Opened>,
}

impl<'a> RegionGuard<'a> {
    /// Begins a region of user task `task` (0 = background) named `name`.
    pub fn begin(task: u64, name: &'a str) -> Self {
        let mut guard = RegionGuard {
            task,
            name,
            opened: None,
        };
        if enabled() {
            guard.opened = Self::open(task, name);
        }
        guard
    }

    #[cold]
    fn open(task: u64, name: &str) -> Option<Opened> {
        let Some(g) = running_goroutine() else {
            count_dropped_region_event();
            return None;
        };
        let key = regions::API_KEY_BIT | NEXT_REGION_KEY.fetch_add(1, Ordering::Relaxed);
        let entry = Entry::new(key, task, name);
        regions::begin(g, entry);
        hooks::user_region_begin(task, clip(name));
        Some(Opened { g, entry })
    }

    /// Whether the begin was written (tracing on, inside a spool task).
    pub fn is_recorded(&self) -> bool {
        self.opened.is_some()
    }
}

impl Drop for RegionGuard<'_> {
    fn drop(&mut self) {
        if let Some(opened) = self.opened.take() {
            end_region(opened.g, &opened.entry, self.task, self.name);
        }
    }
}

/// Ends a region whose begin was recorded on G `began_on`: writes the end if
/// that is valid, drops and counts it otherwise; with tracing off, just
/// forgets it.
#[cold]
fn end_region(began_on: u64, entry: &Entry, task: u64, name: &str) {
    if !enabled() {
        regions::forget(began_on, entry);
        return;
    }
    if running_goroutine() != Some(began_on) {
        count_dropped_region_event();
        return;
    }
    match regions::end(began_on, entry) {
        EndOutcome::Matched => hooks::user_region_end(task, clip(name)),
        EndOutcome::OutOfOrder | EndOutcome::NotOpen => count_dropped_region_event(),
    }
}

/// Runs `f` inside a region named `name` of the current task (Go's
/// `trace.WithRegion`).
///
/// ```
/// use spool_tracer::annotate::region;
/// let n = region("parse", || "42".parse::<u32>().unwrap());
/// assert_eq!(n, 42);
/// ```
pub fn region<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let _region = RegionGuard::begin(current_user_task_id(), name);
    f()
}

/// A region named `name` of the current task that ends when the guard drops.
pub fn region_guard(name: &str) -> RegionGuard<'_> {
    RegionGuard::begin(current_user_task_id(), name)
}

/// Wraps `fut` in a region named `name` of the current task (taken now, when
/// the wrapper is made). The region begins at the first poll and ends when
/// `fut` completes or the wrapper is dropped, so it covers the time `fut`
/// waits. Two region futures awaited concurrently in one task (`join!`)
/// overlap without nesting, which Go's format cannot express: the one ending
/// out of order is dropped (see the module docs).
///
/// ```
/// use spool_tracer::annotate::region_async;
/// let fut = region_async("db query", async { 1 + 1 });
/// # let _ = fut;
/// ```
pub fn region_async<F: Future>(name: &str, fut: F) -> InRegion<'_, F> {
    InRegion::new(current_user_task_id(), name, fut)
}

/// A future inside a region; see [`region_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct InRegion<'a, F> {
    fut: F,
    task: u64,
    name: &'a str,
    /// `None` before the first poll and after completion.
    guard: Option<RegionGuard<'a>>,
    done: bool,
}

impl<'a, F: Future> InRegion<'a, F> {
    fn new(task: u64, name: &'a str, fut: F) -> Self {
        InRegion {
            fut,
            task,
            name,
            guard: None,
            done: false,
        }
    }
}

impl<F: Future> Future for InRegion<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned (never moved out, no `Drop` impl
        // on `InRegion`, `Unpin` only if `F` is); the other fields are not
        // pinned and are only assigned, never projected.
        let this = unsafe { self.get_unchecked_mut() };
        if this.guard.is_none() && !this.done {
            this.guard = Some(RegionGuard::begin(this.task, this.name));
        }
        // SAFETY: see above; `this.fut` stays where it is.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let out = fut.poll(cx);
        if out.is_ready() {
            this.done = true;
            this.guard = None;
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Logs and labels
// ---------------------------------------------------------------------------

/// Logs `message` under `category` in the current task (Go's `trace.Log`).
///
/// ```
/// spool_tracer::annotate::log("cache", "miss");
/// ```
#[inline]
pub fn log(category: &str, message: &str) {
    if enabled() {
        hooks::user_log(current_user_task_id(), clip(category), clip(message));
    }
}

/// Like [`log`], but formats the message only when tracing is on.
///
/// ```
/// let key = 42;
/// spool_tracer::annotate::log_fmt("cache", format_args!("miss for key {key}"));
/// ```
#[inline]
pub fn log_fmt(category: &str, message: fmt::Arguments<'_>) {
    if enabled() {
        log_fmt_slow(category, message);
    }
}

#[cold]
fn log_fmt_slow(category: &str, message: fmt::Arguments<'_>) {
    match message.as_str() {
        Some(s) => hooks::user_log(current_user_task_id(), clip(category), clip(s)),
        None => {
            let s = message.to_string();
            hooks::user_log(current_user_task_id(), clip(category), clip(&s));
        }
    }
}

/// Labels the running spool task (Go's GoLabel): viewers show it after the
/// task's name until it is replaced. Empty labels are ignored.
///
/// ```
/// spool_tracer::annotate::set_label("worker-3");
/// ```
#[inline]
pub fn set_label(label: &str) {
    if enabled() && !label.is_empty() {
        hooks::go_label(clip(label));
    }
}

// ---------------------------------------------------------------------------
// GC-like phases
// ---------------------------------------------------------------------------

/// Marks the start of an application GC-like phase (collection, compaction)
/// on the running task (GCBegin; viewers show it as a GC phase).
///
/// Go's format has one global GC state, so phases nest and overlap: the
/// trace shows one phase from the first `gc_begin` to the `gc_end` that
/// closes the last open one (a depth count shared by all threads, see
/// `annotate/gc.rs`). An extra `gc_end` is ignored. Prefer [`GcGuard`]. The
/// depth is counted with tracing off too (a short lock), so a phase open
/// when tracing starts is not mistaken for closed; its end is then dropped
/// by the tracer (its begin was never written), keeping the file valid.
pub fn gc_begin() {
    gc::GC.begin(hooks::gc_begin);
}

/// Marks the end of the phase [`gc_begin`] opened (GCEnd); see there.
pub fn gc_end() {
    gc::GC.end(hooks::gc_end);
}

/// A GC-like phase that ends when the guard drops.
///
/// ```
/// use spool_tracer::annotate::GcGuard;
/// {
///     let _gc = GcGuard::begin();
///     // compact the cache ...
/// }
/// ```
#[derive(Debug)]
#[must_use = "the GC phase ends when the guard is dropped"]
pub struct GcGuard(());

impl GcGuard {
    /// Begins a GC-like phase (see [`gc_begin`]).
    pub fn begin() -> GcGuard {
        gc_begin();
        GcGuard(())
    }
}

impl Drop for GcGuard {
    fn drop(&mut self) {
        gc_end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_strings_and_cuts_at_char_boundaries() {
        assert_eq!(clip(""), "");
        let exact = "a".repeat(MAX_STRING_LEN);
        assert_eq!(clip(&exact), exact);
        let over = "a".repeat(MAX_STRING_LEN + 1);
        assert_eq!(clip(&over).len(), MAX_STRING_LEN);
        // 3-byte chars: 1023 is the last boundary <= 1024.
        let wide = "€".repeat(400);
        assert_eq!(clip(&wide).len(), 1023);
        assert!(clip(&wide).chars().all(|c| c == '€'));
        // 4-byte chars after one ASCII byte: boundaries at 1 + 4k; 1021 <= 1024.
        let emoji = format!("x{}", "🦀".repeat(300));
        assert_eq!(clip(&emoji).len(), 1021);
    }

    #[test]
    fn task_ids_are_unique_and_never_zero() {
        let tasks: Vec<UserTask> = (0..1000).map(|_| UserTask::new("t")).collect();
        let mut ids: Vec<u64> = tasks.iter().map(UserTask::id).collect();
        assert!(ids.iter().all(|&id| id != 0));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1000);
        let parent = UserTask::new("p");
        let child = UserTask::new_child(&parent, "c");
        assert!(child.id() > parent.id());
    }

    #[test]
    fn current_task_nests_and_restores_even_on_panic() {
        let a = UserTask::new("a");
        let b = UserTask::new("b");
        assert_eq!(current_user_task_id(), 0);
        a.in_scope(|| {
            assert_eq!(current_user_task_id(), a.id());
            b.in_scope(|| assert_eq!(current_user_task_id(), b.id()));
            assert_eq!(current_user_task_id(), a.id());
            let r = std::panic::catch_unwind(|| b.in_scope(|| panic!("inside")));
            assert!(r.is_err());
            assert_eq!(current_user_task_id(), a.id());
        });
        assert_eq!(current_user_task_id(), 0);
    }

    #[test]
    fn instrument_sets_the_current_task_only_while_polled() {
        let t = UserTask::new("t");
        let id = t.id();
        let mut fut = Box::pin(t.instrument(std::future::poll_fn(move |_| {
            assert_eq!(current_user_task_id(), id);
            Poll::Ready(7)
        })));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(7));
        assert_eq!(current_user_task_id(), 0);
    }

    #[test]
    fn off_mode_regions_record_nothing_and_still_run_the_body() {
        // Tracing is never started in this crate's unit tests.
        assert!(!enabled());
        let before = dropped_region_events();
        let guard = region_guard("g");
        assert!(!guard.is_recorded());
        drop(guard);
        assert_eq!(region("r", || 5), 5);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut fut = Box::pin(region_async("a", async { 9 }));
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(9));
        log("c", "m");
        log_fmt("c", format_args!("{}", 1));
        set_label("l");
        assert_eq!(dropped_region_events(), before);
        assert!(!regions::any_open());
    }

    #[test]
    fn gc_depth_nests_and_ignores_extra_ends() {
        // The only test touching the GC depth (it is process-global).
        let base = gc::GC.depth();
        let outer = GcGuard::begin();
        let inner = GcGuard::begin();
        assert_eq!(gc::GC.depth(), base + 2);
        drop(inner);
        drop(outer);
        assert_eq!(gc::GC.depth(), base);
        gc_end();
        assert_eq!(gc::GC.depth(), base.saturating_sub(1));
    }

    #[test]
    fn in_region_passes_pending_through() {
        let mut polls = 0;
        let mut fut = Box::pin(region_async(
            "wait",
            std::future::poll_fn(move |_| {
                polls += 1;
                if polls < 3 {
                    Poll::Pending
                } else {
                    Poll::Ready(polls)
                }
            }),
        ));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(3));
    }
}
