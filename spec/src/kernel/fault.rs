//! The fault path: the MMU, then mm/hugetlb.c `hugetlb_fault` -> `hugetlb_no_page`.
//!
//! userfaultfd on hugetlbfs arrived in 4.11; the 4.4-based variants use the 4.11 hook in
//! `hugetlb_no_page` (drop the fault mutex, `handle_userfault`, retry). 4.11 takes the fault
//! mutex again after `handle_userfault` only to drop it at once and retry; the model goes
//! straight to the retry, which takes the same mutex.

use super::{Kernel, Op, Sends, Step};
use crate::cfg::{ModelCfg, Mutation, UffdPolicy};
use crate::ids::{mapper_id, mapper_of, Tid};
use crate::locks::Blocked;
use crate::msg::Msg;
use crate::page::{Data, Origin};

impl Kernel {
    /// The first step of `hugetlb_fault` in this variant.
    pub(crate) fn fault_entry(cfg: &ModelCfg) -> Step {
        if cfg.features().hole_marker {
            Step::HugetlbFaultMarker
        } else if cfg.features().fault_i_mmap_read {
            Step::HugetlbFaultIMmapRead
        } else {
            Step::HugetlbFaultMutex
        }
    }

    /// The MMU: mapper `m` touches `page`. A present PTE completes the access with no fault;
    /// a none PTE raises a page fault, which enters the kernel as a new thread.
    pub(crate) fn access(&mut self, cfg: &ModelCfg, m: u8, page: u8, write: bool, s: &mut Sends) {
        let after_punch = self.ghost.punched;
        self.access_again(cfg, m, page, write, after_punch, s);
    }

    /// The MMU walk of a touch, first or retried (`after_punch` is the touch's, from its
    /// start). A migration entry is not present either: the fault waits for the migration.
    pub(crate) fn access_again(
        &mut self,
        cfg: &ModelCfg,
        m: u8,
        page: u8,
        write: bool,
        after_punch: bool,
        s: &mut Sends,
    ) {
        let mm = &self.mms[m as usize];
        if mm.ptes[page as usize].is_some() {
            self.touch_completes(cfg, m, page, write, after_punch, s);
        } else {
            let entry = if mm.migration[page as usize].is_some() {
                Step::MigrationEntryWaitHuge
            } else {
                Kernel::fault_entry(cfg)
            };
            let op = Op::Fault {
                page,
                write,
                after_punch,
            };
            self.spawn(Tid::main(mapper_id(m)), op, entry, s);
        }
    }

    /// The touch goes through the PTE: read the page, or write the mapper's value into it.
    fn touch_completes(
        &mut self,
        cfg: &ModelCfg,
        m: u8,
        page: u8,
        write: bool,
        after_punch: bool,
        s: &mut Sends,
    ) {
        let id = self.mms[m as usize].ptes[page as usize].expect("touch through a none PTE");
        let value = match &mut self.cache[page as usize] {
            Some(p) if p.id == id => {
                if after_punch && cfg.in_hole(page) && (p.pre_punch || p.origin == Origin::Fault) {
                    self.ghost.uncaught_hole_touch = true;
                }
                if write {
                    p.data = Data::Written(m);
                }
                p.data
            }
            // A stale PTE (the page was freed): `no_stale_mapping` reports it.
            _ => Data::Zero,
        };
        s.to(mapper_id(m), Msg::Touched { page, write, value });
    }

    fn fault_op(&self, t: Tid) -> (u8, bool, bool) {
        match self.thread(t).op {
            Op::Fault {
                page,
                write,
                after_punch,
            } => (page, write, after_punch),
            op => panic!("{t:?} runs {op:?}, not a fault"),
        }
    }

    fn faulting_mapper(cfg: &ModelCfg, t: Tid) -> u8 {
        mapper_of(t.pid(), cfg.mappers).expect("only mappers fault")
    }

    /// `hugetlb_fault` (v2 patch 3, on 4.4): `if (unlikely(inode->i_private))`, take `i_lock`;
    /// if the marker's range covers `idx` (`idx >= start && idx <= end`, one past the hole
    /// included), `prepare_to_wait` and `schedule()` once; then go on to the fault mutex.
    pub(crate) fn hugetlb_fault_marker(
        &mut self,
        _cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let (page, ..) = self.fault_op(t);
        match self.i_private {
            Some((start, end)) if page >= start && page <= end => {
                self.ghost.fault_waits_on_marker = true;
                self.sleep(t, Step::HugetlbFaultMarkerWait);
            }
            _ => self.goto(t, Step::HugetlbFaultMutex, s),
        }
        Ok(())
    }

    /// `hugetlb_fault` (5.7): `i_mmap_lock_read(mapping)`, held until the fault is done so that
    /// `huge_pmd_unshare` cannot free the page table under it.
    pub(crate) fn hugetlb_fault_i_mmap_read(
        &mut self,
        _cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.read()?;
        self.goto(t, Step::HugetlbFaultMutex, s);
        Ok(())
    }

    /// `hugetlb_fault`: `mutex_lock(&hugetlb_fault_mutex_table[hash])`, serialising the fault
    /// with `remove_inode_hugepages`, `hugetlbfs_fallocate` and `UFFDIO_COPY` on the index.
    pub(crate) fn hugetlb_fault_mutex(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let (page, ..) = self.fault_op(t);
        if cfg.mutation != Some(Mutation::FaultWithoutMutex) {
            self.fault_mutex[cfg.fault_mutex_hash(page) as usize].lock(t)?;
        }
        let next = if cfg.features().vma_lock {
            Step::HugetlbFaultVmaLock
        } else {
            Step::HugetlbNoPage
        };
        self.goto(t, next, s);
        Ok(())
    }

    /// `hugetlb_fault` (6.1): `hugetlb_vma_lock_read(vma)` before `huge_pte_alloc`.
    pub(crate) fn hugetlb_fault_vma_lock(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let m = Kernel::faulting_mapper(cfg, t);
        self.mms[m as usize].vma_lock.read()?;
        self.goto(t, Step::HugetlbNoPage, s);
        Ok(())
    }

    /// Drops what `hugetlb_fault` took, in reverse order.
    fn hugetlb_fault_unlock(&mut self, cfg: &ModelCfg, t: Tid, page: u8) {
        let m = Kernel::faulting_mapper(cfg, t);
        if cfg.features().vma_lock {
            self.mms[m as usize].vma_lock.read_unlock();
        }
        if cfg.mutation != Some(Mutation::FaultWithoutMutex) {
            self.fault_mutex[cfg.fault_mutex_hash(page) as usize].unlock(t);
        }
        if cfg.features().fault_i_mmap_read {
            self.i_mmap.read_unlock();
        }
    }

    /// `hugetlb_fault` -> `hugetlb_no_page`, all under the fault's locks: a PTE that is no
    /// longer none means the fault was already resolved (`UFFDIO_COPY`); a page in the page
    /// cache is mapped (`find_lock_page`, `huge_pte_lock`, `set_huge_pte_at`, `unlock_page`); a
    /// miss goes to userfaultfd if the VMA is registered, else a new zeroed page is allocated
    /// and mapped. `find_lock_page` sleeps while another task holds the cached page's lock
    /// (still holding the fault mutex, and `i_mmap_rwsem` where the fault takes it), and looks
    /// the index up again once it gets the lock, as `pagecache_get_page` does when
    /// `page->mapping` changed.
    pub(crate) fn hugetlb_no_page(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let (page, write, after_punch) = self.fault_op(t);
        let m = Kernel::faulting_mapper(cfg, t);
        let (i, mi) = (page as usize, m as usize);
        if self.mms[mi].migration[i].is_some() {
            // `if (!pte_present(entry)) goto out_mutex`: return 0, the access is retried.
            self.hugetlb_fault_unlock(cfg, t, page);
            self.exit(t);
            self.access_again(cfg, m, page, write, after_punch, s);
            return Ok(());
        }
        if self.mms[mi].ptes[i].is_none() {
            let lock_page = self.cache[i].is_some();
            if lock_page {
                self.page_lock[i].lock(t)?;
            }
            let cached = match self.cache[i] {
                Some(p) => Some(p),
                None if self.mms[mi].uffd_missing => {
                    self.hugetlb_handle_userfault(cfg, t, page, write, s);
                    return Ok(());
                }
                None => self
                    .alloc_huge_page(cfg, page, Origin::Fault, Data::Zero)
                    .ok()
                    .inspect(|&p| self.add_to_page_cache(p)),
            };
            let Some(p) = cached else {
                // alloc_huge_page failed: VM_FAULT_SIGBUS.
                self.hugetlb_fault_unlock(cfg, t, page);
                self.exit(t);
                s.to(t.pid(), Msg::Sigbus { page });
                return Ok(());
            };
            self.note_race_window(cfg, page);
            self.mms[mi].ptes[i] = Some(p.id);
            if lock_page {
                self.page_lock[i].unlock(t);
            }
        }
        self.hugetlb_fault_unlock(cfg, t, page);
        self.exit(t);
        self.touch_completes(cfg, m, page, write, after_punch, s);
        Ok(())
    }

    /// Ghost: a fault maps a hole page inside the race window.
    fn note_race_window(&mut self, cfg: &ModelCfg, page: u8) {
        if self.race_window_open(cfg, page) {
            self.ghost.race_window_fault = true;
        }
    }

    /// The 2015 race window is open for `page`: a punch has run `hugetlb_vmdelete_list` and
    /// `remove_inode_hugepages` has not yet dealt with this hole index. A fault that maps the
    /// page now is the raced fault. The one definition of the window: traces export it.
    pub fn race_window_open(&self, cfg: &ModelCfg, page: u8) -> bool {
        self.punch_in_progress()
            .is_some_and(|p| p.vmdeleted && cfg.in_hole(page) && page >= p.next)
    }

    /// `hugetlb_handle_userfault` (`hugetlb_no_page`'s 4.11 hook): drop the fault's locks and
    /// `handle_userfault(vmf, VM_UFFD_MISSING)`: SIGBUS at once with `UFFD_FEATURE_SIGBUS`,
    /// else queue a MISSING event for the handler and sleep until woken.
    fn hugetlb_handle_userfault(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        page: u8,
        write: bool,
        s: &mut Sends,
    ) {
        self.hugetlb_fault_unlock(cfg, t, page);
        if cfg.in_hole(page) {
            self.ghost.hole_touch_missing = true;
        }
        if cfg.uffd == UffdPolicy::Sigbus {
            self.exit(t);
            s.to(t.pid(), Msg::Sigbus { page });
        } else {
            s.to(t.pid(), Msg::UffdMissing { page, write });
            self.sleep(t, Step::HandleUserfault);
        }
    }

    /// `wake_userfault` from `UFFDIO_COPY`/`UFFDIO_WAKE`: the mapper's main thread, if asleep
    /// in `handle_userfault` on `page`, returns `VM_FAULT_RETRY` and faults again.
    pub(crate) fn wake_userfault(&mut self, cfg: &ModelCfg, m: u8, page: u8, s: &mut Sends) {
        let t = Tid::main(mapper_id(m));
        if let Some(k) = self.threads[Kernel::slot(t)] {
            if k.pc == Step::HandleUserfault
                && matches!(k.op, Op::Fault { page: p, .. } if p == page)
            {
                self.goto(t, Kernel::fault_entry(cfg), s);
            }
        }
    }
}
