//! The punch path: fs/hugetlbfs/inode.c `hugetlbfs_punch_hole` -> `hugetlb_vmdelete_list`,
//! then `remove_inode_hugepages` over the hole, one page at a time.
//!
//! `pagevec_lookup` (4.x, 5.7) and `filemap_get_folios` (6.1) run lockless before the fault
//! mutex; the model looks the next page up in the step that takes that mutex. Nothing can add
//! a page to the hole at or after the cursor while the punch runs (faults and `UFFDIO_COPY`
//! only fill an index once it is empty, that is behind the cursor), so the lookup sees the
//! same page either way.

use super::{BugOn, Kernel, Op, Punch, Sends, Step};
use crate::cfg::{MappedPage, ModelCfg, Mutation, PageLockOrder};
use crate::ids::Tid;
use crate::locks::Blocked;
use crate::msg::Syscall;
use crate::page::PageId;

impl Kernel {
    pub(crate) fn punch(&self, t: Tid) -> Punch {
        match self.thread(t).op {
            Op::PunchHole(p) => p,
            op => panic!("{t:?} runs {op:?}, not a punch"),
        }
    }

    pub(crate) fn punch_mut(&mut self, t: Tid) -> &mut Punch {
        match &mut self.thread_mut(t).op {
            Op::PunchHole(p) => p,
            op => panic!("{t:?} runs {op:?}, not a punch"),
        }
    }

    /// `hugetlbfs_punch_hole`: `inode_lock(inode)`; with the v2 marker patches,
    /// `inode->i_private = &hugetlb_falloc` under `i_lock`.
    pub(crate) fn hugetlbfs_punch_hole(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let p = self.punch(t);
        for page in self.cache[p.start as usize..p.end as usize]
            .iter_mut()
            .flatten()
        {
            page.pre_punch = true;
        }
        if cfg.features().hole_marker {
            self.i_private = Some((p.start, p.end));
        }
        self.goto(t, Step::HugetlbVmdeleteList, s);
        Ok(())
    }

    /// `hugetlbfs_punch_hole`: `i_mmap_lock_write(mapping)`; `hugetlb_vmdelete_list` over the
    /// hole; `i_mmap_unlock_write(mapping)`.
    pub(crate) fn hugetlb_vmdelete_list(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.write(t)?;
        let p = self.punch(t);
        if cfg.mutation != Some(Mutation::NoVmdelete) {
            self.vmdelete(cfg, t, p.start, p.end);
        }
        self.i_mmap.write_unlock(t);
        self.punch_mut(t).vmdeleted = true;
        self.goto(t, Step::RemoveInodeHugepages, s);
        Ok(())
    }

    /// `hugetlb_vmdelete_list(root, start, end)`: zap `[start, end)` from every VMA in the
    /// interval tree. Called with `i_mmap_rwsem` held for write.
    ///
    /// 4.4 (and the marker variants built on it) assigns the first VMA's end address back to
    /// `end`, so every later VMA is zapped from `start` to its own end (fixed in 4.5, which
    /// has a local `v_end`). 6.1 only trylocks each VMA's vma_lock and skips the VMA if it
    /// cannot get it.
    pub(crate) fn vmdelete(&mut self, cfg: &ModelCfg, t: Tid, start: u8, end: u8) {
        let clobbers_end = cfg.features().vmdelete_clobbers_end;
        let end = if cfg.mutation == Some(Mutation::VmdeleteFirstPageOnly) {
            start + 1
        } else {
            end
        };
        for (n, m) in self.i_mmap_tree.into_iter().enumerate() {
            let mm = &mut self.mms[m as usize];
            if cfg.features().vma_lock && !mm.vma_lock.try_write(t) {
                self.ghost.vmdelete_skips_vma = true;
                continue;
            }
            let zap_end = if clobbers_end && n > 0 {
                cfg.pages
            } else {
                end
            };
            // `__unmap_hugepage_range` clears non-present entries (migration entries) too.
            mm.ptes[start as usize..zap_end as usize].fill(None);
            mm.migration[start as usize..zap_end as usize].fill(None);
            if cfg.features().vma_lock {
                mm.vma_lock.write_unlock(t);
            }
        }
    }

    /// `remove_inode_hugepages`: look up the next cached page of the hole and
    /// `mutex_lock(&hugetlb_fault_mutex_table[hash])`; then, if the page is mapped (a fault
    /// got in after `hugetlb_vmdelete_list`), the variant's way of unmapping it again, or,
    /// where the page lock comes first (7b7387650dcf), `lock_page`.
    /// With no page left the punch is over: clear the hole marker and wake its waiters,
    /// `inode_unlock`, return 0.
    pub(crate) fn remove_inode_hugepages(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let p = self.punch(t);
        let Some(idx) = (p.next..p.end).find(|&i| self.cache[i as usize].is_some()) else {
            self.punch_return(cfg, t, p.start, p.end, s);
            return Ok(());
        };
        let hash = cfg.fault_mutex_hash(idx) as usize;
        self.fault_mutex[hash].lock(t)?;
        if self.migration_entry_at(idx) {
            self.ghost.migration_race_window = true;
        }
        let p = self.punch_mut(t);
        (p.next, p.cur) = (idx, idx);
        let next = match cfg.page_lock_order() {
            PageLockOrder::AfterUnmap => self.unmap_again(cfg, t, idx),
            PageLockOrder::BeforeMappedCheck => None,
        };
        self.goto(t, next.unwrap_or(Step::RemoveLockPage), s);
        Ok(())
    }

    /// `if (page_mapped(page))` with the fault mutex held: the first step of the variant's way
    /// of unmapping the page again, or `None` if it is not mapped (or the variant skips it).
    fn unmap_again(&mut self, cfg: &ModelCfg, t: Tid, idx: u8) -> Option<Step> {
        let page = self.cache[idx as usize].expect("looked up");
        if cfg.features().mapped_page == MappedPage::Skip {
            return None;
        }
        let mapped =
            self.removal_page_mapped(cfg, page.id) && cfg.mutation != Some(Mutation::NoReunmap);
        match cfg.features().mapped_page {
            _ if !mapped => None,
            MappedPage::Skip => None,
            MappedPage::UnmapUnderMutex => Some(Step::RemoveUnmapAgain),
            MappedPage::UnmapRelockMutex => {
                // Lock order is i_mmap_rwsem -> fault mutex: drop the mutex to take both.
                self.fault_mutex[cfg.fault_mutex_hash(idx) as usize].unlock(t);
                Some(Step::RemoveUnmapAgain)
            }
            MappedPage::UnmapFileFolio => Some(Step::HugetlbUnmapFileFolio),
        }
    }

    /// The removal loop's `page_mapped` / `folio_mapped`: some PTE maps the page (a migration
    /// entry does not).
    fn removal_page_mapped(&mut self, cfg: &ModelCfg, id: PageId) -> bool {
        let migrating = self.migration_entry_at(id.idx);
        self.page_mapped(id)
            || (migrating && cfg.mutation == Some(Mutation::FolioMappedCountsMigrationEntries))
    }

    /// The page is unmapped again: remove it, taking its lock first unless the removal already
    /// holds it (7b7387650dcf).
    pub(crate) fn unmapped_again(&mut self, cfg: &ModelCfg, t: Tid, s: &mut Sends) {
        if self.punch(t).page_locked {
            self.remove_locked_page(cfg, t, s);
        } else {
            self.goto(t, Step::RemoveLockPage, s);
        }
    }

    /// `remove_inode_hugepages` (4.5 fix, commit 4aae8d1c051e): the page is mapped, so
    /// `i_mmap_lock_write(mapping)`; `hugetlb_vmdelete_list(idx, idx + 1)`;
    /// `i_mmap_unlock_write(mapping)`, all under the fault mutex, which keeps faults out
    /// until the page is gone. 5.7 only takes `i_mmap_rwsem` here, without the fault mutex.
    pub(crate) fn remove_unmap_again(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.write(t)?;
        if cfg.features().mapped_page == MappedPage::UnmapRelockMutex {
            self.goto(t, Step::RemoveUnmapAgainMutex, s);
            return Ok(());
        }
        let idx = self.punch(t).cur;
        self.vmdelete(cfg, t, idx, idx + 1);
        self.i_mmap.write_unlock(t);
        self.unmapped_again(cfg, t, s);
        Ok(())
    }

    /// `remove_inode_hugepages` (5.7): `mutex_lock(&hugetlb_fault_mutex_table[hash])` again,
    /// now under `i_mmap_rwsem`; `hugetlb_vmdelete_list(idx, idx + 1)`; `i_mmap_unlock_write`.
    pub(crate) fn remove_unmap_again_mutex(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let idx = self.punch(t).cur;
        self.fault_mutex[cfg.fault_mutex_hash(idx) as usize].lock(t)?;
        self.vmdelete(cfg, t, idx, idx + 1);
        self.i_mmap.write_unlock(t);
        self.unmapped_again(cfg, t, s);
        Ok(())
    }

    /// `remove_inode_hugepages` / `remove_inode_single_folio` (6.1): `lock_page`/`folio_lock`,
    /// which sleeps while a fault's `find_lock_page` holds it. With the page lock before the
    /// mapped check (7b7387650dcf; 5.10.262: `lock_page(page); if (unlikely(page_mapped(page)))
    /// { mutex_unlock; i_mmap_lock_write(mapping); mutex_lock; hugetlb_vmdelete_list(...) }`)
    /// the removal keeps it while it unmaps the page again; otherwise the page is removed now.
    pub(crate) fn remove_lock_page(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let idx = self.punch(t).cur;
        self.page_lock[idx as usize].lock(t)?;
        if cfg.page_lock_order() == PageLockOrder::BeforeMappedCheck {
            self.punch_mut(t).page_locked = true;
            if let Some(next) = self.unmap_again(cfg, t, idx) {
                self.goto(t, next, s);
                return Ok(());
            }
        }
        self.remove_locked_page(cfg, t, s);
        Ok(())
    }

    /// With the page locked and the fault mutex held: 4.4 skips a mapped page ("Do nothing in
    /// this race case"), later kernels `remove_huge_page` and
    /// `hugetlb_unreserve_pages(inode, idx, idx + 1, 1)`; `unlock_page`; `mutex_unlock`.
    /// Deleting a page that is still mapped from the page cache is a kernel BUG.
    fn remove_locked_page(&mut self, cfg: &ModelCfg, t: Tid, s: &mut Sends) {
        let idx = self.punch(t).cur;
        let page = self.cache[idx as usize].expect("the punch holds the index's fault mutex");
        let mapped = if cfg.features().skips_mapped_page() {
            // 4.4: `if (!page_mapped(page))`, the page locked.
            self.removal_page_mapped(cfg, page.id)
        } else {
            self.page_mapped(page.id)
        };
        if !(cfg.features().skips_mapped_page() && mapped) {
            if mapped {
                // 4.4 `__delete_from_page_cache`: `BUG_ON(page_mapped(page))`; 6.1
                // `filemap_unaccount_folio`: `VM_BUG_ON_FOLIO(folio_mapped(folio))`.
                self.ghost.bug = Some(BugOn::PageMapped);
            }
            self.remove_huge_page(idx);
            self.hugetlb_unreserve_pages(cfg, idx, idx + 1, 1);
        }
        self.page_lock[idx as usize].unlock(t);
        self.fault_mutex[cfg.fault_mutex_hash(idx) as usize].unlock(t);
        let p = self.punch_mut(t);
        (p.next, p.page_locked) = (idx + 1, false);
        self.goto(t, Step::RemoveInodeHugepages, s);
    }

    /// The end of `hugetlbfs_punch_hole`: with the marker patches, `inode->i_private = NULL`
    /// and `wake_up_all` on the marker's wait queue under `i_lock`; `inode_unlock`; return 0.
    fn punch_return(&mut self, cfg: &ModelCfg, t: Tid, start: u8, end: u8, s: &mut Sends) {
        if cfg.features().hole_marker {
            self.i_private = None;
            for slot in 0..self.threads.len() {
                if let Some(k) = self.threads[slot] {
                    if k.pc == Step::HugetlbFaultMarkerWait {
                        let waiter = self.tid_of_slot(slot);
                        self.goto(waiter, Step::HugetlbFaultMutex, s);
                    }
                }
            }
        }
        if self.cache[start as usize..end as usize]
            .iter()
            .all(Option::is_none)
        {
            self.ghost.punch_frees_hole = true;
        }
        self.ghost.punched = true;
        self.syscall_return(t, Syscall::PunchHole { start, end }, Ok(()), s);
    }
}
