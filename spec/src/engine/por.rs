//! Partial-order reduction: a process thread's steps are taken as soon as they are enabled.
//!
//! # The reduction
//!
//! A state of the model is the kernel's state `K`, each process thread's local state (the
//! manager's, the migrator's, and each mapper's main thread and uffd handler thread, with a
//! mapper's pending choice of its next touch counted as its main thread's), and the messages
//! in flight. An action either runs a kernel step (the delivery of a message to the kernel:
//! it reads and writes `K` and nothing else) or runs a process thread `T` (the delivery of a
//! message to `T`, or `T`'s choice of a touch: it reads and writes `T`'s local state only). Both
//! kinds take their message out of the network and may put new ones in, and a multiset's
//! insertions and removals of distinct messages commute. So actions of different threads (the
//! kernel counting as one) are *independent*: neither enables or disables the other by its
//! effect on the state they read, and both orders reach the same state.
//!
//! In a state where some process thread `T` has an enabled action, the reduced model offers
//! only `T`'s actions: the first enabled delivery to a process thread (in the actor model's
//! action order), or else all the touches of the first mapper choosing one. This set is
//! *persistent* (Godefroid 1996) when, on every path from the state that does not take it, no
//! other action of `T` runs. That follows from the invariant, checked below in every state the
//! reduced search visits ([`Engine::ample`] panics otherwise) and in every reachable state of
//! every configuration `spec/tests/engine.rs` searches in full:
//!
//! > (I) a process thread has at most one enabled delivery, and none while it chooses a touch.
//!
//! An action `b` of `T` that ran before the chosen one `a` on a path that avoids `a` would find
//! `a` still enabled (nothing but `T` changes `T`'s state, and `a`'s message stays in flight),
//! so the state before `b` would have two enabled actions of `T`, against (I). (I) holds by the
//! model's construction: every thread's system calls are synchronous (one outstanding call,
//! and a reply only to it), a mapper's main thread touches one page at a time, and a MISSING
//! event waits in the uffd until the handler is back in `read` (`Node::mapper_msg`).
//!
//! # What it preserves
//!
//! The chosen actions change no kernel state, and every property reads only the kernel's state
//! (`Check::Kernel`) except `no_deadlock`, which asks whether a state is terminal. With the
//! model acyclic, by induction on the longest path from a state to the end: if kernel state
//! `K'` is reachable from state `s` by a path `p`, then it is reachable in the reduced model
//! from `s`. The reduced model takes `a` (of thread `T`) from `s`; by (I), `p` holds no action
//! of `T` before `a` or none at all. If `a` is in `p`, moving it to the front gives a path
//! from `a(s)` to the same state; if not, `p` runs unchanged from `a(s)` (it takes nothing
//! `a` touches) and reaches `K'` with only `T`'s state different. Either way `a(s)`, which is
//! strictly closer to the end, reaches `K'`. Hence:
//! - the set of reachable kernel states (page cache, PTEs, pool, reservations, locks, kernel
//!   threads, ghost flags) is the same with and without the reduction, so every `always`
//!   property over them has the same verdict, and every `sometimes` witness is reached;
//! - a state is terminal in the reduced model exactly when it is in the full one (the offered
//!   set is never empty when some action is enabled), and persistent sets reach every terminal
//!   state: `no_deadlock` has the same verdict, and so has `punch_returns` (its condition is a
//!   monotone ghost flag, so it fails on some path exactly when some terminal state lacks it);
//! - with symmetry reduction on top, the same induction runs on the representatives.
//!
//! It does not preserve path lengths: a reduced counterexample may deliver a reply that the
//! shortest one leaves in flight, so `hugepunch traces` and other shortest-path searches run
//! without it.

use super::{Action, Engine, Sys};
use crate::ids::{mapper_id, Ctx};
use crate::msg::Msg;
use stateright::actor::{ActorModelAction, Id};

/// A process thread: a process and which of its threads.
type Thread = (Id, Ctx);

/// The thread of a process that takes a message.
fn thread(dst: Id, msg: &Msg) -> Thread {
    let ctx = match msg {
        Msg::UffdMissing { .. } => Ctx::Handler,
        Msg::Return(sc, _) => sc.ctx(),
        _ => Ctx::Main,
    };
    (dst, ctx)
}

impl Engine {
    /// The enabled actions of each process thread, for invariant (I): `(thread, deliveries,
    /// choosing)`.
    fn local_actions(&self, s: &Sys) -> Vec<(Thread, usize, bool)> {
        let mut out: Vec<(Thread, usize, bool)> = Vec::new();
        let mut count = |t: Thread, delivery: bool| match out.iter_mut().find(|(x, ..)| *x == t) {
            Some(e) if delivery => e.1 += 1,
            Some(e) => e.2 = true,
            None => out.push((t, usize::from(delivery), !delivery)),
        };
        for e in s.net.iter_distinct() {
            if e.dst() != self.kernel && self.deliverable(s, e) {
                count(thread(e.dst(), &e.msg), true);
            }
        }
        for m in 0..s.mapper_count() {
            if s.choosing & (1 << m) != 0 {
                count((mapper_id(m), Ctx::Main), false);
            }
        }
        out
    }

    /// Invariant (I) in state `s`: `Err` names a thread with two enabled actions.
    pub fn check_local_invariant(&self, s: &Sys) -> Result<(), String> {
        for ((id, ctx), deliveries, choosing) in self.local_actions(s) {
            if deliveries + usize::from(choosing) > 1 {
                let role = self.nodes[usize::from(id)].role;
                return Err(format!(
                    "{role} {ctx:?}: {deliveries} enabled deliveries{}",
                    if choosing {
                        " while choosing a touch"
                    } else {
                        ""
                    }
                ));
            }
        }
        Ok(())
    }

    /// The reduced model's actions in `s`: one process thread's, if one has an enabled action
    /// (see the module comment), else every action.
    ///
    /// # Panics
    /// If invariant (I) fails in `s`: the reduction would not be sound there.
    pub(super) fn ample(&self, s: &Sys, actions: &mut Vec<Action>) {
        let local = s
            .net
            .iter_distinct()
            .find(|e| e.dst() != self.kernel && self.deliverable(s, e));
        let chooser = (0..s.mapper_count()).find(|m| s.choosing & (1 << m) != 0);
        if local.is_none() && chooser.is_none() {
            return self.all_actions(s, actions);
        }
        if let Err(e) = self.check_local_invariant(s) {
            panic!("partial-order reduction unsound in this state: {e}\n{s:?}");
        }
        match (local, chooser) {
            (Some(e), _) => actions.push(ActorModelAction::Deliver {
                src: e.src(),
                dst: e.dst(),
                msg: e.msg,
            }),
            (None, Some(m)) => self.choices_of(m, actions),
            (None, None) => unreachable!(),
        }
    }
}
