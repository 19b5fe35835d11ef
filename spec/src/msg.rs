//! Messages between the processes and the kernel, and the kernel's steps to itself.

use crate::ids::{Ctx, Tid};
use crate::page::Data;
use crate::steps::Step;
use serde::{Deserialize, Serialize};

/// A system call a process makes. Ranges are in huge pages, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "syscall")]
pub enum Syscall {
    /// `fallocate(fd, 0, start, end - start)`: allocate pages.
    Fallocate { start: u8, end: u8 },
    /// `fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, end - start)`.
    PunchHole { start: u8, end: u8 },
    /// `mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)` of the whole file.
    Mmap,
    /// `ioctl(uffd, UFFDIO_REGISTER, MODE_MISSING)` on the whole mapping.
    UffdioRegister,
    /// `ioctl(uffd, UFFDIO_COPY)` of one page, waking the faulting thread on success.
    UffdioCopy { page: u8 },
    /// `ioctl(uffd, UFFDIO_WAKE)` of one page.
    UffdioWake { page: u8 },
    /// `move_pages(mapper 0's pid, 1, [page], [other node], status, MPOL_MF_MOVE)`.
    MovePages { page: u8 },
}

impl Syscall {
    /// The thread that makes it: the handler thread resolves faults, the main thread does the rest.
    pub fn ctx(self) -> Ctx {
        match self {
            Syscall::UffdioCopy { .. } | Syscall::UffdioWake { .. } => Ctx::Handler,
            _ => Ctx::Main,
        }
    }
}

/// The errno values the model can return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Errno {
    /// `UFFDIO_COPY`: the page is already mapped or back in the page cache.
    EEXIST,
    /// No free huge page for an allocation that has no reservation.
    ENOMEM,
    /// `fallocate`: no free huge page.
    ENOSPC,
}

/// A message of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    /// manager -> mapper: the file is ready, start working (the DB manager starting a worker).
    Start,
    /// process -> kernel: a system call entry.
    Syscall(Syscall),
    /// mapper -> kernel: the mapper's CPU touches a page; the MMU walks its page table.
    Access { page: u8, write: bool },
    /// kernel -> kernel: run the next step of a kernel thread. Delivering it is one step at
    /// lock granularity; it stays in flight while the step is blocked on a lock.
    Step(Tid, Step),
    /// kernel -> process: a system call returned.
    Return(Syscall, Result<(), Errno>),
    /// kernel -> mapper: the touch completed and read (or wrote) `value`.
    Touched { page: u8, write: bool, value: Data },
    /// kernel -> mapper: the touch raised SIGBUS.
    Sigbus { page: u8 },
    /// kernel -> mapper's uffd handler: a MISSING fault event was read from the uffd.
    UffdMissing { page: u8, write: bool },
}
