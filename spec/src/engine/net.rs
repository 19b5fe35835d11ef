//! The network of the engine: Stateright's unordered non-duplicating network (a multiset of
//! envelopes) as a sorted vector, so that equal multisets are equal vectors, hash as one
//! slice, and iterate in the order of the actor model's actions. The vector is inline (an
//! envelope is a few bytes, and a state has a dozen in flight at most in the configurations
//! checked): copying a state allocates nothing.

use crate::msg::Msg;
use smallvec::SmallVec;
use stateright::actor::Id;

/// A message in flight. Field order is the actor model's action order: source, destination,
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Env {
    src: u8,
    dst: u8,
    pub msg: Msg,
}

impl Env {
    pub fn new(src: Id, dst: Id, msg: Msg) -> Env {
        let byte = |id: Id| u8::try_from(usize::from(id)).expect("fewer than 256 actors");
        Env {
            src: byte(src),
            dst: byte(dst),
            msg,
        }
    }
    pub fn src(&self) -> Id {
        Id::from(self.src as usize)
    }
    pub fn dst(&self) -> Id {
        Id::from(self.dst as usize)
    }
}

/// The messages in flight: a sorted multiset (a message sent twice is in it twice).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Net(SmallVec<[Env; INLINE]>);

/// Envelopes held without an allocation (more spill to the heap).
const INLINE: usize = 16;

impl Net {
    /// Sends a message.
    pub fn send(&mut self, e: Env) {
        let at = self.0.partition_point(|x| *x <= e);
        self.0.insert(at, e);
    }

    /// Delivers one copy of a message in flight.
    ///
    /// # Panics
    /// If the message is not in flight.
    pub fn deliver(&mut self, e: &Env) {
        let at = self
            .0
            .binary_search(e)
            .unwrap_or_else(|_| panic!("{e:?} is not in flight"));
        self.0.remove(at);
    }

    /// Every message in flight, each copy, in order.
    pub fn iter_all(&self) -> impl Iterator<Item = &Env> {
        self.0.iter()
    }

    /// Each distinct message in flight once, in order (the deliveries the checker tries).
    pub fn iter_distinct(&self) -> impl Iterator<Item = &Env> {
        self.0
            .iter()
            .enumerate()
            .filter(|(i, e)| *i == 0 || self.0[i - 1] != **e)
            .map(|(_, e)| e)
    }

    /// Renames the envelopes (symmetry) and restores the order.
    pub fn map(&self, f: impl Fn(&Env) -> Env) -> Net {
        let mut v: SmallVec<[Env; INLINE]> = self.0.iter().map(f).collect();
        v.sort_unstable();
        Net(v)
    }
}

impl Env {
    /// This envelope with source, destination and message renamed.
    pub fn renamed(&self, rename: impl Fn(Id) -> Id, msg: Msg) -> Env {
        Env::new(rename(self.src()), rename(self.dst()), msg)
    }
}
