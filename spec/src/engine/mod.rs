//! The checking engine: a Stateright [`Model`] run directly over the actors of [`crate::node`]
//! and the kernel steps of [`crate::kernel`], without Stateright's actor layer.
//!
//! [`HugeModel`] (Stateright's `ActorModel`) is the reference: readable, and what the Explorer
//! serves. Per step it clones the whole `ActorModelState` (six vectors, the network's hash map,
//! a hash map and a string per pending random choice) and fingerprints a network whose hash
//! sorts the hash of every envelope. [`Engine`] runs the same actor code (`Node::on_msg`,
//! `Node::on_random`, `Kernel::on_msg`) on a compact state, [`Sys`]: the processes' small
//! states inline, the kernel behind an `Arc` (a process step shares it), and the network as a
//! sorted multiset of envelopes. It has the same actions, in the same order, as the actor
//! model; a state of one corresponds to exactly one state of the other ([`Engine::to_actor`]
//! rebuilds it), so searches visit the same states in the same order, count the same unique
//! states, and find the same discoveries (action for action). `spec/tests/engine.rs` checks
//! this on every variant and configuration family.

mod bytes;
pub mod future;
mod net;
mod por;
mod shared;

pub use net::{Env, Net};
pub use shared::{Renaming, Shared};

use crate::cfg::ModelCfg;
use crate::ids::{kernel_id, mapper_id};
use crate::kernel::Kernel;
use crate::msg::Msg;
use crate::node::{kernel_msg, nodes, Node, NodeState, Role};
use crate::procs::{ManagerState, MapperState, MigratorState, Touch};
use crate::properties::{all_done_of, properties, Checked, HugeModel, HugeState, Wraps};
use stateright::actor::{is_no_op, Actor, ActorModelAction, Command, Id, Out};
use stateright::{Model, Path, Property};
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

pub use crate::kernel::MAX_MAPPERS;

/// A model action: the actor model's, so paths carry over unchanged.
pub type Action = ActorModelAction<Msg, (), Touch>;

/// One state of the engine: every actor's state and the messages in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sys {
    pub manager: ManagerState,
    /// By mapper number; the slots past `ModelCfg::mappers` stay as they started.
    pub mappers: [MapperState; MAX_MAPPERS],
    /// `Idle` for ever when there is no migrator.
    pub migrator: MigratorState,
    /// Bit `m`: mapper `m` is choosing its next touch (a pending `choose_random("touch")`).
    pub choosing: u8,
    pub kernel: Shared,
    pub net: Net,
}

impl Hash for Sys {
    /// Every field, hashed over its bytes at once ([`bytes::Bytes`]); the checker's hasher
    /// then takes one word.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut b = bytes::Bytes::new();
        self.manager.hash(&mut b);
        self.mappers.hash(&mut b);
        self.migrator.hash(&mut b);
        self.choosing.hash(&mut b);
        self.kernel.hash(&mut b);
        self.net.hash(&mut b);
        state.write_u64(b.finish());
    }
}

impl Sys {
    /// The number of mappers (the kernel has an mm for each).
    pub fn mapper_count(&self) -> u8 {
        self.kernel.mms.len() as u8
    }

    /// Whether a migrator runs (it has a thread slot after the mappers').
    pub fn has_migrator(&self) -> bool {
        self.kernel.threads.len() > 1 + 2 * self.kernel.mms.len()
    }
}

/// The model checked by `hugepunch check` and `hugepunch traces`: [`HugeModel`]'s states and
/// actions at a fraction of the cost.
pub struct Engine {
    pub cfg: Arc<ModelCfg>,
    nodes: Vec<Node>,
    /// Every touch a mapper may choose (`MapperState::choices`).
    choices: Vec<Touch>,
    kernel: Id,
    /// Partial-order reduction ([`por`]): offer only one process thread's actions where one
    /// has any.
    reduce: bool,
}

/// What an actor's handler did.
enum Effect {
    /// Nothing: the delivery is not enabled.
    None,
    /// The actor's next state (`None`: unchanged) and its commands.
    Some(Option<NodeState>, Out<Node>),
}

impl Engine {
    /// # Panics
    /// If the configuration does not validate (see [`ModelCfg::validate`]).
    pub fn new(cfg: &ModelCfg) -> Engine {
        if let Err(e) = cfg.validate() {
            panic!("invalid model configuration: {e}");
        }
        let nodes = nodes(cfg);
        Engine {
            cfg: nodes[0].cfg.clone(),
            nodes,
            choices: MapperState::choices(cfg),
            kernel: kernel_id(cfg.mappers, cfg.migrators),
            reduce: false,
        }
    }

    /// The engine with partial-order reduction (see [`por`]): the same verdicts and reachable
    /// kernel states with fewer states, but not the shortest paths.
    pub fn reduced(cfg: &ModelCfg) -> Engine {
        Engine {
            reduce: true,
            ..Engine::new(cfg)
        }
    }

    /// Whether partial-order reduction is on.
    pub fn reduces(&self) -> bool {
        self.reduce
    }

    /// Every action of `s`, in the actor model's order.
    fn all_actions(&self, s: &Sys, actions: &mut Vec<Action>) {
        for e in s.net.iter_distinct() {
            actions.push(ActorModelAction::Deliver {
                src: e.src(),
                dst: e.dst(),
                msg: e.msg,
            });
        }
        for m in 0..s.mapper_count() {
            if s.choosing & (1 << m) != 0 {
                self.choices_of(m, actions);
            }
        }
    }

    /// Mapper `m`'s choices of its next touch.
    fn choices_of(&self, m: u8, actions: &mut Vec<Action>) {
        for &random in &self.choices {
            actions.push(ActorModelAction::SelectRandom {
                actor: mapper_id(m),
                key: "touch".to_string(),
                random,
            });
        }
    }

    /// The actor model of the same configuration: the reference this engine runs as.
    pub fn actor_model(&self) -> HugeModel {
        (*self.cfg).clone().into_model()
    }

    /// A process's state as its actor holds it (not the kernel's).
    fn process(&self, s: &Sys, id: Id) -> NodeState {
        match self.nodes[usize::from(id)].role {
            Role::Manager => NodeState::Manager(s.manager),
            Role::Mapper(m) => NodeState::Mapper(s.mappers[m as usize]),
            Role::Migrator => NodeState::Migrator(s.migrator),
            Role::Kernel => unreachable!("the kernel is not a process"),
        }
    }

    /// Runs a process's handler on its state.
    fn process_effect(
        &self,
        s: &Sys,
        id: Id,
        run: impl FnOnce(&mut Cow<NodeState>, &mut Out<Node>),
    ) -> Effect {
        let before = self.process(s, id);
        let mut st = Cow::Borrowed(&before);
        let mut out = Out::new();
        run(&mut st, &mut out);
        if is_no_op(&st, &out) {
            return Effect::None;
        }
        let next = match st {
            Cow::Owned(n) => Some(n),
            Cow::Borrowed(_) => None,
        };
        Effect::Some(next, out)
    }

    /// Applies an actor's effect: its new state, and its sends and random choices.
    fn apply(&self, s: &mut Sys, id: Id, next: Option<NodeState>, out: Out<Node>) {
        match next {
            Some(NodeState::Manager(st)) => s.manager = st,
            Some(NodeState::Mapper(st)) => {
                let Role::Mapper(m) = self.nodes[usize::from(id)].role else {
                    unreachable!("a mapper state for {id:?}")
                };
                s.mappers[m as usize] = st;
            }
            Some(NodeState::Migrator(st)) => s.migrator = st,
            Some(NodeState::Kernel(k)) => s.kernel = Shared::new(*k),
            None => {}
        }
        for c in out {
            match c {
                Command::Send(dst, msg) => s.net.send(Env::new(id, dst, msg)),
                Command::ChooseRandom(key, choices) => {
                    let Role::Mapper(m) = self.nodes[usize::from(id)].role else {
                        panic!("only mappers choose, not {id:?}")
                    };
                    debug_assert_eq!((key.as_str(), &choices), ("touch", &self.choices));
                    s.choosing |= 1 << m;
                }
                other => panic!("the model has no timers or storage: {other:?}"),
            }
        }
    }

    /// Whether delivering `env` changes the state (the kernel step is not blocked, the process
    /// takes the message): `next_state(..).is_some()` without building the state.
    fn deliverable(&self, s: &Sys, env: &Env) -> bool {
        let (src, dst) = (env.src(), env.dst());
        if dst == self.kernel {
            // Only a step can be blocked: a system call or an access always enters the kernel
            // (`Kernel::on_msg`). A step is tried on a copy.
            return !matches!(env.msg, Msg::Step(..))
                || kernel_msg(&self.cfg, &s.kernel, src, env.msg).is_some();
        }
        let node = &self.nodes[usize::from(dst)];
        let effect = self.process_effect(s, dst, |st, o| node.on_msg(dst, st, src, env.msg, o));
        matches!(effect, Effect::Some(..))
    }

    /// The actor model's state for an engine state.
    pub fn to_actor(&self, model: &HugeModel, s: &Sys) -> HugeState {
        let mut a = model.init_states().remove(0);
        for (i, node) in self.nodes.iter().enumerate() {
            let st = match node.role {
                Role::Kernel => NodeState::Kernel(Box::new((*s.kernel).clone())),
                _ => self.process(s, Id::from(i)),
            };
            a.actor_states[i] = Arc::new(st);
        }
        a.network =
            stateright::actor::Network::new_unordered_nonduplicating(s.net.iter_all().map(|e| {
                stateright::actor::Envelope {
                    src: e.src(),
                    dst: e.dst(),
                    msg: e.msg,
                }
            }));
        for m in 0..s.mapper_count() {
            let rc = &mut a.random_choices[usize::from(mapper_id(m))];
            rc.map.clear();
            if s.choosing & (1 << m) != 0 {
                rc.insert("touch".to_string(), self.choices.clone());
            }
        }
        a
    }

    /// A path of this engine as the same path of the actor model (the actions are the same).
    pub fn path_to_actor(
        &self,
        model: &HugeModel,
        path: Path<Sys, Action>,
    ) -> Path<HugeState, Action> {
        let init = model.init_states().remove(0);
        Path::from_actions(model, init, &path.into_actions())
            .expect("the actor model takes every path of the engine")
    }
}

impl Model for Engine {
    type State = Sys;
    type Action = Action;

    fn init_states(&self) -> Vec<Sys> {
        let placeholder = Shared::new(Kernel::new(&self.cfg));
        let mut s = Sys {
            manager: ManagerState::Preallocating,
            mappers: [MapperState::new(); MAX_MAPPERS],
            migrator: MigratorState::Idle,
            choosing: 0,
            kernel: placeholder,
            net: Net::default(),
        };
        // As `ActorModel::init_states`: every actor's `on_start`, in id order.
        for (i, node) in self.nodes.iter().enumerate() {
            let id = Id::from(i);
            let mut out = Out::new();
            let st = node.on_start(id, &None, &mut out);
            self.apply(&mut s, id, Some(st), out);
        }
        vec![s]
    }

    /// The actor model's actions in its order: every distinct envelope in flight (by source,
    /// destination, message), then every pending random choice (by actor, then choice); with
    /// the reduction, one process thread's where one has any.
    fn actions(&self, s: &Sys, actions: &mut Vec<Action>) {
        if self.reduce {
            self.ample(s, actions)
        } else {
            self.all_actions(s, actions)
        }
    }

    fn next_state(&self, s: &Sys, action: Action) -> Option<Sys> {
        match action {
            ActorModelAction::Deliver { src, dst, msg } => {
                let env = Env::new(src, dst, msg);
                if dst == self.kernel {
                    let (k, sends) = kernel_msg(&self.cfg, &s.kernel, src, msg)?;
                    let mut next = Sys {
                        manager: s.manager,
                        mappers: s.mappers,
                        migrator: s.migrator,
                        choosing: s.choosing,
                        kernel: Shared::new(k),
                        net: s.net.clone(),
                    };
                    next.net.deliver(&env);
                    for (to, m) in sends {
                        next.net.send(Env::new(dst, to, m));
                    }
                    return Some(next);
                }
                let node = &self.nodes[usize::from(dst)];
                match self.process_effect(s, dst, |st, o| node.on_msg(dst, st, src, msg, o)) {
                    Effect::None => None,
                    Effect::Some(st, out) => {
                        let mut next = s.clone();
                        next.net.deliver(&env);
                        self.apply(&mut next, dst, st, out);
                        Some(next)
                    }
                }
            }
            ActorModelAction::SelectRandom { actor, random, .. } => {
                let Role::Mapper(m) = self.nodes[usize::from(actor)].role else {
                    panic!("only mappers choose, not {actor:?}")
                };
                let node = &self.nodes[usize::from(actor)];
                let mut next = s.clone();
                next.choosing &= !(1 << m);
                // As `ActorModel`: a random choice always has a successor.
                let (st, out) = match self
                    .process_effect(s, actor, |st, o| node.on_random(actor, st, &random, o))
                {
                    Effect::Some(st, out) => (st, out),
                    Effect::None => (None, Out::new()),
                };
                self.apply(&mut next, actor, st, out);
                Some(next)
            }
            other => panic!("the model has no {other:?}"),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties()
    }
}

impl Wraps for Engine {
    type Inner = Engine;
    fn wrapped(&self) -> &Engine {
        self
    }
}

impl Checked for Engine {
    fn cfg(&self) -> &ModelCfg {
        &self.cfg
    }

    fn kernel_of<'a>(&self, s: &'a Sys) -> &'a Kernel {
        &s.kernel
    }

    fn all_done(&self, s: &Sys) -> bool {
        let migrator = s.has_migrator().then_some(s.migrator);
        all_done_of(s.manager, |m| s.mappers[m as usize], migrator, &s.kernel)
    }

    /// A random choice always has a successor; a delivery when its handler does something.
    fn some_action_enabled(&self, s: &Sys) -> bool {
        // Kernel steps last: trying one copies the kernel.
        let step = |e: &Env| matches!(e.msg, Msg::Step(..));
        s.choosing != 0
            || s.net
                .iter_distinct()
                .any(|e| !step(e) && self.deliverable(s, e))
            || s.net
                .iter_distinct()
                .any(|e| step(e) && self.deliverable(s, e))
    }
}
