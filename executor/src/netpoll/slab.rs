//! The netpoller's registrations: a slab of [`ScheduledIo`]s indexed by the
//! token the OS poller hands back with each event.
//!
//! A token is `generation << GEN_SHIFT | index`. Invariants (all under the
//! driver's slab lock):
//! - A slot's generation changes every time the slot is vacated, so a token
//!   names one registration for ever: an event that the OS queued for a
//!   socket before it was closed, and that is read after its slot (and maybe
//!   its fd number) went to a new socket, carries the old generation and is
//!   dropped ([`Slab::get`]), never delivered to the new owner.
//! - [`WAKER_TOKEN`] is never an index the slab hands out.
//! - `live` counts occupied slots.

use std::sync::Arc;

use super::scheduled_io::ScheduledIo;

/// Bits of a token above which the generation sits.
const GEN_SHIFT: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << GEN_SHIFT) - 1;
/// Generations wrap within the bits above [`GEN_SHIFT`].
const GEN_MASK: usize = usize::MAX >> GEN_SHIFT;

/// The token of the poller's own waker (eventfd): no slab index reaches it.
pub(crate) const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

struct Slot {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

/// Registered sockets by token.
#[derive(Default)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    /// Vacant slot indices, reused last-freed first.
    free: Vec<usize>,
    live: usize,
}

fn token(index: usize, generation: usize) -> mio::Token {
    mio::Token((generation << GEN_SHIFT) | index)
}

fn split(t: mio::Token) -> (usize, usize) {
    (t.0 & INDEX_MASK, t.0 >> GEN_SHIFT)
}

impl Slab {
    /// Stores `io`, returning its token.
    ///
    /// # Errors
    /// When every index below the token's index bits is taken.
    pub(crate) fn insert(&mut self, io: Arc<ScheduledIo>) -> std::io::Result<mio::Token> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                // The all-ones index is WAKER_TOKEN's.
                if i >= INDEX_MASK {
                    return Err(std::io::Error::other(format!(
                        "spool: too many sockets registered with the netpoller (at most {INDEX_MASK})"
                    )));
                }
                self.slots.push(Slot {
                    generation: 0,
                    io: None,
                });
                i
            }
        };
        let slot = &mut self.slots[index];
        debug_assert!(slot.io.is_none(), "slab slot {index} handed out twice");
        slot.io = Some(io);
        self.live += 1;
        Ok(token(index, slot.generation))
    }

    /// The registration `t` names, if it is still the one in its slot.
    pub(crate) fn get(&self, t: mio::Token) -> Option<&Arc<ScheduledIo>> {
        let (index, generation) = split(t);
        let slot = self.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.io.as_ref()
    }

    /// Vacates `t`'s slot (bumping its generation); `None` if `t` is stale.
    pub(crate) fn remove(&mut self, t: mio::Token) -> Option<Arc<ScheduledIo>> {
        let (index, generation) = split(t);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let io = slot.io.take()?;
        slot.generation = (slot.generation + 1) & GEN_MASK;
        self.free.push(index);
        self.live -= 1;
        Some(io)
    }

    /// Registered sockets.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Every live registration (runtime shutdown marks them dead; their
    /// owners still release their slots when dropped).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Arc<ScheduledIo>)) {
        for s in &self.slots {
            if let Some(io) = &s.io {
                f(io);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Uses private `split`/`token` to show the generation in the token.
    #[test]
    fn a_stale_token_never_reaches_the_slot_s_new_owner() {
        let mut slab = Slab::default();
        let a = Arc::new(ScheduledIo::new());
        let ta = slab.insert(Arc::clone(&a)).unwrap();
        assert!(Arc::ptr_eq(slab.get(ta).unwrap(), &a));
        assert!(slab.remove(ta).is_some());
        let b = Arc::new(ScheduledIo::new());
        let tb = slab.insert(Arc::clone(&b)).unwrap();
        assert_eq!(split(ta).0, split(tb).0, "the slot is reused");
        assert_ne!(ta, tb, "with a new generation");
        assert!(slab.get(ta).is_none(), "the late event is dropped");
        assert!(slab.remove(ta).is_none());
        assert!(Arc::ptr_eq(slab.get(tb).unwrap(), &b));
        assert_eq!(slab.len(), 1);
        assert_ne!(split(WAKER_TOKEN).0, split(tb).0);
    }
}
