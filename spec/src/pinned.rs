//! The configurations the tests pin, one definition each: the verdict tables, the mutants that
//! must be caught, and the equivalence tests of the engine and `--por` all read these, so a
//! table and a comparison of two models are about the same configuration.

use crate::{ModelCfg, TouchArea, UffdPolicy, Variant};

/// Pool short: a pool of 1 page for a file of 2 (`hugetlbfs_file_mmap` fails with ENOMEM).
pub fn pool_short(v: Variant) -> ModelCfg {
    ModelCfg {
        mappers: 1,
        pool: Some(1),
        ..ModelCfg::for_variant(v)
    }
}

/// Pool dry, SIGBUS: a 3-page hole, one mapper x 2 touches, no userfaultfd, a migrator whose
/// target takes the last free page (a fault then gets SIGBUS).
pub fn pool_dry_sigbus(v: Variant) -> ModelCfg {
    ModelCfg {
        pages: 3,
        hole_start: 0,
        hole_end: 3,
        mappers: 1,
        touches: 2,
        uffd: UffdPolicy::None,
        hole_reuse: false,
        migrators: 1,
        pool: Some(3),
        ..ModelCfg::for_variant(v)
    }
}

/// Pool dry, COPY: a 2-page hole, one mapper x 2 touches, a migrator whose target takes the
/// last free page (UFFDIO_COPY then fails with ENOMEM).
pub fn pool_dry_copy(v: Variant) -> ModelCfg {
    ModelCfg {
        pages: 2,
        hole_start: 0,
        hole_end: 2,
        mappers: 1,
        touches: 2,
        hole_reuse: false,
        migrators: 1,
        pool: Some(2),
        ..ModelCfg::for_variant(v)
    }
}

/// Hash collisions: both pages share one fault mutex.
pub fn collision(v: Variant) -> ModelCfg {
    ModelCfg {
        fault_mutex_slots: 1,
        ..ModelCfg::for_variant(v)
    }
}

/// Three mappers x one touch, a fault on a hole gets SIGBUS.
pub fn three_mappers(v: Variant) -> ModelCfg {
    ModelCfg {
        mappers: 3,
        touches: 1,
        uffd: UffdPolicy::Sigbus,
        hole_reuse: false,
        ..ModelCfg::for_variant(v)
    }
}

/// No userfaultfd registered: a touch of the hole allocates a page.
pub fn no_uffd(v: Variant) -> ModelCfg {
    ModelCfg {
        uffd: UffdPolicy::None,
        ..ModelCfg::for_variant(v)
    }
}

/// Three pages, hole [1, 2), touches outside the hole.
pub fn outside_hole(v: Variant) -> ModelCfg {
    ModelCfg {
        pages: 3,
        hole_start: 1,
        hole_end: 2,
        touch_area: TouchArea::OutsideHole,
        ..ModelCfg::for_variant(v)
    }
}

/// Three pages, hole [0, 2), one mapper touching twice.
pub fn multi_page_hole(v: Variant) -> ModelCfg {
    ModelCfg {
        pages: 3,
        hole_start: 0,
        hole_end: 2,
        mappers: 1,
        touches: 2,
        ..ModelCfg::for_variant(v)
    }
}

/// The default configuration with one migrator (`move_pages` of the hole page in mapper 0).
pub fn migrator(v: Variant) -> ModelCfg {
    ModelCfg {
        migrators: 1,
        ..ModelCfg::for_variant(v)
    }
}

/// Issue 10's deep configuration: three mappers x two touches (2 pages, hole [0, 1), the
/// default otherwise). Exhausted only with partial-order reduction and symmetry
/// (`checker/tests/deep.rs`).
pub fn three_by_two(v: Variant) -> ModelCfg {
    ModelCfg {
        mappers: 3,
        touches: 2,
        ..ModelCfg::for_variant(v)
    }
}

/// The families that search both ways (full and reduced, actor layer and engine) in about a
/// second each: the default and every configuration above but three mappers.
pub fn small_families(v: Variant) -> Vec<ModelCfg> {
    vec![
        ModelCfg::for_variant(v),
        collision(v),
        no_uffd(v),
        outside_hole(v),
        multi_page_hole(v),
        migrator(v),
        pool_dry_sigbus(v),
        pool_dry_copy(v),
        pool_short(v),
    ]
}

/// One `#[test]` per variant, each calling `$check(variant)`, named after the variant (so
/// `cargo test v6_1` picks one and the harness runs them in parallel), and a test that the
/// list covers [`crate::Variant::ALL`].
#[macro_export]
macro_rules! per_variant_tests {
    ($check:path) => {
        $crate::per_variant_tests!(@each $check,
            v4_4: V4_4, v4_5: V4_5, hole_marker: HoleMarker, hole_marker_fixed: HoleMarkerFixed,
            v5_7: V5_7, v5_10: V5_10, v5_10_unlocked: V5_10Unlocked, v6_1: V6_1, v6_17: V6_17,
        );
    };
    (@each $check:path, $($name:ident: $v:ident,)*) => {
        $(
            #[test]
            fn $name() {
                $check($crate::Variant::$v);
            }
        )*

        #[test]
        fn every_variant_has_a_test() {
            assert_eq!([$($crate::Variant::$v),*], $crate::Variant::ALL);
        }
    };
}
