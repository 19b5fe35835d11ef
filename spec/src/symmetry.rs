//! Symmetry reduction over mappers. Mappers run the same program on the same file, so two
//! states that differ only by a renaming of mappers behave the same (every property
//! quantifies over all mappers). The representative renames mappers in the order of a key
//! built from everything about each mapper but its name; ties keep their order, which costs
//! some reduction but never soundness (any renaming gives an equivalent state).

use crate::cfg::ModelCfg;
use crate::ids::Tid;
use crate::kernel::{KThread, Kernel, Mm, Op};
use crate::locks::{Mutex, RwSem};
use crate::msg::Msg;
use crate::node::NodeState;
use crate::page::{Data, Page};
use crate::procs::{MapperState, Touch};
use crate::properties::HugeState;
use stateright::actor::{ActorModelState, Id};
use stateright::util::DenseNatMap;
use stateright::{Rewrite, RewritePlan};

type Plan<S> = RewritePlan<Id, S>;

/// Whether renaming mappers is a symmetry of the model: not with a migrator, which acts on
/// mapper 0's mm, so mappers are not interchangeable then.
pub fn applies(cfg: &ModelCfg) -> bool {
    cfg.migrators == 0
}

/// The canonical representative of a state's class under renaming of mappers (the state
/// itself where the symmetry does not apply, see [`applies`]).
pub fn representative(s: &HugeState) -> HugeState {
    if s.actor_states
        .iter()
        .any(|a| matches!(**a, NodeState::Migrator(_)))
    {
        return s.clone();
    }
    let actors = s.actor_states.len();
    let mappers = (actors - 2) as u8;
    let mut order: Vec<u8> = (0..mappers).collect();
    order.sort_by_cached_key(|&m| MapperKey::of(s, m));
    if order
        .iter()
        .enumerate()
        .all(|(new, &old)| new == old as usize)
    {
        // The identity renaming: the rewrite below would give `s` back.
        return s.clone();
    }
    // `order[new] = old`; the plan maps each old actor id to its new one.
    let mut to: Vec<Id> = (0..actors).map(Id::from).collect();
    for (new, &old) in order.iter().enumerate() {
        to[1 + old as usize] = Id::from(1 + new);
    }
    let map: DenseNatMap<Id, Id> = to.into();
    let plan = RewritePlan::new(map, |id, map| *map.get(*id).expect("every actor is mapped"));
    ActorModelState {
        actor_states: plan.reindex(&s.actor_states),
        network: s.network.rewrite(&plan),
        timers_set: plan.reindex(&s.timers_set),
        random_choices: plan.reindex(&s.random_choices),
        crashed: plan.reindex(&s.crashed),
        actor_storages: plan.reindex(&s.actor_storages),
        history: s.history,
    }
}

/// What distinguishes a mapper apart from its name.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct MapperKey<'a> {
    process: MapperState,
    mm: &'a Mm,
    main: Option<KThread>,
    handler: Option<KThread>,
    tree_pos: Option<usize>,
    choosing: bool,
    in_flight: Vec<(bool, Msg)>,
    footprint: Vec<(u8, bool)>,
}

impl MapperKey<'_> {
    fn of(s: &HugeState, m: u8) -> MapperKey<'_> {
        let id = Id::from(1 + m as usize);
        let k = crate::properties::kernel(s);
        let mut in_flight: Vec<(bool, Msg)> = s
            .network
            .iter_all()
            .filter(|e| (e.src == id || e.dst == id) && !matches!(e.msg, Msg::Step(..)))
            .map(|e| (e.src == id, *e.msg))
            .collect();
        in_flight.sort();
        let footprint = k
            .cache
            .iter()
            .flatten()
            .filter_map(|p| match p.data {
                Data::Fill(x) if x == m => Some((p.id.idx, false)),
                Data::Written(x) if x == m => Some((p.id.idx, true)),
                _ => None,
            })
            .collect();
        MapperKey {
            process: s.actor_states[1 + m as usize].mapper(),
            mm: &k.mms[m as usize],
            main: k.threads[Kernel::slot(Tid::main(id))],
            handler: k.threads[Kernel::slot(Tid::handler(id))],
            tree_pos: k.i_mmap_tree.iter().position(|&x| x == m),
            choosing: !s.random_choices[1 + m as usize].map.is_empty(),
            in_flight,
            footprint,
        }
    }
}

/// A mapper's new number under the plan.
fn mapper<S>(m: u8, plan: &Plan<S>) -> u8 {
    (usize::from(plan.rewrite(&Id::from(1 + m as usize))) - 1) as u8
}

impl Rewrite<Id> for Tid {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        Tid {
            pid: self.pid.rewrite(plan),
            ctx: self.ctx,
        }
    }
}

impl Rewrite<Id> for Data {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        match *self {
            Data::Fill(m) => Data::Fill(mapper(m, plan)),
            Data::Written(m) => Data::Written(mapper(m, plan)),
            d => d,
        }
    }
}

impl Rewrite<Id> for Msg {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        match *self {
            Msg::Step(t, step) => Msg::Step(t.rewrite(plan), step),
            Msg::Touched { page, write, value } => Msg::Touched {
                page,
                write,
                value: value.rewrite(plan),
            },
            m => m,
        }
    }
}

impl Rewrite<Id> for Touch {
    fn rewrite<S>(&self, _: &Plan<S>) -> Self {
        *self
    }
}

impl Rewrite<Id> for NodeState {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        match self {
            NodeState::Kernel(k) => NodeState::Kernel(k.rewrite(plan)),
            other => other.clone(),
        }
    }
}

impl Rewrite<Id> for Mutex {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        Mutex {
            owner: self.owner.rewrite(plan),
        }
    }
}

impl Rewrite<Id> for RwSem {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        RwSem {
            writer: self.writer.rewrite(plan),
            readers: self.readers,
        }
    }
}

impl Rewrite<Id> for Kernel {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        let mut mms = self.mms.clone();
        for (m, mm) in self.mms.iter().enumerate() {
            mms[mapper(m as u8, plan) as usize] = Mm {
                vma_lock: mm.vma_lock.rewrite(plan),
                ..mm.clone()
            };
        }
        let mut threads = vec![None; self.threads.len()];
        for (slot, k) in self.threads.iter().enumerate() {
            let t = self.tid_of_slot(slot).rewrite(plan);
            threads[Kernel::slot(t)] = k.map(|k| k.rewrite(plan));
        }
        Kernel {
            cache: self
                .cache
                .iter()
                .map(|p| p.map(|p| p.rewrite(plan)))
                .collect(),
            fault_mutex: self.fault_mutex.rewrite(plan),
            i_mmap: self.i_mmap.rewrite(plan),
            page_lock: self.page_lock.rewrite(plan),
            mms,
            i_mmap_tree: self.i_mmap_tree.iter().map(|&m| mapper(m, plan)).collect(),
            threads,
            ..self.clone()
        }
    }
}

impl Rewrite<Id> for Page {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        Page {
            data: self.data.rewrite(plan),
            ..*self
        }
    }
}

impl Rewrite<Id> for KThread {
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        let op = match self.op {
            Op::PunchHole(mut p) => {
                p.wait_vma = p.wait_vma.map(|m| mapper(m, plan));
                Op::PunchHole(p)
            }
            op => op,
        };
        KThread { op, pc: self.pc }
    }
}
