//! A counting semaphore with FIFO hand-off (Go's `semaRoot`, tokio's batch
//! semaphore): the base of [`Mutex`](super::Mutex) and
//! [`RwLock`](super::RwLock), and public as [`Semaphore`].
//!
//! # The permit word and the queue
//!
//! `word` holds the free permits shifted left by 2, a [`WAITERS`] bit and
//! a [`CLOSED`] bit. The queue of waiting acquirers (`waitlist.rs` nodes
//! whose payload is the number of permits each still needs) is behind
//! `queue`'s lock. Invariants:
//!
//! 1. `WAITERS` is set exactly while the queue is not empty, and then the
//!    word holds no free permits: a release hands its permits to the
//!    queue's head instead (partially, if the head needs more), so a
//!    waiter can never be overtaken by a newcomer (FIFO hand-off; Go's
//!    starvation mode, always on).
//! 2. Both bits and the count change only by CAS on the one word, so an
//!    acquirer's "not enough: set WAITERS" and a releaser's "no WAITERS:
//!    add permits" are ordered: the acquirer either sees the permits or
//!    the releaser sees the bit and takes the slow path, which takes the
//!    lock and so waits for the acquirer to finish queueing.
//! 3. Setting `WAITERS` and queueing happen under the lock; clearing it
//!    happens under the lock when the queue empties.
//!
//! Fast paths: an uncontended acquire is one CAS, a release with nobody
//! waiting one CAS; the lock is taken only when someone waits.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use spool_tracer::hooks::BlockReason;

use super::lock::Lock;
use super::waitlist::{self, DONE, IDLE, QUEUED, WaitList, Waiter};
use crate::context::{poll_proceed, set_block_reason};
use crate::loom::atomic::{AtomicUsize, Ordering};

/// Bit of the permit word: the queue is not empty.
const WAITERS: usize = 1;
/// Bit of the permit word: the semaphore is closed.
const CLOSED: usize = 2;
/// The permit count starts at this bit.
const SHIFT: u32 = 2;

/// What a queued acquirer carries.
pub(crate) struct Need {
    /// Permits still missing (0 once fully granted).
    missing: usize,
    /// Permits asked for.
    wanted: usize,
    /// Set when the semaphore closed before the permits were all granted.
    closed: bool,
}

/// The semaphore core, shared by every primitive built on it.
pub(crate) struct Sem {
    word: AtomicUsize,
    queue: Lock<WaitList<Need>>,
}

/// [`Semaphore::acquire`] failed: the semaphore is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

/// Why [`Semaphore::try_acquire`] got nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough permits free now (or others are waiting for them).
    NoPermits,
    /// The semaphore is closed.
    Closed,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}
impl std::error::Error for AcquireError {}
impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::Closed => f.write_str("semaphore closed"),
        }
    }
}
impl std::error::Error for TryAcquireError {}

/// Most permits a semaphore can hold.
pub const MAX_PERMITS: usize = usize::MAX >> (SHIFT + 1);

impl Sem {
    pub(crate) fn new(permits: usize) -> Sem {
        assert!(
            permits <= MAX_PERMITS,
            "spool::sync::Semaphore: {permits} permits is more than MAX_PERMITS ({MAX_PERMITS})"
        );
        Sem {
            word: AtomicUsize::new(permits << SHIFT),
            queue: Lock::new(WaitList::new()),
        }
    }

    pub(crate) fn available(&self) -> usize {
        self.word.load(Ordering::Acquire) >> SHIFT
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.word.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Takes `n` permits if they are free and nobody waits.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if cur & WAITERS != 0 || (cur >> SHIFT) < n {
                return Err(TryAcquireError::NoPermits);
            }
            // Acquire: pairs with the Release of the permits' last holder.
            match self.word.compare_exchange_weak(
                cur,
                cur - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives back `n` permits: to the waiting acquirers first, in order.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut cur = self.word.load(Ordering::Relaxed);
        while cur & WAITERS == 0 {
            // Release: publishes the holder's critical section to the next
            // acquirer (invariant 2 for the WAITERS check).
            match self.word.compare_exchange_weak(
                cur,
                cur + (n << SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        self.release_slow(n);
    }

    #[cold]
    #[inline(never)]
    fn release_slow(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut q = self.queue.lock();
            self.grant_locked(&mut q, n, &mut wakers);
        }
        waitlist::wake_all(wakers);
    }

    /// Hands `n` permits to the queue's head(s); what is left (once the
    /// queue is empty) goes to the word, and `WAITERS` is cleared.
    fn grant_locked(&self, q: &mut WaitList<Need>, mut n: usize, wakers: &mut Vec<Waker>) {
        while n > 0 {
            let Some(head) = q.front() else { break };
            // SAFETY: `head` is queued and we hold the lock.
            let done = unsafe {
                head.as_ref().with_payload(|p| {
                    let give = n.min(p.missing);
                    p.missing -= give;
                    n -= give;
                    p.missing == 0
                })
            };
            if !done {
                break;
            }
            // SAFETY: `head` is queued in `q`.
            let ((), w) = unsafe { q.complete(head, |_| ()) };
            wakers.extend(w);
        }
        if q.is_empty() {
            let mut cur = self.word.load(Ordering::Relaxed);
            loop {
                let new =
                    ((cur & !WAITERS) & !(usize::MAX << SHIFT)) | (((cur >> SHIFT) + n) << SHIFT);
                // Release: as in `release`.
                match self.word.compare_exchange_weak(
                    cur,
                    new,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
        } else {
            debug_assert_eq!(n, 0, "permits left over with a waiter queued");
        }
    }

    /// Closes: later acquires fail, and every waiter wakes with an error.
    pub(crate) fn close(&self) {
        let mut wakers = Vec::new();
        {
            let mut q = self.queue.lock();
            self.word.fetch_or(CLOSED, Ordering::Release);
            let mut returned = 0;
            while let Some(w) = q.front() {
                // SAFETY: `w` is queued in `q`, which we hold.
                let (got, waker) = unsafe {
                    q.complete(w, |p| {
                        p.closed = true;
                        p.wanted - p.missing
                    })
                };
                returned += got;
                wakers.extend(waker);
            }
            // The queue is empty now: clear WAITERS, return partial grants.
            self.grant_locked(&mut q, returned, &mut wakers);
        }
        waitlist::wake_all(wakers);
    }

    /// One poll of an acquire of `n` permits through node `w`: `Ready(Ok)`
    /// once they are ours.
    pub(crate) fn poll_acquire(
        &self,
        w: &Waiter<Need>,
        n: usize,
        reason: BlockReason,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        match w.state() {
            DONE => {
                // SAFETY: DONE: ours again.
                let closed = unsafe { w.with_payload(|p| p.closed) };
                w.reset();
                if closed {
                    return Poll::Ready(Err(AcquireError(())));
                }
                Poll::Ready(Ok(()))
            }
            QUEUED => {
                let q = self.queue.lock();
                if w.state() == QUEUED {
                    // SAFETY: queued; we hold the lock.
                    unsafe { w.set_waker(cx.waker()) };
                    drop(q);
                    set_block_reason(reason);
                    return Poll::Pending;
                }
                drop(q);
                self.poll_acquire(w, n, reason, cx)
            }
            _ => {
                match self.try_acquire(n) {
                    Ok(()) => return Poll::Ready(Ok(())),
                    Err(TryAcquireError::Closed) => return Poll::Ready(Err(AcquireError(()))),
                    Err(TryAcquireError::NoPermits) => {}
                }
                if !poll_proceed(cx) {
                    return Poll::Pending;
                }
                let mut q = self.queue.lock();
                let mut cur = self.word.load(Ordering::Acquire);
                loop {
                    if cur & CLOSED != 0 {
                        return Poll::Ready(Err(AcquireError(())));
                    }
                    let free = cur >> SHIFT;
                    if cur & WAITERS == 0 && free >= n {
                        // Released since our fast path looked.
                        match self.word.compare_exchange(
                            cur,
                            cur - (n << SHIFT),
                            Ordering::Acquire,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => return Poll::Ready(Ok(())),
                            Err(actual) => {
                                cur = actual;
                                continue;
                            }
                        }
                    }
                    // Queue: take what is free (only when we are the first
                    // waiter: with WAITERS set the word holds none), set
                    // WAITERS.
                    let take = free.min(n);
                    let new = (cur & CLOSED) | WAITERS | ((free - take) << SHIFT);
                    debug_assert!(free - take == 0);
                    match self
                        .word
                        .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => {
                            // SAFETY: IDLE: ours.
                            unsafe {
                                w.with_payload(|p| {
                                    p.wanted = n;
                                    p.missing = n - take;
                                    p.closed = false;
                                });
                            }
                            // SAFETY: pinned in its future, idle; removed by
                            // `cancel_acquire` before it goes away.
                            unsafe { q.push_back(NonNull::from(w), cx.waker()) };
                            drop(q);
                            set_block_reason(reason);
                            return Poll::Pending;
                        }
                        Err(actual) => cur = actual,
                    }
                }
            }
        }
    }

    /// An acquire's future is going away: leave the queue, giving back what
    /// was granted so far; or, if it was fully granted but not yet
    /// returned as a permit, give the permits back.
    pub(crate) fn cancel_acquire(&self, w: &Waiter<Need>) {
        match w.state() {
            IDLE => {}
            DONE => {
                // SAFETY: DONE: ours.
                let (closed, n) = unsafe { w.with_payload(|p| (p.closed, p.wanted)) };
                w.reset();
                if !closed {
                    self.release(n);
                }
            }
            _ => {
                let mut wakers = Vec::new();
                {
                    let mut q = self.queue.lock();
                    // SAFETY: alive; if queued, in `q`.
                    if unsafe { q.remove(NonNull::from(w)) } {
                        // SAFETY: removed: ours.
                        let granted = unsafe { w.with_payload(|p| p.wanted - p.missing) };
                        // Hand the partial grant on (and clear WAITERS if
                        // the queue emptied).
                        self.grant_locked(&mut q, granted, &mut wakers);
                    } else {
                        drop(q);
                        return self.cancel_acquire(w);
                    }
                }
                waitlist::wake_all(wakers);
            }
        }
    }
}

/// The future of an acquire of `n` permits on a [`Sem`].
pub(crate) struct AcquireFut<'a> {
    sem: &'a Sem,
    n: usize,
    reason: BlockReason,
    waiter: Waiter<Need>,
    done: bool,
    _pin: PhantomPinned,
}

impl<'a> AcquireFut<'a> {
    pub(crate) fn new(sem: &'a Sem, n: usize, reason: BlockReason) -> AcquireFut<'a> {
        AcquireFut {
            sem,
            n,
            reason,
            waiter: Waiter::new(Need {
                missing: 0,
                wanted: 0,
                closed: false,
            }),
            done: false,
            _pin: PhantomPinned,
        }
    }
}

impl Future for AcquireFut<'_> {
    type Output = Result<(), AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: we never move out of the pinned future; `done` is a
        // plain field.
        let this = unsafe { self.get_unchecked_mut() };
        let r = this.sem.poll_acquire(&this.waiter, this.n, this.reason, cx);
        if r.is_ready() {
            this.done = true;
        }
        r
    }
}

impl Drop for AcquireFut<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.sem.cancel_acquire(&self.waiter);
        }
    }
}

/// A counting semaphore: `acquire` waits for permits, which come back
/// when the returned permit is dropped. Waiters are served strictly in
/// arrival order (a big `acquire_many` is not starved by small ones). A
/// waiting acquire shows in traces as blocked on "semacquire".
///
/// ```
/// use spool_executor::sync::Semaphore;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await.unwrap();
///     let _b = sem.acquire().await.unwrap();
///     assert!(sem.try_acquire().is_err());
///     drop(a);
///     assert!(sem.try_acquire().is_ok());
/// });
/// ```
pub struct Semaphore {
    sem: Sem,
}

/// Permits from [`Semaphore::acquire`], returned when dropped.
#[must_use = "dropping a permit returns it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Sem,
    n: usize,
}

/// Permits from [`Semaphore::acquire_owned`]: keeps the semaphore alive.
#[must_use = "dropping a permit returns it at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    n: usize,
}

impl Semaphore {
    /// Most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            sem: Sem::new(permits),
        }
    }

    /// Waits for one permit.
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future gives up its place in the queue; permits granted
    /// to it before it was dropped go to the next waiter.
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sem = spool_executor::sync::Semaphore::new(1);
    ///     let p = sem.acquire().await.unwrap();
    ///     drop(p);
    /// });
    /// ```
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits, taken all at once.
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed.
    ///
    /// # Cancellation safety
    ///
    /// As [`Semaphore::acquire`].
    ///
    /// ```
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sem = spool_executor::sync::Semaphore::new(4);
    ///     let p = sem.acquire_many(3).await.unwrap();
    ///     assert_eq!(sem.available_permits(), 1);
    ///     drop(p);
    ///     assert_eq!(sem.available_permits(), 4);
    /// });
    /// ```
    pub async fn acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        AcquireFut::new(&self.sem, n, BlockReason::Semacquire).await?;
        Ok(SemaphorePermit { sem: &self.sem, n })
    }

    /// [`Semaphore::acquire_many`] for a shared semaphore, with a permit
    /// that holds it (to move into a spawned task).
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed.
    ///
    /// # Cancellation safety
    ///
    /// As [`Semaphore::acquire`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sem = Arc::new(spool_executor::sync::Semaphore::new(1));
    ///     let p = sem.clone().acquire_owned(1).await.unwrap();
    ///     spool_executor::spawn(async move { drop(p) }).await.unwrap();
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub async fn acquire_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        AcquireFut::new(&self.sem, n, BlockReason::Semacquire).await?;
        Ok(OwnedSemaphorePermit { sem: self, n })
    }

    /// Takes one permit if one is free and nobody is waiting.
    ///
    /// # Errors
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(p);
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is waiting.
    ///
    /// # Errors
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert!(sem.try_acquire_many(2).is_ok());
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.sem.try_acquire(n)?;
        Ok(SemaphorePermit { sem: &self.sem, n })
    }

    /// Adds `n` permits (handed to waiters first).
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.sem.release(n);
    }

    /// Free permits now.
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(5);
    /// assert_eq!(sem.available_permits(), 5);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available()
    }

    /// Closes the semaphore: waiting and later acquires fail.
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn close(&self) {
        self.sem.close();
    }

    /// True once closed.
    ///
    /// ```
    /// assert!(!spool_executor::sync::Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.sem.is_closed()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .finish()
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this holds.
    ///
    /// ```
    /// let sem = spool_executor::sync::Semaphore::new(3);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sem = Arc::new(spool_executor::sync::Semaphore::new(1));
    ///     sem.clone().acquire_owned(1).await.unwrap().forget();
    ///     assert_eq!(sem.available_permits(), 0);
    /// });
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rt = spool_executor::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let sem = Arc::new(spool_executor::sync::Semaphore::new(2));
    ///     assert_eq!(sem.acquire_owned(2).await.unwrap().num_permits(), 2);
    /// });
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.sem.release(self.n);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}
