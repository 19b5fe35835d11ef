//! Who is who: actor ids of the processes and the kernel, and kernel thread ids.
//!
//! Actor 0 is the manager, actors `1..=mappers` are the mappers, then the migrator if there
//! is one; the last actor is the kernel.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use std::fmt;

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
///
/// The process is held as one byte (a model has a handful of actors), not as Stateright's
/// `Id` (a `usize`): a `Tid` is in every lock of the kernel's state and in every step
/// message, and the checker copies and hashes those on every step.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid {
    pid: u8,
    pub ctx: Ctx,
}

impl Tid {
    /// # Panics
    /// If the actor id does not fit in a byte.
    pub fn new(pid: Id, ctx: Ctx) -> Tid {
        let pid = u8::try_from(usize::from(pid)).expect("fewer than 256 actors");
        Tid { pid, ctx }
    }
    pub fn main(pid: Id) -> Tid {
        Tid::new(pid, Ctx::Main)
    }
    pub fn handler(pid: Id) -> Tid {
        Tid::new(pid, Ctx::Handler)
    }
    /// The process the thread belongs to.
    pub fn pid(self) -> Id {
        Id::from(self.pid as usize)
    }
}

impl fmt::Debug for Tid {
    /// As a derived `Debug` with `pid: Id`: the Explorer names actors by their `Id(N)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tid")
            .field("pid", &self.pid())
            .field("ctx", &self.ctx)
            .finish()
    }
}
