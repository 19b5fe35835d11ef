//! 6.1's `hugetlb_unmap_file_folio` (fs/hugetlbfs/inode.c), called by
//! `remove_inode_single_folio` with the fault mutex held when the folio is still mapped.
//!
//! It needs `i_mmap_rwsem` to walk the VMAs and each VMA's vma_lock to unmap, but the lock
//! order is vma_lock -> `i_mmap_rwsem`, so it only trylocks; on failure it drops
//! `i_mmap_rwsem`, sleeps on that vma_lock, takes `i_mmap_rwsem` again and retries the walk.
//! VMAs are never unmapped in the model, so `vma_lock->vma` is always still attached.

use super::{Kernel, Sends, Step};
use crate::cfg::{ModelCfg, Mutation};
use crate::ids::Tid;
use crate::locks::Blocked;

impl Kernel {
    /// `hugetlb_unmap_file_folio`: `i_mmap_lock_write(mapping)`, then the `retry:` walk.
    pub(crate) fn hugetlb_unmap_file_folio(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.write(t)?;
        self.unmap_file_folio_walk(cfg, t, s);
        Ok(())
    }

    /// `retry:` with `i_mmap_rwsem` held for write: for each VMA that maps the folio
    /// (`hugetlb_vma_maps_page`), `hugetlb_vma_trylock_write` and unmap it; at the first VMA
    /// it cannot lock, take a reference on its vma_lock and stop. Then
    /// `i_mmap_unlock_write`, and either wait on that vma_lock or go on to `folio_lock`.
    fn unmap_file_folio_walk(&mut self, cfg: &ModelCfg, t: Tid, s: &mut Sends) {
        let idx = self.punch(t).cur as usize;
        let id = self.cache[idx].expect("the punch holds the fault mutex").id;
        let mut wait = None;
        for m in self.i_mmap_tree {
            let mm = &mut self.mms[m as usize];
            if mm.ptes[idx] != Some(id) {
                continue;
            }
            if !mm.vma_lock.try_write(t) {
                if cfg.mutation == Some(Mutation::NoVmaLockRetry) {
                    continue;
                }
                wait = Some(m);
                break;
            }
            mm.ptes[idx] = None;
            mm.vma_lock.write_unlock(t);
        }
        self.i_mmap.write_unlock(t);
        self.punch_mut(t).wait_vma = wait;
        match wait {
            Some(_) => self.goto(t, Step::HugetlbUnmapFileFolioVmaLock, s),
            None => self.unmapped_again(cfg, t, s),
        }
    }

    /// `hugetlb_unmap_file_folio`: `down_write(&vma_lock->rw_sema)` on the VMA it could not
    /// trylock.
    pub(crate) fn hugetlb_unmap_file_folio_vma_lock(
        &mut self,
        _cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let m = self.punch(t).wait_vma.expect("waiting on a vma_lock");
        self.mms[m as usize].vma_lock.write(t)?;
        self.goto(t, Step::HugetlbUnmapFileFolioRetry, s);
        Ok(())
    }

    /// `hugetlb_unmap_file_folio`: `i_mmap_lock_write(mapping)`; if the VMA still maps the
    /// folio, `unmap_hugepage_range`; `kref_put`; `hugetlb_vma_unlock_write`; `goto retry`.
    pub(crate) fn hugetlb_unmap_file_folio_retry(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.write(t)?;
        let p = self.punch(t);
        let m = p.wait_vma.expect("holding a vma_lock") as usize;
        let id = self.cache[p.cur as usize]
            .expect("the punch holds the fault mutex")
            .id;
        let mm = &mut self.mms[m];
        if mm.ptes[p.cur as usize] == Some(id) {
            mm.ptes[p.cur as usize] = None;
        }
        mm.vma_lock.write_unlock(t);
        self.unmap_file_folio_walk(cfg, t, s);
        Ok(())
    }
}
