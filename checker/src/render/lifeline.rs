//! The diagram's lifelines: the manager, each mapper and its uffd handler thread, and the
//! kernel thread each of them runs in a system call or fault (`kernel:manager`,
//! `kernel:mapper0`, `kernel:mapper0.handler`).

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
    /// Its name as the trace spells it: `manager`, `mapper0.handler`, `kernel:mapper0`.
    pub name: String,
    /// An identifier without dots or colons (Mermaid participant ids): `k_mapper0_handler`.
    pub id: String,
    pub kind: LifelineKind,
}

impl Lifeline {
    /// The lifeline of a process thread (`manager`, `mapper0`, `mapper0.handler`).
    pub fn thread(thread: &str) -> Lifeline {
        let kind = if thread.ends_with(".handler") {
            LifelineKind::Handler
        } else {
            LifelineKind::Process
        };
        Lifeline {
            name: thread.to_string(),
            id: thread.replace(['.', ':'], "_"),
            kind,
        }
    }

    /// The lifeline of `thread` running in the kernel.
    pub fn kernel(thread: &str) -> Lifeline {
        Lifeline {
            name: format!("kernel:{thread}"),
            id: format!("k_{}", thread.replace(['.', ':'], "_")),
            kind: LifelineKind::Kernel,
        }
    }

    /// The thread this lifeline is, or runs in the kernel for.
    pub fn thread_name(&self) -> &str {
        self.name.strip_prefix("kernel:").unwrap_or(&self.name)
    }

    /// Left-to-right position: the manager and its kernel thread, then per mapper its kernel
    /// thread (next to the punch's, where the race is), the mapper, its handler and the
    /// handler's kernel thread.
    pub fn order(&self) -> (u8, u8) {
        let thread = self.thread_name();
        let (process, handler) = match thread.split_once('.') {
            Some((p, _)) => (p, true),
            None => (thread, false),
        };
        let group = process
            .strip_prefix("mapper")
            .and_then(|n| n.parse::<u8>().ok())
            .map_or(0, |n| n + 1);
        let kernel = self.kind == LifelineKind::Kernel;
        let slot = match (group, handler, kernel) {
            (0, _, false) => 0,
            (0, _, true) => 1,
            (_, false, true) => 0,
            (_, false, false) => 1,
            (_, true, false) => 2,
            (_, true, true) => 3,
        };
        (group, slot)
    }
}

/// The lifelines the diagram uses, in their left-to-right order, without duplicates.
pub fn arrange(mut used: Vec<Lifeline>) -> Vec<Lifeline> {
    used.sort_by(|a, b| a.order().cmp(&b.order()).then(a.name.cmp(&b.name)));
    used.dedup();
    used
}
