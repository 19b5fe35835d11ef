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

/// The families that search both ways (full and reduced, actor layer and engine) in about a
/// second each: the default, one fault-mutex slot, no userfaultfd, touches outside the hole,
/// a 2-page hole touched twice, one migrator, and the three pool configurations above.
pub fn small_families(v: Variant) -> Vec<ModelCfg> {
    let d = ModelCfg::for_variant(v);
    vec![
        d.clone(),
        ModelCfg {
            fault_mutex_slots: 1,
            ..d.clone()
        },
        ModelCfg {
            uffd: UffdPolicy::None,
            ..d.clone()
        },
        ModelCfg {
            pages: 3,
            hole_start: 1,
            hole_end: 2,
            touch_area: TouchArea::OutsideHole,
            ..d.clone()
        },
        ModelCfg {
            pages: 3,
            hole_start: 0,
            hole_end: 2,
            mappers: 1,
            touches: 2,
            ..d.clone()
        },
        ModelCfg { migrators: 1, ..d },
        pool_dry_sigbus(v),
        pool_dry_copy(v),
        pool_short(v),
    ]
}
