//! The properties: each an English sentence with a stable id, checked on every state.

use crate::cfg::ModelCfg;
use crate::kernel::Kernel;
use crate::node::{Node, NodeState};
use crate::page::PageId;
use crate::procs::{ManagerState, MapperState, MigratorState};
use stateright::actor::{is_no_op, Actor, ActorModel, ActorModelAction, ActorModelState, Out};
use stateright::{Expectation, Model};
use std::borrow::Cow;

/// The checked model.
pub type HugeModel = ActorModel<Node, ModelCfg, ()>;
/// One state of it.
pub type HugeState = ActorModelState<Node, ()>;

/// A property: stable id (printed by `--json`), expectation, sentence (the Stateright name).
#[derive(Debug)]
pub struct Prop {
    pub id: &'static str,
    pub expectation: Expectation,
    pub sentence: &'static str,
    /// What the property reads: one definition, for every model that checks it ([`Checked`]).
    pub check: Check,
    /// A counterexample is a kernel that hangs (no thread can move, or the punch never
    /// returns): its trace must not be replayed on a real kernel unless asked for.
    pub hangs: bool,
}

/// Every property, in report order.
pub const PROPERTIES: [Prop; 15] = [
    Prop {
        id: "hole_freed_on_return",
        expectation: Expectation::Always,
        sentence: "when the punch returns, every page of the hole is out of the page cache",
        check: Check::Kernel(hole_freed_on_return),
        hangs: false,
    },
    Prop {
        id: "hole_touch_caught",
        expectation: Expectation::Always,
        sentence:
            "after the punch returns, every mapper touch of the hole is caught by userfaultfd",
        check: Check::Kernel(|_, k| !k.ghost.uncaught_hole_touch),
        hangs: false,
    },
    Prop {
        id: "no_stale_mapping",
        expectation: Expectation::Always,
        sentence: "no mapper maps a page that is no longer in the page cache",
        check: Check::Kernel(no_stale_mapping),
        hangs: false,
    },
    Prop {
        id: "accounting",
        expectation: Expectation::Always,
        sentence: "pool, reservation and i_blocks accounting add up",
        check: Check::Kernel(accounting),
        hangs: false,
    },
    Prop {
        id: "no_bug_on",
        expectation: Expectation::Always,
        sentence: "no kernel BUG_ON is reached",
        check: Check::Kernel(|_, k| k.ghost.bug.is_none()),
        hangs: false,
    },
    Prop {
        id: "no_deadlock",
        expectation: Expectation::Always,
        sentence: "some thread can always move until all are done",
        check: Check::NoDeadlock,
        hangs: true,
    },
    Prop {
        id: "punch_returns",
        expectation: Expectation::Eventually,
        sentence: "the punch returns",
        check: Check::Kernel(|_, k| k.ghost.punched),
        hangs: true,
    },
    Prop {
        id: "race_window_fault",
        expectation: Expectation::Sometimes,
        sentence: "a fault maps a page between hugetlb_vmdelete_list and remove_inode_hugepages",
        check: Check::Kernel(|_, k| k.ghost.race_window_fault),
        hangs: false,
    },
    Prop {
        id: "hole_touch_missing",
        expectation: Expectation::Sometimes,
        sentence: "a touch of the hole raises MISSING",
        check: Check::Kernel(|_, k| k.ghost.hole_touch_missing),
        hangs: false,
    },
    Prop {
        id: "uffd_copy_eexist",
        expectation: Expectation::Sometimes,
        sentence: "UFFDIO_COPY returns EEXIST",
        check: Check::Kernel(|_, k| k.ghost.uffd_copy_eexist),
        hangs: false,
    },
    Prop {
        id: "uffd_copy_enomem",
        expectation: Expectation::Sometimes,
        sentence: "UFFDIO_COPY returns ENOMEM",
        check: Check::Kernel(|_, k| k.ghost.uffd_copy_enomem),
        hangs: false,
    },
    Prop {
        id: "fault_waits_on_marker",
        expectation: Expectation::Sometimes,
        sentence: "a fault waits on the hole marker",
        check: Check::Kernel(|_, k| k.ghost.fault_waits_on_marker),
        hangs: false,
    },
    Prop {
        id: "vmdelete_skips_vma",
        expectation: Expectation::Sometimes,
        sentence: "hugetlb_vmdelete_list skips a VMA whose vma_lock it could not trylock",
        check: Check::Kernel(|_, k| k.ghost.vmdelete_skips_vma),
        hangs: false,
    },
    Prop {
        id: "punch_frees_hole",
        expectation: Expectation::Sometimes,
        sentence: "the punch returns with the whole hole freed",
        check: Check::Kernel(|_, k| k.ghost.punch_frees_hole),
        hangs: false,
    },
    Prop {
        id: "migration_race_window",
        expectation: Expectation::Sometimes,
        sentence: "the removal loop reaches a page while its PTE is a migration entry",
        check: Check::Kernel(|_, k| k.ghost.migration_race_window),
        hangs: false,
    },
];

/// The property with this id.
pub fn by_id(id: &str) -> Option<&'static Prop> {
    PROPERTIES.iter().find(|p| p.id == id)
}

/// The property with this Stateright name (its sentence).
pub fn by_sentence(sentence: &str) -> Option<&'static Prop> {
    PROPERTIES.iter().find(|p| p.sentence == sentence)
}

/// What a property reads.
#[derive(Debug)]
pub enum Check {
    /// A condition on the kernel's state (its ghost flags included) alone.
    Kernel(fn(&ModelCfg, &Kernel) -> bool),
    /// `no_deadlock`: asks the model whether some action can still change the state.
    NoDeadlock,
}

/// A model that checks [`PROPERTIES`]: the actor model ([`HugeModel`]) and the compact engine
/// ([`crate::engine::Engine`]) built from the same actor code. Each property is defined once,
/// in [`Prop::check`], and read through this trait.
pub trait Checked: Model {
    fn cfg(&self) -> &ModelCfg;
    /// The kernel's state in a model state.
    fn kernel_of<'a>(&self, s: &'a Self::State) -> &'a Kernel;
    /// Every process and kernel thread is done (see [`all_done`]).
    fn all_done(&self, s: &Self::State) -> bool;
    /// Some action of `s` has a successor.
    fn some_action_enabled(&self, s: &Self::State) -> bool;
}

impl Prop {
    /// The property's condition in state `s` of model `m`.
    pub fn holds<M: Checked>(&self, m: &M, s: &M::State) -> bool {
        match self.check {
            Check::Kernel(f) => f(m.cfg(), m.kernel_of(s)),
            // Some action can still change the state, or everything is done. Asks the model
            // itself, so a thread blocked on a lock, asleep with nobody to wake it, or waiting
            // for a reply that never comes all count as stuck.
            Check::NoDeadlock => m.all_done(s) || m.some_action_enabled(s),
        }
    }
}

/// A model whose properties are those of a model of the spec: the model itself
/// ([`HugeModel`], the engine) or one built around it (the Explorer's renaming model, the
/// `--max-seconds` stop switch). A Stateright property is a plain `fn` of the model, so each
/// property gets a trampoline that reads the wrapped model.
pub trait Wraps: Model {
    type Inner: Checked<State = Self::State>;
    fn wrapped(&self) -> &Self::Inner;
}

/// Property `I` of [`PROPERTIES`] as a Stateright condition of model `M`.
fn condition<M: Wraps, const I: usize>(m: &M, s: &M::State) -> bool {
    PROPERTIES[I].holds(m.wrapped(), s)
}

/// [`PROPERTIES`] as Stateright properties of `M`, in order (the count of trampolines is
/// checked against `PROPERTIES` at compile time).
pub fn properties<M: Wraps>() -> Vec<stateright::Property<M>> {
    let conditions: [fn(&M, &M::State) -> bool; PROPERTIES.len()] = [
        condition::<M, 0>,
        condition::<M, 1>,
        condition::<M, 2>,
        condition::<M, 3>,
        condition::<M, 4>,
        condition::<M, 5>,
        condition::<M, 6>,
        condition::<M, 7>,
        condition::<M, 8>,
        condition::<M, 9>,
        condition::<M, 10>,
        condition::<M, 11>,
        condition::<M, 12>,
        condition::<M, 13>,
        condition::<M, 14>,
    ];
    PROPERTIES
        .iter()
        .zip(conditions)
        .map(|(p, condition)| stateright::Property {
            expectation: p.expectation.clone(),
            name: p.sentence,
            condition,
        })
        .collect()
}

/// The kernel's state in a model state.
pub fn kernel(s: &HugeState) -> &Kernel {
    s.actor_states
        .last()
        .expect("the kernel is the last actor")
        .kernel()
}

/// A page that was in the hole when the punch started is still in the page cache after the
/// punch returned. Pages put back since (hole reuse, `UFFDIO_COPY`) are new pages.
fn hole_freed_on_return(cfg: &ModelCfg, k: &Kernel) -> bool {
    let hole = cfg.hole_start as usize..cfg.hole_end as usize;
    !k.ghost.punched || k.cache[hole].iter().flatten().all(|p| !p.pre_punch)
}

fn no_stale_mapping(_: &ModelCfg, k: &Kernel) -> bool {
    k.mms.iter().all(|mm| {
        mm.ptes
            .iter()
            .flatten()
            .all(|id| k.cache[id.idx as usize].map(|p| p.id) == Some(*id))
    })
}

/// `i_blocks` counts the cached pages; `resv_huge_pages` counts the resv_map entries without a
/// page; every pool page is free or in use (cached, mapped, or held by the migrator);
/// reservations never exceed the free pages.
fn accounting(cfg: &ModelCfg, k: &Kernel) -> bool {
    let cached = k.cache.iter().flatten().count();
    let reserved = (0..k.cache.len())
        .filter(|&i| k.region[i] && k.cache[i].is_none())
        .count();
    // On the stack: this runs on every state.
    let mut in_use: smallvec::SmallVec<[PageId; 32]> =
        k.cache.iter().flatten().map(|p| p.id).collect();
    in_use.extend(
        k.mms
            .iter()
            .flat_map(|mm| mm.ptes.iter().flatten().copied()),
    );
    in_use.extend(k.migration_held());
    in_use.sort_unstable();
    in_use.dedup();
    k.i_blocks as usize == cached
        && k.resv_huge_pages as usize == reserved
        && k.free_huge_pages as usize + in_use.len() == cfg.pool_pages() as usize
        && k.resv_huge_pages <= k.free_huge_pages
}

/// Every process is done and the kernel has no thread left. A mapper whose handler gave up
/// (`UFFDIO_COPY` failed with `ENOMEM`) is done too: its faulting thread sleeps in
/// `handle_userfault` until the process exits, by the application's choice, not the kernel's.
/// `mapper(m)` is mapper `m`'s process state; `migrator` the migrator's, if there is one.
pub fn all_done_of(
    manager: ManagerState,
    mapper: impl Fn(u8) -> MapperState,
    migrator: Option<MigratorState>,
    k: &Kernel,
) -> bool {
    manager == ManagerState::Done
        && (0..k.mms.len() as u8).all(|m| mapper(m).done() || mapper(m).gave_up())
        && migrator.is_none_or(|st| st == MigratorState::Done)
        && k.threads.iter().enumerate().all(|(slot, t)| match t {
            None => true,
            Some(t) => {
                let pid = usize::from(Kernel::pid_of_slot(slot));
                t.pc == crate::kernel::Step::HandleUserfault
                    && (1..=k.mms.len()).contains(&pid)
                    && mapper((pid - 1) as u8).gave_up()
            }
        })
}

/// [`all_done_of`] on an actor model state.
pub fn all_done(s: &HugeState) -> bool {
    let migrator = s.actor_states.iter().find_map(|a| match &**a {
        NodeState::Migrator(st) => Some(*st),
        _ => None,
    });
    all_done_of(
        s.actor_states[0].manager(),
        |m| s.actor_states[1 + m as usize].mapper(),
        migrator,
        kernel(s),
    )
}

impl Wraps for HugeModel {
    type Inner = HugeModel;
    fn wrapped(&self) -> &HugeModel {
        self
    }
}

impl Checked for HugeModel {
    fn cfg(&self) -> &ModelCfg {
        &self.cfg
    }
    fn kernel_of<'a>(&self, s: &'a HugeState) -> &'a Kernel {
        kernel(s)
    }
    fn all_done(&self, s: &HugeState) -> bool {
        all_done(s)
    }
    fn some_action_enabled(&self, s: &HugeState) -> bool {
        let mut actions = Vec::new();
        self.actions(s, &mut actions);
        actions.into_iter().any(|a| enabled(self, s, a))
    }
}

/// `m.next_state(s, a).is_some()`, without building the next state (cloning the whole model
/// state for each action this property tries was most of its cost): a delivery is enabled
/// when the actor's handler changes its state or sends something, the test
/// `ActorModel::next_state` applies on this (unordered) network.
fn enabled(m: &HugeModel, s: &HugeState, a: <HugeModel as Model>::Action) -> bool {
    match a {
        ActorModelAction::Deliver { src, dst, msg } => {
            let i = usize::from(dst);
            match (s.actor_states.get(i), s.crashed.get(i)) {
                (Some(st), Some(false)) => {
                    let mut st = Cow::Borrowed(&**st);
                    let mut out = Out::new();
                    m.actors[i].on_msg(dst, &mut st, src, msg, &mut out);
                    !is_no_op(&st, &out)
                }
                _ => false,
            }
        }
        a => m.next_state(s, a).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Variant;
    use std::collections::HashSet;

    /// `enabled` answers as `next_state` does, for every action of every state reached in
    /// the first 20,000 states of a breadth-first walk, with and without a migrator.
    #[test]
    fn enabled_is_next_state_is_some() {
        for (variant, migrators) in [(Variant::V5_10, 0), (Variant::V6_1, 1)] {
            let m = ModelCfg {
                migrators,
                ..ModelCfg::for_variant(variant)
            }
            .into_model();
            let mut seen = HashSet::new();
            let mut queue: std::collections::VecDeque<HugeState> = m.init_states().into();
            let (mut checked, mut disabled) = (0, 0);
            while let Some(s) = queue.pop_front() {
                if seen.len() >= 20_000 {
                    break;
                }
                let mut actions = Vec::new();
                m.actions(&s, &mut actions);
                for a in actions {
                    let next = m.next_state(&s, a.clone());
                    assert_eq!(enabled(&m, &s, a), next.is_some());
                    checked += 1;
                    match next {
                        Some(n) => {
                            let mut h = std::hash::DefaultHasher::new();
                            std::hash::Hash::hash(&n, &mut h);
                            if seen.insert(std::hash::Hasher::finish(&h)) {
                                queue.push_back(n);
                            }
                        }
                        None => disabled += 1,
                    }
                }
            }
            assert!(checked > 20_000 && disabled > 100, "{checked} {disabled}");
        }
    }
}
