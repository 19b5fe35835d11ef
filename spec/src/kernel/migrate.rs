//! Page migration of a hugetlbfs page: mm/migrate.c `move_pages` -> `migrate_pages` ->
//! `unmap_and_move_huge_page`, and a fault's `migration_entry_wait_huge` (mm/hugetlb.c).
//!
//! One attempt is modelled: `migrate_pages` retries a page that failed with `-EAGAIN` on later
//! passes, each like another `move_pages` call. The first passes' `folio_trylock`, then
//! `folio_lock` on a forced pass, is modelled as `folio_lock`. Of the references that make
//! `folio_ref_freeze` fail, the model has the removal loop's (its folio batch / pagevec); a
//! fault asleep in `find_lock_page` holds one too, which the model leaves out (it lets such a
//! migration succeed where the kernel returns `-EAGAIN` and the fault maps the old page). The
//! new page comes from the pool (`dequeue_huge_page_nodemask`); `alloc_migrate_huge_page`'s
//! fresh page from the buddy allocator is not modelled, so with no free page the migration
//! fails with `-ENOMEM`. The isolation reference does not delay the free of a page the punch
//! removes before the migrator locks it.
//!
//! Steps split where lockless readers can see between them: the removal loop's page lookup
//! (which takes a reference) and its `folio_mapped` check run under the fault mutex only.

use super::{Kernel, Migration, Op, Sends, Step};
use crate::cfg::{MigrationRmap, ModelCfg};
use crate::ids::{mapper_of, Tid};
use crate::locks::Blocked;
use crate::msg::{Errno, Syscall};
use crate::page::{Page, PageId};

impl Kernel {
    fn migration(&self, t: Tid) -> Migration {
        match self.thread(t).op {
            Op::MovePages(mg) => mg,
            op => panic!("{t:?} runs {op:?}, not a migration"),
        }
    }

    fn migration_mut(&mut self, t: Tid) -> &mut Migration {
        match &mut self.thread_mut(t).op {
            Op::MovePages(mg) => mg,
            op => panic!("{t:?} runs {op:?}, not a migration"),
        }
    }

    /// `add_page_for_migration`: `follow_page(FOLL_GET)` in mapper 0's mm; a present PTE's
    /// page is isolated (`isolate_hugetlb`), a none PTE has nothing to move (status
    /// `-ENOENT`, `move_pages` returns 0). Then `unmap_and_move_huge_page`'s `get_new_page`:
    /// `alloc_huge_page_nodemask` dequeues a free page if `free_huge_pages > resv_huge_pages`;
    /// without one, `-ENOMEM`.
    pub(crate) fn add_page_for_migration(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let idx = self.migration(t).idx;
        let sc = Syscall::MovePages { page: idx };
        let Some(src) = self.mms[0].ptes[idx as usize] else {
            self.syscall_return(t, sc, Ok(()), s);
            return Ok(());
        };
        let Some(dst) = self.alloc_migration_target(cfg, idx) else {
            self.syscall_return(t, sc, Err(Errno::ENOMEM), s);
            return Ok(());
        };
        let mg = self.migration_mut(t);
        (mg.src, mg.dst) = (Some(src), Some(dst));
        self.goto(t, Step::UnmapAndMoveHugePage, s);
        Ok(())
    }

    /// `unmap_and_move_huge_page`: `folio_lock(src)`; `-EBUSY` if the page left the page cache
    /// (`!folio_mapping(src)`: the punch removed it first; nobody else can reach it to hold its
    /// lock); `folio_trylock(dst)` (a new page: it succeeds). If `folio_mapped(src)`: from 5.7
    /// `hugetlb_page_mapping_lock_write` trylocks `i_mmap_rwsem` (`-EAGAIN` if it cannot) and
    /// `try_to_migrate` runs here; before 5.7 `try_to_unmap` sleeps for `i_mmap_lock_read`.
    pub(crate) fn unmap_and_move_huge_page(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let mg = self.migration(t);
        let (i, src) = (mg.idx as usize, mg.src.expect("isolated"));
        if self.cache[i].map(|p| p.id) != Some(src) {
            self.migration_done(t, false, s);
            return Ok(());
        }
        self.page_lock[i].lock(t)?;
        if !self.page_mapped(src) {
            self.goto(t, Step::MoveToNewFolio, s);
            return Ok(());
        }
        let rmap = cfg.features().migration_rmap;
        if rmap == MigrationRmap::WalkRead {
            self.goto(t, Step::TryToUnmap, s);
            return Ok(());
        }
        if !self.i_mmap.try_write(t) {
            self.migration_done(t, true, s);
            return Ok(());
        }
        self.try_to_migrate(cfg, t, src);
        if rmap == MigrationRmap::TrylockUnmapOnly {
            self.i_mmap.write_unlock(t);
        } else {
            self.migration_mut(t).i_mmap_held = true;
        }
        self.goto(t, Step::MoveToNewFolio, s);
        Ok(())
    }

    /// `try_to_unmap(page, TTU_MIGRATION)` (4.4 to 5.6): `rmap_walk_file` takes
    /// `i_mmap_lock_read`, with the page locked.
    pub(crate) fn try_to_unmap(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        self.i_mmap.read()?;
        let src = self.migration(t).src.expect("isolated");
        self.try_to_migrate(cfg, t, src);
        self.i_mmap.read_unlock();
        self.goto(t, Step::MoveToNewFolio, s);
        Ok(())
    }

    /// `try_to_migrate` (`try_to_unmap` with `TTU_MIGRATION` before 5.14): walk the VMAs in
    /// `i_mmap` order and replace each PTE of the page with a migration entry. 6.1's
    /// `try_to_migrate_one` must `hugetlb_vma_trylock_write` each VMA (lock order vma_lock ->
    /// `i_mmap_rwsem`) and stops the walk at the first it cannot lock.
    fn try_to_migrate(&mut self, cfg: &ModelCfg, t: Tid, src: PageId) {
        let i = src.idx as usize;
        for m in self.i_mmap_tree {
            let mm = &mut self.mms[m as usize];
            if mm.ptes[i] != Some(src) {
                continue;
            }
            if cfg.features().vma_lock && !mm.vma_lock.try_write(t) {
                break;
            }
            (mm.ptes[i], mm.migration[i]) = (None, Some(src));
            if cfg.features().vma_lock {
                mm.vma_lock.write_unlock(t);
            }
        }
        self.migration_mut(t).was_mapped = true;
    }

    /// `if (!folio_mapped(src)) move_to_new_folio(dst, src)`: `hugetlbfs_migrate_folio` ->
    /// `migrate_huge_page_move_mapping` under `xas_lock_irq`: `folio_ref_freeze(src, 2)` fails
    /// (`-EAGAIN`) while the removal loop holds a reference from its lookup; else `xas_store`
    /// puts `dst` at the index, and the contents are copied.
    pub(crate) fn move_to_new_folio(
        &mut self,
        _cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let mg = self.migration(t);
        let (i, src, dst) = (mg.idx as usize, mg.src.expect("isolated"), mg.dst);
        if !self.page_mapped(src) && !self.removal_holds_ref(src) {
            let old: Page = self.cache[i].expect("the migrator holds its page lock");
            debug_assert_eq!(old.id, src, "the page was replaced under its page lock");
            self.cache[i] = Some(Page {
                id: dst.expect("allocated"),
                ..old
            });
            self.migration_mut(t).moved = true;
        }
        if mg.was_mapped {
            self.goto(t, Step::RemoveMigrationPtes, s);
        } else {
            self.migration_done(t, true, s);
        }
        Ok(())
    }

    /// `remove_migration_ptes(src, rc == MIGRATEPAGE_SUCCESS ? dst : src)`: `rmap_walk` takes
    /// `i_mmap_lock_read` (`rmap_walk_locked` where the migrator still holds it for write) and
    /// turns each migration entry back into a PTE of the new page, or of the old one. Then
    /// `i_mmap_unlock_write` (5.7), `folio_unlock(dst)`, `folio_unlock(src)`.
    pub(crate) fn remove_migration_ptes(
        &mut self,
        _cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let mg = self.migration(t);
        if !mg.i_mmap_held {
            self.i_mmap.read()?;
        }
        let (i, src) = (mg.idx as usize, mg.src.expect("isolated"));
        let new = if mg.moved { mg.dst } else { mg.src };
        for mm in &mut self.mms {
            if mm.migration[i] == Some(src) {
                (mm.ptes[i], mm.migration[i]) = (new, None);
            }
        }
        if !mg.i_mmap_held {
            self.i_mmap.read_unlock();
        }
        self.migration_done(t, true, s);
        Ok(())
    }

    /// The end of `unmap_and_move_huge_page`: drop what it holds (`i_mmap_rwsem`, the page
    /// locks), free the page it is left with (`folio_putback_active_hugetlb(src)` after a
    /// move, `put_new_page(dst)` otherwise), and `move_pages` returns 0 (the per-page status
    /// is not modelled).
    fn migration_done(&mut self, t: Tid, locked: bool, s: &mut Sends) {
        let mg = self.migration(t);
        if mg.i_mmap_held {
            self.i_mmap.write_unlock(t);
        }
        if locked {
            self.page_lock[mg.idx as usize].unlock(t);
        }
        self.free_huge_pages += 1;
        self.syscall_return(t, Syscall::MovePages { page: mg.idx }, Ok(()), s);
    }

    /// The removal loop holds a reference on this page: it looked it up
    /// (`filemap_get_folios` / `pagevec_lookup`) and has not removed it yet.
    fn removal_holds_ref(&self, id: PageId) -> bool {
        let Some(p) = self.punch_in_progress() else {
            return false;
        };
        let looked_up = !matches!(
            self.threads[0].expect("punching").pc,
            Step::HugetlbfsPunchHole | Step::HugetlbVmdeleteList | Step::RemoveInodeHugepages
        );
        looked_up && p.cur == id.idx && self.cache[p.cur as usize].map(|c| c.id) == Some(id)
    }

    /// `hugetlb_fault`: `if (is_hugetlb_entry_migration(entry)) migration_entry_wait_huge()`,
    /// before any lock: sleep while the entry is still a migration entry and its page locked
    /// (`migration_entry_wait_on_locked`), then return 0; the CPU retries the access.
    pub(crate) fn migration_entry_wait_huge(
        &mut self,
        cfg: &ModelCfg,
        t: Tid,
        s: &mut Sends,
    ) -> Result<(), Blocked> {
        let Op::Fault {
            page,
            write,
            after_punch,
        } = self.thread(t).op
        else {
            panic!("{t:?} is not a fault");
        };
        let m = mapper_of(t.pid(), cfg.mappers).expect("only mappers fault");
        let i = page as usize;
        if self.mms[m as usize].migration[i].is_some() && self.page_lock[i].owner.is_some() {
            return Err(Blocked);
        }
        self.exit(t);
        self.access_again(cfg, m, page, write, after_punch, s);
        Ok(())
    }
}
