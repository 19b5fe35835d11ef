//! The properties: each an English sentence with a stable id, checked on every state.

use crate::cfg::ModelCfg;
use crate::kernel::Kernel;
use crate::node::{Node, NodeState};
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
    pub condition: fn(&HugeModel, &HugeState) -> bool,
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
        condition: hole_freed_on_return,
        hangs: false,
    },
    Prop {
        id: "hole_touch_caught",
        expectation: Expectation::Always,
        sentence:
            "after the punch returns, every mapper touch of the hole is caught by userfaultfd",
        condition: |_, s| !kernel(s).ghost.uncaught_hole_touch,
        hangs: false,
    },
    Prop {
        id: "no_stale_mapping",
        expectation: Expectation::Always,
        sentence: "no mapper maps a page that is no longer in the page cache",
        condition: no_stale_mapping,
        hangs: false,
    },
    Prop {
        id: "accounting",
        expectation: Expectation::Always,
        sentence: "pool, reservation and i_blocks accounting add up",
        condition: accounting,
        hangs: false,
    },
    Prop {
        id: "no_bug_on",
        expectation: Expectation::Always,
        sentence: "no kernel BUG_ON is reached",
        condition: |_, s| kernel(s).ghost.bug.is_none(),
        hangs: false,
    },
    Prop {
        id: "no_deadlock",
        expectation: Expectation::Always,
        sentence: "some thread can always move until all are done",
        condition: no_deadlock,
        hangs: true,
    },
    Prop {
        id: "punch_returns",
        expectation: Expectation::Eventually,
        sentence: "the punch returns",
        condition: |_, s| kernel(s).ghost.punched,
        hangs: true,
    },
    Prop {
        id: "race_window_fault",
        expectation: Expectation::Sometimes,
        sentence: "a fault maps a page between hugetlb_vmdelete_list and remove_inode_hugepages",
        condition: |_, s| kernel(s).ghost.race_window_fault,
        hangs: false,
    },
    Prop {
        id: "hole_touch_missing",
        expectation: Expectation::Sometimes,
        sentence: "a touch of the hole raises MISSING",
        condition: |_, s| kernel(s).ghost.hole_touch_missing,
        hangs: false,
    },
    Prop {
        id: "uffd_copy_eexist",
        expectation: Expectation::Sometimes,
        sentence: "UFFDIO_COPY returns EEXIST",
        condition: |_, s| kernel(s).ghost.uffd_copy_eexist,
        hangs: false,
    },
    Prop {
        id: "uffd_copy_enomem",
        expectation: Expectation::Sometimes,
        sentence: "UFFDIO_COPY returns ENOMEM",
        condition: |_, s| kernel(s).ghost.uffd_copy_enomem,
        hangs: false,
    },
    Prop {
        id: "fault_waits_on_marker",
        expectation: Expectation::Sometimes,
        sentence: "a fault waits on the hole marker",
        condition: |_, s| kernel(s).ghost.fault_waits_on_marker,
        hangs: false,
    },
    Prop {
        id: "vmdelete_skips_vma",
        expectation: Expectation::Sometimes,
        sentence: "hugetlb_vmdelete_list skips a VMA whose vma_lock it could not trylock",
        condition: |_, s| kernel(s).ghost.vmdelete_skips_vma,
        hangs: false,
    },
    Prop {
        id: "punch_frees_hole",
        expectation: Expectation::Sometimes,
        sentence: "the punch returns with the whole hole freed",
        condition: |_, s| kernel(s).ghost.punch_frees_hole,
        hangs: false,
    },
    Prop {
        id: "migration_race_window",
        expectation: Expectation::Sometimes,
        sentence: "the removal loop reaches a page while its PTE is a migration entry",
        condition: |_, s| kernel(s).ghost.migration_race_window,
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

/// The kernel's state in a model state.
pub fn kernel(s: &HugeState) -> &Kernel {
    s.actor_states
        .last()
        .expect("the kernel is the last actor")
        .kernel()
}

/// A page that was in the hole when the punch started is still in the page cache after the
/// punch returned. Pages put back since (hole reuse, `UFFDIO_COPY`) are new pages.
fn hole_freed_on_return(m: &HugeModel, s: &HugeState) -> bool {
    let k = kernel(s);
    let hole = m.cfg.hole_start as usize..m.cfg.hole_end as usize;
    !k.ghost.punched || k.cache[hole].iter().flatten().all(|p| !p.pre_punch)
}

fn no_stale_mapping(_: &HugeModel, s: &HugeState) -> bool {
    let k = kernel(s);
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
fn accounting(m: &HugeModel, s: &HugeState) -> bool {
    let k = kernel(s);
    let cached = k.cache.iter().flatten().count();
    let reserved = (0..k.cache.len())
        .filter(|&i| k.region[i] && k.cache[i].is_none())
        .count();
    let mut in_use: Vec<_> = k.cache.iter().flatten().map(|p| p.id).collect();
    in_use.extend(
        k.mms
            .iter()
            .flat_map(|mm| mm.ptes.iter().flatten().copied()),
    );
    in_use.extend(k.migration_held());
    in_use.sort();
    in_use.dedup();
    k.i_blocks as usize == cached
        && k.resv_huge_pages as usize == reserved
        && k.free_huge_pages as usize + in_use.len() == m.cfg.pool_pages() as usize
        && k.resv_huge_pages <= k.free_huge_pages
}

/// Every process is done and the kernel has no thread left. A mapper whose handler gave up
/// (`UFFDIO_COPY` failed with `ENOMEM`) is done too: its faulting thread sleeps in
/// `handle_userfault` until the process exits, by the application's choice, not the kernel's.
pub fn all_done(s: &HugeState) -> bool {
    let gave_up = |slot: usize| {
        let pid = usize::from(crate::kernel::Kernel::pid_of_slot(slot));
        matches!(&*s.actor_states[pid], NodeState::Mapper(m) if m.gave_up())
    };
    s.actor_states.iter().all(|a| match &**a {
        NodeState::Manager(st) => *st == crate::procs::ManagerState::Done,
        NodeState::Mapper(st) => st.done() || st.gave_up(),
        NodeState::Migrator(st) => *st == crate::procs::MigratorState::Done,
        NodeState::Kernel(k) => k.threads.iter().enumerate().all(|(slot, t)| match t {
            None => true,
            Some(t) => t.pc == crate::kernel::Step::HandleUserfault && gave_up(slot),
        }),
    })
}

/// Some action can still change the state, or everything is done. Asks the model itself, so
/// a thread blocked on a lock, asleep with nobody to wake it, or waiting for a reply that
/// never comes all count as stuck.
fn no_deadlock(m: &HugeModel, s: &HugeState) -> bool {
    if all_done(s) {
        return true;
    }
    let mut actions = Vec::new();
    m.actions(s, &mut actions);
    actions.into_iter().any(|a| enabled(m, s, a))
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
