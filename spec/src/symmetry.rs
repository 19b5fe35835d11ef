//! Symmetry reduction over mappers. Mappers run the same program on the same file, so two
//! states that differ only by a renaming of mappers behave the same (every property
//! quantifies over all mappers). The representative renames mappers in the order of a key
//! built from everything about each mapper but its name; ties keep their order, which costs
//! some reduction but never soundness (any renaming gives an equivalent state).

use crate::cfg::ModelCfg;
use crate::engine::{Renaming, Sys};
use crate::ids::{mapper_id, Tid};
use crate::inline::Inline;
use crate::kernel::MAX_PAGES;
use crate::kernel::{KThread, Kernel, Mm, Op, MAX_MAPPERS};
use crate::locks::{Mutex, RwSem};
use crate::msg::Msg;
use crate::node::NodeState;
use crate::page::{Data, Page};
use crate::procs::{MapperState, Touch};
use crate::properties::HugeState;
use smallvec::SmallVec;
use stateright::actor::{ActorModelState, Id};
use stateright::util::DenseNatMap;
use stateright::{Rewrite, RewritePlan};

type Plan<S> = RewritePlan<Id, S>;

/// Whether renaming mappers is a symmetry of the model: not with a migrator, which acts on
/// mapper 0's mm, so mappers are not interchangeable then.
pub fn applies(cfg: &ModelCfg) -> bool {
    cfg.migrators == 0
}

/// The engine's symmetry reduction for `cfg`: [`representative_sys`] where the symmetry
/// applies, none elsewhere (there the representative is the state itself, and a checker would
/// only fingerprint each state twice).
pub fn reduction(cfg: &ModelCfg) -> Option<fn(&Sys) -> Sys> {
    applies(cfg).then_some(representative_sys)
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
    let k = crate::properties::kernel(s);
    let Some(plan) = renaming(
        actors,
        |m| {
            let id = mapper_id(m);
            Head::new(
                m,
                s.actor_states[usize::from(id)].mapper(),
                k,
                !s.random_choices[usize::from(id)].map.is_empty(),
            )
        },
        |m| {
            let network = s.network.iter_all().map(|e| (e.src, e.dst, *e.msg));
            Tail::new(m, k, network)
        },
    ) else {
        // The identity renaming: the rewrite would give `s` back.
        return s.clone();
    };
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

/// [`representative`] for the engine's states: the image of the actor model's representative
/// (the same keys, the same renaming).
pub fn representative_sys(s: &Sys) -> Sys {
    if s.has_migrator() {
        return s.clone();
    }
    let mappers = s.mapper_count();
    let Some(order) = sorted(
        mappers,
        |m| {
            let choosing = s.choosing & (1 << m) != 0;
            Head::new(m, s.mappers[m as usize], &s.kernel, choosing)
        },
        |m| {
            let network = s.net.iter_all().map(|e| (e.src(), e.dst(), e.msg));
            Tail::new(m, &s.kernel, network)
        },
    ) else {
        return s.clone();
    };
    // Manager, mappers, kernel.
    let mut to: Renaming = [0; MAX_MAPPERS + 2];
    for (i, t) in to.iter_mut().enumerate().take(mappers as usize + 2) {
        *t = i as u8;
    }
    for (new, &old) in order.iter().enumerate() {
        to[1 + old as usize] = 1 + new as u8;
    }
    let plan = RewritePlan::new(to, |id: &Id, to: &Renaming| {
        Id::from(to[usize::from(*id)] as usize)
    });
    let mut next = Sys {
        manager: s.manager,
        mappers: s.mappers,
        migrator: s.migrator,
        choosing: 0,
        kernel: s.kernel.renamed(to, |k| k.rewrite(&plan)),
        net: s
            .net
            .map(|e| e.renamed(|id| plan.rewrite(&id), e.msg.rewrite(&plan))),
    };
    for m in 0..mappers {
        let to = mapper(m, &plan);
        next.mappers[to as usize] = s.mappers[m as usize];
        if s.choosing & (1 << m) != 0 {
            next.choosing |= 1 << to;
        }
    }
    next
}

/// The mappers sorted by their keys, `order[new] = old` (a stable sort: ties keep their
/// order), or `None` when that is the identity. A mapper's key is its [`Head`], then its
/// [`Tail`]; a tail is built only to tell apart mappers whose heads are equal, and once.
fn sorted<'a>(
    mappers: u8,
    head: impl Fn(u8) -> Head<'a>,
    tail: impl Fn(u8) -> Tail,
) -> Option<Inline<u8, MAX_MAPPERS>> {
    let heads: SmallVec<[Head; MAX_MAPPERS]> = (0..mappers).map(head).collect();
    let mut tails: [Option<Tail>; MAX_MAPPERS] = Default::default();
    let mut order: Inline<u8, MAX_MAPPERS> = (0..mappers).collect();
    order.sort_by(|&a, &b| {
        heads[a as usize].cmp(&heads[b as usize]).then_with(|| {
            for m in [a, b] {
                if tails[m as usize].is_none() {
                    tails[m as usize] = Some(tail(m));
                }
            }
            tails[a as usize].cmp(&tails[b as usize])
        })
    });
    let identity = order
        .iter()
        .enumerate()
        .all(|(new, &old)| new == old as usize);
    (!identity).then_some(order)
}

/// The renaming that sorts mappers by their keys (see [`sorted`]), or `None` when that is the
/// identity. The plan maps each old actor id to its new one.
fn renaming<'a>(
    actors: usize,
    head: impl Fn(u8) -> Head<'a>,
    tail: impl Fn(u8) -> Tail,
) -> Option<Plan<DenseNatMap<Id, Id>>> {
    let order = sorted((actors - 2) as u8, head, tail)?;
    let mut to: Vec<Id> = (0..actors).map(Id::from).collect();
    for (new, &old) in order.iter().enumerate() {
        to[1 + old as usize] = Id::from(1 + new);
    }
    let map: DenseNatMap<Id, Id> = to.into();
    Some(RewritePlan::new(map, |id, map| {
        *map.get(*id).expect("every actor is mapped")
    }))
}

/// What distinguishes a mapper apart from its name, first part: its process and kernel
/// threads, its mm, and its place in the VMA tree.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Head<'a> {
    process: MapperState,
    mm: &'a Mm,
    main: Option<KThread>,
    handler: Option<KThread>,
    tree_pos: Option<u8>,
    choosing: bool,
}

/// What distinguishes a mapper apart from its name, second part: the messages it has in
/// flight and what it put into the page cache.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Tail {
    /// `(sent by it, message)`, sorted; kernel steps are the kernel's own.
    in_flight: SmallVec<[(bool, Msg); 8]>,
    footprint: Inline<(u8, bool), MAX_PAGES>,
}

impl Head<'_> {
    /// Mapper `m`'s head from its process state, the kernel, and whether it is choosing a
    /// touch.
    fn new(m: u8, process: MapperState, k: &Kernel, choosing: bool) -> Head<'_> {
        let id = mapper_id(m);
        Head {
            process,
            mm: &k.mms[m as usize],
            main: k.threads[Kernel::slot(Tid::main(id))],
            handler: k.threads[Kernel::slot(Tid::handler(id))],
            tree_pos: k.i_mmap_tree.iter().position(|&x| x == m).map(|p| p as u8),
            choosing,
        }
    }
}

impl Tail {
    /// Mapper `m`'s tail from the kernel and every message in flight `(src, dst, msg)`.
    fn new(m: u8, k: &Kernel, network: impl Iterator<Item = (Id, Id, Msg)>) -> Tail {
        let id = mapper_id(m);
        let mut in_flight: SmallVec<[(bool, Msg); 8]> = network
            .filter(|(src, dst, msg)| (*src == id || *dst == id) && !matches!(msg, Msg::Step(..)))
            .map(|(src, _, msg)| (src == id, msg))
            .collect();
        in_flight.sort_unstable();
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
        Tail {
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
        Tid::new(self.pid().rewrite(plan), self.ctx)
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
            NodeState::Kernel(k) => NodeState::Kernel(Box::new(k.rewrite(plan))),
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
    /// In place on a copy: the tables that name no mapper are copied as they are.
    fn rewrite<S>(&self, plan: &Plan<S>) -> Self {
        let mut k = self.clone();
        for p in k.cache.iter_mut().flatten() {
            *p = p.rewrite(plan);
        }
        for m in k.fault_mutex.iter_mut().chain(k.page_lock.iter_mut()) {
            *m = m.rewrite(plan);
        }
        k.i_mmap = self.i_mmap.rewrite(plan);
        for (m, mm) in self.mms.iter().enumerate() {
            k.mms[mapper(m as u8, plan) as usize] = Mm {
                vma_lock: mm.vma_lock.rewrite(plan),
                ..*mm
            };
        }
        for m in k.i_mmap_tree.iter_mut() {
            *m = mapper(*m, plan);
        }
        for (slot, t) in self.threads.iter().enumerate() {
            let to = Kernel::slot(self.tid_of_slot(slot).rewrite(plan));
            k.threads[to] = t.map(|t| t.rewrite(plan));
        }
        k
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
