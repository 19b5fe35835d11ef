//! Verdicts, and the verdicts this model is expected to give for a configuration.
//!
//! The expectations are knowledge about the kernel code written down as rules on the
//! configuration; the checker compares the model against them and tests pin both.

use crate::cfg::{McopyOrder, ModelCfg, PageLockOrder, TouchArea, UffdPolicy};
use crate::properties::PROPERTIES;
use serde::{Deserialize, Serialize};
use stateright::Expectation;

/// A property's outcome after an exhaustive search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// An `always` or `eventually` property with no counterexample.
    Holds,
    /// An `always` or `eventually` property with a counterexample.
    Violated,
    /// A `sometimes` property with a witness.
    Reached,
    /// A `sometimes` property with no witness.
    Unreachable,
}

impl Verdict {
    /// The verdict of a property given whether the search discovered a path for it.
    pub fn of(expectation: &Expectation, discovered: bool) -> Verdict {
        match (expectation, discovered) {
            (Expectation::Sometimes, true) => Verdict::Reached,
            (Expectation::Sometimes, false) => Verdict::Unreachable,
            (_, true) => Verdict::Violated,
            (_, false) => Verdict::Holds,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Reached => "reached",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// The expected verdict of every property (in [`PROPERTIES`] order) for a configuration.
pub fn expected(cfg: &ModelCfg) -> Vec<(&'static str, Verdict)> {
    PROPERTIES
        .iter()
        .map(|p| (p.id, expected_one(cfg, p.id)))
        .collect()
}

fn expected_one(cfg: &ModelCfg, id: &str) -> Verdict {
    let f = cfg.features();
    // The pool holds the file. A smaller one fails the preallocation, and every `mmap`:
    // `hugetlb_reserve_pages` needs a page or a reservation for each index. Nobody touches.
    let mappable = cfg.pool_pages() >= cfg.pages;
    let touching = cfg.touches > 0 && mappable;
    // Some touch can land in the hole.
    let hole_touched = touching && cfg.touch_area == TouchArea::Anywhere;
    // A touch of the hole can start after the punch returned and find a page someone else
    // faulted in during the race: a second touch of the same mapper, or another mapper.
    let later_touch = cfg.touches >= 2 || cfg.mappers >= 2;
    // Two copies, or a copy and the reuse `fallocate`, can meet on one index.
    let copy_conflict =
        hole_touched && cfg.uffd == UffdPolicy::Copy && (cfg.hole_reuse || cfg.mappers >= 2);
    let hole_len = cfg.hole_end - cfg.hole_start;
    // The pool has a page beyond the file's: the migration target.
    let spare = cfg.pool_pages() > cfg.pages;
    // Without that page, the migrator gets a target only once the removal has freed the
    // first hole page and mapper 0 has mapped it again; then it can hold the last free page
    // while a later touch needs one for the rest of the hole: the pool runs dry.
    let dry = cfg.migrators > 0 && !spare && hole_touched && hole_len >= 2 && later_touch;
    let reach = |b: bool| {
        if b {
            Verdict::Reached
        } else {
            Verdict::Unreachable
        }
    };
    let hold = |violated: bool| {
        if violated {
            Verdict::Violated
        } else {
            Verdict::Holds
        }
    };
    match id {
        // 4.4 leaves a page faulted in during the race in the hole.
        "hole_freed_on_return" => hold(f.skips_mapped_page() && hole_touched),
        // Without userfaultfd nothing catches a touch of the hole; with it, only a page
        // the 4.4 skip left behind goes uncaught.
        "hole_touch_caught" => hold(
            hole_touched
                && (cfg.uffd == UffdPolicy::None || (f.skips_mapped_page() && later_touch)),
        ),
        // 7b7387650dcf: with the mapped check before the page lock, the removal reads
        // `folio_mapped` false while the PTEs are migration entries, skips the unmap, waits for
        // the page lock, and deletes the page `remove_migration_ptes` mapped again (the
        // migration failed on the removal's reference, or the removal looked up the new page):
        // "still mapped when deleted", then a PTE of a freed page. 4.4 checks under the lock.
        // Without a spare page, no migration starts before the removal reaches the page.
        "no_stale_mapping" | "accounting" | "no_bug_on" => hold(
            cfg.migrators > 0
                && spare
                && hole_touched
                && cfg.page_lock_order() == PageLockOrder::AfterUnmap
                && !f.skips_mapped_page(),
        ),
        // 7b7387650dcf on 5.10: the removal holds the page lock of a page a fault mapped in
        // the race window while it waits for i_mmap_rwsem (write); another mapper's fault on
        // that page holds i_mmap_rwsem (read) and the fault mutex the removal dropped, and
        // waits for the page lock in find_lock_page. The punch never returns.
        "no_deadlock" | "punch_returns" => hold(
            f.page_lock == PageLockOrder::BeforeMappedCheck
                && f.fault_i_mmap_read
                && hole_touched
                && cfg.mappers >= 2,
        ),
        // Every variant drops i_mmap_rwsem between hugetlb_vmdelete_list and the removal loop.
        "race_window_fault" => reach(hole_touched),
        "hole_touch_missing" => reach(hole_touched && cfg.uffd != UffdPolicy::None),
        // The handler copies a page the manager allocated again, or another mapper's
        // handler copied first. Before 5.13 the copy allocates first, which needs a free page
        // while the page is cached: another page of the hole not (yet) back, or the pool's
        // spare page for the migration target.
        "uffd_copy_eexist" => {
            reach(copy_conflict && (f.mcopy == McopyOrder::CheckFirst || hole_len >= 2 || spare))
        }
        // Before 5.13, with every page of the pool in use when the second copy (or the copy
        // after the reuse) allocates: the one-page hole refilled, a bigger hole refilled by
        // reuse, or two mappers copying one page before the punch has freed the rest.
        // The pool's spare page (the migration target) is free unless the migrator holds
        // it, which needs mapper 0 to have mapped the hole page before a touch that misses.
        // And in every variant, when the pool runs dry under a copy into an empty index.
        "uffd_copy_enomem" => reach(
            (copy_conflict && f.mcopy == McopyOrder::AllocFirst && (!spare || later_touch))
                || (dry && cfg.uffd == UffdPolicy::Copy),
        ),
        // The marker covers [start, end] inclusive: one page past the hole waits too.
        "fault_waits_on_marker" => {
            reach(f.hole_marker && touching && (hole_touched || cfg.hole_end < cfg.pages))
        }
        // Any fault holds the vma_lock for read while hugetlb_vmdelete_list trylocks it.
        "vmdelete_skips_vma" => reach(f.vma_lock && touching),
        "punch_frees_hole" => Verdict::Reached,
        // Mapper 0 maps the hole page (a touch), the migrator turns its PTE into a migration
        // entry, and the removal loop gets to the page before the migration is over.
        "migration_race_window" => reach(cfg.migrators > 0 && spare && hole_touched),
        other => panic!("no expectation for property {other}"),
    }
}
