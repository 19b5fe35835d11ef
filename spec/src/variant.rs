//! Kernel variants, each a set of [`Features`]: the kernel files and the expected-verdict rules
//! read the features, never the variant's name. Adding a variant is one line in
//! [`variants!`] and one row in [`Variant::features`], whose `match` the compiler checks.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What `remove_inode_hugepages` does with a page it finds still mapped (a fault mapped it
/// after `hugetlb_vmdelete_list`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MappedPage {
    /// 4.4 (1817889e3b2c): "Do nothing in this race case": the page stays in the file.
    Skip,
    /// 4.5 (4aae8d1c051e): under the fault mutex, `i_mmap_lock_write`;
    /// `hugetlb_vmdelete_list(idx, idx + 1)`; `i_mmap_unlock_write`.
    UnmapUnderMutex,
    /// 5.7 (c0d0381ade79): lock order `i_mmap_rwsem` -> fault mutex, so `mutex_unlock`;
    /// `i_mmap_lock_write`; `mutex_lock`; `hugetlb_vmdelete_list(idx, idx + 1)`.
    UnmapRelockMutex,
    /// 6.1: `hugetlb_unmap_file_folio`, trylocking each VMA's vma_lock, with its retry.
    UnmapFileFolio,
}

/// When `hugetlb_mcopy_atomic_pte` (UFFDIO_COPY into a shared hugetlbfs mapping) learns
/// that the page is already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum McopyOrder {
    /// 4.11 to 5.12: `alloc_huge_page` first (taking the index as reserved), `EEXIST` only
    /// when `huge_add_to_page_cache` fails; with no free page the allocation fails first:
    /// `ENOMEM`.
    AllocFirst,
    /// 5.13+ (8cc5fcbb5be8, backported to 5.10.y): `hugetlbfs_pagecache_present` first,
    /// `EEXIST` without allocating.
    CheckFirst,
}

/// Where `remove_inode_hugepages` takes the page lock of the page it removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageLockOrder {
    /// After the mapped check and the re-unmap (4.4 to 6.16), so it is never held while the
    /// removal waits for another lock.
    AfterUnmap,
    /// Before the mapped check: 7b7387650dcf ("mm/hugetlb: fix folio is still mapped when
    /// deleted", 6.17) and its stable backports (5.10.262 has it), so the removal holds it
    /// across the re-unmap's `i_mmap_lock_write`.
    BeforeMappedCheck,
}

/// How `unmap_and_move_huge_page` (mm/migrate.c) holds `i_mmap_rwsem` while it migrates a
/// shared (file) hugetlb folio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MigrationRmap {
    /// 4.4 to 5.6: `try_to_unmap` and `remove_migration_ptes` each walk the rmap under
    /// `i_mmap_lock_read` (`rmap_walk_file`), sleeping for it with the page locked.
    WalkRead,
    /// 5.7 (c0d0381ade79): `hugetlb_page_mapping_lock_write` trylocks `i_mmap_rwsem` for write
    /// (the lock order is i_mmap_rwsem -> page lock) and holds it through
    /// `remove_migration_ptes` (`rmap_walk_locked`); no trylock, no migration (`-EAGAIN`).
    TrylockHeld,
    /// 5.10 to 6.18 (336bf30eb765 "hugetlbfs: fix anon huge page migration race"): the same
    /// trylock, dropped right after `try_to_migrate`; `remove_migration_ptes` then sleeps in
    /// `i_mmap_lock_read` with the folio locked (b7880cb166ab, 2026, restored 5.7's scope).
    TrylockUnmapOnly,
}

/// A kernel variant's code, as the features the model distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Features {
    /// `hugetlb_fault` checks the v2 hole marker in `inode->i_private` and sleeps on it; the
    /// punch sets and clears it.
    pub hole_marker: bool,
    /// `hugetlb_vmdelete_list` writes the first VMA's end back into `end` (4.4; 4.5 has a
    /// local `v_end`).
    pub vmdelete_clobbers_end: bool,
    /// Faults and `__mcopy_atomic_hugetlb` hold `i_mmap_rwsem` for read from before the fault
    /// mutex to the end (5.7 to 6.0, c0d0381ade79 / 87bf91d39bb5).
    pub fault_i_mmap_read: bool,
    /// Faults and `UFFDIO_COPY` take the per-VMA `hugetlb_vma_lock` after the fault mutex, and
    /// `hugetlb_vmdelete_list` only trylocks it (6.1).
    pub vma_lock: bool,
    /// What the removal loop does with a page still mapped.
    pub mapped_page: MappedPage,
    /// UFFDIO_COPY's allocation order.
    pub mcopy: McopyOrder,
    /// Where the removal loop takes the page lock.
    pub page_lock: PageLockOrder,
    /// How hugetlb page migration holds `i_mmap_rwsem`.
    pub migration_rmap: MigrationRmap,
}

impl Features {
    /// The removal loop leaves a mapped page in the file (the 2015 bug).
    pub const fn skips_mapped_page(self) -> bool {
        matches!(self.mapped_page, MappedPage::Skip)
    }
}

/// Declares [`Variant`] with its names (command line, traces, JSON) and [`Variant::ALL`].
macro_rules! variants {
    ($($(#[$doc:meta])* $v:ident => $name:literal,)*) => {
        /// The kernel whose punch and fault paths are modelled. See DESIGN.md section 2 and
        /// the README's variant table for the code each one follows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Variant {
            $($(#[$doc])* #[serde(rename = $name)] $v,)*
        }

        impl Variant {
            /// Every variant, in the order the checker reports them.
            pub const ALL: [Variant; [$(Variant::$v),*].len()] = [$(Variant::$v),*];

            /// The name used on the command line, in traces and in JSON.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Variant::$v => $name,)*
                }
            }
        }
    };
}

variants! {
    /// Linux 4.4: `remove_inode_hugepages` skips a page that is mapped ("Do nothing in this race case").
    V4_4 => "v4_4",
    /// Linux 4.5, commit 4aae8d1c051e: unmap again under the fault mutex.
    V4_5 => "v4_5",
    /// v2 patches 1-3 of the 2015 series on top of 4.4: faults wait on an `i_private` marker.
    HoleMarker => "hole_marker",
    /// The marker and the 4.5 fix together.
    HoleMarkerFixed => "hole_marker_fixed",
    /// Linux 5.7, commit c0d0381ade79: `i_mmap_rwsem` held by faults for pmd sharing.
    V5_7 => "v5_7",
    /// Debian 11's Linux 5.10.262: 5.7's locking, with the backport of 7b7387650dcf taking
    /// the page lock before the mapped check.
    V5_10 => "v5_10",
    /// 5.10 before that backport: the page lock taken after the re-unmap.
    V5_10Unlocked => "v5_10_unlocked",
    /// Linux 6.1: per-VMA `hugetlb_vma_lock`, `hugetlb_unmap_file_folio` with its retry.
    V6_1 => "v6_1",
    /// Linux 6.17, commit 7b7387650dcf: `folio_lock` before the `folio_mapped` check.
    V6_17 => "v6_17",
}

impl Variant {
    /// How many variants there are: the width of per-variant tables.
    pub const COUNT: usize = Variant::ALL.len();

    /// The variant's features: the one place that says what each variant's code does.
    pub const fn features(self) -> Features {
        use MappedPage::*;
        use McopyOrder::*;
        use MigrationRmap::*;
        use PageLockOrder::*;
        let v4_4 = Features {
            hole_marker: false,
            vmdelete_clobbers_end: true,
            fault_i_mmap_read: false,
            vma_lock: false,
            mapped_page: Skip,
            mcopy: AllocFirst,
            page_lock: AfterUnmap,
            migration_rmap: WalkRead,
        };
        // Debian 11's 5.10.262: 5.7's locking, 8cc5fcbb5be8 and the 7b7387650dcf backport.
        let v5_10 = Features {
            vmdelete_clobbers_end: false,
            fault_i_mmap_read: true,
            mapped_page: UnmapRelockMutex,
            mcopy: CheckFirst,
            page_lock: BeforeMappedCheck,
            migration_rmap: TrylockUnmapOnly,
            ..v4_4
        };
        let v6_1 = Features {
            vmdelete_clobbers_end: false,
            vma_lock: true,
            mapped_page: UnmapFileFolio,
            mcopy: CheckFirst,
            migration_rmap: TrylockUnmapOnly,
            ..v4_4
        };
        match self {
            Variant::V4_4 => v4_4,
            Variant::V4_5 => Features {
                vmdelete_clobbers_end: false,
                mapped_page: UnmapUnderMutex,
                ..v4_4
            },
            // The v2 series was posted on 4.3-rc, before 4.5 fixed `hugetlb_vmdelete_list`.
            Variant::HoleMarker => Features {
                hole_marker: true,
                ..v4_4
            },
            Variant::HoleMarkerFixed => Features {
                hole_marker: true,
                mapped_page: UnmapUnderMutex,
                ..v4_4
            },
            Variant::V5_7 => Features {
                vmdelete_clobbers_end: false,
                fault_i_mmap_read: true,
                mapped_page: UnmapRelockMutex,
                migration_rmap: TrylockHeld,
                ..v4_4
            },
            Variant::V5_10 => v5_10,
            Variant::V5_10Unlocked => Features {
                page_lock: AfterUnmap,
                ..v5_10
            },
            Variant::V6_1 => v6_1,
            Variant::V6_17 => Features {
                page_lock: BeforeMappedCheck,
                ..v6_1
            },
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!(
                    "unknown variant '{s}' (expected one of {})",
                    names.join(", ")
                )
            })
    }
}
