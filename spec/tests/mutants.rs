//! Spec honesty: deliberate bugs (`ModelCfg::mutation`) must be caught by the safety
//! properties, which hold on the same configuration without the bug. A property that no
//! mutant can violate would be a property that checks nothing.

use spec::kernel::Step;
use spec::pinned;
use spec::properties::{kernel, HugeModel, HugeState};
use spec::{ModelCfg, Mutation, Variant, Verdict, PROPERTIES};
use stateright::{Checker, Expectation, Model};
use std::collections::BTreeSet;

/// The variants with the 4.5 re-unmap where every safety property holds (not 5.10.262, which
/// deadlocks).
fn fixed() -> impl Iterator<Item = Variant> {
    Variant::ALL.into_iter().filter(|&v| {
        spec::verdict::expected(&ModelCfg::for_variant(v))
            .iter()
            .all(|(_, verdict)| *verdict != Verdict::Violated)
    })
}

/// The safety (always) and liveness (eventually) properties.
fn safety_ids() -> BTreeSet<&'static str> {
    PROPERTIES
        .iter()
        .filter(|p| p.expectation != Expectation::Sometimes)
        .map(|p| p.id)
        .collect()
}

/// An exhaustive breadth-first search (no symmetry reduction, so no assumption about the
/// mutant): the safety and liveness properties with a counterexample, each with its
/// counterexample's last state, and the unique state count.
struct Outcome {
    violated: Vec<(&'static str, HugeState)>,
    reached: BTreeSet<&'static str>,
    unique: usize,
}

impl Outcome {
    fn violated_ids(&self) -> BTreeSet<&'static str> {
        self.violated.iter().map(|(id, _)| *id).collect()
    }

    fn last_state(&self, id: &str) -> &HugeState {
        &self
            .violated
            .iter()
            .find(|(i, _)| *i == id)
            .unwrap_or_else(|| panic!("no counterexample of {id}"))
            .1
    }
}

fn check(model: HugeModel) -> Outcome {
    let c = model.checker().spawn_bfs().join();
    assert!(c.is_done());
    let mut violated = Vec::new();
    let mut reached = BTreeSet::new();
    for p in c.model().properties() {
        let id = spec::properties::by_sentence(p.name).map_or(p.name, |q| q.id);
        let Some(path) = c.discovery(p.name) else {
            continue;
        };
        match Verdict::of(&p.expectation, true) {
            Verdict::Violated => violated.push((id, path.last_state().clone())),
            _ => {
                reached.insert(id);
            }
        }
    }
    Outcome {
        violated,
        reached,
        unique: c.unique_state_count(),
    }
}

fn with(cfg: &ModelCfg, m: Mutation) -> ModelCfg {
    ModelCfg {
        mutation: Some(m),
        ..cfg.clone()
    }
}

/// The three properties a page freed while still mapped violates: the PTE points at a page
/// no longer in the page cache, the pool counts the page free while a PTE still uses it,
/// and deleting a mapped page from the page cache is a kernel BUG.
const MAPPED_PAGE_FREED: [&str; 3] = ["accounting", "no_bug_on", "no_stale_mapping"];

/// Asserts that the mutant violates exactly `caught` (all of which hold without it).
fn assert_caught(cfg: &ModelCfg, m: Mutation, caught: &[&str]) -> Outcome {
    let v = cfg.variant;
    let base = check(cfg.clone().into_model());
    assert!(
        base.violated.is_empty(),
        "{v}: without {m:?} every safety property holds, not {:?}",
        base.violated_ids()
    );
    let mutant = check(with(cfg, m).into_model());
    let want: BTreeSet<_> = caught.iter().copied().collect();
    assert_eq!(
        mutant.violated_ids(),
        want,
        "{v} with {m:?}: the safety properties it violates"
    );
    assert!(want.is_subset(&safety_ids()));
    mutant
}

/// `remove_inode_hugepages` frees a page that a fault mapped again after
/// `hugetlb_vmdelete_list`: caught by `no_stale_mapping`, `accounting` and `no_bug_on` in
/// every variant that has the re-unmap.
#[test]
fn no_reunmap_is_caught() {
    for v in fixed() {
        let cfg = ModelCfg::for_variant(v);
        let mutant = assert_caught(&cfg, Mutation::NoReunmap, &MAPPED_PAGE_FREED);
        // The page freed while mapped is one a fault mapped in the race window: nothing else
        // is mapped in the hole once `hugetlb_vmdelete_list` ran (one touch per mapper, so no
        // fault holds a vma_lock over an earlier mapping).
        for id in MAPPED_PAGE_FREED {
            assert!(
                kernel(mutant.last_state(id)).ghost.race_window_fault,
                "{v}: the counterexample of {id} goes through the race window"
            );
        }
    }
}

/// `hugetlb_fault` without the fault mutex maps a page the removal loop is deleting: caught
/// by the same three properties in every fixed variant that takes the page lock after the
/// mapped check (5.7's `i_mmap_rwsem` and 6.1's vma_lock do not stand in for the mutex).
/// Where the removal takes the page lock first (6.17), the page lock does: the fault maps a
/// cached page only inside `find_lock_page`'s lock, and the removal holds it from the
/// mapped check to the deletion, so the mutant changes no verdict there.
#[test]
fn fault_without_mutex_is_caught() {
    for v in fixed() {
        let cfg = ModelCfg::for_variant(v);
        if cfg.features().page_lock == spec::PageLockOrder::BeforeMappedCheck {
            let mutant = check(with(&cfg, Mutation::FaultWithoutMutex).into_model());
            assert!(
                mutant.violated.is_empty(),
                "{v}: {:?}",
                mutant.violated_ids()
            );
            continue;
        }
        let mutant = assert_caught(&cfg, Mutation::FaultWithoutMutex, &MAPPED_PAGE_FREED);
        let k = kernel(mutant.last_state("no_bug_on"));
        assert!(k.ghost.bug.is_some(), "{v}: the BUG_ON fired");
    }
}

/// `hugetlb_unmap_file_folio` gives up on a VMA whose vma_lock it cannot trylock. It needs a
/// mapper with two touches: one maps the hole page (in the race window, or before the punch
/// while the other touch's fault holds the vma_lock through `hugetlb_vmdelete_list`), the
/// other's fault holds the same VMA's vma_lock while the removal loop walks the VMAs.
#[test]
fn no_vma_lock_retry_is_caught() {
    let cfg = ModelCfg {
        mappers: 1,
        touches: 2,
        ..ModelCfg::for_variant(Variant::V6_1)
    };
    assert_caught(&cfg, Mutation::NoVmaLockRetry, &MAPPED_PAGE_FREED);

    // With one touch per mapper the retry never runs: a mapper whose VMA maps the folio has
    // finished its only fault and holds no vma_lock, and another mapper's fault on the same
    // index waits for the fault mutex the punch holds before it takes its vma_lock. The
    // mutant is then the same model, state for state.
    let default = ModelCfg::for_variant(Variant::V6_1);
    let base = check(default.clone().into_model());
    let mutant = check(with(&default, Mutation::NoVmaLockRetry).into_model());
    assert!(mutant.violated.is_empty());
    assert_eq!(mutant.unique, base.unique);
}

/// Test-only witness: the removal loop finds a hole page still mapped and unmaps it, though
/// no fault mapped a hole page in the race window.
fn removal_unmaps_unraced_page(_: &HugeModel, s: &HugeState) -> bool {
    let k = kernel(s);
    let unmapping = k.threads[0].is_some_and(|t| {
        matches!(
            t.pc,
            Step::RemoveUnmapAgain | Step::RemoveUnmapAgainMutex | Step::HugetlbUnmapFileFolio
        )
    });
    unmapping && !k.ghost.race_window_fault
}
const UNRACED: &str = "the removal loop unmaps a page no fault raced for";

/// `hugetlb_vmdelete_list` skipped altogether. The model does not catch it: with the 4.5
/// re-unmap, `remove_inode_hugepages` unmaps every mapped page of a shared mapping under the
/// fault mutex before it deletes it, so the first unmap is redundant for these properties.
/// (It is not redundant in the kernel: `hugetlb_vmdelete_list` also zaps private COW copies
/// in `MAP_PRIVATE` mappings, which are not in the page cache, and the model has none.)
#[test]
fn no_vmdelete_is_not_caught_by_the_model() {
    let d = ModelCfg::default;
    let cfgs = |v| {
        [
            ModelCfg::for_variant(v),
            ModelCfg {
                variant: v,
                mappers: 1,
                touches: 2,
                ..d()
            },
            ModelCfg {
                variant: v,
                pages: 3,
                hole_start: 0,
                hole_end: 2,
                mappers: 1,
                touches: 2,
                fault_mutex_slots: 1,
                ..d()
            },
        ]
    };
    // The extra witness: the removal loop now unmaps pages mapped before the punch, which
    // without the mutation only a race-window fault leaves mapped (with one touch per mapper;
    // with two, a 6.1 vmdelete that skipped a VMA leaves them too).
    let model = |c: ModelCfg| {
        c.into_model()
            .property(Expectation::Sometimes, UNRACED, removal_unmaps_unraced_page)
    };
    for v in fixed() {
        for (n, cfg) in cfgs(v).into_iter().enumerate() {
            let base = check(model(cfg.clone()));
            let mutant = check(model(with(&cfg, Mutation::NoVmdelete)));
            assert!(base.violated.is_empty(), "{cfg:?}");
            assert!(
                mutant.violated.is_empty(),
                "NoVmdelete is caught in {cfg:?} by {:?}",
                mutant.violated_ids()
            );
            // The mutation does what it says.
            assert!(mutant.reached.contains(UNRACED), "{cfg:?} with NoVmdelete");
            if n == 0 {
                assert!(!base.reached.contains(UNRACED), "{cfg:?}");
            }
            // 6.1's trylock-and-skip lives in hugetlb_vmdelete_list: gone with it.
            if v.features().vma_lock {
                assert!(base.reached.contains("vmdelete_skips_vma"));
                assert!(!mutant.reached.contains("vmdelete_skips_vma"));
            }
        }
    }
}

/// `UFFDIO_COPY` allocating before it checks the page cache (8cc5fcbb5be8 taken out of 6.1):
/// no safety property can tell (the allocation is given back), but the pinned witnesses of the
/// default configuration do: EEXIST becomes unreachable and ENOMEM reachable.
#[test]
fn mcopy_alloc_first_is_caught() {
    let cfg = ModelCfg::for_variant(Variant::V6_1);
    assert_eq!(
        cfg.features().mcopy,
        spec::McopyOrder::CheckFirst,
        "the variant has the fix"
    );
    let base = check(cfg.clone().into_model());
    let mutant = check(with(&cfg, Mutation::McopyAllocFirst).into_model());
    assert!(mutant.violated.is_empty(), "{:?}", mutant.violated_ids());
    assert!(base.reached.contains("uffd_copy_eexist"));
    assert!(!base.reached.contains("uffd_copy_enomem"));
    assert!(!mutant.reached.contains("uffd_copy_eexist"));
    assert!(mutant.reached.contains("uffd_copy_enomem"));
}

/// `hugetlb_vmdelete_list` zapping only the first page of the hole: the one-page hole of the
/// default configuration cannot tell, so only a pinned configuration with a longer hole
/// catches it. With the re-unmap no property does either (the removal loop unmaps what the
/// first pass left, as with `NoVmdelete`), but the state space changes, and the verdict tests
/// pin the two-page hole's state counts.
#[test]
fn vmdelete_first_page_only_changes_the_multi_page_hole() {
    for v in fixed() {
        let default = ModelCfg::for_variant(v);
        let base = check(default.clone().into_model());
        let mutant = check(with(&default, Mutation::VmdeleteFirstPageOnly).into_model());
        assert_eq!(
            mutant.unique, base.unique,
            "{v}: a one-page hole cannot tell"
        );

        let two_pages = ModelCfg {
            pages: 3,
            hole_start: 0,
            hole_end: 2,
            mappers: 1,
            touches: 2,
            ..default
        };
        let base = check(two_pages.clone().into_model());
        let mutant = check(with(&two_pages, Mutation::VmdeleteFirstPageOnly).into_model());
        assert!(
            mutant.violated.is_empty(),
            "{v}: {:?}",
            mutant.violated_ids()
        );
        assert_ne!(
            mutant.unique, base.unique,
            "{v}: the two-page hole's state count"
        );
    }
}

/// 7b7387650dcf taken out of 6.17: `folio_lock` after the `folio_mapped` check again. With a
/// migrator the removal reads the migration entries as unmapped and deletes the page that
/// `remove_migration_ptes` maps again.
#[test]
fn folio_lock_after_mapped_check_is_caught() {
    let cfg = pinned::migrator(Variant::V6_17);
    assert_eq!(
        cfg.features().page_lock,
        spec::PageLockOrder::BeforeMappedCheck,
        "the variant has the fix"
    );
    assert_caught(
        &cfg,
        Mutation::FolioLockAfterMappedCheck,
        &MAPPED_PAGE_FREED,
    );
}

/// A model whose removal loop counts migration entries as mapped PTEs would hide the 2025
/// bug where the re-unmap is `hugetlb_vmdelete_list(idx, idx + 1)` (it clears the migration
/// entries, so `remove_migration_ptes` finds nothing to map again): the pinned 4.5 verdicts
/// with a migrator (`no_bug_on` and the rest violated) catch it.
#[test]
fn folio_mapped_counting_migration_entries_is_caught() {
    let cfg = pinned::migrator(Variant::V4_5);
    let base = check(cfg.clone().into_model());
    let want: BTreeSet<_> = MAPPED_PAGE_FREED.iter().copied().collect();
    assert_eq!(base.violated_ids(), want, "v4_5 with a migrator");
    let mutant = check(with(&cfg, Mutation::FolioMappedCountsMigrationEntries).into_model());
    assert!(
        mutant.violated.is_empty(),
        "the mutant hides the bug: {:?}",
        mutant.violated_ids()
    );
}

/// Asserts that the mutant violates what the configuration violates without it, and `added`
/// besides (none of which it violates without the mutant).
fn assert_adds(cfg: &ModelCfg, m: Mutation, added: &[&str]) {
    let v = cfg.variant;
    let base = check(cfg.clone().into_model()).violated_ids();
    let added: BTreeSet<_> = added.iter().copied().collect();
    assert!(
        base.is_disjoint(&added),
        "{v}: without {m:?}, {base:?} are violated"
    );
    let mutant = check(with(cfg, m).into_model()).violated_ids();
    let want: BTreeSet<_> = base.union(&added).copied().collect();
    assert_eq!(
        mutant, want,
        "{v} with {m:?}: the safety properties it violates"
    );
}

/// The oldest and the newest variant: the pool code is the same in all of them.
const POOL_VARIANTS: [Variant; 2] = [Variant::V4_4, Variant::V6_17];

/// `alloc_huge_page` taking a page promised to a reservation. With a pool that holds the
/// file, the free pages not promised are exactly the empty indices without a reservation, so
/// an allocation for such an index always finds one and the check never decides anything:
/// no configuration with the default pool can catch the mutant. It takes a pool the migration
/// target runs dry, a reservation made by an `mmap` after the removal freed an index, and a
/// fault on another freed index: the pinned "pool dry, sigbus" configuration, whose fault
/// then takes the page promised to the reservation (`accounting`: more reservations than
/// free pages).
#[test]
fn alloc_steals_reservation_is_caught() {
    for v in POOL_VARIANTS {
        assert_adds(
            &pinned::pool_dry_sigbus(v),
            Mutation::AllocStealsReservation,
            &["accounting"],
        );
    }
}

/// `hugetlb_reserve_pages` reserving pages the pool does not have: the pinned "pool short"
/// configuration's `mmap`, which fails with ENOMEM, succeeds (`accounting`: more
/// reservations than free pages), and in the variants that skip a mapped page the mapper
/// now gets to race the punch (the 2015 leak). With a pool that holds the file the test never
/// fails.
#[test]
fn reserve_without_enomem_is_caught() {
    for v in Variant::ALL {
        let leak: &[&str] = if v.features().skips_mapped_page() {
            &["accounting", "hole_freed_on_return"]
        } else {
            &["accounting"]
        };
        assert_caught(&pinned::pool_short(v), Mutation::ReserveWithoutEnomem, leak);
    }
}

/// Every page of an index the same page: a migration's target is then its source, so the
/// pool loses track of a page (`accounting`) in the variants that hold with a migrator. The
/// pinned migrator configurations catch it. Without a migrator no variant leaves a PTE of a
/// freed page behind (the 2015 leak keeps the page cached), so no configuration without one
/// could: the mutant only merges states there.
#[test]
fn same_page_per_index_is_caught() {
    for v in POOL_VARIANTS {
        assert_adds(
            &pinned::pool_dry_sigbus(v),
            Mutation::SamePagePerIndex,
            &["accounting"],
        );
    }
}

/// `hugetlb_unreserve_pages` keeping the reservations of the range: the model cannot catch
/// it, because it never has any to give back. The punch calls it for one removed page at a
/// time (`hugetlb_unreserve_pages(inode, index, index + 1, 1)`), and a cached page's index is
/// always in the resv_map, so `chg - freed` is 0 on every call. (It is not dead in the
/// kernel: truncation calls it once over the whole range, with the reservations of indices
/// never faulted in; the model has no truncation.)
#[test]
fn unreserve_keeps_reservations_is_not_caught_by_the_model() {
    for cfg in [
        ModelCfg::for_variant(Variant::V6_17),
        pinned::pool_short(Variant::V6_17),
        pinned::pool_dry_sigbus(Variant::V6_17),
    ] {
        let base = check(cfg.clone().into_model());
        let mutant = check(with(&cfg, Mutation::UnreserveKeepsReservations).into_model());
        assert_eq!(mutant.violated_ids(), base.violated_ids(), "{cfg}");
        assert_eq!(mutant.reached, base.reached, "{cfg}");
        assert_eq!(
            mutant.unique, base.unique,
            "{cfg}: the same model, state for state"
        );
    }
}
