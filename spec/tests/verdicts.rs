//! The verdict of every property in every kernel variant, written out as literal tables,
//! checked three ways: against the model (breadth-first search, and depth-first search with
//! symmetry reduction over mappers), and against the rules of `spec::verdict::expected`.
//! The unique state count of each configuration is pinned too, so any change to the model's
//! state space shows up here.
//!
//! Each table has one row per property (in `PROPERTIES` order) and one column per variant,
//! in `Variant::ALL` order: v4_4, v4_5, hole_marker, hole_marker_fixed, v5_7, v5_10,
//! v5_10_unlocked, v6_1.

use spec::msg::{Errno, Msg, Syscall};
use spec::pinned;
use spec::properties::{HugeModel, HugeState};
use spec::verdict::{self, Verdict};
use spec::{ModelCfg, Variant, PROPERTIES};
use stateright::{Checker, Expectation, Model};

use Verdict::{Holds as H, Reached as R, Unreachable as U, Violated as V};

/// One row per property, one column per variant (`Variant::ALL` order).
type Table = [(&'static str, [Verdict; Variant::COUNT]); 15];

// ---------------------------------------------------------------------------------------------
// The tables.
// ---------------------------------------------------------------------------------------------

/// Default configuration: 2 pages, hole [0, 1), 2 mappers x 1 touch anywhere, uffd COPY,
/// 2 fault mutex slots, hole reuse.
///
/// - The 2015 race: a fault maps the hole page between `hugetlb_vmdelete_list` and
///   `remove_inode_hugepages`; v4_4 and hole_marker (the marker alone) skip the mapped page,
///   so the hole is not freed and the other mapper's later touch of it goes uncaught.
///   Every variant with the 4.5 re-unmap (v4_5, hole_marker_fixed, v5_7, v6_1) frees it.
/// - The window is reachable in every variant: all of them drop `i_mmap_rwsem` between
///   `hugetlb_vmdelete_list` and the removal loop.
/// - Only the marker variants have a marker to wait on; only 6.1 has vma_locks to trylock.
/// - `UFFDIO_COPY` of a page that is back (hole reuse, or the other mapper's copy): 6.1 checks
///   the page cache first and returns EEXIST; 4.11 to 5.12 allocate first, and with the
///   one-page hole refilled every pool page is in the file: ENOMEM (8cc5fcbb5be8 changed it).
const DEFAULT: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, H, V, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, V, H, H, H]),
    ("punch_returns", [H, H, H, H, H, V, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_eexist", [U, U, U, U, U, R, R, R, R]),
    ("uffd_copy_enomem", [R, R, R, R, R, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// Hash collisions (`fault_mutex_slots: 1`): both pages share one fault mutex. No path holds
/// two fault mutexes at once, so sharing one only adds waiting (no deadlock), and the race
/// needs only the hole page: the same verdicts as the default.
const COLLISION: Table = DEFAULT;

/// Three mappers x 1 touch, UFFD_FEATURE_SIGBUS, no hole reuse. With SIGBUS there is no
/// `UFFDIO_COPY`, so never an EEXIST; everything else as in the default.
const THREE_MAPPERS: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, H, V, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, V, H, H, H]),
    ("punch_returns", [H, H, H, H, H, V, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_eexist", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_enomem", [U, U, U, U, U, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// No userfaultfd: a touch of the hole after the punch allocates a fresh page, so
/// `hole_touch_caught` is violated in every variant (nothing is there to catch it), and
/// there are no MISSING events or copies. The leak itself is still 4.4's alone.
const NO_UFFD: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, V, V, V, V, V, V, V, V]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, V, H, H, H]),
    ("punch_returns", [H, H, H, H, H, V, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_eexist", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_enomem", [U, U, U, U, U, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// Well-behaved mappers: 3 pages, hole [1, 2), touches only outside the hole (pages 0 and
/// 2). Nobody touches the hole, so there is no race and nothing to leak or catch. Page 2 is
/// one past the hole: the marker's `idx <= end` off-by-one makes a fault on it wait too.
/// A fault on page 0 or 2 still holds its vma_lock while `hugetlb_vmdelete_list` trylocks it.
const OUTSIDE_HOLE: Table = [
    ("hole_freed_on_return", [H, H, H, H, H, H, H, H, H]),
    ("hole_touch_caught", [H, H, H, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, H, H, H, H]),
    ("punch_returns", [H, H, H, H, H, H, H, H, H]),
    ("race_window_fault", [U, U, U, U, U, U, U, U, U]),
    ("hole_touch_missing", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_eexist", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_enomem", [U, U, U, U, U, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// A two-page hole: 3 pages, hole [0, 2), one mapper x 2 touches, uffd COPY, hole reuse.
/// Before 5.13 `UFFDIO_COPY` allocates before it learns the page is back: EEXIST needs a free
/// page while the page is cached (the reuse `fallocate` has refilled page 0 but not yet page
/// 1), ENOMEM the pool used up (both refilled). With one mapper nobody else can find the
/// page the 2015 race leaves behind, but the mapper's own second touch does.
const MULTI_PAGE_HOLE: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, H, V, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, H, H, H, H]),
    ("punch_returns", [H, H, H, H, H, H, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_eexist", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_enomem", [R, R, R, R, R, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// The default configuration with one migrator: `move_pages(2)` of the hole page in mapper 0
/// (`unmap_and_move_huge_page`), and a pool one page larger (the migration target).
///
/// - 7b7387650dcf's race: where the removal loop checks `page_mapped`/`folio_mapped` before
///   it takes the page lock (v4_5, hole_marker_fixed, v5_7, v5_10_unlocked, v6_1), it reads
///   false while mapper 0's PTE is a migration entry, skips the unmap, waits for the page
///   lock, and deletes the page that `remove_migration_ptes` has mapped again: the BUG
///   ("still mapped when deleted"), a PTE of a freed page, and a pool page counted twice.
///   v5_10 and v6_17 lock first and unmap it; v4_4 and hole_marker check under the lock
///   and skip the page (their 2015 leak).
/// - The window (the removal at a page whose PTE is a migration entry) is reached everywhere.
/// - The spare page lets `UFFDIO_COPY` before 5.13 allocate while the page is cached: EEXIST.
const MIGRATOR: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, H, V, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, V, H, V, V, H, V, V, H]),
    ("accounting", [H, V, H, V, V, H, V, V, H]),
    ("no_bug_on", [H, V, H, V, V, H, V, V, H]),
    ("no_deadlock", [H, H, H, H, H, V, H, H, H]),
    ("punch_returns", [H, H, H, H, H, V, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_eexist", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_enomem", [R, R, R, R, R, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [R, R, R, R, R, R, R, R, R]),
];

/// A pool too small for the file: 2 pages, hole [0, 1), 1 mapper x 1 touch, a pool of 1 page.
/// The preallocation stops at ENOSPC and the mapper's `mmap` fails with ENOMEM
/// (`hugetlb_reserve_pages`: the unallocated index needs a reservation, and no page is free),
/// so nothing is mapped, touched or raced; the punch frees the page the file has.
const POOL_SHORT: Table = [
    ("hole_freed_on_return", [H, H, H, H, H, H, H, H, H]),
    ("hole_touch_caught", [H, H, H, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, H, H, H, H]),
    ("punch_returns", [H, H, H, H, H, H, H, H, H]),
    ("race_window_fault", [U, U, U, U, U, U, U, U, U]),
    ("hole_touch_missing", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_eexist", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_enomem", [U, U, U, U, U, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, U, U, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, U, U]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// The pool runs dry, no userfaultfd: 3 pages, hole [0, 3), 1 mapper x 2 touches, no hole
/// reuse, one migrator and no spare page for it (a pool of 3). The migrator gets a target only
/// once the removal has freed page 0 and the mapper has faulted it in again; holding the last
/// free page, it makes the mapper's fault on another hole page fail `alloc_huge_page`
/// (SIGBUS), and where an `mmap` after the removal reserved an index, the free page is promised
/// to it. No migration can start before the removal reaches page 0: no 2025 race.
/// Without userfaultfd every touch of the hole after the punch goes uncaught.
const POOL_DRY_SIGBUS: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, V, V, V, V, V, V, V, V]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, H, H, H, H]),
    ("punch_returns", [H, H, H, H, H, H, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_eexist", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_enomem", [U, U, U, U, U, U, U, U, U]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

/// The pool runs dry under `UFFDIO_COPY`: 2 pages, hole [0, 2), 1 mapper x 2 touches, no
/// hole reuse, one migrator and a pool of 2. As in [`POOL_DRY_SIGBUS`], the migrator holds
/// the last free page while the handler copies into the other hole page: `alloc_huge_page`
/// fails and the copy returns ENOMEM in every variant, 5.13's check-first included.
const POOL_DRY_COPY: Table = [
    ("hole_freed_on_return", [V, H, V, H, H, H, H, H, H]),
    ("hole_touch_caught", [V, H, V, H, H, H, H, H, H]),
    ("no_stale_mapping", [H, H, H, H, H, H, H, H, H]),
    ("accounting", [H, H, H, H, H, H, H, H, H]),
    ("no_bug_on", [H, H, H, H, H, H, H, H, H]),
    ("no_deadlock", [H, H, H, H, H, H, H, H, H]),
    ("punch_returns", [H, H, H, H, H, H, H, H, H]),
    ("race_window_fault", [R, R, R, R, R, R, R, R, R]),
    ("hole_touch_missing", [R, R, R, R, R, R, R, R, R]),
    ("uffd_copy_eexist", [U, U, U, U, U, U, U, U, U]),
    ("uffd_copy_enomem", [R, R, R, R, R, R, R, R, R]),
    ("fault_waits_on_marker", [U, U, R, R, U, U, U, U, U]),
    ("vmdelete_skips_vma", [U, U, U, U, U, U, U, R, R]),
    ("punch_frees_hole", [R, R, R, R, R, R, R, R, R]),
    ("migration_race_window", [U, U, U, U, U, U, U, U, U]),
];

// ---------------------------------------------------------------------------------------------
// The configurations and their pinned unique state counts, per variant (`Variant::ALL` order).
// ---------------------------------------------------------------------------------------------

fn default_cfg(v: Variant) -> ModelCfg {
    ModelCfg::for_variant(v)
}
const DEFAULT_BFS: [Option<usize>; Variant::COUNT] = [
    Some(38_311),
    Some(39_471),
    Some(81_223),
    Some(84_671),
    Some(57_223),
    Some(75_555),
    Some(75_539),
    Some(81_463),
    Some(81_495),
];
const DEFAULT_DFS_SYM: [usize; Variant::COUNT] = [
    19_176, 19_756, 40_632, 42_356, 28_632, 37_798, 37_790, 40_752, 40_768,
];

const COLLISION_BFS: [Option<usize>; Variant::COUNT] = [
    Some(37_627),
    Some(38_781),
    Some(80_083),
    Some(83_515),
    Some(56_533),
    Some(74_769),
    Some(74_753),
    Some(76_461),
    Some(76_493),
];
const COLLISION_DFS_SYM: [usize; Variant::COUNT] = [
    18_834, 19_411, 40_062, 41_778, 28_287, 37_405, 37_397, 38_251, 38_267,
];

/// Breadth-first search of three mappers takes 3-11 s a variant (0.5 to 1.2 million states):
/// only the two 2015 variants run it, to check that symmetry reduction keeps their verdicts.
const THREE_MAPPERS_BFS: [Option<usize>; Variant::COUNT] = [
    Some(503_129),
    Some(499_433),
    None,
    None,
    None,
    None,
    None,
    None,
    None,
];
const THREE_MAPPERS_DFS_SYM: [usize; Variant::COUNT] = [
    84_197, 83_584, 186_371, 195_819, 129_676, 130_084, 129_676, 161_864, 162_632,
];

const NO_UFFD_BFS: [Option<usize>; Variant::COUNT] = [
    Some(12_529),
    Some(12_635),
    Some(24_121),
    Some(24_857),
    Some(17_299),
    Some(17_315),
    Some(17_299),
    Some(21_413),
    Some(21_445),
];
const NO_UFFD_DFS_SYM: [usize; Variant::COUNT] = [
    6_285, 6_338, 12_081, 12_449, 8_670, 8_678, 8_670, 10_727, 10_743,
];

const OUTSIDE_HOLE_BFS: [Option<usize>; Variant::COUNT] = [
    Some(11_710),
    Some(11_074),
    Some(19_488),
    Some(19_488),
    Some(15_294),
    Some(15_294),
    Some(15_294),
    Some(18_922),
    Some(18_922),
];
const OUTSIDE_HOLE_DFS_SYM: [usize; Variant::COUNT] = [
    5_876, 5_558, 9_765, 9_765, 7_668, 7_668, 7_668, 9_482, 9_482,
];

const MULTI_PAGE_HOLE_BFS: [Option<usize>; Variant::COUNT] = [
    Some(6_420),
    Some(6_629),
    Some(9_969),
    Some(9_970),
    Some(8_311),
    Some(8_783),
    Some(8_756),
    Some(10_876),
    Some(10_940),
];
const MULTI_PAGE_HOLE_DFS_SYM: [usize; Variant::COUNT] = [
    6_420, 6_629, 9_969, 9_970, 8_311, 8_783, 8_756, 10_876, 10_940,
];

/// Breadth-first search of the migrator configuration takes 3-11 s a variant (0.4 to 0.9
/// million states): only 6.1 and its fix run it. A migrator acts on mapper 0, so there is no
/// symmetry reduction: depth-first search visits every state.
const MIGRATOR_BFS: [Option<usize>; Variant::COUNT] = [
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    Some(629_787),
    Some(611_831),
];
const MIGRATOR_DFS_SYM: [usize; Variant::COUNT] = [
    369_091, 383_181, 848_745, 886_749, 527_905, 561_437, 565_635, 629_787, 611_831,
];

const POOL_SHORT_BFS: [Option<usize>; Variant::COUNT] = [Some(64); Variant::COUNT];
const POOL_SHORT_DFS_SYM: [usize; Variant::COUNT] = [64; Variant::COUNT];

/// A migrator acts on mapper 0, so there is no symmetry reduction: depth-first search visits
/// every state, and breadth-first search would only visit them again.
const POOL_DRY_SIGBUS_BFS: [Option<usize>; Variant::COUNT] = [None; Variant::COUNT];
const POOL_DRY_SIGBUS_DFS_SYM: [usize; Variant::COUNT] = [
    15_796, 14_682, 15_587, 14_261, 17_569, 17_976, 17_733, 19_942, 20_386,
];

const POOL_DRY_COPY_BFS: [Option<usize>; Variant::COUNT] = [None; Variant::COUNT];
const POOL_DRY_COPY_DFS_SYM: [usize; Variant::COUNT] = [
    11_370, 12_017, 14_211, 14_021, 14_987, 15_484, 15_367, 18_701, 18_966,
];

// ---------------------------------------------------------------------------------------------
// The machinery.
// ---------------------------------------------------------------------------------------------

/// A test-only `sometimes` property that a family must reach in every variant: an outcome
/// with no property of its own, read from the messages in flight (it adds no state).
struct Witness {
    sentence: &'static str,
    condition: fn(&HugeModel, &HugeState) -> bool,
}

/// `hugetlbfs_file_mmap` returns ENOMEM to a mapper.
const MMAP_ENOMEM: Witness = Witness {
    sentence: "mmap returns ENOMEM",
    condition: |_, s| {
        s.network
            .iter_all()
            .any(|e| matches!(e.msg, Msg::Return(Syscall::Mmap, Err(Errno::ENOMEM))))
    },
};

/// A fault raises SIGBUS. Without userfaultfd that is `hugetlb_no_page`'s
/// `alloc_huge_page` failing: `VM_FAULT_SIGBUS`.
const FAULT_SIGBUS: Witness = Witness {
    sentence: "a fault raises SIGBUS",
    condition: |_, s| {
        s.network
            .iter_all()
            .any(|e| matches!(e.msg, Msg::Sigbus { .. }))
    },
};

/// The model of a configuration with the witnesses as extra `sometimes` properties.
fn model_with(cfg: &ModelCfg, witnesses: &[Witness]) -> HugeModel {
    witnesses.iter().fold(cfg.clone().into_model(), |m, w| {
        m.property(Expectation::Sometimes, w.sentence, w.condition)
    })
}

/// Every witness is reached, and its discovery ends in a state that shows it.
fn witnessed(
    c: &impl Checker<HugeModel>,
    witnesses: &[Witness],
    errors: &mut Vec<String>,
    what: &str,
) {
    for w in witnesses {
        match c.discovery(w.sentence) {
            Some(path) if (w.condition)(c.model(), path.last_state()) => {}
            Some(_) => errors.push(format!(
                "{what}: the discovery of '{}' does not show it",
                w.sentence
            )),
            None => errors.push(format!("{what}: '{}' is unreachable", w.sentence)),
        }
    }
}

/// The verdict column of one variant.
fn column(table: &Table, v: Variant) -> Vec<(&'static str, Verdict)> {
    let i = Variant::ALL.iter().position(|&x| x == v).unwrap();
    table.iter().map(|(id, row)| (*id, row[i])).collect()
}

/// Each property's verdict after an exhaustive search, and every discovery checked to be
/// what it claims: an always property's counterexample ends in a state that violates it, an
/// eventually property's never satisfies it, a sometimes property's witness ends in a state
/// that satisfies it.
fn verdicts(
    c: &impl Checker<HugeModel>,
    errors: &mut Vec<String>,
    what: &str,
) -> Vec<(&'static str, Verdict)> {
    assert!(c.is_done(), "{what}: the search did not finish");
    let model = c.model();
    PROPERTIES
        .iter()
        .map(|p| {
            let found = c.discovery(p.sentence);
            if let Some(path) = &found {
                let ok = match p.expectation {
                    Expectation::Always => !p.holds(model, path.last_state()),
                    Expectation::Sometimes => p.holds(model, path.last_state()),
                    Expectation::Eventually => path
                        .clone()
                        .into_states()
                        .iter()
                        .all(|s| !p.holds(model, s)),
                };
                if !ok {
                    errors.push(format!(
                        "{what}: the discovery of {} does not show it",
                        p.id
                    ));
                }
            }
            (p.id, Verdict::of(&p.expectation, found.is_some()))
        })
        .collect()
}

fn diff(what: &str, got: &[(&str, Verdict)], want: &[(&str, Verdict)], errors: &mut Vec<String>) {
    assert_eq!(got.len(), want.len());
    for ((id, g), (wid, w)) in got.iter().zip(want) {
        assert_eq!(id, wid, "{what}: property order");
        if g != w {
            errors.push(format!("{what}: {id} is {}, not {}", g.name(), w.name()));
        }
    }
}

fn factorial(n: usize) -> usize {
    (1..=n).product()
}

/// Checks one family of configurations in every variant: the literal table against
/// `verdict::expected`, against breadth-first search (where `bfs` gives a count) and against
/// depth-first search with symmetry reduction; pins both unique state counts.
fn check_family(
    name: &str,
    cfg_of: fn(Variant) -> ModelCfg,
    table: &Table,
    bfs: [Option<usize>; Variant::COUNT],
    dfs_sym: [usize; Variant::COUNT],
) {
    check_variants(name, &Variant::ALL, cfg_of, table, bfs, dfs_sym, &[]);
}

/// [`check_family`] for some of the variants only (the tables still have all six columns).
fn check_variants(
    name: &str,
    variants: &[Variant],
    cfg_of: fn(Variant) -> ModelCfg,
    table: &Table,
    bfs: [Option<usize>; Variant::COUNT],
    dfs_sym: [usize; Variant::COUNT],
    witnesses: &[Witness],
) {
    let ids: Vec<_> = PROPERTIES.iter().map(|p| p.id).collect();
    let table_ids: Vec<_> = table.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        table_ids, ids,
        "{name}: the table's rows are the properties, in order"
    );

    let mut errors = Vec::new();
    for (i, v) in Variant::ALL.into_iter().enumerate() {
        if !variants.contains(&v) {
            continue;
        }
        let cfg = cfg_of(v);
        cfg.validate().unwrap_or_else(|e| panic!("{name}/{v}: {e}"));
        let want = column(table, v);

        // The rules agree with the table.
        let what = format!("{name}/{v} verdict::expected");
        diff(&what, &verdict::expected(&cfg), &want, &mut errors);

        // Breadth-first search, no symmetry: every state.
        let mut bfs_unique = None;
        let mut bfs_verdicts = None;
        if let Some(pinned) = bfs[i] {
            let what = format!("{name}/{v} bfs");
            let c = model_with(&cfg, witnesses).checker().spawn_bfs().join();
            let got = verdicts(&c, &mut errors, &what);
            witnessed(&c, witnesses, &mut errors, &what);
            diff(&what, &got, &want, &mut errors);
            if c.unique_state_count() != pinned {
                errors.push(format!(
                    "{what}: {} unique states (pinned: {pinned})",
                    c.unique_state_count()
                ));
            }
            bfs_unique = Some(c.unique_state_count());
            bfs_verdicts = Some(got);
        }

        // Depth-first search with symmetry reduction over mappers.
        let what = format!("{name}/{v} dfs+symmetry");
        let c = model_with(&cfg, witnesses)
            .checker()
            .symmetry_fn(spec::symmetry::representative)
            .spawn_dfs()
            .join();
        let got = verdicts(&c, &mut errors, &what);
        witnessed(&c, witnesses, &mut errors, &what);
        diff(&what, &got, &want, &mut errors);
        if let Some(b) = &bfs_verdicts {
            diff(&format!("{what} against bfs"), &got, b, &mut errors);
        }
        let sym = c.unique_state_count();
        if sym != dfs_sym[i] {
            errors.push(format!(
                "{what}: {sym} unique states (pinned: {})",
                dfs_sym[i]
            ));
        }

        // Renaming mappers maps a class of at most `mappers!` states to one representative;
        // with two or more mappers, some states are renamings of others. A migrator acts on
        // mapper 0, so then there is no renaming: every state is its own representative.
        if let Some(all) = bfs_unique {
            let k = if cfg.migrators > 0 {
                1
            } else {
                factorial(cfg.mappers as usize)
            };
            if !(all.div_ceil(k) <= sym && (sym < all || k == 1)) {
                errors.push(format!(
                    "{what}: {sym} representatives of {all} states is not a reduction by at most {k}"
                ));
            }
        }
    }
    assert!(errors.is_empty(), "{name}:\n  {}", errors.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn default_config() {
    check_family(
        "default",
        default_cfg,
        &DEFAULT,
        DEFAULT_BFS,
        DEFAULT_DFS_SYM,
    );
}

#[test]
fn hash_collision_config() {
    check_family(
        "collision",
        pinned::collision,
        &COLLISION,
        COLLISION_BFS,
        COLLISION_DFS_SYM,
    );
}

/// Three mappers, in two tests so they run in parallel: the 2015 variants (which also run
/// breadth-first), then the others.
#[test]
fn three_mappers_config_2015() {
    check_variants(
        "three mappers",
        &[Variant::V4_4, Variant::V4_5],
        pinned::three_mappers,
        &THREE_MAPPERS,
        THREE_MAPPERS_BFS,
        THREE_MAPPERS_DFS_SYM,
        &[],
    );
}

#[test]
fn three_mappers_config_later() {
    check_variants(
        "three mappers",
        &[
            Variant::HoleMarker,
            Variant::HoleMarkerFixed,
            Variant::V5_7,
            Variant::V5_10,
            Variant::V5_10Unlocked,
            Variant::V6_1,
            Variant::V6_17,
        ],
        pinned::three_mappers,
        &THREE_MAPPERS,
        THREE_MAPPERS_BFS,
        THREE_MAPPERS_DFS_SYM,
        &[],
    );
}

#[test]
fn no_uffd_config() {
    check_family(
        "no uffd",
        pinned::no_uffd,
        &NO_UFFD,
        NO_UFFD_BFS,
        NO_UFFD_DFS_SYM,
    );
}

#[test]
fn outside_hole_config() {
    check_family(
        "outside hole",
        pinned::outside_hole,
        &OUTSIDE_HOLE,
        OUTSIDE_HOLE_BFS,
        OUTSIDE_HOLE_DFS_SYM,
    );
}

#[test]
fn multi_page_hole_config() {
    check_family(
        "multi-page hole",
        pinned::multi_page_hole,
        &MULTI_PAGE_HOLE,
        MULTI_PAGE_HOLE_BFS,
        MULTI_PAGE_HOLE_DFS_SYM,
    );
}

#[test]
fn migrator_config() {
    check_family(
        "migrator",
        pinned::migrator,
        &MIGRATOR,
        MIGRATOR_BFS,
        MIGRATOR_DFS_SYM,
    );
}

/// mmap ENOMEM: the pool cannot hold the file.
#[test]
fn pool_short_config() {
    check_variants(
        "pool short",
        &Variant::ALL,
        pinned::pool_short,
        &POOL_SHORT,
        POOL_SHORT_BFS,
        POOL_SHORT_DFS_SYM,
        &[MMAP_ENOMEM],
    );
}

/// Fault SIGBUS: the migration target takes the last free page.
#[test]
fn pool_dry_sigbus_config() {
    check_variants(
        "pool dry, sigbus",
        &Variant::ALL,
        pinned::pool_dry_sigbus,
        &POOL_DRY_SIGBUS,
        POOL_DRY_SIGBUS_BFS,
        POOL_DRY_SIGBUS_DFS_SYM,
        &[FAULT_SIGBUS],
    );
}

/// UFFDIO_COPY ENOMEM in every variant: the migration target takes the last free page.
#[test]
fn pool_dry_copy_config() {
    check_family(
        "pool dry, copy",
        pinned::pool_dry_copy,
        &POOL_DRY_COPY,
        POOL_DRY_COPY_BFS,
        POOL_DRY_COPY_DFS_SYM,
    );
}

/// Depth-first search without symmetry reduction visits exactly the states breadth-first
/// search does: the pinned count is the model's, not the search order's.
#[test]
fn dfs_without_symmetry_visits_every_bfs_state() {
    for (i, v) in Variant::ALL.into_iter().enumerate() {
        let c = default_cfg(v).into_model().checker().spawn_dfs().join();
        assert_eq!(
            Some(c.unique_state_count()),
            DEFAULT_BFS[i],
            "{v}: plain dfs unique states"
        );
    }
}

/// The model checks exactly the properties of `PROPERTIES`, in order, with their
/// expectations, and the ids are distinct.
#[test]
fn model_properties_are_the_property_table() {
    let model = ModelCfg::default().into_model();
    let props = model.properties();
    assert_eq!(props.len(), PROPERTIES.len());
    for (mp, p) in props.iter().zip(&PROPERTIES) {
        assert_eq!(mp.name, p.sentence);
        assert_eq!(mp.expectation, p.expectation, "{}", p.id);
    }
    let mut ids: Vec<_> = PROPERTIES.iter().map(|p| p.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), PROPERTIES.len(), "property ids are distinct");
    // The kinds, independently of the code: 6 safety properties, 1 liveness, 8 witnesses.
    let count = |e: Expectation| PROPERTIES.iter().filter(|p| p.expectation == e).count();
    assert_eq!(count(Expectation::Always), 6);
    assert_eq!(count(Expectation::Eventually), 1);
    assert_eq!(count(Expectation::Sometimes), 8);
}
