//! fs/hugetlbfs/inode.c `hugetlbfs_fallocate`, mode 0: allocate the pages of a range.

use super::{Kernel, Op, Sends, Step};
use crate::cfg::ModelCfg;
use crate::ids::Tid;
use crate::locks::Blocked;
use crate::msg::{Errno, Syscall};
use crate::page::{Data, Origin};

impl Kernel {
    /// `hugetlbfs_fallocate` (under `inode_lock`, which only the manager takes): for the next
    /// index, `mutex_lock(&hugetlb_fault_mutex_table[hash])`; `find_get_page`, and if the
    /// index is empty `alloc_huge_page` + `clear_huge_page` + `huge_add_to_page_cache`;
    /// `mutex_unlock`. With no index left, return 0.
    ///
    /// The manager writes its marker into every pre-allocated page before it starts the
    /// mappers, so nobody can see those pages zeroed; the model stores the marker with the
    /// allocation. Pages allocated again after the punch (hole reuse) stay zeroed.
    pub(crate) fn hugetlbfs_fallocate(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let Op::Fallocate { start, end, next } = self.thread(t).op else {
            panic!("{t:?} is not in fallocate");
        };
        let sc = Syscall::Fallocate { start, end };
        if next == end {
            self.syscall_return(t, sc, Ok(()), s);
            return Ok(());
        }
        let hash = cfg.fault_mutex_hash(next) as usize;
        self.fault_mutex[hash].lock(t)?;
        if self.cache[next as usize].is_none() {
            let data = if self.ghost.punched {
                Data::Zero
            } else {
                Data::Marker
            };
            match self.alloc_huge_page(cfg, next, Origin::Fallocate, data) {
                Ok(page) => self.add_to_page_cache(page),
                Err(_) => {
                    self.fault_mutex[hash].unlock(t);
                    self.syscall_return(t, sc, Err(Errno::ENOSPC), s);
                    return Ok(());
                }
            }
        }
        self.fault_mutex[hash].unlock(t);
        if let Op::Fallocate { next, .. } = &mut self.thread_mut(t).op {
            *next += 1;
        }
        self.goto(t, Step::HugetlbfsFallocate, s);
        Ok(())
    }
}
