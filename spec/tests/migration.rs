//! The 2025 race (7b7387650dcf) as the model finds it: the breadth-first (shortest) path to
//! v6_1's `no_bug_on` violation with a migrator is the schedule of the commit message.

use spec::ids::migrator_id;
use spec::msg::Msg;
use spec::page::PageId;
use spec::properties::kernel;
use spec::{ModelCfg, Variant};
use stateright::actor::ActorModelAction;
use stateright::{Checker, Model};

/// "Migration may be raced with fallocating hole. remove_inode_single_folio will unmap the
/// folio if the folio is still mapped. However, it's called without folio lock. If the folio
/// is migrated and the mapped pte has been converted to migration entry, folio_mapped()
/// returns false, and won't unmap it. Due to extra refcount held by
/// remove_inode_single_folio, migration fails, restores migration entry to normal pte, and
/// the folio is mapped again. As a result, we triggered BUG in filemap_unaccount_folio."
#[test]
fn v6_1_shortest_bug_is_the_2025_race() {
    let cfg = ModelCfg {
        migrators: 1,
        ..ModelCfg::for_variant(Variant::V6_1)
    };
    let migrator = migrator_id(cfg.mappers);
    let c = cfg.into_model().checker().spawn_bfs().join();
    let p = spec::properties::by_id("no_bug_on").unwrap();
    let path = c
        .discovery(p.sentence)
        .expect("v6_1 reaches the BUG with a migrator");
    let states = path.clone().into_states();
    let actions = path.into_actions();
    let bug = states
        .iter()
        .position(|s| kernel(s).ghost.bug.is_some())
        .expect("the path reaches the BUG");

    // The punch's and the migrator's kernel steps up to the BUG, with the state after each.
    let steps: Vec<(&str, usize)> = actions[..bug]
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            ActorModelAction::Deliver {
                msg: Msg::Step(t, step),
                ..
            } if usize::from(t.pid()) == 0 || t.pid() == migrator => Some((step.name(), i + 1)),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names[names.len() - 7..],
        [
            "remove_inode_hugepages:mutex_lock",
            "add_page_for_migration:isolate_hugetlb",
            "unmap_and_move_huge_page:folio_lock",
            "hugetlb_unmap_file_folio:i_mmap_lock_write",
            "migrate_huge_page_move_mapping:xa_lock",
            "remove_migration_ptes:i_mmap_lock_read",
            "remove_inode_hugepages:lock_page",
        ]
    );
    let after = |k: usize| kernel(&states[steps[steps.len() - 7 + k].1]);
    let page = PageId { idx: 0, gen: 0 };
    // try_to_migrate: mapper 0's PTE is a migration entry, so folio_mapped is false.
    assert_eq!(after(2).mms[0].migration[0], Some(page));
    assert!(!after(2).page_mapped(page));
    // hugetlb_unmap_file_folio finds no PTE to unmap; the removal's reference makes
    // folio_ref_freeze fail: the page stays in the page cache.
    assert_eq!(after(4).cache[0].map(|p| p.id), Some(page));
    // remove_migration_ptes maps the old page again; the removal deletes it: the BUG.
    assert_eq!(after(5).mms[0].ptes[0], Some(page));
    assert!(after(6).ghost.bug.is_some());
    assert_eq!(after(6).cache[0], None);
    assert_eq!(after(6).mms[0].ptes[0], Some(page), "a PTE of a freed page");
}
