//! [`JoinSet`]: many spawned tasks, awaited in the order they finish,
//! aborted together when the set is dropped (tokio's shape).
//!
//! Each task is spawned wrapped in [`Tracked`], whose `Drop` (the task's
//! future is dropped when it completes, panics or is cancelled) pushes the
//! task's slot onto the set's ready queue and wakes the set's waiter. So
//! `join_next` only ever awaits a handle whose task has finished, in
//! completion order, without polling every handle.
//!
//! Invariant: a slot index is in the ready queue at most once, and only
//! while its handle is in `slots` (it is freed when its result is taken).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use spool_tracer::hooks::BlockReason;

use super::lock::Lock;
use super::waitlist;
use crate::context::set_block_reason;
use crate::{Handle, JoinError, JoinHandle};

/// Slots of finished tasks, and the waker of a pending `join_next`.
struct Ready {
    inner: Lock<(VecDeque<usize>, Option<Waker>)>,
}

/// A spawned future that reports its slot when it is dropped.
struct Tracked<F> {
    fut: F,
    slot: usize,
    ready: Arc<Ready>,
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: never moved out of `self`.
        unsafe { self.map_unchecked_mut(|t| &mut t.fut) }.poll(cx)
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        let waker = {
            let mut r = self.ready.inner.lock();
            r.0.push_back(self.slot);
            r.1.take()
        };
        if let Some(w) = waker {
            waitlist::wake(w);
        }
    }
}

/// A set of spawned tasks with outputs of type `T`. A `join_next` that
/// waits shows in traces as blocked on "join".
///
/// ```
/// use spool_executor::sync::JoinSet;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u32 {
///         set.spawn(async move { i * 2 });
///     }
///     let mut sum = 0;
///     while let Some(r) = set.join_next().await {
///         sum += r.unwrap();
///     }
///     assert_eq!(sum, 90);
/// });
/// ```
pub struct JoinSet<T> {
    slots: Vec<Option<JoinHandle<T>>>,
    free: Vec<usize>,
    len: usize,
    ready: Arc<Ready>,
    /// A finished task's handle taken from the ready queue, being awaited.
    current: Option<(usize, JoinHandle<T>)>,
}

impl<T: Send + 'static> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set = spool_executor::sync::JoinSet::<u8>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Arc::new(Ready {
                inner: Lock::new((VecDeque::new(), None)),
            }),
            current: None,
        }
    }

    /// Spawns `future` on the current runtime into the set.
    ///
    /// # Panics
    /// Outside a spool runtime (as [`spawn`](crate::spawn)).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = spool_executor::sync::JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     assert_eq!(set.len(), 1);
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let tracked = Tracked {
            fut: future,
            slot,
            ready: self.ready.clone(),
        };
        self.insert(slot, crate::spawn(tracked));
    }

    /// Spawns `future` on the runtime of `handle` into the set.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let mut set = spool_executor::sync::JoinSet::new();
    /// set.spawn_on(async { 2 }, rt.handle());
    /// assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let tracked = Tracked {
            fut: future,
            slot,
            ready: self.ready.clone(),
        };
        self.insert(slot, handle.spawn(tracked));
    }

    fn insert(&mut self, slot: usize, h: JoinHandle<T>) {
        if slot == self.slots.len() {
            self.slots.push(Some(h));
        } else {
            self.slots[slot] = Some(h);
        }
        self.len += 1;
    }

    /// Waits for the next task to finish and returns its output (or its
    /// [`JoinError`]); `None` once the set is empty.
    ///
    /// # Cancellation safety
    ///
    /// Cancel safe: a finished task picked by a dropped `join_next` is
    /// returned by the next call.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = spool_executor::sync::JoinSet::<()>::new();
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        loop {
            if let Some((slot, h)) = &mut self.current {
                let slot = *slot;
                return match Pin::new(h).poll(cx) {
                    Poll::Ready(r) => {
                        self.current = None;
                        self.free.push(slot);
                        self.len -= 1;
                        Poll::Ready(Some(r))
                    }
                    Poll::Pending => Poll::Pending,
                };
            }
            if self.len == 0 {
                return Poll::Ready(None);
            }
            let mut r = self.ready.inner.lock();
            match r.0.pop_front() {
                Some(slot) => {
                    drop(r);
                    let h = self.slots[slot]
                        .take()
                        .expect("spool::JoinSet: a ready slot holds its handle");
                    self.current = Some((slot, h));
                }
                None => {
                    if !r.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        r.1 = Some(cx.waker().clone());
                    }
                    drop(r);
                    set_block_reason(BlockReason::Join);
                    return Poll::Pending;
                }
            }
        }
    }

    /// Waits for every task; their outputs in completion order.
    ///
    /// # Panics
    /// If a task panicked or was aborted (the error's message).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = spool_executor::sync::JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     set.spawn(async { 2 });
    ///     let mut all = set.join_all().await;
    ///     all.sort();
    ///     assert_eq!(all, [1, 2]);
    /// });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(r) = self.join_next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) => panic!("spool::JoinSet::join_all: a task failed: {e}"),
            }
        }
        out
    }

    /// Aborts every task in the set (their `join_next` results are then
    /// cancellation errors, unless they finished first).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = spool_executor::sync::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.abort_all();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for h in self.slots.iter().flatten() {
            h.abort();
        }
        if let Some((_, h)) = &self.current {
            h.abort();
        }
    }

    /// Tasks in the set (finished ones count until `join_next` returns them).
    ///
    /// ```
    /// assert_eq!(spool_executor::sync::JoinSet::<u8>::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set holds no task.
    ///
    /// ```
    /// assert!(spool_executor::sync::JoinSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Send + 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for h in self.slots.iter().flatten() {
            h.abort();
        }
        if let Some((_, h)) = &self.current {
            h.abort();
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}
