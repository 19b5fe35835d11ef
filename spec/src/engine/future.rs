//! Which sleeping locks a process thread may still take, from a state on: what the
//! partial-order reduction ([`super::por`]) asks before it lets a fault or a copy take a lock
//! ahead of every other thread.
//!
//! The sets over-approximate (a thread that *may* fault again may take every fault mutex of
//! the pages it can touch) and never grow along a path: `spec/tests/por.rs` checks both on
//! every reachable state of the families it searches in full, so an acquisition that some
//! thread makes later is in its set now.

use super::{Engine, Sys};
use crate::ids::{manager_id, Ctx, Tid};
use crate::kernel::Kernel;
use crate::node::{kernel_msg, Role};
use crate::procs::{MainState, ManagerState, MigratorState};
use stateright::actor::Id;

/// A lock a step acquires and keeps: the one shared thing a pure acquisition step writes
/// (`Step::pure_acquire`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lock {
    /// `i_mmap_lock_read(mapping)`.
    IMmapRead,
    /// `hugetlb_vma_lock_read` of mapper `m`'s VMA.
    VmaLockRead(u8),
    /// `mutex_lock(&hugetlb_fault_mutex_table[j])`.
    FaultMutex(u8),
}

/// The locks a thread may take from now on, on the side that conflicts with a reader (the
/// rwsems) or at all (the fault mutexes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Takes {
    /// `i_mmap_lock_write` (a trylock included): `hugetlbfs_file_mmap`, the punch, migration.
    pub i_mmap_write: bool,
    /// The vma_lock's `down_write` (a trylock included), by mapper: the punch, migration.
    pub vma_lock_write: u8,
    /// `mutex_lock` of a fault mutex, by slot: fallocate, punch, fault, `UFFDIO_COPY`.
    pub fault_mutex: u8,
}

impl Takes {
    /// Whether a thread that may take these could find `lock` held against it, or take it
    /// first: the acquisitions that do not commute with taking `lock`.
    pub fn conflicts(self, lock: Lock) -> bool {
        match lock {
            Lock::IMmapRead => self.i_mmap_write,
            Lock::VmaLockRead(m) => self.vma_lock_write & (1 << m) != 0,
            Lock::FaultMutex(j) => self.fault_mutex & (1 << j) != 0,
        }
    }

    /// Every lock of `self` is in `wider`.
    pub fn within(self, wider: Takes) -> bool {
        (!self.i_mmap_write || wider.i_mmap_write)
            && self.vma_lock_write & !wider.vma_lock_write == 0
            && self.fault_mutex & !wider.fault_mutex == 0
    }
}

/// The lock that step of thread `t` took, from the kernel before and after it: `Ok(None)` if
/// it took none (a fault without its mutex, as a mutant), `Err` if it changed anything but
/// one acquisition by `t` and `t`'s program counter.
pub fn acquired(before: &Kernel, after: &Kernel, t: Tid) -> Result<Option<Lock>, String> {
    let slot = Kernel::slot(t);
    let (Some(was), Some(now)) = (before.threads[slot], after.threads[slot]) else {
        return Err(format!("{t:?} left or entered the kernel"));
    };
    if was.op != now.op {
        return Err(format!(
            "{t:?} changed its locals: {:?} to {:?}",
            was.op, now.op
        ));
    }
    let mut rest = after.clone();
    rest.threads[slot] = Some(was);
    if rest == *before {
        return Ok(None);
    }
    Lock::all(before)
        .find(|l| l.taken(before, t).as_ref() == Some(&rest))
        .map(Some)
        .ok_or_else(|| format!("{t:?} changed more than one lock it took and its pc"))
}

/// Whether that step of thread `t` wrote only its own process's kernel data: its two thread
/// slots and its VMA's userfaultfd registration (`Step::process_private`). `Err` says what
/// else it changed.
pub fn process_private(before: &Kernel, after: &Kernel, t: Tid) -> Result<(), String> {
    let mut rest = after.clone();
    for u in [Tid::main(t.pid()), Tid::handler(t.pid())] {
        rest.threads[Kernel::slot(u)] = before.threads[Kernel::slot(u)];
    }
    if let Some(m) = crate::ids::mapper_of(t.pid(), before.mms.len() as u8) {
        rest.mms[m as usize].uffd_missing = before.mms[m as usize].uffd_missing;
    }
    if rest == *before {
        Ok(())
    } else {
        Err(format!(
            "{t:?} changed more than its process's slots and registration"
        ))
    }
}

impl Lock {
    /// Every lock of a kernel.
    pub fn all(k: &Kernel) -> impl Iterator<Item = Lock> + '_ {
        let vmas = (0..k.mms.len() as u8).map(Lock::VmaLockRead);
        let mutexes = (0..k.fault_mutex.len() as u8).map(Lock::FaultMutex);
        std::iter::once(Lock::IMmapRead).chain(vmas).chain(mutexes)
    }

    /// No thread of the model: who holds a lock in [`Lock::held_by_another`].
    fn phantom() -> Tid {
        Tid::handler(manager_id())
    }

    /// The kernel with this lock taken by `holder` as a pure acquisition takes it (for read,
    /// or the mutex), if it is free to take.
    fn taken(self, k: &Kernel, holder: Tid) -> Option<Kernel> {
        let mut k = k.clone();
        let ok = match self {
            Lock::IMmapRead => k.i_mmap.read().is_ok(),
            Lock::VmaLockRead(m) => k.mms[m as usize].vma_lock.read().is_ok(),
            Lock::FaultMutex(j) => k.fault_mutex[j as usize].lock(holder).is_ok(),
        };
        ok.then_some(k)
    }

    /// The kernel with this lock taken by a thread of its own.
    fn held_by_another(self, k: &Kernel) -> Option<Kernel> {
        self.taken(k, Lock::phantom())
    }

    /// Gives back what [`Lock::held_by_another`] took.
    fn release_another(self, k: &mut Kernel) {
        match self {
            Lock::IMmapRead => k.i_mmap.read_unlock(),
            Lock::VmaLockRead(m) => k.mms[m as usize].vma_lock.read_unlock(),
            Lock::FaultMutex(j) => k.fault_mutex[j as usize].unlock(Lock::phantom()),
        }
    }
}

impl Engine {
    /// [`Engine::takes`] in state `s`: every message to the kernel in flight whose outcome (run
    /// or blocked, and what it writes and sends) changes when another thread holds a lock as a
    /// pure acquisition holds it belongs to a thread whose set has that lock. With the sets
    /// never growing along a path, an acquisition that conflicts with a pure one, anywhere
    /// after `s`, is in its thread's set at `s`.
    pub fn check_takes(&self, s: &Sys) -> Result<(), String> {
        let k = &s.kernel;
        for e in s.net.iter_distinct().filter(|e| e.dst() == self.kernel) {
            let u = self.thread_of(e);
            let takes = self.takes(s, u);
            let plain = kernel_msg(&self.cfg, k, e.src(), e.msg);
            for lock in Lock::all(k).filter(|&l| !takes.conflicts(l)) {
                let Some(held) = lock.held_by_another(k) else {
                    continue;
                };
                let with = kernel_msg(&self.cfg, &held, e.src(), e.msg).map(|(mut after, sent)| {
                    lock.release_another(&mut after);
                    (after, sent)
                });
                if with != plain {
                    return Err(format!(
                        "{:?} of {u:?} depends on {lock:?}, not in its set {takes:?}",
                        e.msg
                    ));
                }
            }
        }
        Ok(())
    }

    /// The locks thread `t` (its process thread, and its kernel thread while it runs one) may
    /// take in some state reachable from `s`, over-approximated from where it is.
    pub fn takes(&self, s: &Sys, t: Tid) -> Takes {
        let k = &s.kernel;
        let cfg = &self.cfg;
        let in_kernel = k.threads[Kernel::slot(t)].is_some();
        let mutex_of = |p: u8| 1u8 << cfg.fault_mutex_hash(p);
        // Every index a touch may choose, hence every fault, copy and wake.
        let touchable = cfg.touchable_pages().fold(0, |acc, p| acc | mutex_of(p));
        let every_mutex = (1u8 << k.fault_mutex.len()) - 1;
        let every_vma = (1u8 << k.mms.len()) - 1;
        let id: Id = t.pid();
        match self.nodes[usize::from(id)].role {
            Role::Manager => {
                if s.manager == ManagerState::Done && !in_kernel {
                    return Takes::default();
                }
                // The first fallocate takes every fault mutex; the punch and the reuse only
                // the hole's. Only the punch (once) takes `i_mmap_rwsem` and the vma_locks for
                // write.
                let punching = !k.ghost.punched;
                let hole = (cfg.hole_start..cfg.hole_end).fold(0, |acc, p| acc | mutex_of(p));
                Takes {
                    i_mmap_write: punching,
                    vma_lock_write: if punching { every_vma } else { 0 },
                    fault_mutex: if s.manager == ManagerState::Preallocating {
                        every_mutex
                    } else {
                        hole
                    },
                }
            }
            Role::Mapper(m) => {
                let main = s.mappers[m as usize].main;
                let faults = match main {
                    MainState::Done => 0,
                    // `left` counts the touch in flight.
                    MainState::Touching { page, left: 1 } => mutex_of(page),
                    _ => touchable,
                };
                // `hugetlbfs_file_mmap` takes `i_mmap_rwsem` for write until it links the VMA.
                // The handler copies only the page its main thread sleeps on in
                // `handle_userfault` (until the copy or a wake of the handler's own).
                Takes {
                    i_mmap_write: t.ctx == Ctx::Main && !k.mms[m as usize].vma,
                    vma_lock_write: 0,
                    fault_mutex: faults,
                }
            }
            Role::Migrator => {
                if s.migrator == MigratorState::Done && !in_kernel {
                    return Takes::default();
                }
                // `hugetlb_page_mapping_lock_write` and the vma_lock trylock in
                // `try_to_migrate`; migration takes no fault mutex.
                Takes {
                    i_mmap_write: true,
                    vma_lock_write: every_vma,
                    fault_mutex: 0,
                }
            }
            Role::Kernel => unreachable!("the kernel is not a process thread"),
        }
    }
}
