//! The typed part of a task: the allocation layout and the per-future-type vtable.
//!
//! Everything generic over the future type `F` lives here and is kept small:
//! allocating, polling under `catch_unwind`, cancelling, moving the output
//! out and deallocating. The state machine and scheduling decisions are not
//! generic (`harness.rs`), so each spawned type costs little code.
//!
//! Invariant: the stage union holds the future until `COMPLETE` is set by the
//! thread holding `RUNNING`, which first replaces it with the output
//! (`Ok(value)`, or `Err(repr)` for panics and cancellation). Whoever then owns
//! the output (see `task/mod.rs`) moves or drops it exactly once; nothing in
//! the stage is dropped at deallocation.

use std::any::Any;
use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use spool_tracer::hooks::GoTraceState;

use super::join::{JoinError, Repr};
use super::join_waker::JoinWaker;
use super::state::State;
use super::{Header, registry::Links};

/// What a poll did with the future.
pub(crate) enum PollFuture {
    /// The future returned `Pending`; it is still in the stage.
    Pending,
    /// The future finished or panicked; the output is in the stage.
    Complete,
}

/// Operations that need the future's type.
#[derive(Clone, Copy)]
pub(crate) struct Fns {
    /// Polls the future (caller holds `RUNNING`). On completion or panic, the
    /// future is dropped and the output written.
    pub(crate) poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> PollFuture,
    /// Drops the future and writes a "cancelled" output (caller holds `RUNNING`).
    pub(crate) cancel: unsafe fn(NonNull<Header>),
    /// Moves the output into `*dst`, a `Poll<Result<T, JoinError>>`.
    pub(crate) read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops the output in place.
    pub(crate) drop_output: unsafe fn(NonNull<Header>),
    /// Frees the allocation (refcount reached zero).
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `std::any::type_name` of the future: half of the spawn site (a
    /// function because `type_name` is not `const` yet).
    pub(crate) type_name: fn() -> &'static str,
}

/// A task's vtable: the future type's operations and the spawn site, one
/// per (future type, `spawn` call site) pair, made on the first spawn of
/// the pair and never freed (`site.rs`). The header points here, so the
/// spawn location costs a task no word of its own.
pub(crate) struct Vtable {
    pub(crate) fns: Fns,
    /// Where `spawn` was called.
    pub(crate) location: &'static Location<'static>,
    /// `(fns.type_name)()`, called once when the vtable is made: a traced
    /// poll reads the spawn site with two loads instead of an indirect
    /// call per `GoStart`.
    pub(crate) type_name: &'static str,
}

/// What a finished task leaves: its value, or a panic payload. A
/// cancellation is stored as the payload [`Cancelled`] (a zero-sized box,
/// no allocation), which keeps `Result<(), _>` at 16 bytes; a separate
/// "cancelled" variant would cost another word in every task.
type Output<F> = Result<<F as Future>::Output, Box<dyn Any + Send>>;

/// Payload marking a cancelled task's output.
pub(crate) struct Cancelled;

/// Future and output share storage; which one is live is told by the state.
union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Output<F>>,
}

/// The whole allocation. `#[repr(C)]`: the header is at offset 0.
#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

struct VtableOf<F>(std::marker::PhantomData<F>);

impl<F: Future + Send + 'static> VtableOf<F>
where
    F::Output: Send + 'static,
{
    const FNS: Fns = Fns {
        poll: poll::<F>,
        cancel: cancel::<F>,
        read_output: read_output::<F>,
        drop_output: drop_output::<F>,
        dealloc: dealloc::<F>,
        type_name: std::any::type_name::<F>,
    };
}

/// Bytes of the allocation of a task whose future is `F`: the header and
/// the future/output union (`examples/task_memory.rs` prints it).
pub fn allocation_size<F: Future>() -> usize {
    std::mem::size_of::<Cell<F>>()
}

/// Allocates a task in its initial state (three references, see `state.rs`).
pub(crate) fn allocate<F>(
    future: F,
    id_rt: u64,
    location: &'static Location<'static>,
) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: super::site::vtable(&VtableOf::<F>::FNS, location),
            id_rt,
            trace: GoTraceState::new(),
            links: UnsafeCell::new(Links::default()),
            join_waker: JoinWaker::new(),
        },
        stage: UnsafeCell::new(Stage {
            future: ManuallyDrop::new(future),
        }),
    });
    NonNull::from(Box::leak(cell)).cast()
}

/// # Safety
/// `ptr` must point to a live `Cell<F>`.
unsafe fn stage<F: Future>(ptr: NonNull<Header>) -> *mut Stage<F> {
    let cell = ptr.cast::<Cell<F>>().as_ptr();
    // SAFETY: the caller guarantees `cell` is a live Cell<F>.
    unsafe { (*cell).stage.get() }
}

/// # Safety
/// The caller holds `RUNNING` on a live `Cell<F>` whose stage holds the future.
unsafe fn poll<F: Future>(ptr: NonNull<Header>, cx: &mut Context<'_>) -> PollFuture {
    // SAFETY: caller guarantees the stage is ours and holds the future.
    let stage = unsafe { stage::<F>(ptr) };
    let res = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the future lives in the task allocation, which never moves,
        // and it is dropped in place below, so pinning holds.
        let fut = unsafe { Pin::new_unchecked(&mut *(*stage).future) };
        fut.poll(cx)
    }));
    let output = match res {
        Ok(Poll::Pending) => return PollFuture::Pending,
        Ok(Poll::Ready(v)) => Ok(v),
        Err(payload) => {
            crate::flight::task_panicked();
            Err(payload)
        }
    };
    // SAFETY: the future is still in the stage and we hold RUNNING.
    unsafe { drop_future_in_place::<F>(stage) };
    // SAFETY: the future was dropped; the slot is free for the output.
    unsafe { (*stage).output = ManuallyDrop::new(output) };
    PollFuture::Complete
}

/// Drops the future, swallowing a panic from its destructor (the task is
/// finished either way; unwinding into the scheduler would be worse).
///
/// # Safety
/// The stage holds the future and the caller owns it.
unsafe fn drop_future_in_place<F: Future>(stage: *mut Stage<F>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: guaranteed by the caller; the future is dropped once.
        unsafe { ManuallyDrop::drop(&mut (*stage).future) }
    }));
}

/// # Safety
/// The caller holds `RUNNING` and the stage holds the future.
unsafe fn cancel<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: caller guarantees exclusive access to a stage holding the future.
    let stage = unsafe { stage::<F>(ptr) };
    // SAFETY: as above.
    unsafe { drop_future_in_place::<F>(stage) };
    // SAFETY: the future is gone; the slot takes the output.
    unsafe { (*stage).output = ManuallyDrop::new(Err(Box::new(Cancelled))) };
}

/// # Safety
/// The task is complete, the caller owns its output, and `dst` points to a
/// `Poll<Result<F::Output, JoinError>>`.
unsafe fn read_output<F: Future>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: caller guarantees the output is there and ours to move.
    let out = unsafe { ManuallyDrop::take(&mut (*stage::<F>(ptr)).output) };
    // SAFETY: ptr is live (we were just reading it).
    let id = unsafe { ptr.as_ref() }.id();
    let out = out.map_err(|payload| {
        if payload.is::<Cancelled>() {
            JoinError::new(id, Repr::Cancelled)
        } else {
            JoinError::new(id, Repr::Panic(payload))
        }
    });
    let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
    // SAFETY: the caller guarantees dst's type; assignment drops the old
    // value, which is `Pending` (no destructor of note).
    unsafe { *dst = Poll::Ready(out) };
}

/// # Safety
/// The task is complete and the caller owns its output.
unsafe fn drop_output<F: Future>(ptr: NonNull<Header>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: guaranteed by the caller; dropped exactly once.
        unsafe { ManuallyDrop::drop(&mut (*stage::<F>(ptr)).output) }
    }));
}

/// # Safety
/// The reference count is zero: nobody else can reach the task.
unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: allocated by `allocate::<F>` as a Box<Cell<F>>; the stage is
    // ManuallyDrop (already emptied), the header's fields drop normally.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F>>().as_ptr()) });
}
