//! The diagram's lifelines: the manager, each mapper and its uffd handler thread, and the
//! kernel thread each of them runs in a system call or fault (`kernel:manager`,
//! `kernel:mapper0`, `kernel:mapper0.handler`).

use spec::ids::Ctx;
use spec::node::Role;
use traces::Thread;

/// What a lifeline stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LifelineKind {
    /// A process's main thread (`manager`, `mapper<N>`).
    Process,
    /// A mapper's userfaultfd handler thread (`mapper<N>.handler`).
    Handler,
    /// A thread while it runs in the kernel (`kernel:<thread>`).
    Kernel,
}

/// One lifeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifeline {
    /// The thread this lifeline is, or runs in the kernel for.
    pub thread: Thread,
    /// Its name: the thread's (`manager`, `mapper0.handler`), or `kernel:mapper0`.
    pub name: String,
    /// An identifier without dots or colons (Mermaid participant ids): `k_mapper0_handler`.
    pub id: String,
    pub kind: LifelineKind,
}

impl Lifeline {
    /// The lifeline of a process thread (`manager`, `mapper0`, `mapper0.handler`).
    pub fn thread(thread: Thread) -> Lifeline {
        let kind = match thread.ctx {
            Ctx::Handler => LifelineKind::Handler,
            Ctx::Main => LifelineKind::Process,
        };
        let name = thread.to_string();
        Lifeline {
            thread,
            id: name.replace(['.', ':'], "_"),
            name,
            kind,
        }
    }

    /// The lifeline of `thread` running in the kernel.
    pub fn kernel(thread: Thread) -> Lifeline {
        let name = thread.to_string();
        Lifeline {
            thread,
            id: format!("k_{}", name.replace(['.', ':'], "_")),
            name: format!("kernel:{name}"),
            kind: LifelineKind::Kernel,
        }
    }

    /// Left-to-right position: the manager and its kernel thread, then per mapper its kernel
    /// thread (next to the punch's, where the race is), the mapper, its handler and the
    /// handler's kernel thread.
    pub fn order(&self) -> (Role, u8) {
        let handler = self.thread.ctx == Ctx::Handler;
        let kernel = self.kind == LifelineKind::Kernel;
        let slot = match (self.thread.process, handler, kernel) {
            (Role::Manager, _, false) => 0,
            (Role::Manager, _, true) => 1,
            (_, false, true) => 0,
            (_, false, false) => 1,
            (_, true, false) => 2,
            (_, true, true) => 3,
        };
        (self.thread.process, slot)
    }
}

/// The lifelines the diagram uses, in their left-to-right order, without duplicates.
pub fn arrange(mut used: Vec<Lifeline>) -> Vec<Lifeline> {
    used.sort_by(|a, b| a.order().cmp(&b.order()).then(a.name.cmp(&b.name)));
    used.dedup();
    used
}
