//! The kernel actor: the shared kernel state and the kernel threads that run on it.
//!
//! A syscall or a page fault creates a kernel thread with its own program counter (`pc`, a
//! [`Step`]). Each step is delivered to the kernel as a self-addressed [`Msg::Step`], so the
//! checker interleaves kernel threads at lock granularity. A step that finds its lock taken is
//! [`Blocked`]: it changes nothing and stays in flight until the lock is free.
//!
//! The code paths live in one file each: [`fault`], [`punch`], [`fallocate`], [`uffd`],
//! [`mmap`]; page and reservation accounting in [`pool`].

mod fallocate;
mod fault;
mod migrate;
mod mmap;
mod pool;
mod punch;
mod state;
mod uffd;
mod unmap_folio;

pub use crate::steps::Step;
pub use state::{
    BugOn, Ghost, KThread, Kernel, Migration, Mm, Op, PerPage, Punch, MAX_MAPPERS, MAX_PAGES,
    MAX_THREADS,
};

use crate::cfg::ModelCfg;
use crate::ids::{kernel_id, mapper_of, Tid};
use crate::locks::Blocked;
use crate::msg::{Msg, Syscall};
use stateright::actor::Id;

/// What a step sends: step tokens to the kernel itself and replies to processes.
pub(crate) struct Sends {
    kernel: Id,
    msgs: Sent,
}

/// The messages of one delivery, `(destination, message)`: a step sends one or two, on the
/// stack.
pub type Sent = smallvec::SmallVec<[(Id, Msg); 4]>;

impl Sends {
    fn new(cfg: &ModelCfg) -> Self {
        Sends {
            kernel: kernel_id(cfg.mappers, cfg.migrators),
            msgs: Sent::new(),
        }
    }

    /// Schedules the thread's next step.
    pub(crate) fn step(&mut self, t: Tid, s: Step) {
        self.msgs.push((self.kernel, Msg::Step(t, s)));
    }

    /// Sends a message to a process.
    pub(crate) fn to(&mut self, pid: Id, m: Msg) {
        self.msgs.push((pid, m));
    }
}

impl Kernel {
    /// Handles one delivery and returns what it sends, `(destination, message)`. Returns
    /// `Err(Blocked)` when nothing may happen yet; the caller then leaves the state untouched so
    /// the checker prunes the delivery.
    pub(crate) fn on_msg(&mut self, cfg: &ModelCfg, src: Id, msg: Msg) -> Result<Sent, Blocked> {
        let mut s = Sends::new(cfg);
        match msg {
            Msg::Syscall(sc) => self.syscall_entry(cfg, src, sc, &mut s),
            Msg::Access { page, write } => {
                let m = mapper_of(src, cfg.mappers).expect("only mappers touch pages");
                self.access(cfg, m, page, write, &mut s);
            }
            Msg::Step(t, step) => {
                let pc = self.thread(t).pc;
                assert_eq!(pc, step, "step token out of order for {t:?}");
                self.run(cfg, t, step, &mut s)?;
            }
            other => panic!("the kernel does not take {other:?}"),
        }
        Ok(s.msgs)
    }

    /// A process enters the kernel: a new kernel thread at the syscall's first step.
    fn syscall_entry(&mut self, cfg: &ModelCfg, pid: Id, sc: Syscall, s: &mut Sends) {
        let ctx = sc.ctx();
        let (op, pc) = match sc {
            Syscall::Fallocate { start, end } => (
                Op::Fallocate {
                    start,
                    end,
                    next: start,
                },
                Step::HugetlbfsFallocate,
            ),
            Syscall::PunchHole { start, end } => (Op::punch(start, end), Step::HugetlbfsPunchHole),
            Syscall::Mmap => (Op::Mmap, Step::HugetlbfsFileMmap),
            Syscall::UffdioRegister => (Op::UffdioRegister, Step::UserfaultfdRegister),
            Syscall::UffdioCopy { page } => (Op::UffdioCopy { page }, uffd::first_copy_step(cfg)),
            Syscall::UffdioWake { page } => (Op::UffdioWake { page }, Step::UserfaultfdWake),
            Syscall::MovePages { page } => (Op::move_pages(page), Step::AddPageForMigration),
        };
        self.spawn(Tid::new(pid, ctx), op, pc, s);
    }

    /// Runs one step of a kernel thread.
    fn run(&mut self, cfg: &ModelCfg, t: Tid, step: Step, s: &mut Sends) -> Result<(), Blocked> {
        use Step::*;
        match step {
            HugetlbFaultMarker => self.hugetlb_fault_marker(cfg, t, s),
            HugetlbFaultIMmapRead => self.hugetlb_fault_i_mmap_read(cfg, t, s),
            HugetlbFaultMutex => self.hugetlb_fault_mutex(cfg, t, s),
            HugetlbFaultVmaLock => self.hugetlb_fault_vma_lock(cfg, t, s),
            HugetlbNoPage => self.hugetlb_no_page(cfg, t, s),
            HugetlbfsPunchHole => self.hugetlbfs_punch_hole(cfg, t, s),
            HugetlbVmdeleteList => self.hugetlb_vmdelete_list(cfg, t, s),
            RemoveInodeHugepages => self.remove_inode_hugepages(cfg, t, s),
            RemoveUnmapAgain => self.remove_unmap_again(cfg, t, s),
            RemoveUnmapAgainMutex => self.remove_unmap_again_mutex(cfg, t, s),
            HugetlbUnmapFileFolio => self.hugetlb_unmap_file_folio(cfg, t, s),
            HugetlbUnmapFileFolioVmaLock => self.hugetlb_unmap_file_folio_vma_lock(cfg, t, s),
            HugetlbUnmapFileFolioRetry => self.hugetlb_unmap_file_folio_retry(cfg, t, s),
            RemoveLockPage => self.remove_lock_page(cfg, t, s),
            HugetlbfsFallocate => self.hugetlbfs_fallocate(cfg, t, s),
            HugetlbfsFileMmap => self.hugetlbfs_file_mmap(cfg, t, s),
            UserfaultfdRegister => self.userfaultfd_register(cfg, t, s),
            McopyIMmapRead => self.mcopy_i_mmap_read(cfg, t, s),
            McopyMutex => self.mcopy_mutex(cfg, t, s),
            McopyVmaLock => self.mcopy_vma_lock(cfg, t, s),
            HugetlbMcopyAtomicPte => self.hugetlb_mcopy_atomic_pte(cfg, t, s),
            UserfaultfdWake => self.userfaultfd_wake(cfg, t, s),
            MigrationEntryWaitHuge => self.migration_entry_wait_huge(cfg, t, s),
            AddPageForMigration => self.add_page_for_migration(cfg, t, s),
            UnmapAndMoveHugePage => self.unmap_and_move_huge_page(cfg, t, s),
            TryToUnmap => self.try_to_unmap(cfg, t, s),
            MoveToNewFolio => self.move_to_new_folio(cfg, t, s),
            RemoveMigrationPtes => self.remove_migration_ptes(cfg, t, s),
            HandleUserfault | HugetlbFaultMarkerWait => {
                unreachable!("{step:?} is a sleep, never a scheduled step")
            }
        }
    }

    /// Whether thread `t`, in the kernel and about to take the sleeping lock its next step
    /// starts with, finds that lock held against it now (its step would be [`Blocked`]):
    /// `None` when `t` is not in the kernel or is asleep on a wait queue. The one definition
    /// of a wait that the traces export (`meta.waits`): the step itself, run on a copy.
    pub fn blocked(&self, cfg: &ModelCfg, t: Tid) -> Option<bool> {
        let pc = self.threads[Kernel::slot(t)]?.pc;
        pc.acquires()?;
        let mut copy = self.clone();
        Some(copy.run(cfg, t, pc, &mut Sends::new(cfg)).is_err())
    }

    pub(crate) fn thread(&self, t: Tid) -> &KThread {
        self.threads[Kernel::slot(t)]
            .as_ref()
            .unwrap_or_else(|| panic!("{t:?} is not in the kernel"))
    }

    pub(crate) fn thread_mut(&mut self, t: Tid) -> &mut KThread {
        self.threads[Kernel::slot(t)]
            .as_mut()
            .unwrap_or_else(|| panic!("{t:?} is not in the kernel"))
    }

    fn spawn(&mut self, t: Tid, op: Op, pc: Step, s: &mut Sends) {
        let slot = &mut self.threads[Kernel::slot(t)];
        assert!(slot.is_none(), "{t:?} entered the kernel twice");
        *slot = Some(KThread { op, pc });
        s.step(t, pc);
    }

    /// Moves the thread to its next step and schedules it.
    pub(crate) fn goto(&mut self, t: Tid, pc: Step, s: &mut Sends) {
        self.thread_mut(t).pc = pc;
        s.step(t, pc);
    }

    /// Puts the thread to sleep at `pc`; a wake-up schedules its next step.
    pub(crate) fn sleep(&mut self, t: Tid, pc: Step) {
        self.thread_mut(t).pc = pc;
    }

    /// The thread leaves the kernel.
    pub(crate) fn exit(&mut self, t: Tid) {
        self.threads[Kernel::slot(t)] = None;
    }

    /// The system call returns to the process.
    pub(crate) fn syscall_return(
        &mut self,
        t: Tid,
        sc: Syscall,
        ret: Result<(), crate::msg::Errno>,
        s: &mut Sends,
    ) {
        self.exit(t);
        s.to(t.pid(), Msg::Return(sc, ret));
    }
}
