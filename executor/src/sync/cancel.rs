//! [`CancellationToken`]: a tree of cancellation flags (Go's
//! `context.WithCancel`): cancelling a token cancels its children.
//!
//! Each node has an atomic `cancelled` flag and, behind its lock, its
//! waiters and weak links to its children. Invariants: `cancel` sets the
//! flag before taking the lock; `child_token` reads the parent's flag
//! under the lock. So either the child sees the flag (and starts
//! cancelled) or `cancel` finds the child in the list. Waiters queue only
//! after checking the flag under the lock, and `cancel` empties the queue
//! under the lock after setting it.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use super::lock::Lock;
use super::waitlist::{self, DONE, QUEUED, WaitList, Waiter};
use crate::context::set_block_reason;
use crate::loom::atomic::{AtomicBool, Ordering};

struct NodeInner {
    waiters: WaitList<()>,
    children: Vec<Weak<Node>>,
}

struct Node {
    cancelled: AtomicBool,
    inner: Lock<NodeInner>,
}

/// A cancellation signal shared by clones, with child tokens that are
/// cancelled with it (but not the other way round). A task waiting in
/// `cancelled()` shows in traces as blocked on "chan receive" (Go's
/// `<-ctx.Done()`).
///
/// ```
/// use spool_executor::sync::CancellationToken;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let parent = CancellationToken::new();
///     let child = parent.child_token();
///     let h = spool_executor::spawn(async move { child.cancelled().await });
///     parent.cancel();
///     h.await.unwrap();
///     assert!(parent.is_cancelled());
/// });
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Arc<Node>,
}

impl CancellationToken {
    /// A token that is not cancelled.
    ///
    /// ```
    /// assert!(!spool_executor::sync::CancellationToken::new().is_cancelled());
    /// ```
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Arc::new(Node {
                cancelled: AtomicBool::new(false),
                inner: Lock::new(NodeInner {
                    waiters: WaitList::new(),
                    children: Vec::new(),
                }),
            }),
        }
    }

    /// A token cancelled when this one is (already cancelled if this one is).
    ///
    /// ```
    /// let t = spool_executor::sync::CancellationToken::new();
    /// let c = t.child_token();
    /// c.cancel();
    /// assert!(!t.is_cancelled()); // children do not cancel their parent
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        let child = CancellationToken::new();
        let mut inner = self.node.inner.lock();
        // Acquire: pairs with the Release swap in `cancel`.
        if self.node.cancelled.load(Ordering::Acquire) {
            child.node.cancelled.store(true, Ordering::Release);
        } else {
            if inner.children.len() >= 8 && inner.children.len().is_power_of_two() {
                inner.children.retain(|w| w.strong_count() > 0);
            }
            inner.children.push(Arc::downgrade(&child.node));
        }
        child
    }

    /// Cancels this token and all its descendants; wakes every waiter.
    ///
    /// ```
    /// let t = spool_executor::sync::CancellationToken::new();
    /// t.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        let mut stack = vec![self.node.clone()];
        while let Some(node) = stack.pop() {
            // AcqRel: Release pairs with the Acquire loads in
            // `child_token`, `is_cancelled` and the waiters.
            if node.cancelled.swap(true, Ordering::AcqRel) {
                continue;
            }
            let mut wakers = Vec::new();
            let children = {
                let mut inner = node.inner.lock();
                while let Some(w) = inner.waiters.front() {
                    // SAFETY: queued in the list we hold.
                    wakers.extend(unsafe { inner.waiters.complete(w, |_| ()) }.1);
                }
                std::mem::take(&mut inner.children)
            };
            waitlist::wake_all(wakers);
            stack.extend(children.iter().filter_map(Weak::upgrade));
        }
    }

    /// True once cancelled.
    ///
    /// ```
    /// let t = spool_executor::sync::CancellationToken::new();
    /// assert!(!t.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// Completes once the token is cancelled.
    ///
    /// # Cancellation safety
    ///
    /// Cancel safe: dropping the future only gives up the wait.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let t = spool_executor::sync::CancellationToken::new();
    /// t.cancel();
    /// rt.block_on(t.cancelled()); // already cancelled: at once
    /// ```
    pub fn cancelled(&self) -> WaitForCancellation<'_> {
        WaitForCancellation {
            node: &self.node,
            waiter: Waiter::new(()),
            _pin: PhantomPinned,
        }
    }

    /// A guard that cancels the token when dropped.
    ///
    /// ```
    /// let t = spool_executor::sync::CancellationToken::new();
    /// drop(t.clone().drop_guard());
    /// assert!(t.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Cancels its token when dropped (see [`CancellationToken::drop_guard`]).
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    ///
    /// ```
    /// let t = spool_executor::sync::CancellationToken::new();
    /// let t2 = t.clone().drop_guard().disarm();
    /// assert!(!t2.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a guard holds its token until disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.token {
            t.cancel();
        }
    }
}

/// The future of [`CancellationToken::cancelled`].
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForCancellation<'a> {
    node: &'a Node,
    waiter: Waiter<()>,
    _pin: PhantomPinned,
}

impl Future for WaitForCancellation<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let w = &self.waiter;
        if w.state() == DONE || self.node.cancelled.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut inner = self.node.inner.lock();
        match w.state() {
            DONE => Poll::Ready(()),
            QUEUED => {
                // SAFETY: queued; we hold the lock.
                unsafe { w.set_waker(cx.waker()) };
                set_block_reason(BlockReason::ChanReceive);
                Poll::Pending
            }
            _ => {
                if self.node.cancelled.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                // SAFETY: pinned in this future, idle; removed in `drop`.
                unsafe { inner.waiters.push_back(NonNull::from(w), cx.waker()) };
                set_block_reason(BlockReason::ChanReceive);
                Poll::Pending
            }
        }
    }
}

impl Drop for WaitForCancellation<'_> {
    fn drop(&mut self) {
        if self.waiter.state() == QUEUED {
            let mut inner = self.node.inner.lock();
            // SAFETY: alive; if queued, in this list.
            unsafe { inner.waiters.remove(NonNull::from(&self.waiter)) };
        }
    }
}

impl fmt::Debug for WaitForCancellation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellation")
            .finish_non_exhaustive()
    }
}
