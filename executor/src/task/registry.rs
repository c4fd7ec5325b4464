//! The live-task registry: every spawned, unfinished task of one runtime.
//!
//! Needed twice: shutdown drops the future of every task that has not
//! finished, and the tracer reports the status of every live task when a
//! trace starts (under stop-the-world).
//!
//! Shape: sharded intrusive doubly-linked lists (the links live in the task
//! header, 16 bytes per task, no allocation). A task belongs to the shard
//! of its id block (see `shard`). Invariants:
//! - A task's `links` are read or written only with its shard's lock held.
//! - A task is in the list from spawn until it completes (the completing
//!   thread unlinks it) or until shutdown drains it; the list holds one
//!   reference, dropped by whoever unlinks it.
//! - Once a shard is closed (shutdown), nothing is linked into it again:
//!   `insert` returns false and the spawner cancels the task itself.

use std::ptr::NonNull;
use std::sync::Mutex;

use crossbeam_utils::CachePadded;

use super::Header;
use crate::loom::lock_std as lock;

/// Intrusive list pointers, guarded by the shard lock.
#[derive(Default)]
pub(crate) struct Links {
    prev: Option<NonNull<Header>>,
    next: Option<NonNull<Header>>,
}

#[derive(Default)]
struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    /// Tasks ever linked here (counted under the lock the insert takes anyway).
    spawned: u64,
    closed: bool,
}

// SAFETY: the raw pointers are only followed with the shard lock held, and
// the tasks they point to are Sync.
unsafe impl Send for Shard {}

/// Sharded list of the live tasks of one runtime.
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    mask: usize,
}

impl Registry {
    /// A registry with about four shards per P (a power of two), so that
    /// spawns and completions on different Ps rarely share a lock.
    pub(crate) fn new(procs: usize) -> Registry {
        let n = (procs * 4).next_power_of_two().max(4);
        Registry {
            shards: (0..n)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            mask: n - 1,
        }
    }

    /// The shard of a task: by its id *block* (ids are handed out to each
    /// thread in blocks of [`ID_BATCH`](super::ID_BATCH)), so one thread's
    /// consecutive spawns share one shard and different threads mostly use
    /// different shards; with `id & mask`, every burst of spawns visited
    /// every shard lock and moved all their cache lines between threads.
    fn shard(&self, h: &Header) -> &Mutex<Shard> {
        let block = h.id() >> super::ID_BATCH.trailing_zeros();
        &self.shards[block as usize & self.mask]
    }

    /// Links a new task. False when the registry is closed (shutdown).
    pub(crate) fn insert(&self, task: NonNull<Header>) -> bool {
        // SAFETY: the caller (spawn) holds references to the task.
        let h = unsafe { task.as_ref() };
        let mut shard = lock(self.shard(h));
        if shard.closed {
            return false;
        }
        // SAFETY: shard lock held; `task` is not linked anywhere yet.
        unsafe {
            let links = &mut *h.links.get();
            links.prev = None;
            links.next = shard.head;
            if let Some(old) = shard.head {
                (*old.as_ref().links.get()).prev = Some(task);
            }
        }
        shard.head = Some(task);
        shard.len += 1;
        shard.spawned += 1;
        true
    }

    /// Unlinks a task if it is still linked; true when it was (the caller
    /// then owns the registry's reference).
    pub(crate) fn remove(&self, task: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference to the task.
        let h = unsafe { task.as_ref() };
        let mut shard = lock(self.shard(h));
        // SAFETY: shard lock held.
        let links = unsafe { &mut *h.links.get() };
        if links.prev.is_none() && shard.head != Some(task) {
            return false; // drained by shutdown already
        }
        // SAFETY: shard lock held; neighbours are linked tasks of this shard.
        unsafe { unlink(&mut shard, task, links) };
        true
    }

    /// Closes every shard and unlinks all tasks, handing each (with the
    /// registry's reference) to `f` outside the lock.
    pub(crate) fn close_and_drain(&self, mut f: impl FnMut(NonNull<Header>)) {
        for shard in self.shards.iter() {
            let mut batch = Vec::new();
            {
                let mut s = lock(shard);
                s.closed = true;
                while let Some(task) = s.head {
                    // SAFETY: shard lock held; `task` is this shard's head.
                    unsafe {
                        let links = &mut *task.as_ref().links.get();
                        unlink(&mut s, task, links);
                    }
                    batch.push(task);
                }
            }
            batch.into_iter().for_each(&mut f);
        }
    }

    /// Calls `f` on every live task, one shard lock at a time. `f` must not
    /// spawn or complete tasks (it would deadlock on the shard lock).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            let s = lock(shard);
            let mut cur = s.head;
            while let Some(task) = cur {
                // SAFETY: linked tasks are alive (the list holds a reference)
                // and the shard lock is held.
                let h = unsafe { task.as_ref() };
                f(h);
                // SAFETY: shard lock held.
                cur = unsafe { (*h.links.get()).next };
            }
        }
    }

    /// Calls `f` on the live task with id `id`, if there is one (sysmon's
    /// long-poll report: the header is read under the shard lock, where a
    /// linked task is alive). Walks one shard.
    pub(crate) fn find<R>(&self, id: u64, f: impl FnOnce(&Header) -> R) -> Option<R> {
        let block = id >> super::ID_BATCH.trailing_zeros();
        let s = lock(&self.shards[block as usize & self.mask]);
        let mut cur = s.head;
        while let Some(task) = cur {
            // SAFETY: linked tasks are alive (the list holds a reference)
            // and the shard lock is held.
            let h = unsafe { task.as_ref() };
            if h.id() == id {
                return Some(f(h));
            }
            // SAFETY: shard lock held.
            cur = unsafe { (*h.links.get()).next };
        }
        None
    }

    /// Number of live (spawned, unfinished) tasks.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len).sum()
    }

    /// Live tasks and tasks ever spawned, read together shard by shard.
    pub(crate) fn counts(&self) -> (usize, u64) {
        self.shards.iter().fold((0, 0), |(l, n), s| {
            let s = lock(s);
            (l + s.len, n + s.spawned)
        })
    }
}

/// # Safety
/// The shard lock is held and `task` (whose links are `links`) is in `shard`.
unsafe fn unlink(shard: &mut Shard, task: NonNull<Header>, links: &mut Links) {
    match links.prev {
        // SAFETY: linked neighbours are alive; shard lock held.
        Some(p) => unsafe { (*p.as_ref().links.get()).next = links.next },
        None => shard.head = links.next,
    }
    if let Some(n) = links.next {
        // SAFETY: as above.
        unsafe { (*n.as_ref().links.get()).prev = links.prev };
    }
    debug_assert!(shard.head != Some(task));
    links.prev = None;
    links.next = None;
    shard.len -= 1;
}
