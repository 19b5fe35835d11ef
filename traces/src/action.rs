//! What a step does: a typed action, with the level it sits at.

use crate::value::Value;
use serde::{Deserialize, Serialize};
pub use spec::kernel::Step as KernelStep;
pub use spec::msg::{Errno, Syscall};
pub use spec::steps::Acquire;

/// How deep in the system a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A process makes or returns from a system call.
    Syscall,
    /// A kernel thread's step, at lock granularity: not directly visible on a host.
    Kernel,
    /// userfaultfd delivers a MISSING event or SIGBUS.
    Uffd,
    /// A mapper's memory access: chosen, walked by the MMU, completed.
    Access,
}

/// A system call by name, as a return names it (the model's [`Syscall`] without arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    Fallocate,
    PunchHole,
    Mmap,
    UffdioRegister,
    UffdioCopy,
    UffdioWake,
    MovePages,
}

impl Call {
    /// The call a system call of the model is.
    pub fn of(sc: Syscall) -> Call {
        match sc {
            Syscall::Fallocate { .. } => Call::Fallocate,
            Syscall::PunchHole { .. } => Call::PunchHole,
            Syscall::Mmap => Call::Mmap,
            Syscall::UffdioRegister => Call::UffdioRegister,
            Syscall::UffdioCopy { .. } => Call::UffdioCopy,
            Syscall::UffdioWake { .. } => Call::UffdioWake,
            Syscall::MovePages { .. } => Call::MovePages,
        }
    }

    /// Its name in traces: `punch_hole`.
    pub fn name(self) -> &'static str {
        match self {
            Call::Fallocate => "fallocate",
            Call::PunchHole => "punch_hole",
            Call::Mmap => "mmap",
            Call::UffdioRegister => "uffdio_register",
            Call::UffdioCopy => "uffdio_copy",
            Call::UffdioWake => "uffdio_wake",
            Call::MovePages => "move_pages",
        }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name the model's serde gives a unit variant: `EEXIST`, `outside_hole`, `copy`.
pub fn name_of<T: Serialize + std::fmt::Debug>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}

/// An errno's name (`EEXIST`), as the model spells it.
pub fn errno_name(e: Errno) -> String {
    name_of(&e)
}

/// `ok` or the errno's name.
pub fn ret_name(ret: Result<(), Errno>) -> String {
    ret.map_or_else(errno_name, |()| "ok".into())
}

/// The inverse of [`ret_name`].
pub fn parse_ret(s: &str) -> Option<Result<(), Errno>> {
    if s == "ok" {
        return Some(Ok(()));
    }
    serde_json::from_value(serde_json::Value::String(s.into()))
        .ok()
        .map(Err)
}

/// One step's action, with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The manager starts a mapper (the DB manager starting a worker).
    Start,
    /// A process enters a system call.
    Call(Syscall),
    /// The system call returns.
    Return { call: Call, ret: Result<(), Errno> },
    /// A kernel thread's step; `page`: the file index it works on, if any.
    Kernel { step: KernelStep, page: Option<u8> },
    /// A mapper chooses to touch a page.
    Touch { page: u8, write: bool },
    /// The MMU walks the page table: `hit` if the page is mapped (no fault).
    Mmu { page: u8, write: bool, hit: bool },
    /// The touch completes, having read (or written) `value`.
    Touched { page: u8, write: bool, value: Value },
    /// The touch raised SIGBUS.
    Sigbus { page: u8 },
    /// The handler thread read a MISSING event.
    UffdMissing { page: u8, write: bool },
}

impl Action {
    pub fn level(&self) -> Level {
        match self {
            Action::Start | Action::Call(_) | Action::Return { .. } => Level::Syscall,
            Action::Kernel { .. } => Level::Kernel,
            Action::Touch { .. } | Action::Mmu { .. } | Action::Touched { .. } => Level::Access,
            Action::Sigbus { .. } | Action::UffdMissing { .. } => Level::Uffd,
        }
    }

    /// The action's name in traces.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Call(sc) => Call::of(*sc).name(),
            Action::Return { .. } => "return",
            Action::Kernel { step, .. } => step.name(),
            Action::Touch { .. } => "touch",
            Action::Mmu { .. } => "mmu",
            Action::Touched { .. } => "touched",
            Action::Sigbus { .. } => "sigbus",
            Action::UffdMissing { .. } => "uffd_missing",
        }
    }

    /// The file page the action is about, if any.
    pub fn page(&self) -> Option<u8> {
        match *self {
            Action::Call(
                Syscall::UffdioCopy { page }
                | Syscall::UffdioWake { page }
                | Syscall::MovePages { page },
            )
            | Action::Touch { page, .. }
            | Action::Mmu { page, .. }
            | Action::Touched { page, .. }
            | Action::Sigbus { page }
            | Action::UffdMissing { page, .. } => Some(page),
            Action::Kernel { page, .. } => page,
            _ => None,
        }
    }

    /// The kernel step, if this is one.
    pub fn kernel_step(&self) -> Option<KernelStep> {
        match self {
            Action::Kernel { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// Whether the action is `return` from `call`.
    pub fn returns(&self, call: Call) -> bool {
        matches!(self, Action::Return { call: c, .. } if *c == call)
    }
}
