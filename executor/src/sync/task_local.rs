//! Task-local values (tokio's `task_local!`): a value set for the duration
//! of a future, visible to everything that future polls.
//!
//! A key is a thread-local slot; [`TaskLocalFuture`] moves its value into
//! the slot around each poll of its future and back out afterwards (also
//! when the poll panics), so the value follows the task from M to M and is
//! never seen by another task polled on the same thread. Invariant: the
//! slot is non-empty only during a poll of a future scoped with this key.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys: `static NAME: Type;` each.
///
/// ```
/// spool_executor::task_local! {
///     static REQUEST_ID: u64;
/// }
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(REQUEST_ID.scope(7, async {
///     spool_executor::yield_now().await;
///     assert_eq!(REQUEST_ID.get(), 7);
/// }));
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::sync::LocalKey<$t> = {
            ::std::thread_local! {
                static __SPOOL_TASK_LOCAL: ::std::cell::RefCell<::core::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::core::option::Option::None) };
            }
            $crate::sync::LocalKey::__new(&__SPOOL_TASK_LOCAL)
        };
        $crate::task_local!($($rest)*);
    };
}

/// A key declared with [`task_local!`].
pub struct LocalKey<T: 'static> {
    slot: &'static std::thread::LocalKey<RefCell<Option<T>>>,
}

/// The key has no value here (not inside a `scope` of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set (not inside a `scope` of this key)")
    }
}
impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(slot: &'static std::thread::LocalKey<RefCell<Option<T>>>) -> Self {
        LocalKey { slot }
    }

    /// Runs `future` with the key set to `value`.
    ///
    /// ```
    /// spool_executor::task_local! { static N: u8; }
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(N.scope(3, async { N.get() })), 3);
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(future),
        }
    }

    /// Runs `f` with the key set to `value` (synchronously).
    ///
    /// ```
    /// spool_executor::task_local! { static N: u8; }
    /// assert_eq!(N.sync_scope(4, || N.get()), 4);
    /// ```
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        let mut value = Some(value);
        let _g = Swap::enter(self, &mut value);
        f()
    }

    /// Calls `f` with the value.
    ///
    /// # Panics
    /// Outside a `scope` of this key.
    ///
    /// ```
    /// spool_executor::task_local! { static NAME: String; }
    /// NAME.sync_scope("x".into(), || NAME.with(|n| assert_eq!(n, "x")));
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.try_with(f)
            .expect("spool::task_local: the value is not set (not inside a `scope` of this key)")
    }

    /// Calls `f` with the value, if set.
    ///
    /// # Errors
    /// [`AccessError`] outside a `scope` of this key.
    ///
    /// ```
    /// spool_executor::task_local! { static N: u8; }
    /// assert!(N.try_with(|n| *n).is_err());
    /// ```
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        self.slot.with(|s| match s.borrow().as_ref() {
            Some(v) => Ok(f(v)),
            None => Err(AccessError(())),
        })
    }
}

impl<T: Copy + 'static> LocalKey<T> {
    /// A copy of the value.
    ///
    /// # Panics
    /// Outside a `scope` of this key.
    ///
    /// ```
    /// spool_executor::task_local! { static N: u8; }
    /// assert_eq!(N.sync_scope(9, || N.get()), 9);
    /// ```
    pub fn get(&'static self) -> T {
        self.with(|v| *v)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

/// Moves a value into the key's slot and back out on drop (so a panic in
/// the scoped code leaves the slot as it was).
struct Swap<'a, T: 'static> {
    key: &'static LocalKey<T>,
    value: &'a mut Option<T>,
}

impl<'a, T: 'static> Swap<'a, T> {
    fn enter(key: &'static LocalKey<T>, value: &'a mut Option<T>) -> Swap<'a, T> {
        key.slot
            .with(|s| std::mem::swap(&mut *s.borrow_mut(), value));
        Swap { key, value }
    }
}

impl<T: 'static> Drop for Swap<'_, T> {
    fn drop(&mut self) {
        self.key
            .slot
            .with(|s| std::mem::swap(&mut *s.borrow_mut(), self.value));
    }
}

/// A future run with a task-local value set ([`LocalKey::scope`]).
pub struct TaskLocalFuture<T: 'static, F> {
    key: &'static LocalKey<T>,
    value: Option<T>,
    future: Option<F>,
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (never moved while Some);
        // `value` and `key` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let key = this.key;
        let _g = Swap::enter(key, &mut this.value);
        let fut = this
            .future
            .as_mut()
            .expect("spool::task_local: TaskLocalFuture polled after it completed");
        // SAFETY: see above.
        let r = unsafe { Pin::new_unchecked(fut) }.poll(cx);
        if r.is_ready() {
            // Drop the finished future with the value still set.
            // SAFETY: dropping in place keeps the pinning promise.
            this.future = None;
        }
        r
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskLocalFuture { .. }")
    }
}
