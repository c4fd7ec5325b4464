//! `select!`'s engine: the claim word that lets exactly one branch take a
//! value, the random poll order, and the context a branch's channel
//! operation reads to learn it is part of a select.
//!
//! # The claim protocol
//!
//! A select registers one waiter per channel branch, each pointing at the
//! select's claim word. Exactly one party may finish a branch's operation:
//!
//! 1. The word starts at [`POLLING`]: the select's own task is polling its
//!    branches. Other threads must not finish any branch's operation then;
//!    one that finds a branch waiter sets [`DIRTY`] and skips it (the value
//!    goes to the buffer or its own wait queue instead).
//! 2. A branch that completes during the poll *self-claims*: the word
//!    becomes `CLAIMED + k` (a plain store: only the poller and `DIRTY`
//!    setters touch a polling word).
//! 3. If no branch is ready, the select CASes `POLLING -> WAITING` and
//!    returns `Pending`. If the CAS finds `DIRTY`, something changed on a
//!    channel while it polled: it polls again (up to [`DIRTY_RETRIES`]
//!    times, then yields).
//! 4. While `WAITING`, another thread that finds a branch waiter claims it
//!    with a CAS `WAITING -> CLAIMED + k`, finishes the operation (under the
//!    channel's lock) and wakes the task. A failed CAS means another branch
//!    won: the waiter is skipped.
//! 5. The next poll CASes `WAITING -> POLLING`; if it finds `CLAIMED + k`,
//!    branch `k` won and only it is polled from then on (a branch that took
//!    a value is never abandoned for another one).
//!
//! So a value is only ever taken for the branch that wins, and a losing
//! branch's waiter is removed when its future is dropped. Go locks every
//! channel of a select instead (`selectgo`'s `sellock`); the claim word
//! needs no lock order and leaves each channel's lock short.

use std::cell::Cell;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use spool_tracer::hooks::BlockReason;

use crate::loom::atomic::{AtomicUsize, Ordering};

/// The select's task is polling; other threads may not finish a branch.
pub(crate) const POLLING: usize = 1;
/// Set (with [`POLLING`]) by a thread that skipped a branch waiter.
pub(crate) const DIRTY: usize = 2;
/// Registered and waiting: the first thread to CAS it to `CLAIMED + k` wins.
pub(crate) const WAITING: usize = 0;
/// `CLAIMED + k`: branch `k` won.
pub(crate) const CLAIMED: usize = 4;

/// How many times in a row a select re-polls after finding [`DIRTY`]
/// before it yields instead (a bound against two selects dirtying each
/// other forever).
const DIRTY_RETRIES: u32 = 4;

/// `Select::committed` when no branch is.
const NONE: usize = usize::MAX;

/// Most branches in one `select!` (a bit mask tracks disabled ones).
pub const MAX_BRANCHES: usize = 64;

/// What a thread that found a select's waiter may do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Claim {
    /// This thread claimed the branch: finish its operation.
    Won,
    /// The select is polling; it was told to look again. Skip the waiter.
    Busy,
    /// Another branch already won. Skip the waiter.
    Lost,
}

/// A channel waiter's link to its select: the claim word and branch index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SelectRef {
    claim: NonNull<AtomicUsize>,
    branch: usize,
    /// The select will not wait (it has a `default` branch).
    nonblocking: bool,
}

// SAFETY: the claim word is an atomic that outlives every waiter pointing at
// it (the select's branch futures, which own the waiters, are dropped before
// the claim word: `select!` declares it first).
unsafe impl Send for SelectRef {}

impl SelectRef {
    fn word(&self) -> &AtomicUsize {
        // SAFETY: see the `Send` impl: the word outlives the waiter.
        unsafe { self.claim.as_ref() }
    }

    /// Step 4 (or step 1's skip), for a thread that found this branch's waiter.
    pub(crate) fn try_claim(&self) -> Claim {
        try_claim(self.word(), self.branch)
    }

    /// Step 2: the branch's operation completed during the select's poll.
    pub(crate) fn self_claim(&self) {
        debug_assert!(self.word().load(Ordering::Relaxed) & !DIRTY == POLLING);
        // Release: pairs with the select's Acquire load of the word.
        self.word().store(CLAIMED + self.branch, Ordering::Release);
    }

    /// The select has a `default` branch: the operation must not wait.
    pub(crate) fn nonblocking(&self) -> bool {
        self.nonblocking
    }
}

/// Step 4 on a claim word: `WAITING -> CLAIMED + branch`, or mark a polling
/// word dirty. Exposed to the loom model through `__loom`.
pub(crate) fn try_claim(word: &AtomicUsize, branch: usize) -> Claim {
    let mut cur = word.load(Ordering::Acquire);
    loop {
        let (new, res) = match cur {
            WAITING => (CLAIMED + branch, Claim::Won),
            c if c & !DIRTY == POLLING => {
                if c & DIRTY != 0 {
                    return Claim::Busy;
                }
                (POLLING | DIRTY, Claim::Busy)
            }
            _ => return Claim::Lost,
        };
        // AcqRel: the winner's later channel writes are ordered after the
        // select's registration (Acquire), and the select's Acquire load of
        // the word sees them (Release, with the node's DONE store).
        match word.compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return res,
            Err(actual) => cur = actual,
        }
    }
}

#[cfg(not(loom))]
std::thread_local! {
    /// Set by [`Select::poll`] around each branch's poll: the first spool
    /// channel operation polled in the branch takes it.
    static CURRENT: Cell<Option<SelectRef>> = const { Cell::new(None) };
}

// loom runs its threads on one OS thread: the models need its per-thread
// storage for the select context.
#[cfg(loom)]
::loom::thread_local! {
    static CURRENT: Cell<Option<SelectRef>> = Cell::new(None);
}

/// For a channel operation's poll: the select it belongs to, if it is the
/// first operation polled inside a select branch. Taking it means nested
/// operations inside the same branch are ordinary ones.
#[inline]
pub(crate) fn take_current() -> Option<SelectRef> {
    CURRENT.with(|c| c.take())
}

/// What one branch's poll returned (`select!` builds it).
#[doc(hidden)]
#[derive(Debug)]
pub enum BranchPoll<O> {
    /// The branch finished with this output (its pattern matched).
    Ready(O),
    /// Not ready.
    Pending,
    /// Its future finished but the pattern did not match: the branch is
    /// disabled for the rest of this select.
    Disabled,
}

/// The state of one `select!`: its claim word and which branches are out.
/// Lives in the calling async fn's frame for the duration of the select.
#[doc(hidden)]
#[derive(Debug)]
pub struct Select {
    word: AtomicUsize,
    /// Bit k: branch k finished with a non-matching pattern. Only the
    /// polling task touches it (an atomic so the select future is `Send`
    /// and `Sync`; Relaxed throughout).
    disabled: std::sync::atomic::AtomicU64,
    /// `NONE`, or the branch a channel operation claimed: the only one
    /// polled from then on. Polling task only, like `disabled`.
    committed: std::sync::atomic::AtomicUsize,
    branches: usize,
    nonblocking: bool,
}

impl Select {
    /// A select over `branches` branches; `nonblocking` if it has `default`.
    pub fn new(branches: usize, nonblocking: bool) -> Select {
        assert!(
            (1..=MAX_BRANCHES).contains(&branches) || (branches == 0 && nonblocking),
            "spool::select!: {branches} branches; between 1 and {MAX_BRANCHES} are supported"
        );
        Select {
            word: AtomicUsize::new(POLLING),
            disabled: std::sync::atomic::AtomicU64::new(0),
            committed: std::sync::atomic::AtomicUsize::new(NONE),
            branches,
            nonblocking,
        }
    }

    /// Polls the select. `poll_branch(k, cx)` polls branch `k`'s future.
    /// `Ready(None)` means the `default` branch.
    ///
    /// # Safety
    /// `self` is pinned for the select's duration (the branch waiters keep a
    /// pointer to its claim word), and every branch future is dropped before
    /// `self` is.
    pub unsafe fn poll<O>(
        &self,
        cx: &mut Context<'_>,
        mut poll_branch: impl FnMut(usize, &mut Context<'_>) -> BranchPoll<O>,
    ) -> Poll<Option<O>> {
        let mut retries = 0;
        loop {
            // Step 5: did a channel operation claim a branch?
            let cur = self.word.load(Ordering::Acquire);
            if cur >= CLAIMED {
                self.set_committed(Some(cur - CLAIMED));
            }
            if let Some(k) = self.committed() {
                match poll_branch(k, cx) {
                    BranchPoll::Ready(o) => return Poll::Ready(Some(o)),
                    BranchPoll::Pending => return Poll::Pending,
                    BranchPoll::Disabled => {
                        self.disable(k);
                        self.set_committed(None);
                        self.word.store(POLLING, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            if cur == WAITING
                && self
                    .word
                    .compare_exchange(WAITING, POLLING, Ordering::Acquire, Ordering::Acquire)
                    .is_err()
            {
                // Claimed meanwhile: back to step 5.
                continue;
            }
            // Steps 1-2: poll every enabled branch in a random order.
            let mut order = [0u8; MAX_BRANCHES];
            let n = self.shuffled(&mut order);
            if n == 0 {
                if self.nonblocking {
                    return Poll::Ready(None);
                }
                panic!("spool::select!: every branch is disabled and there is no `default`");
            }
            for &k in &order[..n] {
                let k = usize::from(k);
                let me = SelectRef {
                    claim: NonNull::from(&self.word),
                    branch: k,
                    nonblocking: self.nonblocking,
                };
                CURRENT.with(|c| c.set(Some(me)));
                let r = poll_branch(k, cx);
                CURRENT.with(|c| c.set(None));
                let claimed = self.word.load(Ordering::Acquire) >= CLAIMED;
                match r {
                    BranchPoll::Ready(o) => {
                        self.word.store(CLAIMED + k, Ordering::Relaxed);
                        return Poll::Ready(Some(o));
                    }
                    BranchPoll::Disabled => {
                        self.disable(k);
                        self.word.store(POLLING, Ordering::Relaxed);
                    }
                    BranchPoll::Pending if claimed => {
                        // Its operation took a value; the rest of the branch
                        // is not done yet. It is the winner now.
                        self.set_committed(Some(k));
                        return Poll::Pending;
                    }
                    BranchPoll::Pending => {}
                }
            }
            if self.nonblocking {
                return Poll::Ready(None);
            }
            if self.disabled.load(Ordering::Relaxed).count_ones() as usize == self.branches {
                panic!("spool::select!: every branch is disabled and there is no `default`");
            }
            // Step 3: let other threads claim.
            match self
                .word
                .compare_exchange(POLLING, WAITING, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    crate::context::set_block_reason(BlockReason::Select);
                    return Poll::Pending;
                }
                Err(_) => {
                    // DIRTY: a channel changed under us.
                    self.word.store(POLLING, Ordering::Relaxed);
                    retries += 1;
                    if retries >= DIRTY_RETRIES {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// Takes branch `k` out (its precondition is false, or its pattern did
    /// not match).
    pub fn disable(&self, k: usize) {
        self.disabled.fetch_or(1 << k, Ordering::Relaxed);
    }

    fn committed(&self) -> Option<usize> {
        let k = self.committed.load(Ordering::Relaxed);
        (k != NONE).then_some(k)
    }

    fn set_committed(&self, k: Option<usize>) {
        self.committed.store(k.unwrap_or(NONE), Ordering::Relaxed);
    }

    /// Writes the enabled branches into `order` in a uniformly random
    /// order (Fisher-Yates, Go's `selectgo` pollorder); returns how many.
    fn shuffled(&self, order: &mut [u8; MAX_BRANCHES]) -> usize {
        let disabled = self.disabled.load(Ordering::Relaxed);
        let mut n = 0;
        for k in 0..self.branches {
            if disabled & (1 << k) == 0 {
                order[n] = k as u8;
                n += 1;
            }
        }
        for i in (1..n).rev() {
            let j = (rand() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        n
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

// Under loom every execution must replay identically: a fixed seed in
// per-execution storage.
#[cfg(loom)]
::loom::thread_local! {
    static RNG: Cell<u64> = Cell::new(0x9E37_79B9_7F4A_7C15);
}

/// xorshift64*, seeded per thread from the address of a stack slot and the
/// clock (the poll order needs to be fair, not unpredictable).
fn rand() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            let seed = &x as *const u64 as u64
                ^ std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
            x = seed | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
    })
}

/// Waits on several channel operations (or any futures) at once and runs
/// the branch of the first to finish, with Go's `select` semantics:
///
/// - when several branches are ready, one is chosen uniformly at random;
/// - a `default => ...` branch makes the select non-blocking: it runs when
///   no other branch is ready right away;
/// - branches that do not win are cancelled, and a channel operation of a
///   losing branch never takes a value (the branches' claim word lets only
///   one operation finish).
///
/// Each branch is `pattern = future => handler`. A spool channel operation
/// (`rx.recv()`, `tx.send(v)`) as a branch's future takes part in the
/// claim; any other future is polled like in tokio's `select!`, and counts
/// as ready when it returns `Ready` during the select's poll. If the output
/// does not match the pattern, the branch is disabled and the select goes
/// on. Must be used inside an `async` block or function.
///
/// # Cancellation safety
///
/// Dropping the select future cancels every branch: a channel operation
/// that has not won takes nothing; a receive that won but whose value was
/// not yet read returns the value to its channel.
///
/// # Examples
///
/// ```
/// use spool_executor::sync::chan;
/// let rt = spool_executor::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx1, rx1) = chan::<u32>(1);
///     let (_tx2, rx2) = chan::<u32>(1);
///     tx1.send(7).await.unwrap();
///     let got = spool_executor::select! {
///         v = rx1.recv() => v,
///         v = rx2.recv() => v,
///     };
///     assert_eq!(got, Some(7));
///     let none = spool_executor::select! {
///         v = rx2.recv() => v,
///         default => None,
///     };
///     assert_eq!(none, None);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(
            @parse [__B0 __B1 __B2 __B3 __B4 __B5 __B6 __B7 __B8 __B9 __B10 __B11 __B12
                    __B13 __B14 __B15 __B16 __B17 __B18 __B19 __B20 __B21 __B22 __B23
                    __B24 __B25 __B26 __B27 __B28 __B29 __B30 __B31 __B32 __B33 __B34
                    __B35 __B36 __B37 __B38 __B39 __B40 __B41 __B42 __B43 __B44 __B45
                    __B46 __B47 __B48 __B49 __B50 __B51 __B52 __B53 __B54 __B55 __B56
                    __B57 __B58 __B59 __B60 __B61 __B62 __B63]
            [] [] $($tokens)*
        )
    };
}

/// `select!`'s branch parser (tt muncher): names each branch with the next
/// identifier from the list, then hands the branches to `__select_emit!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // `default => handler`
    (@parse [$($ids:ident)*] [$($acc:tt)*] [] default => $body:block , $($rest:tt)*) => {
        $crate::__select_parse!(@parse [$($ids)*] [$($acc)*] [$body] $($rest)*)
    };
    (@parse [$($ids:ident)*] [$($acc:tt)*] [] default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@parse [$($ids)*] [$($acc)*] [$body] $($rest)*)
    };
    (@parse [$($ids:ident)*] [$($acc:tt)*] [] default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@parse [$($ids)*] [$($acc)*] [$body] $($($rest)*)?)
    };
    (@parse [$($ids:ident)*] [$($acc:tt)*] [$($def:tt)+] default => $($rest:tt)*) => {
        compile_error!("spool::select!: more than one `default` branch")
    };
    // `pattern = future, if precondition => handler` (tokio's syntax; a
    // false precondition disables the branch from the start)
    (@parse [$id:ident $($ids:ident)*] [$($acc:tt)*] [$($def:tt)*]
        $p:pat = $f:expr, if $c:expr => $body:block , $($rest:tt)*) => {
        $crate::__select_parse!(@parse [$($ids)*] [$($acc)* ($id, $p, $f, $c, $body)] [$($def)*] $($rest)*)
    };
    (@parse [$id:ident $($ids:ident)*] [$($acc:tt)*] [$($def:tt)*]
        $p:pat = $f:expr, if $c:expr => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@parse [$($ids)*] [$($acc)* ($id, $p, $f, $c, $body)] [$($def)*] $($rest)*)
    };
    (@parse [$id:ident $($ids:ident)*] [$($acc:tt)*] [$($def:tt)*]
        $p:pat = $f:expr, if $c:expr => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@parse [$id $($ids)*] [$($acc)*] [$($def)*] $p = $f, if $c => { $body } $($($rest)*)?)
    };
    // `pattern = future => handler`
    (@parse [$id:ident $($ids:ident)*] [$($acc:tt)*] [$($def:tt)*]
        $p:pat = $f:expr => $($rest:tt)*) => {
        $crate::__select_parse!(@parse [$id $($ids)*] [$($acc)*] [$($def)*] $p = $f, if true => $($rest)*)
    };
    (@parse [] [$($acc:tt)*] [$($def:tt)*] $p:pat = $($rest:tt)*) => {
        compile_error!("spool::select!: at most 64 branches")
    };
    (@parse [$($ids:ident)*] [$($acc:tt)*] [$($def:tt)*]) => {
        $crate::__select_emit!([$($acc)*] [$($def)*])
    };
}

/// `select!`'s expansion: the branch futures in a tuple that is never moved
/// (pinned in place, as tokio's `select!` does), one output enum variant per
/// branch, the engine's poll, then the handler of the winner.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    ([$(($id:ident, $p:pat, $f:expr, $c:expr, $body:block))*] [$($def:tt)*]) => {{
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        enum __Out<$($id,)*> { $($id($id),)* __Default }
        const __N: usize = 0 $(+ $crate::__select_one!($id))*;
        let __has_default = $crate::__select_has_default!($($def)*);
        // Declared before the futures, so dropped after them (`Select::poll`'s contract).
        let __select = $crate::sync::__private::Select::new(__N, __has_default);
        {
            let mut __i = 0usize;
            $(
                if !$c {
                    __select.disable(__i);
                }
                __i += 1;
            )*
            let _ = __i;
        }
        let __out = {
            #[allow(unused_mut)]
            let mut __futs = ($($crate::sync::__private::into_future($f),)*);
            let __futs = &mut __futs;
            $crate::sync::__private::poll_fn(|__cx| {
                #[allow(non_snake_case, unused_variables)]
                let ($($id,)*) = &mut *__futs;
                // SAFETY: `__select` and the futures stay in this frame until
                // the select ends, the futures are never moved (only borrowed
                // through `__futs`), and they are dropped first.
                unsafe {
                    __select.poll(__cx, |__k, __cx| {
                        let mut __i = 0usize;
                        $(
                            if __k == __i {
                                // SAFETY: see above: pinned in place.
                                let __fut = ::core::pin::Pin::new_unchecked(&mut *$id);
                                return match ::core::future::Future::poll(__fut, __cx) {
                                    ::core::task::Poll::Ready(__v) => {
                                        #[allow(unreachable_patterns, unused_variables)]
                                        match &__v {
                                            $p => $crate::sync::__private::BranchPoll::Ready(__Out::$id(__v)),
                                            _ => $crate::sync::__private::BranchPoll::Disabled,
                                        }
                                    }
                                    ::core::task::Poll::Pending => $crate::sync::__private::BranchPoll::Pending,
                                };
                            }
                            __i += 1;
                        )*
                        let _ = __i;
                        unreachable!("spool::select!: branch {} out of range", __k)
                    })
                }
                .map(|__o| __o.unwrap_or(__Out::__Default))
            })
            .await
        };
        #[allow(unreachable_patterns, unused_variables)]
        match __out {
            $(__Out::$id($p) => $body,)*
            __Out::__Default => $crate::__select_default!($($def)*),
            _ => unreachable!("spool::select!: a branch's pattern stopped matching"),
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_one {
    ($id:ident) => {
        1
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_has_default {
    () => {
        false
    };
    ($($t:tt)+) => {
        true
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_default {
    () => {
        unreachable!("spool::select!: no default branch")
    };
    ($body:expr) => {
        $body
    };
}
