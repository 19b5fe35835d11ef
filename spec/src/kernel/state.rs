//! The kernel's state: page cache, pool, locks, each mapper's mm, and the kernel threads.

use super::Step;
use crate::cfg::ModelCfg;
use crate::ids::{manager_id, Ctx, Tid};
use crate::inline::Inline;
use crate::locks::{Mutex, RwSem};
use crate::page::{Page, PageId};
use stateright::actor::Id;

/// The most pages a file has (`ModelCfg::validate`).
pub const MAX_PAGES: usize = 8;
/// The most mappers (`ModelCfg::validate`).
pub const MAX_MAPPERS: usize = 3;
/// Kernel thread slots: the manager, each mapper's two threads, the migrator.
pub const MAX_THREADS: usize = 1 + 2 * MAX_MAPPERS + 1;
/// A table with an entry per file index.
pub type PerPage<T> = Inline<T, MAX_PAGES>;

/// The hugetlbfs inode, its mapping and the huge page pool, as the punch and fault paths
/// see them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// `mapping->i_pages`: the page cached at each file index.
    pub cache: PerPage<Option<Page>>,
    /// Pages allocated so far for each index: the next page's `PageId::gen`.
    pub gens: PerPage<u8>,
    /// The inode's `resv_map`: indices that are allocated or hold a reservation.
    pub region: PerPage<bool>,
    /// `h->free_huge_pages` (the pool holds `ModelCfg::pool_pages` in all).
    pub free_huge_pages: u8,
    /// `h->resv_huge_pages`.
    pub resv_huge_pages: u8,
    /// `inode->i_blocks`, in huge pages.
    pub i_blocks: u8,
    /// `hugetlb_fault_mutex_table`.
    pub fault_mutex: PerPage<Mutex>,
    /// `mapping->i_mmap_rwsem`.
    pub i_mmap: RwSem,
    /// The page lock (`PG_locked`: `lock_page`, `find_lock_page`, `folio_lock`) of the page
    /// cached at each index. Held only while that page is cached: the removal loop unlocks
    /// the page in the step that deletes it.
    pub page_lock: PerPage<Mutex>,
    /// `inode->i_private`: the hole marker `[start, end)` of a punch in progress (v2 patches).
    pub i_private: Option<(u8, u8)>,
    /// Each mapper's address space, by mapper number.
    pub mms: Inline<Mm, MAX_MAPPERS>,
    /// `mapping->i_mmap`, the interval tree of VMAs mapping the file: mapper numbers in the
    /// tree's in-order walk. Every VMA covers the whole file, so this is mmap order.
    pub i_mmap_tree: Inline<u8, MAX_MAPPERS>,
    /// Kernel threads by slot (see [`Kernel::slot`]).
    pub threads: Inline<Option<KThread>, MAX_THREADS>,
    /// What the properties need to know about the past.
    pub ghost: Ghost,
}

/// One mapper's mm: its single VMA over the whole file and that VMA's page table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mm {
    /// The file is mapped (`MAP_SHARED`, whole file).
    pub vma: bool,
    /// The VMA is registered with userfaultfd `UFFDIO_REGISTER_MODE_MISSING`.
    pub uffd_missing: bool,
    /// The page each huge PTE maps.
    pub ptes: PerPage<Option<PageId>>,
    /// Migration entries: a non-present PTE that `try_to_migrate` left in place of a mapping of
    /// this page (`is_hugetlb_entry_migration`). Never set where `ptes` is.
    pub migration: PerPage<Option<PageId>>,
    /// The VMA's `hugetlb_vma_lock` (6.1+; unused by older variants).
    pub vma_lock: RwSem,
}

/// A kernel thread: what it is doing and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KThread {
    pub op: Op,
    pub pc: Step,
}

/// The operation a kernel thread runs, with its local variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `hugetlbfs_fallocate`, mode 0; `next` is the loop's next index.
    Fallocate { start: u8, end: u8, next: u8 },
    /// `hugetlbfs_punch_hole`.
    PunchHole(Punch),
    /// `hugetlbfs_file_mmap`.
    Mmap,
    /// `userfaultfd_register`.
    UffdioRegister,
    /// `userfaultfd_copy` of one page.
    UffdioCopy { page: u8 },
    /// `userfaultfd_wake` of one page.
    UffdioWake { page: u8 },
    /// `move_pages(2)` of one page of mapper 0's mapping, `unmap_and_move_huge_page`.
    MovePages(Migration),
    /// A page fault (`hugetlb_fault`) on a touch.
    Fault {
        page: u8,
        write: bool,
        /// Ghost: the touch started after the punch had returned.
        after_punch: bool,
    },
}

/// The punch thread's locals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Punch {
    /// The hole, `[start, end)`.
    pub start: u8,
    pub end: u8,
    /// `remove_inode_hugepages`' cursor: every index below it has been dealt with.
    pub next: u8,
    /// The index whose page the removal loop is working on.
    pub cur: u8,
    /// The first `hugetlb_vmdelete_list` over the hole has run.
    pub vmdeleted: bool,
    /// `hugetlb_unmap_file_folio`: the mapper whose vma_lock it could not trylock.
    pub wait_vma: Option<u8>,
    /// The removal loop holds the page lock of `cur` (taken before the mapped check).
    pub page_locked: bool,
}

/// The migrator thread's locals (`unmap_and_move_huge_page`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Migration {
    /// The file index of the page.
    pub idx: u8,
    /// The isolated page (`src`) and, once allocated, the new one (`dst`).
    pub src: Option<PageId>,
    pub dst: Option<PageId>,
    /// `page_was_mapped`: `try_to_migrate` ran.
    pub was_mapped: bool,
    /// `move_to_new_folio` succeeded: `dst` is in the page cache, `src` is the migrator's.
    pub moved: bool,
    /// The migrator holds `i_mmap_rwsem` for write (`hugetlb_page_mapping_lock_write`).
    pub i_mmap_held: bool,
}

impl Op {
    pub fn move_pages(idx: u8) -> Op {
        Op::MovePages(Migration {
            idx,
            src: None,
            dst: None,
            was_mapped: false,
            moved: false,
            i_mmap_held: false,
        })
    }

    pub fn punch(start: u8, end: u8) -> Op {
        Op::PunchHole(Punch {
            start,
            end,
            next: start,
            cur: start,
            vmdeleted: false,
            wait_vma: None,
            page_locked: false,
        })
    }
}

/// A kernel `BUG_ON` the model can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BugOn {
    /// A page still mapped is deleted from the page cache: 4.4 `__delete_from_page_cache`
    /// `BUG_ON(page_mapped(page))`, 6.1 `filemap_unaccount_folio`
    /// `VM_BUG_ON_FOLIO(folio_mapped(folio))` ("still mapped when deleted").
    PageMapped,
}

/// History the properties need, kept as monotone flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ghost {
    /// The punch has returned to the manager.
    pub punched: bool,
    /// A touch that started after the punch returned read a page of the hole without
    /// userfaultfd catching it.
    pub uncaught_hole_touch: bool,
    /// A kernel `BUG_ON` fired.
    pub bug: Option<BugOn>,
    /// A fault mapped a hole page after `hugetlb_vmdelete_list` and before
    /// `remove_inode_hugepages` reached it.
    pub race_window_fault: bool,
    /// A touch of the hole raised a MISSING fault (`handle_userfault`).
    pub hole_touch_missing: bool,
    /// `UFFDIO_COPY` returned `EEXIST`.
    pub uffd_copy_eexist: bool,
    /// `UFFDIO_COPY` returned `ENOMEM`.
    pub uffd_copy_enomem: bool,
    /// A fault slept on the hole marker.
    pub fault_waits_on_marker: bool,
    /// `hugetlb_vmdelete_list` skipped a VMA whose vma_lock it could not trylock.
    pub vmdelete_skips_vma: bool,
    /// The punch returned with every page of the hole out of the page cache.
    pub punch_frees_hole: bool,
    /// The removal loop took the fault mutex of a page while a PTE of its index was a
    /// migration entry: it works on the page in the middle of its migration.
    pub migration_race_window: bool,
}

impl Kernel {
    /// The boot state: an empty file, a full pool, every mapper unmapped.
    pub fn new(cfg: &ModelCfg) -> Kernel {
        let n = cfg.pages as usize;
        Kernel {
            cache: PerPage::filled(None, n),
            gens: PerPage::filled(0, n),
            region: PerPage::filled(false, n),
            free_huge_pages: cfg.pool_pages(),
            resv_huge_pages: 0,
            i_blocks: 0,
            // Index `i` hashes to slot `i % slots`, below both: the slots past the last page
            // are never taken.
            fault_mutex: PerPage::filled(
                Mutex::default(),
                cfg.fault_mutex_slots.min(cfg.pages) as usize,
            ),
            i_mmap: RwSem::default(),
            page_lock: PerPage::filled(Mutex::default(), n),
            i_private: None,
            mms: (0..cfg.mappers)
                .map(|_| Mm {
                    vma: false,
                    uffd_missing: false,
                    ptes: PerPage::filled(None, n),
                    migration: PerPage::filled(None, n),
                    vma_lock: RwSem::default(),
                })
                .collect(),
            i_mmap_tree: Inline::default(),
            threads: Inline::filled(None, 1 + 2 * cfg.mappers as usize + cfg.migrators as usize),
            ghost: Ghost::default(),
        }
    }

    /// Thread slot: 0 is the manager, then each mapper's main and handler thread, then the
    /// migrator's (its actor id follows the mappers', so the same formula holds).
    pub fn slot(t: Tid) -> usize {
        let pid = usize::from(t.pid());
        match (pid, t.ctx) {
            (0, _) => 0,
            (p, Ctx::Main) => 2 * p - 1,
            (p, Ctx::Handler) => 2 * p,
        }
    }

    /// The actor id of the process whose thread runs in a slot.
    pub fn pid_of_slot(slot: usize) -> Id {
        Id::from(slot.div_ceil(2))
    }

    /// The thread in a slot (inverse of [`Kernel::slot`]).
    pub fn tid_of_slot(&self, slot: usize) -> Tid {
        match slot {
            0 => Tid::main(manager_id()),
            s if s % 2 == 1 => Tid::main(Id::from(s.div_ceil(2))),
            s => Tid::handler(Id::from(s / 2)),
        }
    }

    /// Every thread that has a slot: the manager, each mapper's main and handler thread, the
    /// migrator (each process thread, whether in the kernel or not).
    pub fn tids(&self) -> impl Iterator<Item = Tid> + '_ {
        (0..self.threads.len()).map(|slot| self.tid_of_slot(slot))
    }

    /// `page_mapped`: some mapper's page table maps this page.
    pub fn page_mapped(&self, id: PageId) -> bool {
        self.mms
            .iter()
            .any(|mm| mm.ptes[id.idx as usize] == Some(id))
    }

    /// A PTE of index `idx` is a migration entry.
    pub fn migration_entry_at(&self, idx: u8) -> bool {
        self.mms
            .iter()
            .any(|mm| mm.migration[idx as usize].is_some())
    }

    /// The pages the migrator holds outside the page cache: the new page before
    /// `move_to_new_folio` stores it, the old one after.
    pub fn migration_held(&self) -> Option<PageId> {
        self.threads.iter().flatten().find_map(|k| match k.op {
            Op::MovePages(mg) if mg.moved => mg.src,
            Op::MovePages(mg) => mg.dst,
            _ => None,
        })
    }

    /// The punch thread's locals, if a punch is in progress.
    pub fn punch_in_progress(&self) -> Option<Punch> {
        match self.threads[0]?.op {
            Op::PunchHole(p) => Some(p),
            _ => None,
        }
    }

    /// Every kernel thread has left.
    pub fn idle(&self) -> bool {
        self.threads.iter().all(Option::is_none)
    }
}
