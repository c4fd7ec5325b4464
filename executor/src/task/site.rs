//! Vtables per (future type, spawn site): how a task finds its spawn
//! location without a header word for it.
//!
//! A task's header points at one [`Vtable`]: the future type's functions
//! ([`Fns`], a promoted constant per type) plus the `Location` of the
//! `spawn` call. Both are `'static` and a program has a bounded number of
//! (type, call site) pairs, so the vtable of a pair is built on its first
//! spawn, leaked, and shared by every later task of that pair; the header
//! is a word smaller (the location was a field of its own) and a poll still
//! reaches its `poll` function through one load.
//!
//! Lookup: a per-thread direct-mapped cache of 64 entries keyed by the two
//! addresses (a spawn from a site the thread used recently costs a
//! thread-local read, a multiply and two compares), then a global map
//! under a mutex, which also builds a missing vtable. The key is the
//! *address* of the type's `Fns`: if two types' constants are merged (equal
//! contents, so equal behaviour) they share a vtable, which is correct.
//!
//! Invariant: a vtable in the cache or the map is never freed or changed.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Mutex;

use super::raw::{Fns, Vtable};

const CACHE_BITS: u32 = 6;
const CACHE_LEN: usize = 1 << CACHE_BITS;

/// (address of `Fns`, address of `Location`) → the pair's vtable.
type Key = (usize, usize);

thread_local! {
    /// This thread's recently used vtables; an empty entry has key (0, 0),
    /// which no pair of live addresses has.
    static CACHE: [Cell<(Key, Option<&'static Vtable>)>; CACHE_LEN] =
        const { [const { Cell::new(((0, 0), None)) }; CACHE_LEN] };
}

/// Every vtable made so far.
static ALL: Mutex<Option<HashMap<Key, &'static Vtable>>> = Mutex::new(None);

/// The vtable of tasks of the type whose functions are `fns`, spawned at
/// `location`.
#[inline]
pub(crate) fn vtable(fns: &'static Fns, location: &'static Location<'static>) -> &'static Vtable {
    let key: Key = (
        fns as *const Fns as usize,
        location as *const Location<'static> as usize,
    );
    // Fibonacci hashing of the two addresses (both at least 8-aligned).
    let h = (key.0 ^ key.1.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    let slot = h >> (usize::BITS - CACHE_BITS);
    // `try_with`: a spawn from a thread-local destructor finds the cache
    // gone and uses the map.
    let hit = CACHE
        .try_with(|c| match c[slot].get() {
            (k, Some(vt)) if k == key => Some(vt),
            _ => None,
        })
        .ok()
        .flatten();
    if let Some(vt) = hit {
        return vt;
    }
    let vt = lookup_slow(key, fns, location);
    let _ = CACHE.try_with(|c| c[slot].set((key, Some(vt))));
    vt
}

#[cold]
fn lookup_slow(
    key: Key,
    fns: &'static Fns,
    location: &'static Location<'static>,
) -> &'static Vtable {
    // A panic cannot happen while the map is changed (an insert of a
    // leaked reference), so a poisoned lock still holds a consistent map.
    let mut all = ALL.lock().unwrap_or_else(|e| e.into_inner());
    all.get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| {
            Box::leak(Box::new(Vtable {
                fns: *fns,
                location,
                type_name: (fns.type_name)(),
            }))
        })
}
