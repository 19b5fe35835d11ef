//! Every kernel step of the model, named after the kernel function and the lock it starts with.
//!
//! A step starts at a sleeping-lock acquisition (mutex, rw_semaphore, page or folio lock) or a
//! wait queue, and runs to the next one: spinlock sections (page table lock, `i_lock`, the
//! resv_map lock) are held only inside one step, so no other path can see between them.
//! Locks only one task ever takes are folded into the step that follows them (`inode_lock`:
//! the manager is the only task that calls `fallocate`).

/// The kind of sleeping lock a step takes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Acquire {
    /// A `struct mutex` (the fault mutex table, `inode_lock` is an rwsem).
    Mutex,
    /// An rw_semaphore for read (`i_mmap_lock_read`, `hugetlb_vma_lock_read`).
    RwsemRead,
    /// An rw_semaphore for write (`inode_lock`, `i_mmap_lock_write`, the vma_lock's `down_write`).
    RwsemWrite,
    /// The page or folio lock (`lock_page`, `find_lock_page`, `folio_lock`): a bit wait.
    PageLock,
}

/// A kernel step: the program counter of a kernel thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    // ---- the fault path: mm/hugetlb.c hugetlb_fault -> hugetlb_no_page ----
    /// `hugetlb_fault`: `if (unlikely(inode->i_private))` under `i_lock`; sleep if the hole
    /// marker covers the index (v2 patch 3, "page faults check for fallocate hole punch").
    HugetlbFaultMarker,
    /// `hugetlb_fault`: asleep in `schedule()` on the hole marker's wait queue.
    HugetlbFaultMarkerWait,
    /// `hugetlb_fault`: `i_mmap_lock_read(mapping)` (5.7, commit c0d0381ade79).
    HugetlbFaultIMmapRead,
    /// `hugetlb_fault`: `mutex_lock(&hugetlb_fault_mutex_table[hash])`.
    HugetlbFaultMutex,
    /// `hugetlb_fault`: `hugetlb_vma_lock_read(vma)` (6.1).
    HugetlbFaultVmaLock,
    /// `hugetlb_no_page`: `find_lock_page`; map the cached page, or allocate one, or hand the
    /// fault to userfaultfd (`hugetlb_handle_userfault`); then drop the fault's locks.
    HugetlbNoPage,
    /// `handle_userfault`: asleep on the uffd fault wait queue until `UFFDIO_COPY`/`UFFDIO_WAKE`
    /// wakes it, then `VM_FAULT_RETRY` retries the fault from the top.
    HandleUserfault,

    // ---- the punch path: fs/hugetlbfs/inode.c hugetlbfs_punch_hole ----
    /// `hugetlbfs_punch_hole`: `inode_lock`, and (v2 patch 2) `inode->i_private = &hugetlb_falloc`.
    HugetlbfsPunchHole,
    /// `hugetlbfs_punch_hole`: `i_mmap_lock_write`; `hugetlb_vmdelete_list(hole)`.
    HugetlbVmdeleteList,
    /// `remove_inode_hugepages`: look up the next page of the hole; `mutex_lock` its fault
    /// mutex; or, with no page left, finish the punch and return.
    RemoveInodeHugepages,
    /// `remove_inode_hugepages` (4.5 fix): `page_mapped`, so `i_mmap_lock_write`;
    /// `hugetlb_vmdelete_list(idx, idx + 1)`; `i_mmap_unlock_write`. In 5.7 only the
    /// `i_mmap_lock_write`, the fault mutex having been dropped first.
    RemoveUnmapAgain,
    /// `remove_inode_hugepages` (5.7): having dropped the fault mutex and taken
    /// `i_mmap_lock_write` (lock order), `mutex_lock` again; `hugetlb_vmdelete_list(idx, idx + 1)`;
    /// `i_mmap_unlock_write`.
    RemoveUnmapAgainMutex,
    /// `hugetlb_unmap_file_folio` (6.1): `i_mmap_lock_write`; unmap the folio from each VMA
    /// whose vma_lock it can trylock; remember the first it cannot.
    HugetlbUnmapFileFolio,
    /// `hugetlb_unmap_file_folio` (6.1): `down_write(&vma_lock->rw_sema)` on the VMA it could
    /// not trylock, after dropping `i_mmap_rwsem` to take the locks in order.
    HugetlbUnmapFileFolioVmaLock,
    /// `hugetlb_unmap_file_folio` (6.1): `i_mmap_lock_write` again; unmap from that VMA;
    /// `goto retry` over the VMAs with `i_mmap_rwsem` held.
    HugetlbUnmapFileFolioRetry,
    /// `remove_inode_hugepages` / `remove_inode_single_folio`: `lock_page`/`folio_lock`;
    /// remove the page from the page cache and free it (or, 4.4, skip it if mapped);
    /// `hugetlb_unreserve_pages`; unlock; `mutex_unlock`. Where the page lock comes before
    /// the mapped check (7b7387650dcf, 5.10.262), a mapped page is unmapped again first, with
    /// the page lock held.
    RemoveLockPage,

    // ---- fs/hugetlbfs/inode.c hugetlbfs_fallocate, mode 0 ----
    /// `hugetlbfs_fallocate`: `mutex_lock` the next index's fault mutex; allocate the page
    /// unless it is cached; `mutex_unlock`. With no index left, return.
    HugetlbfsFallocate,

    // ---- mmap and userfaultfd ----
    /// `hugetlbfs_file_mmap`: `hugetlb_reserve_pages`; link the VMA under `i_mmap_lock_write`.
    HugetlbfsFileMmap,
    /// `userfaultfd_register`: mark the VMA `VM_UFFD_MISSING`.
    UserfaultfdRegister,
    /// `__mcopy_atomic_hugetlb`: `i_mmap_lock_read(mapping)` (5.7).
    McopyIMmapRead,
    /// `__mcopy_atomic_hugetlb`: `mutex_lock(&hugetlb_fault_mutex_table[hash])`.
    McopyMutex,
    /// `__mcopy_atomic_hugetlb`: `hugetlb_vma_lock_read(dst_vma)` (6.1).
    McopyVmaLock,
    /// `hugetlb_mcopy_atomic_pte`: `EEXIST` if the PTE is set or the page cached, else
    /// allocate, copy, add to the page cache and map; unlock; wake the faulting thread.
    HugetlbMcopyAtomicPte,
    /// `userfaultfd_wake`: wake the threads waiting on the range.
    UserfaultfdWake,

    // ---- page migration: mm/migrate.c move_pages -> unmap_and_move_huge_page ----
    /// `hugetlb_fault`: the PTE is a migration entry, so `migration_entry_wait_huge` sleeps
    /// until the page is unlocked; the fault returns 0 and the access is retried.
    MigrationEntryWaitHuge,
    /// `add_page_for_migration`: `follow_page` in mapper 0's mm, `isolate_hugetlb`; then
    /// `unmap_and_move_huge_page`'s `get_new_page` (`alloc_migration_target`).
    AddPageForMigration,
    /// `unmap_and_move_huge_page`: `folio_lock(src)`; `folio_trylock(dst)`; if mapped,
    /// `hugetlb_page_mapping_lock_write` (trylock) and `try_to_migrate`.
    UnmapAndMoveHugePage,
    /// `try_to_unmap(TTU_MIGRATION)` (4.4 to 5.6): `i_mmap_lock_read` in `rmap_walk_file`.
    TryToUnmap,
    /// `move_to_new_folio` -> `hugetlbfs_migrate_folio` -> `migrate_huge_page_move_mapping`:
    /// under the xarray lock, `folio_ref_freeze(src, 2)` and `xas_store(dst)`; copy.
    MoveToNewFolio,
    /// `remove_migration_ptes`: `i_mmap_lock_read` (unless held for write), map `dst` (or
    /// `src` when migration failed) where the migration entries are; `folio_unlock` both.
    RemoveMigrationPtes,
}

impl Step {
    /// Every step, for tables and name lookups.
    pub const ALL: [Step; 30] = [
        Step::HugetlbFaultMarker,
        Step::HugetlbFaultMarkerWait,
        Step::HugetlbFaultIMmapRead,
        Step::HugetlbFaultMutex,
        Step::HugetlbFaultVmaLock,
        Step::HugetlbNoPage,
        Step::HandleUserfault,
        Step::HugetlbfsPunchHole,
        Step::HugetlbVmdeleteList,
        Step::RemoveInodeHugepages,
        Step::RemoveUnmapAgain,
        Step::RemoveUnmapAgainMutex,
        Step::HugetlbUnmapFileFolio,
        Step::HugetlbUnmapFileFolioVmaLock,
        Step::HugetlbUnmapFileFolioRetry,
        Step::RemoveLockPage,
        Step::HugetlbfsFallocate,
        Step::HugetlbfsFileMmap,
        Step::UserfaultfdRegister,
        Step::McopyIMmapRead,
        Step::McopyMutex,
        Step::McopyVmaLock,
        Step::HugetlbMcopyAtomicPte,
        Step::UserfaultfdWake,
        Step::MigrationEntryWaitHuge,
        Step::AddPageForMigration,
        Step::UnmapAndMoveHugePage,
        Step::TryToUnmap,
        Step::MoveToNewFolio,
        Step::RemoveMigrationPtes,
    ];

    /// The step's name in traces: `function:lock operation`.
    pub fn name(self) -> &'static str {
        use Step::*;
        match self {
            HugetlbFaultMarker => "hugetlb_fault:i_private",
            HugetlbFaultMarkerWait => "hugetlb_fault:schedule",
            HugetlbFaultIMmapRead => "hugetlb_fault:i_mmap_lock_read",
            HugetlbFaultMutex => "hugetlb_fault:mutex_lock",
            HugetlbFaultVmaLock => "hugetlb_fault:hugetlb_vma_lock_read",
            HugetlbNoPage => "hugetlb_no_page",
            HandleUserfault => "handle_userfault",
            HugetlbfsPunchHole => "hugetlbfs_punch_hole:inode_lock",
            HugetlbVmdeleteList => "hugetlb_vmdelete_list:i_mmap_lock_write",
            RemoveInodeHugepages => "remove_inode_hugepages:mutex_lock",
            RemoveUnmapAgain => "remove_inode_hugepages:i_mmap_lock_write",
            RemoveUnmapAgainMutex => "remove_inode_hugepages:mutex_lock_again",
            HugetlbUnmapFileFolio => "hugetlb_unmap_file_folio:i_mmap_lock_write",
            HugetlbUnmapFileFolioVmaLock => "hugetlb_unmap_file_folio:down_write",
            HugetlbUnmapFileFolioRetry => "hugetlb_unmap_file_folio:retry",
            RemoveLockPage => "remove_inode_hugepages:lock_page",
            HugetlbfsFallocate => "hugetlbfs_fallocate:mutex_lock",
            HugetlbfsFileMmap => "hugetlbfs_file_mmap",
            UserfaultfdRegister => "userfaultfd_register",
            McopyIMmapRead => "__mcopy_atomic_hugetlb:i_mmap_lock_read",
            McopyMutex => "__mcopy_atomic_hugetlb:mutex_lock",
            McopyVmaLock => "__mcopy_atomic_hugetlb:hugetlb_vma_lock_read",
            HugetlbMcopyAtomicPte => "hugetlb_mcopy_atomic_pte",
            UserfaultfdWake => "userfaultfd_wake",
            MigrationEntryWaitHuge => "hugetlb_fault:migration_entry_wait_huge",
            AddPageForMigration => "add_page_for_migration:isolate_hugetlb",
            UnmapAndMoveHugePage => "unmap_and_move_huge_page:folio_lock",
            TryToUnmap => "try_to_unmap:i_mmap_lock_read",
            MoveToNewFolio => "migrate_huge_page_move_mapping:xa_lock",
            RemoveMigrationPtes => "remove_migration_ptes:i_mmap_lock_read",
        }
    }

    /// The sleeping lock the step starts by taking, if any: what a thread running it can be
    /// seen waiting on (`lock:contention_begin`, or a page-lock bit wait).
    pub const fn acquires(self) -> Option<Acquire> {
        use Acquire::*;
        use Step::*;
        match self {
            HugetlbFaultMarker | HugetlbFaultMarkerWait | HandleUserfault => None,
            HugetlbFaultIMmapRead | McopyIMmapRead => Some(RwsemRead),
            HugetlbFaultVmaLock | McopyVmaLock => Some(RwsemRead),
            HugetlbFaultMutex | RemoveInodeHugepages | RemoveUnmapAgainMutex => Some(Mutex),
            HugetlbfsFallocate | McopyMutex => Some(Mutex),
            // `find_lock_page`.
            HugetlbNoPage | RemoveLockPage => Some(PageLock),
            HugetlbfsPunchHole | HugetlbVmdeleteList | RemoveUnmapAgain => Some(RwsemWrite),
            HugetlbUnmapFileFolio | HugetlbUnmapFileFolioVmaLock => Some(RwsemWrite),
            HugetlbUnmapFileFolioRetry | HugetlbfsFileMmap => Some(RwsemWrite),
            UserfaultfdRegister | HugetlbMcopyAtomicPte | UserfaultfdWake => None,
            // `migration_entry_wait_huge` sleeps on the folio lock's bit.
            MigrationEntryWaitHuge | UnmapAndMoveHugePage => Some(PageLock),
            TryToUnmap | RemoveMigrationPtes => Some(RwsemRead),
            // `isolate_hugetlb` and the xarray lock are spinlocks.
            AddPageForMigration | MoveToNewFolio => None,
        }
    }

    /// The step only takes its lock: it reads nothing but that lock and its own thread's
    /// locals, and writes nothing but the lock and its program counter (its successor is fixed
    /// by the variant). The partial-order reduction may run it ahead of other threads when
    /// none of them can take the lock against it ([`crate::engine::future`]); the engine
    /// checks the write side on every such step it takes.
    pub const fn pure_acquire(self) -> bool {
        use Step::*;
        matches!(
            self,
            HugetlbFaultIMmapRead
                | HugetlbFaultMutex
                | HugetlbFaultVmaLock
                | McopyIMmapRead
                | McopyMutex
                | McopyVmaLock
        )
    }

    /// The step reads and writes only its own process's kernel data: `userfaultfd_register`
    /// the VMA's `VM_UFFD_MISSING` (read only by the same thread's faults, and it is in this
    /// call), `userfaultfd_wake` the main thread's slot while that thread sleeps in
    /// `handle_userfault` (which only its own handler ends). The partial-order reduction may
    /// run it ahead of other threads; the engine checks the write side on every such step
    /// it takes.
    pub const fn process_private(self) -> bool {
        matches!(self, Step::UserfaultfdRegister | Step::UserfaultfdWake)
    }

    /// The step a name stands for.
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}
