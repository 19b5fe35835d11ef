//! userfaultfd ioctls on a hugetlbfs mapping: mm/userfaultfd.c `__mcopy_atomic_hugetlb` ->
//! mm/hugetlb.c `hugetlb_mcopy_atomic_pte`, and `userfaultfd_wake`. The 4.4-based variants
//! use 4.11's code, where userfaultfd on hugetlbfs first appeared.

use super::{Kernel, Op, Sends, Step};
use crate::cfg::{McopyOrder, ModelCfg, Mutation};
use crate::ids::{mapper_of, Tid};
use crate::locks::Blocked;
use crate::msg::{Errno, Syscall};
use crate::page::{Data, Origin};

/// The first step of `__mcopy_atomic_hugetlb` in this variant.
pub(crate) fn first_copy_step(cfg: &ModelCfg) -> Step {
    if cfg.features().fault_i_mmap_read {
        Step::McopyIMmapRead
    } else {
        Step::McopyMutex
    }
}

impl Kernel {
    fn copy_page(&self, t: Tid) -> u8 {
        match self.thread(t).op {
            Op::UffdioCopy { page } => page,
            op => panic!("{t:?} runs {op:?}, not UFFDIO_COPY"),
        }
    }

    /// `__mcopy_atomic_hugetlb` (5.7): `i_mmap_lock_read(mapping)`.
    pub(crate) fn mcopy_i_mmap_read(
        &mut self,
        _cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.read()?;
        self.goto(t, Step::McopyMutex, s);
        Ok(())
    }

    /// `__mcopy_atomic_hugetlb`: `mutex_lock(&hugetlb_fault_mutex_table[hash])`.
    pub(crate) fn mcopy_mutex(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let page = self.copy_page(t);
        self.fault_mutex[cfg.fault_mutex_hash(page) as usize].lock(t)?;
        let next = if cfg.features().vma_lock {
            Step::McopyVmaLock
        } else {
            Step::HugetlbMcopyAtomicPte
        };
        self.goto(t, next, s);
        Ok(())
    }

    /// `__mcopy_atomic_hugetlb` (6.1): `hugetlb_vma_lock_read(dst_vma)`.
    pub(crate) fn mcopy_vma_lock(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let m = mapper_of(t.pid(), cfg.mappers).expect("only mappers copy");
        self.mms[m as usize].vma_lock.read()?;
        self.goto(t, Step::HugetlbMcopyAtomicPte, s);
        Ok(())
    }

    /// `__mcopy_atomic_hugetlb` -> `hugetlb_mcopy_atomic_pte`: `-EEXIST` if the page is in the
    /// page cache again (or the PTE no longer none); else `alloc_huge_page` (`-ENOMEM` on
    /// failure), copy the handler's data in, add it to the page cache and map it. Unlock; on
    /// success `wake_userfault` the range.
    ///
    /// 5.13+ (8cc5fcbb5be8) checks `hugetlbfs_pagecache_present` before allocating. 4.11 to
    /// 5.12 allocate first (`ret = -ENOMEM; page = alloc_huge_page(dst_vma, dst_addr, 0); if
    /// (IS_ERR(page)) goto out;`) and learn EEXIST only when `huge_add_to_page_cache` fails
    /// (`goto out_release_nounlock`: `put_page` gives the page back). The index of a cached page
    /// is in the resv_map, so `alloc_huge_page` takes it as reserved: it only needs a free page
    /// (`dequeue_huge_page_vma`; no surplus pages here), and with none left it is ENOMEM.
    pub(crate) fn hugetlb_mcopy_atomic_pte(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let page = self.copy_page(t);
        let m = mapper_of(t.pid(), cfg.mappers).expect("only mappers copy");
        let i = page as usize;
        let mm = &self.mms[m as usize];
        // `!huge_pte_none`: a present PTE or a migration entry.
        let present = mm.ptes[i].is_some() || mm.migration[i].is_some() || self.cache[i].is_some();
        let ret = if present
            && (cfg.features().mcopy == McopyOrder::AllocFirst
                || cfg.mutation == Some(Mutation::McopyAllocFirst))
            && !self.alloc_huge_page_over_cached()
        {
            Err(Errno::ENOMEM)
        } else if present {
            Err(Errno::EEXIST)
        } else {
            match self.alloc_huge_page(cfg, page, Origin::UffdCopy, Data::Fill(m)) {
                Ok(p) => {
                    self.add_to_page_cache(p);
                    self.mms[m as usize].ptes[i] = Some(p.id);
                    Ok(())
                }
                Err(_) => Err(Errno::ENOMEM),
            }
        };
        if cfg.features().vma_lock {
            self.mms[m as usize].vma_lock.read_unlock();
        }
        self.fault_mutex[cfg.fault_mutex_hash(page) as usize].unlock(t);
        if cfg.features().fault_i_mmap_read {
            self.i_mmap.read_unlock();
        }
        match ret {
            Ok(()) => self.wake_userfault(cfg, m, page, s),
            Err(Errno::EEXIST) => self.ghost.uffd_copy_eexist = true,
            Err(_) => self.ghost.uffd_copy_enomem = true,
        }
        self.syscall_return(t, Syscall::UffdioCopy { page }, ret, s);
        Ok(())
    }

    /// `userfaultfd_wake`: `wake_userfault` on the page's range.
    pub(crate) fn userfaultfd_wake(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let Op::UffdioWake { page } = self.thread(t).op else {
            panic!("{t:?} is not in UFFDIO_WAKE");
        };
        let m = mapper_of(t.pid(), cfg.mappers).expect("only mappers wake");
        self.wake_userfault(cfg, m, page, s);
        self.syscall_return(t, Syscall::UffdioWake { page }, Ok(()), s);
        Ok(())
    }
}
