//! `mmap(MAP_SHARED)` of the file and `UFFDIO_REGISTER` on the mapping.

use super::{Kernel, Sends};
use crate::cfg::ModelCfg;
use crate::ids::{mapper_of, Tid};
use crate::locks::Blocked;
use crate::msg::Syscall;

impl Kernel {
    /// `hugetlbfs_file_mmap`: `hugetlb_reserve_pages` for the whole file (shared mappings
    /// reserve every index not yet in the resv_map), then `vma_link` puts the VMA in the
    /// file's interval tree under `i_mmap_lock_write`. The model takes `i_mmap_rwsem` first so
    /// the whole call is one step; the reservation touches nothing a punch or fault reads.
    pub(crate) fn hugetlbfs_file_mmap(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.write(t)?;
        let m = mapper_of(t.pid(), cfg.mappers).expect("only mappers mmap");
        let ret = self.hugetlb_reserve_pages(cfg, 0, cfg.pages);
        if ret.is_ok() {
            self.mms[m as usize].vma = true;
            self.i_mmap_tree.push(m);
        }
        self.i_mmap.write_unlock(t);
        self.syscall_return(t, Syscall::Mmap, ret, s);
        Ok(())
    }

    /// `userfaultfd_register` with `UFFDIO_REGISTER_MODE_MISSING` over the whole VMA (under
    /// the mapper's own `mmap_write_lock`, which nothing else here takes).
    pub(crate) fn userfaultfd_register(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let m = mapper_of(t.pid(), cfg.mappers).expect("only mappers register");
        self.mms[m as usize].uffd_missing = true;
        self.syscall_return(t, Syscall::UffdioRegister, Ok(()), s);
        Ok(())
    }
}
