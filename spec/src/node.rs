//! The actors: manager, mappers and kernel, as one Stateright actor type.

use crate::cfg::ModelCfg;
use crate::ids::{kernel_id, mapper_id, migrator_id};
use crate::kernel::{Kernel, Sent};
use crate::msg::{Msg, Syscall};
use crate::procs::{HandlerState, MainState, ManagerState, MapperState, MigratorState, Touch};
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// What an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Manager,
    Mapper(u8),
    Migrator,
    Kernel,
}

impl fmt::Display for Role {
    /// The actor's name in traces, renderings and the Explorer: `manager`, `mapper<N>`,
    /// `migrator`, `kernel`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Manager => f.write_str("manager"),
            Role::Mapper(m) => write!(f, "mapper{m}"),
            Role::Migrator => f.write_str("migrator"),
            Role::Kernel => f.write_str("kernel"),
        }
    }
}

impl FromStr for Role {
    type Err = String;
    /// The inverse of `Display`.
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "manager" => Ok(Role::Manager),
            "kernel" => Ok(Role::Kernel),
            "migrator" => Ok(Role::Migrator),
            _ => s
                .strip_prefix("mapper")
                .filter(|n| !n.starts_with('+'))
                .and_then(|n| n.parse().ok())
                .map(Role::Mapper)
                .ok_or_else(|| format!("unknown actor '{s}'")),
        }
    }
}

/// One actor of the model.
#[derive(Clone, Debug)]
pub struct Node {
    pub role: Role,
    pub cfg: Arc<ModelCfg>,
}

/// An actor's state. The kernel's is large (its tables are inline), so it is boxed: a
/// process's state is moved around without it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Manager(ManagerState),
    Mapper(MapperState),
    Migrator(MigratorState),
    Kernel(Box<Kernel>),
}

impl NodeState {
    pub fn kernel(&self) -> &Kernel {
        match self {
            NodeState::Kernel(k) => k,
            other => panic!("not the kernel: {other:?}"),
        }
    }
    pub fn mapper(&self) -> MapperState {
        match self {
            NodeState::Mapper(m) => *m,
            other => panic!("not a mapper: {other:?}"),
        }
    }
    pub fn migrator(&self) -> MigratorState {
        match self {
            NodeState::Migrator(m) => *m,
            other => panic!("not the migrator: {other:?}"),
        }
    }
    pub fn manager(&self) -> ManagerState {
        match self {
            NodeState::Manager(m) => *m,
            other => panic!("not the manager: {other:?}"),
        }
    }
}

impl Node {
    fn kernel(&self) -> Id {
        kernel_id(self.cfg.mappers, self.cfg.migrators)
    }

    fn manager_msg(&self, st: ManagerState, msg: Msg, o: &mut Out<Self>) -> ManagerState {
        let Msg::Return(..) = msg else {
            panic!("the manager does not take {msg:?}");
        };
        let (next, start_mappers, sc) = st.on_return(&self.cfg);
        if start_mappers {
            for m in 0..self.cfg.mappers {
                o.send(mapper_id(m), Msg::Start);
            }
            if self.cfg.migrators > 0 {
                o.send(migrator_id(self.cfg.mappers), Msg::Start);
            }
        }
        if let Some(sc) = sc {
            o.send(self.kernel(), Msg::Syscall(sc));
        }
        next
    }

    /// A mapper takes a message; `None` when it cannot take it yet (a MISSING event waits in
    /// the uffd until the handler thread is back in `read`).
    fn mapper_msg(&self, mut st: MapperState, msg: Msg, o: &mut Out<Self>) -> Option<MapperState> {
        let cfg = &self.cfg;
        let was_ready = matches!(st.main, MainState::Ready { .. });
        match msg {
            Msg::Start => {
                st.main = MainState::Mapping;
                o.send(self.kernel(), Msg::Syscall(Syscall::Mmap));
            }
            Msg::Return(sc @ (Syscall::UffdioCopy { .. } | Syscall::UffdioWake { .. }), ret) => {
                let (h, next) = st.handler_returned(sc, ret);
                st.handler = h;
                if let Some(sc) = next {
                    o.send(self.kernel(), Msg::Syscall(sc));
                }
            }
            Msg::Return(sc, ret) => {
                let (main, next) = st.main_returned(cfg, sc, ret);
                st.main = main;
                if let Some(sc) = next {
                    o.send(self.kernel(), Msg::Syscall(sc));
                }
            }
            Msg::Touched { .. } | Msg::Sigbus { .. } => {
                let MainState::Touching { left, .. } = st.main else {
                    panic!("touch result while {:?}", st.main);
                };
                st.main = MapperState::after_touch(left - 1);
            }
            Msg::UffdMissing { .. } if st.handler != HandlerState::Idle => return None,
            Msg::UffdMissing { page, .. } => {
                st.handler = HandlerState::Copying(page);
                o.send(self.kernel(), Msg::Syscall(Syscall::UffdioCopy { page }));
            }
            other => panic!("a mapper does not take {other:?}"),
        }
        if !was_ready && matches!(st.main, MainState::Ready { .. }) {
            o.choose_random("touch", MapperState::choices(cfg));
        }
        Some(st)
    }
}

impl Actor for Node {
    type Msg = Msg;
    type State = NodeState;
    type Timer = ();
    type Random = Touch;
    type Storage = ();

    fn name(&self) -> String {
        self.role.to_string()
    }

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        match self.role {
            Role::Manager => {
                let (st, msg) = ManagerState::start(&self.cfg);
                o.send(self.kernel(), msg);
                NodeState::Manager(st)
            }
            Role::Mapper(_) => NodeState::Mapper(MapperState::new()),
            Role::Migrator => NodeState::Migrator(MigratorState::Idle),
            Role::Kernel => NodeState::Kernel(Box::new(Kernel::new(&self.cfg))),
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match self.role {
            Role::Manager => {
                let st = self.manager_msg(state.manager(), msg, o);
                *state.to_mut() = NodeState::Manager(st);
            }
            Role::Mapper(_) => {
                if let Some(st) = self.mapper_msg(state.mapper(), msg, o) {
                    *state.to_mut() = NodeState::Mapper(st);
                }
            }
            Role::Migrator => {
                let next = match (msg, state.migrator()) {
                    (Msg::Start, MigratorState::Idle) => {
                        let (st, sc) = MigratorState::start(&self.cfg);
                        o.send(self.kernel(), Msg::Syscall(sc));
                        st
                    }
                    (Msg::Return(Syscall::MovePages { .. }, _), MigratorState::Moving) => {
                        MigratorState::Done
                    }
                    (msg, st) => panic!("the migrator does not take {msg:?} while {st:?}"),
                };
                *state.to_mut() = NodeState::Migrator(next);
            }
            Role::Kernel => {
                if let Some((k, sends)) = kernel_msg(&self.cfg, state.kernel(), src, msg) {
                    *state = Cow::Owned(NodeState::Kernel(Box::new(k)));
                    for (dst, m) in sends {
                        o.send(dst, m);
                    }
                }
            }
        }
    }

    fn on_random(&self, _id: Id, state: &mut Cow<NodeState>, random: &Touch, o: &mut Out<Self>) {
        let mut st = state.mapper();
        let MainState::Ready { left } = st.main else {
            panic!("a touch chosen while {:?}", st.main);
        };
        st.main = MainState::Touching {
            page: random.page,
            left,
        };
        o.send(
            self.kernel(),
            Msg::Access {
                page: random.page,
                write: random.write,
            },
        );
        *state.to_mut() = NodeState::Mapper(st);
    }
}

/// The kernel takes a delivery: its next state and what it sends, or `None` when the step is
/// blocked and nothing may happen yet (the delivery is then pruned).
#[allow(clippy::type_complexity)]
pub(crate) fn kernel_msg(cfg: &ModelCfg, k: &Kernel, src: Id, msg: Msg) -> Option<(Kernel, Sent)> {
    let mut k = k.clone();
    let sends = k.on_msg(cfg, src, msg).ok()?;
    Some((k, sends))
}

/// The actors of a configuration, in id order: manager, mappers, migrator, kernel.
pub fn nodes(cfg: &ModelCfg) -> Vec<Node> {
    let cfg = Arc::new(cfg.clone());
    let node = |role| Node {
        role,
        cfg: cfg.clone(),
    };
    std::iter::once(node(Role::Manager))
        .chain((0..cfg.mappers).map(|m| node(Role::Mapper(m))))
        .chain((0..cfg.migrators).map(|_| node(Role::Migrator)))
        .chain(std::iter::once(node(Role::Kernel)))
        .collect()
}
