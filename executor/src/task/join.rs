//! `JoinHandle` (await a task's output, abort it) and `JoinError`.
//!
//! The handle owns one task reference and the `JOIN_INTEREST` bit. Dropping
//! it detaches the task. Polling it follows the JOIN_WAKER protocol of
//! `state.rs`; once the output has been read the handle lets go of the task
//! at once (its pointer becomes `None`).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use spool_tracer::hooks::BlockReason;

use super::Header;
use super::harness;

/// Why a task has no output: internal representation.
pub(crate) enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

/// A task did not produce its output: it was cancelled or it panicked.
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let err = rt.block_on(async {
///     spool_executor::spawn(async { panic!("boom") }).await.unwrap_err()
/// });
/// assert!(err.is_panic());
/// ```
pub struct JoinError {
    id: u64,
    repr: Repr,
}

impl JoinError {
    pub(crate) fn new(id: u64, repr: Repr) -> JoinError {
        JoinError { id, repr }
    }

    /// True if the task was cancelled (by `abort` or by runtime shutdown).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(std::future::pending::<()>());
    /// h.abort();
    /// assert!(rt.block_on(h).unwrap_err().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(async { panic!("oops") });
    /// assert!(rt.block_on(h).unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload.
    ///
    /// # Panics
    /// If the task was cancelled rather than panicked; see [`try_into_panic`](Self::try_into_panic).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(async { std::panic::panic_any(7u32) });
    /// let payload = rt.block_on(h).unwrap_err().into_panic();
    /// assert_eq!(*payload.downcast::<u32>().unwrap(), 7);
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("spool: `JoinError::into_panic` called on a cancelled task's error")
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(std::future::pending::<()>());
    /// h.abort();
    /// assert!(rt.block_on(h).unwrap_err().try_into_panic().is_err());
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed (the id the tracer shows).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(async { panic!() });
    /// let id = h.id();
    /// assert_eq!(rt.block_on(h).unwrap_err().id(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }
}

fn panic_message(p: &(dyn Any + Send)) -> Option<&str> {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(p) => match panic_message(p.as_ref()) {
                Some(m) => write!(f, "task {} panicked with message {m:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(p) => match panic_message(p.as_ref()) {
                Some(m) => write!(f, "JoinError::Panic({}, {m:?})", self.id),
                None => write!(f, "JoinError::Panic({}, ..)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        io::Error::other(e.to_string())
    }
}

/// An owned permission to await a task's output (like a goroutine you can join).
///
/// Returned by [`spawn`](crate::spawn), [`Runtime::spawn`](crate::Runtime::spawn)
/// and [`Handle::spawn`](crate::Handle::spawn). Awaiting it yields the task's
/// output, or a [`JoinError`] if the task panicked or was cancelled. Dropping
/// it detaches the task, which keeps running.
///
/// # Examples
///
/// ```
/// let rt = spool_executor::Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let h = spool_executor::spawn(async { 6 * 7 });
///     h.await.unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
pub struct JoinHandle<T> {
    raw: Option<NonNull<Header>>,
    id: u64,
    _p: PhantomData<T>,
}

// SAFETY: the handle only moves the output, which is `Send`, between threads.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`, `is_finished` and `id`, which use atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a live task whose output type is `T`; the handle takes over
    /// the `JoinHandle` reference and the `JOIN_INTEREST` bit.
    pub(crate) unsafe fn new(raw: NonNull<Header>) -> JoinHandle<T> {
        // SAFETY: the caller passes a live task.
        let id = unsafe { raw.as_ref() }.id();
        JoinHandle {
            raw: Some(raw),
            id,
            _p: PhantomData,
        }
    }

    /// Asks the task to stop: it is dropped at its next scheduling point (at
    /// once if it is waiting) and awaiting the handle yields a cancelled
    /// [`JoinError`]. Does nothing if the task already finished.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(std::future::pending::<u8>());
    /// h.abort();
    /// assert!(rt.block_on(h).unwrap_err().is_cancelled());
    /// ```
    pub fn abort(&self) {
        if let Some(raw) = self.raw {
            harness::abort(raw);
        }
    }

    /// True once the task has finished (completed, panicked or cancelled).
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let h = rt.spawn(async { 1 });
    /// while !h.is_finished() { std::thread::yield_now(); }
    /// assert_eq!(rt.block_on(h).unwrap(), 1);
    /// ```
    pub fn is_finished(&self) -> bool {
        match self.raw {
            // SAFETY: we hold a reference, so the task is alive.
            Some(raw) => unsafe { raw.as_ref() }.state.load().is_complete(),
            None => true,
        }
    }

    /// The task's id: unique in the process, the goroutine id in traces.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// let a = rt.spawn(async {});
    /// let b = rt.spawn(async {});
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let raw = self
            .raw
            .expect("spool: JoinHandle polled after it returned its output");
        if !crate::context::poll_proceed(cx) {
            return Poll::Pending;
        }
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        if can_read_output(raw, cx.waker()) {
            // SAFETY: the task is complete and JOIN_INTEREST was set at
            // completion, so the output is ours; `out` has the vtable's type.
            unsafe {
                (raw.as_ref().vtable.fns.read_output)(raw, (&mut out as *mut Poll<_>).cast())
            };
            self.raw = None;
            // SAFETY: we own the JoinHandle reference; the output is taken.
            unsafe { harness::drop_reference(raw) };
        } else {
            crate::context::set_block_reason(BlockReason::Join);
        }
        out
    }
}

/// The JoinHandle side of the JOIN_WAKER protocol: true when the output is
/// ready; otherwise `waker` is registered.
fn can_read_output(raw: NonNull<Header>, waker: &Waker) -> bool {
    // SAFETY: the handle holds a reference.
    let h = unsafe { raw.as_ref() };
    let snapshot = h.state.load();
    debug_assert!(snapshot.is_join_interested());
    if snapshot.is_complete() {
        return true;
    }
    let res = if !snapshot.is_join_waker_set() {
        // JOIN_WAKER clear: the slot is ours.
        set_join_waker(h, waker)
    } else {
        // SAFETY: JOIN_WAKER set: reading is allowed to everyone involved.
        let same = unsafe { h.join_waker.with(|w| w.will_wake(waker)) }.unwrap_or(false);
        if same {
            return false;
        }
        h.state
            .unset_join_waker()
            .and_then(|_| set_join_waker(h, waker))
    };
    match res {
        Ok(_) => false,
        Err(s) => {
            debug_assert!(s.is_complete());
            true
        }
    }
}

fn set_join_waker(
    h: &Header,
    waker: &Waker,
) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is clear, so the JoinHandle owns the slot.
    unsafe { h.join_waker.set(waker) };
    let res = h.state.set_join_waker();
    if res.is_err() {
        // The task completed first; the slot is still ours.
        // SAFETY: JOIN_WAKER still clear.
        unsafe { h.join_waker.clear() };
    }
    res
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let Some(raw) = self.raw else { return };
        // SAFETY: we hold a reference.
        let h = unsafe { raw.as_ref() };
        if h.state.drop_join_handle_fast().is_ok() {
            return;
        }
        if h.state.unset_join_interested().is_err() {
            // Complete with JOIN_INTEREST set: the output is ours to drop.
            // SAFETY: see above; dropped once.
            unsafe { (h.vtable.fns.drop_output)(raw) };
        }
        // SAFETY: we own the JoinHandle reference.
        unsafe { harness::drop_reference(raw) };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}
