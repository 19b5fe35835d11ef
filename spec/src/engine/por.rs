//! Partial-order reduction: a thread's step is taken ahead of every other thread's when no
//! other thread can tell the difference.
//!
//! # The reduction
//!
//! A state of the model is the kernel's state `K` (shared data, locks, and a slot per kernel
//! thread), each process thread's local state (the manager's, the migrator's, and each
//! mapper's main thread and uffd handler thread, with a mapper's pending choice of its next
//! touch counted as its main thread's), and the messages in flight. Every action belongs to
//! one *thread*: a process thread together with the kernel thread it runs as while it is in
//! the kernel. The delivery of a message to a process, or a choice of a touch, is its
//! process thread's; a system call entry or an access is the caller's; a kernel step
//! `Step(t, pc)` is `t`'s. Every action also takes its message out of the network and may put
//! new ones in, and a multiset's insertions and removals of distinct messages commute.
//!
//! In a state where some thread `T` has an *eager* action `a`, the reduced model offers only
//! `T`'s actions (`a`, or all the touches of a mapper choosing one); else it offers every
//! action. The eager actions, by preference: the first delivery, entry or private step in
//! the actor model's action order, else a choice, else the first uncontended acquisition.
//!
//! 1. **A process thread's delivery or choice**: it reads and writes `T`'s local state only.
//! 2. **A system call entry** (`Kernel::syscall_entry`): it is always enabled and writes only
//!    `T`'s own kernel slot, from empty to the call's first step with the call's arguments.
//!    The kernel code that reads another thread's slot asks only whether it is asleep
//!    (`wake_userfault`: in `handle_userfault`; `punch_return`: on the hole marker), whether
//!    a punch has got past `hugetlb_vmdelete_list` or its lookup (`race_window_open`,
//!    `removal_holds_ref`), what a migration holds (`migration_held`), and whether it is
//!    there at all (`all_done`, at terminal states only); a thread that has just entered
//!    answers each as an empty slot does.
//! 3. **A process-private step** ([`crate::steps::Step::process_private`]):
//!    `userfaultfd_register` writes its VMA's `VM_UFFD_MISSING`, which only the same
//!    thread's faults read (and the thread is in this call); `userfaultfd_wake` writes the
//!    main thread's slot, taken eagerly only while that thread sleeps in `handle_userfault`,
//!    which nothing but its own handler ends. Both then return to the caller.
//!    [`super::future::process_private`] checks the write side on every such step taken.
//! 4. **A pure lock acquisition** ([`crate::steps::Step::pure_acquire`]: the fault path's and
//!    `UFFDIO_COPY`'s `i_mmap_lock_read`, fault mutex and `hugetlb_vma_lock_read`), enabled,
//!    when no other thread can take that lock against it in any state reachable from here:
//!    [`Engine::takes`] over-approximates the locks each thread may still take (for write,
//!    for the rwsems). The step reads only the lock and its own locals and writes only the
//!    lock and its program counter ([`super::future::acquired`] checks the write side on
//!    every such step the reduction takes, and panics otherwise); the lock's other users are
//!    acquisitions that cannot happen, and readers or releases that commute with a read
//!    acquisition; no kernel code asks whether a fault or copy thread is at one of these
//!    steps.
//!
//! So an eager action `a` of `T` is *independent* of every action another thread can take
//! from `s` on: neither enables or disables the other, and both orders reach the same state.
//! The set `{a}` (or `T`'s choices) is then *persistent* (Godefroid 1996) if, on every path
//! from `s` that does not take it, no other action of `T` runs. That follows from the
//! invariant, checked below in every state the reduced search offers a reduced set in
//! ([`Engine::ample`] panics otherwise) and in every reachable state of every configuration
//! `spec/tests/por.rs` searches in full:
//!
//! > (I) a thread has at most one action in flight: one enabled delivery to its process
//! > thread, or one message to the kernel (an entry, an access, a step token, enabled or
//! > not), or a choice of a touch.
//!
//! An action `b` of `T` that ran before the chosen one `a` on a path that avoids `a` would
//! find `a` still in flight (only `T` consumes `T`'s messages) so the state before `b` would
//! hold two actions of `T`, against (I). (I) holds by the model's construction: every
//! thread's system calls and touches are synchronous (one outstanding call, and a reply only
//! to it), a kernel thread has one step token, and a MISSING event waits in the uffd until
//! the handler is back in `read` (`Node::mapper_msg`).
//!
//! # What it preserves
//!
//! The eager actions are *invisible*: they change no kernel data another process can see,
//! only a process's local state, a thread slot, a lock or a VMA's userfaultfd registration.
//! Every property reads only the kernel's state (`Check::Kernel`: the page cache, PTEs, pool
//! and reservations, ghost flags, and what a migration holds, which an entry leaves empty)
//! except `no_deadlock`, which asks whether a state is terminal. With persistent, invisible
//! reduced sets in an acyclic model, every path of the full model has a path of the reduced
//! model that passes through the same sequence of *abstract states* (the kernel without its
//! locks, thread slots and registrations), up to repetitions (Peled 1993; Clarke, Grumberg,
//! Peled, *Model Checking*, ch. 10, with the cycle proviso void here). Hence:
//! - the set of reachable abstract states (page cache, PTEs, pool, reservations, ghost
//!   flags) is the same with and without the reduction, so every `always` property over
//!   them has the same verdict, and every `sometimes` witness is reached;
//! - a state is terminal in the reduced model exactly when it is in the full one (the offered
//!   set is never empty when some action is enabled), and persistent sets reach every terminal
//!   state: `no_deadlock` has the same verdict, and so has `punch_returns` (its condition is a
//!   monotone ghost flag, so it fails on some path exactly when some terminal state lacks it);
//! - with symmetry reduction on top, the same holds up to renaming: by induction on the
//!   longest path from a state to the end, a successor the search skips as a renaming of a
//!   state it searched reaches the renamed abstract states, and the properties do not tell
//!   mappers apart.
//!
//! It does not preserve path lengths: a reduced counterexample may deliver a reply that the
//! shortest one leaves in flight, so `hugepunch traces` and other shortest-path searches run
//! without it.

use super::future::{acquired, process_private, Takes};
use super::{Action, Engine, Env, Sys};
use crate::ids::{mapper_id, Tid};
use crate::kernel::{Kernel, Step};
use crate::msg::Msg;
use crate::node::kernel_msg;
use stateright::actor::ActorModelAction;

/// What the reduced model offers instead of every action.
enum Eager<'a> {
    /// One delivery.
    Deliver(&'a Env),
    /// Every touch mapper `m` may choose.
    Choose(u8),
}

impl Engine {
    /// The thread a message in flight is an action of: the process thread it is for, or the
    /// thread that enters the kernel, touches, or runs the step.
    pub(super) fn thread_of(&self, e: &Env) -> Tid {
        let (src, dst) = (e.src(), e.dst());
        match e.msg {
            Msg::Step(t, _) => t,
            Msg::Syscall(sc) => Tid::new(src, sc.ctx()),
            Msg::Access { .. } => Tid::main(src),
            msg if dst == self.kernel => unreachable!("the kernel takes no {msg:?}"),
            Msg::UffdMissing { .. } => Tid::handler(dst),
            Msg::Return(sc, _) => Tid::new(dst, sc.ctx()),
            _ => Tid::main(dst),
        }
    }

    /// The actions in flight of each thread, for invariant (I): `(thread, messages,
    /// choosing)`, counting deliveries to a process only when enabled.
    fn local_actions(&self, s: &Sys) -> Vec<(Tid, usize, bool)> {
        let mut out: Vec<(Tid, usize, bool)> = Vec::new();
        let mut count = |t: Tid, delivery: bool| match out.iter_mut().find(|(x, ..)| *x == t) {
            Some(e) if delivery => e.1 += 1,
            Some(e) => e.2 = true,
            None => out.push((t, usize::from(delivery), !delivery)),
        };
        for e in s.net.iter_distinct() {
            if e.dst() == self.kernel || self.deliverable(s, e) {
                count(self.thread_of(e), true);
            }
        }
        for m in 0..s.mapper_count() {
            if s.choosing & (1 << m) != 0 {
                count(Tid::main(mapper_id(m)), false);
            }
        }
        out
    }

    /// Invariant (I) in state `s`: `Err` names a thread with two actions in flight.
    pub fn check_local_invariant(&self, s: &Sys) -> Result<(), String> {
        for (t, messages, choosing) in self.local_actions(s) {
            if messages + usize::from(choosing) > 1 {
                let role = self.nodes[usize::from(t.pid())].role;
                return Err(format!(
                    "{role} {:?}: {messages} actions in flight{}",
                    t.ctx,
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

    /// The first eager action of `s` (see the module comment), if any.
    fn eager<'a>(&self, s: &'a Sys) -> Option<Eager<'a>> {
        // A process thread's delivery or a system call entry.
        let local = s.net.iter_distinct().find(|e| {
            if e.dst() == self.kernel {
                matches!(e.msg, Msg::Syscall(_)) || self.private_step(s, e)
            } else {
                self.deliverable(s, e)
            }
        });
        if let Some(e) = local {
            return Some(Eager::Deliver(e));
        }
        if let Some(m) = (0..s.mapper_count()).find(|m| s.choosing & (1 << m) != 0) {
            return Some(Eager::Choose(m));
        }
        // A pure lock acquisition nobody else can contend: the other threads' futures are
        // worked out once, at the first candidate.
        let mut others: Option<Vec<(Tid, Takes)>> = None;
        s.net.iter_distinct().find_map(|e| {
            let Msg::Step(t, pc) = e.msg else {
                return None;
            };
            if !pc.pure_acquire() {
                return None;
            }
            let (after, _) = kernel_msg(&self.cfg, &s.kernel, e.src(), e.msg)?;
            let lock = acquired(&s.kernel, &after, t).unwrap_or_else(|why| {
                panic!("partial-order reduction unsound: {pc:?} is not a pure acquisition: {why}")
            });
            let Some(lock) = lock else {
                return Some(Eager::Deliver(e));
            };
            let others = others
                .get_or_insert_with(|| s.kernel.tids().map(|u| (u, self.takes(s, u))).collect());
            let contended = others.iter().any(|&(u, f)| u != t && f.conflicts(lock));
            (!contended).then_some(Eager::Deliver(e))
        })
    }

    /// Whether `e` is a process-private step ([`crate::steps::Step::process_private`]) that
    /// touches only its own process's data here: a wake finds its main thread asleep in
    /// `handle_userfault`.
    ///
    /// # Panics
    /// If the step writes anything else: the reduction would not be sound.
    fn private_step(&self, s: &Sys, e: &Env) -> bool {
        let Msg::Step(t, pc) = e.msg else {
            return false;
        };
        if !pc.process_private() {
            return false;
        }
        let main = s.kernel.threads[Kernel::slot(Tid::main(t.pid()))];
        if pc == Step::UserfaultfdWake && main.is_none_or(|k| k.pc != Step::HandleUserfault) {
            return false;
        }
        let Some((after, _)) = kernel_msg(&self.cfg, &s.kernel, e.src(), e.msg) else {
            return false;
        };
        if let Err(why) = process_private(&s.kernel, &after, t) {
            panic!("partial-order reduction unsound: {pc:?} is not process-private: {why}");
        }
        true
    }

    /// The reduced model's actions in `s`: one thread's, if it has an eager action (see the
    /// module comment), else every action.
    ///
    /// # Panics
    /// If invariant (I) fails in `s`, or a pure acquisition writes more than its lock: the
    /// reduction would not be sound there.
    pub(super) fn ample(&self, s: &Sys, actions: &mut Vec<Action>) {
        let Some(eager) = self.eager(s) else {
            return self.all_actions(s, actions);
        };
        if let Err(e) = self.check_local_invariant(s) {
            panic!("partial-order reduction unsound in this state: {e}\n{s:?}");
        }
        match eager {
            Eager::Deliver(e) => actions.push(ActorModelAction::Deliver {
                src: e.src(),
                dst: e.dst(),
                msg: e.msg,
            }),
            Eager::Choose(m) => self.choices_of(m, actions),
        }
    }
}
