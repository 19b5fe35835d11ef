//! Who is who: actor ids of the processes and the kernel, and kernel thread ids.
//!
//! Actor 0 is the manager, actors `1..=mappers` are the mappers, then the migrator if there
//! is one; the last actor is the kernel.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// The manager's actor id.
pub fn manager_id() -> Id {
    Id::from(0)
}

/// A mapper's actor id from its 0-based number.
pub fn mapper_id(m: u8) -> Id {
    Id::from(1 + m as usize)
}

/// A mapper's 0-based number from its actor id, `None` for the manager and the kernel.
pub fn mapper_of(id: Id, mappers: u8) -> Option<u8> {
    let i = usize::from(id);
    (1..=mappers as usize).contains(&i).then(|| (i - 1) as u8)
}

/// The migrator's actor id (when there is one).
pub fn migrator_id(mappers: u8) -> Id {
    Id::from(1 + mappers as usize)
}

/// The kernel's actor id: the last actor.
pub fn kernel_id(mappers: u8, migrators: u8) -> Id {
    Id::from(1 + mappers as usize + migrators as usize)
}

/// Which thread of a process entered the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ctx {
    /// The process's main thread: the manager's syscalls, a mapper's mmap and touches.
    Main,
    /// A mapper's userfaultfd handler thread: UFFDIO_COPY and UFFDIO_WAKE.
    Handler,
}

/// A kernel thread: a process thread running in the kernel (a syscall or a page fault).
/// Each process thread is in the kernel at most once at a time, so this names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid {
    pub pid: Id,
    pub ctx: Ctx,
}

impl Tid {
    pub fn main(pid: Id) -> Tid {
        Tid {
            pid,
            ctx: Ctx::Main,
        }
    }
    pub fn handler(pid: Id) -> Tid {
        Tid {
            pid,
            ctx: Ctx::Handler,
        }
    }
}
