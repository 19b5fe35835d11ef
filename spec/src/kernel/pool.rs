//! The huge page pool, reservations and `i_blocks`: mm/hugetlb.c's accounting, reduced to
//! one file and one pool. Every function here runs inside a step, under the spinlocks
//! (`hugetlb_lock`, the resv_map lock, `i_lock`) the kernel takes for it.

use super::Kernel;
use crate::cfg::{ModelCfg, Mutation};
use crate::msg::Errno;
use crate::page::{Data, Origin, Page, PageId};

impl Kernel {
    /// `alloc_huge_page` for a shared mapping of file index `idx`: consume the index's
    /// reservation if the resv_map has one (`vma_needs_reservation` says 0), else take a free
    /// page not promised to a reservation and commit the index to the resv_map
    /// (`vma_commit_reservation`).
    pub(crate) fn alloc_huge_page(
        &mut self,
        cfg: &ModelCfg,
        idx: u8,
        origin: Origin,
        data: Data,
    ) -> Result<Page, Errno> {
        let i = idx as usize;
        debug_assert!(self.cache[i].is_none(), "allocating over a cached page");
        let unpromised = if cfg.mutation == Some(Mutation::AllocStealsReservation) {
            self.free_huge_pages > 0
        } else {
            self.free_huge_pages > self.resv_huge_pages
        };
        if self.region[i] {
            self.resv_huge_pages -= 1;
        } else if unpromised {
            self.region[i] = true;
        } else {
            return Err(Errno::ENOSPC);
        }
        self.free_huge_pages -= 1;
        Ok(Page {
            id: self.new_page_id(cfg, idx),
            data,
            origin,
            pre_punch: false,
        })
    }

    /// A page that was never allocated before: the index's next generation.
    fn new_page_id(&mut self, cfg: &ModelCfg, idx: u8) -> PageId {
        let gen = &mut self.gens[idx as usize];
        let id = PageId { idx, gen: *gen };
        if cfg.mutation != Some(Mutation::SamePagePerIndex) {
            *gen += 1;
        }
        id
    }

    /// `alloc_migration_target` -> `alloc_huge_page_nodemask`: a free page not promised to a
    /// reservation (`free_huge_pages - resv_huge_pages > 0`), for the page at `idx`.
    pub(crate) fn alloc_migration_target(&mut self, cfg: &ModelCfg, idx: u8) -> Option<PageId> {
        if self.free_huge_pages <= self.resv_huge_pages {
            return None;
        }
        self.free_huge_pages -= 1;
        Some(self.new_page_id(cfg, idx))
    }

    /// `alloc_huge_page` for an index whose page is already cached, then `put_page` of it when
    /// `huge_add_to_page_cache` fails with EEXIST (UFFDIO_COPY before 5.13). `region_chg` finds
    /// the index in the resv_map (`map_chg == 0`), so `dequeue_huge_page_vma` takes any free
    /// page as a reserved one (`SetPagePrivate`, `resv_huge_pages--`) and `free_huge_page`
    /// restores both (`restore_reserve`): nothing changes, except that with no free page the
    /// allocation fails. Says whether it succeeded.
    pub(crate) fn alloc_huge_page_over_cached(&self) -> bool {
        self.free_huge_pages > 0
    }

    /// `huge_add_to_page_cache` (`hugetlb_add_to_page_cache` in 6.1): insert, `i_blocks += 1`.
    pub(crate) fn add_to_page_cache(&mut self, page: Page) {
        let slot = &mut self.cache[page.id.idx as usize];
        debug_assert!(slot.is_none(), "add_to_page_cache over a cached page");
        *slot = Some(page);
        self.i_blocks += 1;
    }

    /// `remove_huge_page` then the final `put_page`: the page leaves the page cache and goes
    /// back to the pool.
    pub(crate) fn remove_huge_page(&mut self, idx: u8) {
        let page = self.cache[idx as usize].take();
        debug_assert!(page.is_some(), "remove_huge_page of an empty index");
        self.free_huge_pages += 1;
    }

    /// `hugetlb_unreserve_pages(inode, start, end, freed)`: `region_del` the range,
    /// `i_blocks -= freed`, and give back the reservations that were never consumed.
    pub(crate) fn hugetlb_unreserve_pages(
        &mut self,
        cfg: &ModelCfg,
        start: u8,
        end: u8,
        freed: u8,
    ) {
        let mut chg = 0;
        for r in &mut self.region[start as usize..end as usize] {
            chg += u8::from(*r);
            *r = false;
        }
        self.i_blocks -= freed;
        if cfg.mutation != Some(Mutation::UnreserveKeepsReservations) {
            self.resv_huge_pages -= chg - freed;
        }
    }

    /// `hugetlb_reserve_pages` for a shared mapping of `[from, to)`: every index not yet in
    /// the resv_map needs a reservation (`region_chg`), all or nothing (`hugetlb_acct_memory`).
    pub(crate) fn hugetlb_reserve_pages(
        &mut self,
        cfg: &ModelCfg,
        from: u8,
        to: u8,
    ) -> Result<(), Errno> {
        let range = from as usize..to as usize;
        let chg = self.region[range.clone()].iter().filter(|r| !**r).count() as u8;
        if self.free_huge_pages - self.resv_huge_pages < chg
            && cfg.mutation != Some(Mutation::ReserveWithoutEnomem)
        {
            return Err(Errno::ENOMEM);
        }
        self.resv_huge_pages += chg;
        self.region[range].iter_mut().for_each(|r| *r = true);
        Ok(())
    }
}
