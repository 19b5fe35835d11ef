//! The model's configuration: which kernel, how big a file, how many mappers doing what.

use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::variant::{Features, MappedPage, McopyOrder, MigrationRmap, PageLockOrder, Variant};

/// Which pages a mapper may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchArea {
    /// Only pages outside the hole: a well-behaved application.
    OutsideHole,
    /// Any page of the file, the hole included: the touches userfaultfd is there to catch.
    Anywhere,
}

/// How a mapper registers userfaultfd and what its handler thread does with a MISSING fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UffdPolicy {
    /// No userfaultfd: a fault on a hole allocates a fresh zeroed page.
    None,
    /// `UFFD_FEATURE_SIGBUS`: a MISSING fault raises SIGBUS in the toucher, no event.
    Sigbus,
    /// The handler thread resolves MISSING with `UFFDIO_COPY`, and with `UFFDIO_WAKE`
    /// when the copy fails with `EEXIST` (the page came back into the page cache).
    Copy,
}

/// A deliberate bug, so tests can show the properties catch it (spec honesty).
/// Every real check runs with `mutation: None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mutation {
    /// `remove_inode_hugepages` does not unmap a mapped page again before freeing it (the 4.5
    /// fix taken out of the fixed variants; 4.4 and `hole_marker` still skip the page).
    NoReunmap,
    /// `hugetlb_fault` does not take the fault mutex.
    FaultWithoutMutex,
    /// `hugetlb_unmap_file_folio` gives up on a VMA it cannot trylock instead of retrying
    /// (v6_1; it only matters when a mapper faults one page while another of its pages is being
    /// removed, so it needs a mapper with two touches).
    NoVmaLockRetry,
    /// `hugetlb_vmdelete_list` is skipped altogether: only the removal loop unmaps. No
    /// property catches it in the fixed variants: the unmap under the fault mutex suffices for
    /// shared mappings (the first pass also serves private COW copies, not modelled).
    NoVmdelete,
    /// `hugetlb_mcopy_atomic_pte` allocates before it checks the page cache, as before 5.13
    /// (8cc5fcbb5be8 taken out of a variant that has it).
    McopyAllocFirst,
    /// `hugetlb_vmdelete_list` zaps only the first page of the range it is given.
    VmdeleteFirstPageOnly,
    /// `remove_inode_single_folio` takes `folio_lock` after the `folio_mapped` check again
    /// (7b7387650dcf taken out of the variants that have it).
    FolioLockAfterMappedCheck,
    /// The removal's `folio_mapped` counts migration entries as mapped PTEs, as if a folio
    /// under migration still looked mapped.
    FolioMappedCountsMigrationEntries,
    /// `alloc_huge_page` without a reservation takes a free page that is promised to one:
    /// `dequeue_huge_page_vma`'s `h->free_huge_pages - h->resv_huge_pages == 0` check (mm/hugetlb.c,
    /// "reservations are not stolen") is gone; only an empty free list fails.
    AllocStealsReservation,
    /// `hugetlb_reserve_pages` never fails: `hugetlb_acct_memory` -> `gather_surplus_pages`
    /// no longer returns `-ENOMEM` when `resv_huge_pages + delta` exceeds `free_huge_pages`.
    ReserveWithoutEnomem,
    /// `hugetlb_unreserve_pages` forgets to give back the reservations the range held without a
    /// page (`hugepage_subpool_put_pages(spool, chg - freed)` and
    /// `hugetlb_acct_memory(h, -gbl_reserve)` gone).
    UnreserveKeepsReservations,
    /// Every page allocated for an index is the same page (the model's `gens[i] += 1` becomes
    /// `gens[i] *= 1`): a PTE left pointing at a freed page looks like a mapping of the page
    /// allocated next at that index, as if the kernel handed out the same `struct page` (pfn).
    SamePagePerIndex,
}

/// The model's configuration. The defaults check every variant exhaustively in well under
/// a second (release build) and reach every `sometimes` property the variant allows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCfg {
    /// Kernel variant whose punch, fault and userfaultfd paths are modelled.
    pub variant: Variant,
    /// Huge pages in the file; the manager pre-allocates all of them with `fallocate`.
    /// The huge page pool holds exactly this many pages, so a leak is visible as a
    /// page the pool never gets back.
    pub pages: u8,
    /// First page of the hole the manager punches (`FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`).
    pub hole_start: u8,
    /// One past the last page of the hole.
    pub hole_end: u8,
    /// Mapping processes, 1 to 3. Each maps the whole file `MAP_SHARED` and registers userfaultfd.
    pub mappers: u8,
    /// Touches each mapper makes, one at a time, once it has mapped the file.
    pub touches: u8,
    /// Where mappers touch.
    pub touch_area: TouchArea,
    /// Touches may be writes as well as reads (a write stores the mapper's own value).
    pub writes: bool,
    /// userfaultfd registration and the handler's policy.
    pub uffd: UffdPolicy,
    /// Size of `hugetlb_fault_mutex_table`; index `i` hashes to slot `i % slots`.
    /// Fewer slots than pages makes hash collisions between indices.
    pub fault_mutex_slots: u8,
    /// After the punch returns, the manager allocates the hole again (`fallocate` mode 0).
    pub hole_reuse: bool,
    /// Migrator processes, 0 or 1. A migrator calls `move_pages(2)` on mapper 0 for the first
    /// page of the hole (`unmap_and_move_huge_page`). The pool holds one more page per
    /// migrator: the target node's page the migration copies into.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub migrators: u8,
    /// Huge pages in the pool (`nr_hugepages`), if fewer than the file's pages plus one per
    /// migrator (with which only a bug runs the pool out). A smaller pool runs out: the
    /// preallocation fails with ENOSPC and `mmap` with ENOMEM (fewer pages than the file), or
    /// the migration target takes the page a fault (SIGBUS) or `UFFDIO_COPY` (ENOMEM) needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<u8>,
    /// A deliberate bug for spec-honesty tests; `None` for every real check.
    pub mutation: Option<Mutation>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Default for ModelCfg {
    fn default() -> Self {
        ModelCfg {
            variant: Variant::V4_5,
            pages: 2,
            hole_start: 0,
            hole_end: 1,
            mappers: 2,
            touches: 1,
            touch_area: TouchArea::Anywhere,
            writes: false,
            uffd: UffdPolicy::Copy,
            fault_mutex_slots: 2,
            hole_reuse: true,
            migrators: 0,
            pool: None,
            mutation: None,
        }
    }
}

impl fmt::Display for ModelCfg {
    /// One line: `v4_4: 2 pages, hole [0, 1), 2 mapper(s) x 1 touch(es), uffd Copy, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} pages, hole [{}, {}), {} mapper(s) x {} touch(es), uffd {:?}, {} fault mutex slot(s){}{}{}{}{}",
            self.variant,
            self.pages,
            self.hole_start,
            self.hole_end,
            self.mappers,
            self.touches,
            self.uffd,
            self.fault_mutex_slots,
            if self.hole_reuse { ", hole reuse" } else { "" },
            if self.writes { ", writes" } else { "" },
            if self.touch_area == TouchArea::OutsideHole { ", touches outside the hole" } else { "" },
            if self.migrators > 0 { ", 1 migrator" } else { "" },
            match self.pool {
                Some(n) => format!(", pool of {n}"),
                None => String::new(),
            },
        )
    }
}

impl ModelCfg {
    /// The default configuration for one variant.
    pub fn for_variant(variant: Variant) -> Self {
        ModelCfg {
            variant,
            ..ModelCfg::default()
        }
    }

    /// Rejects configurations the model does not cover, saying which field is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, msg: String| if ok { Ok(()) } else { Err(msg) };
        check(
            (1..=8).contains(&self.pages),
            format!("pages must be 1..=8, not {}", self.pages),
        )?;
        check(
            self.hole_start < self.hole_end && self.hole_end <= self.pages,
            format!(
                "hole [{}, {}) must be a non-empty range inside the file's {} pages",
                self.hole_start, self.hole_end, self.pages
            ),
        )?;
        check(
            (1..=3).contains(&self.mappers),
            format!("mappers must be 1..=3, not {}", self.mappers),
        )?;
        check(
            self.touches <= 4,
            format!("touches must be 0..=4, not {}", self.touches),
        )?;
        check(
            self.migrators <= 1,
            format!("migrators must be 0 or 1, not {}", self.migrators),
        )?;
        check(
            self.pool
                .is_none_or(|n| (1..=self.pages + self.migrators).contains(&n)),
            format!(
                "pool must be 1 to {} pages (the file's and one per migrator), not {:?}",
                self.pages + self.migrators,
                self.pool
            ),
        )?;
        check(
            self.fault_mutex_slots >= 1,
            "fault_mutex_slots must be at least 1".to_string(),
        )?;
        check(
            self.touch_area == TouchArea::Anywhere || self.hole_end - self.hole_start < self.pages,
            "touch_area outside_hole needs a page outside the hole".to_string(),
        )
    }

    /// The features of the configured kernel variant.
    pub const fn features(&self) -> Features {
        self.variant.features()
    }

    /// Huge pages in the pool: as configured, or the file's and a migration target per
    /// migrator.
    pub fn pool_pages(&self) -> u8 {
        self.pool.unwrap_or(self.pages + self.migrators)
    }

    /// Where the removal loop takes the page lock, mutations included.
    pub fn page_lock_order(&self) -> PageLockOrder {
        if self.mutation == Some(Mutation::FolioLockAfterMappedCheck) {
            PageLockOrder::AfterUnmap
        } else {
            self.features().page_lock
        }
    }

    /// `hugetlb_fault_mutex_hash`: the fault mutex slot of a file index.
    pub fn fault_mutex_hash(&self, idx: u8) -> u8 {
        idx % self.fault_mutex_slots
    }

    /// Whether a file index lies in the hole.
    pub fn in_hole(&self, idx: u8) -> bool {
        (self.hole_start..self.hole_end).contains(&idx)
    }

    /// The pages a mapper may touch.
    pub fn touchable_pages(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.pages).filter(move |&p| self.touch_area == TouchArea::Anywhere || !self.in_hole(p))
    }
}
