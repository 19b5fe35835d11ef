//! Random small configurations: every variant, 1 to 3 pages, any hole, 1 or 2 mappers,
//! 0 to 2 touches, reads or writes, every userfaultfd policy, 1 to 3 fault mutex slots, hole
//! reuse on or off, touches anywhere or outside the hole, a migrator (with one mapper), a pool
//! one page short of the file's and the migrator's.
//!
//! - An exhaustive search never panics (no model assertion fires: lock ownership, step order,
//!   accounting underflow), and the safety properties every variant must keep hold.
//! - The model's verdicts are the ones `spec::verdict::expected` gives for the configuration.
//!
//! The state space is bounded so each case checks in well under a second: one mapper with
//! up to two touches on up to three pages, or two mappers with one touch on up to two pages
//! (two mappers with two touches, or on three pages, take up to 30 s a configuration).
//! `PROPTEST_CASES` overrides the number of cases.

use proptest::prelude::*;
use proptest::sample::select;
use spec::verdict::{self, Verdict};
use spec::{ModelCfg, TouchArea, UffdPolicy, Variant, PROPERTIES};
use stateright::{Checker, Model};

/// The properties that hold in every variant and every configuration.
const ALWAYS_SAFE: [&str; 5] = [
    "accounting",
    "no_stale_mapping",
    "no_bug_on",
    "no_deadlock",
    "punch_returns",
];

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A valid configuration whose state space is small enough to search exhaustively.
fn small_cfg() -> impl Strategy<Value = ModelCfg> {
    let hole = (1u8..=3)
        .prop_flat_map(|pages| (Just(pages), 0..pages))
        .prop_flat_map(|(pages, start)| (Just(pages), Just(start), start + 1..=pages));
    let who = prop_oneof![
        3 => (Just(1u8), 0u8..=2),
        1 => (Just(2u8), 0u8..=1),
    ];
    (
        select(Variant::ALL.to_vec()),
        hole,
        who,
        any::<bool>(),
        select(vec![UffdPolicy::None, UffdPolicy::Sigbus, UffdPolicy::Copy]),
        1u8..=3,
        any::<bool>(),
        select(vec![TouchArea::Anywhere, TouchArea::OutsideHole]),
        0u8..=1,
        any::<bool>(),
    )
        .prop_map(
            |(
                variant,
                (pages, hole_start, hole_end),
                (mappers, touches),
                writes,
                uffd,
                slots,
                hole_reuse,
                touch_area,
                migrators,
                short_pool,
            )| {
                ModelCfg {
                    variant,
                    pages,
                    hole_start,
                    hole_end,
                    mappers,
                    touches,
                    touch_area,
                    writes,
                    uffd,
                    fault_mutex_slots: slots,
                    hole_reuse,
                    migrators,
                    // One page short: the file does not fit, or the migrator has no spare.
                    pool: (short_pool && pages + migrators > 1).then(|| pages + migrators - 1),
                    mutation: None,
                }
            },
        )
        .prop_filter("a configuration the model covers", |c| c.validate().is_ok())
        .prop_filter("a state space small enough", |c| {
            c.mappers * c.touches <= 2
                && (c.mappers == 1 || c.pages <= 2)
                && (c.migrators == 0 || c.mappers == 1)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    /// Breadth-first search, no symmetry reduction: every reachable state is visited (a
    /// panic anywhere in the model fails the case), and the safety properties hold, except
    /// the deadlock `verdict::expected` predicts (5.10.262).
    #[test]
    fn exhaustive_search_is_safe(cfg in small_cfg()) {
        let c = cfg.clone().into_model().checker().spawn_bfs().join();
        prop_assert!(c.is_done());
        prop_assert!(c.unique_state_count() > 1);
        let expected = spec::verdict::expected(&cfg);
        for id in ALWAYS_SAFE {
            let p = spec::properties::by_id(id).unwrap();
            let violated = expected.iter().any(|&(i, v)| i == id && v == Verdict::Violated);
            prop_assert_eq!(
                c.discovery(p.sentence).is_some(),
                violated,
                "{}: discovery against verdict::expected in {:?}: {:?}",
                id,
                cfg,
                c.discovery(p.sentence).map(|path| path.into_actions())
            );
        }
    }

    /// Depth-first search with symmetry reduction: every property's verdict is the one the
    /// rules of `verdict::expected` give.
    #[test]
    fn verdicts_are_the_expected_ones(cfg in small_cfg()) {
        let c = cfg
            .clone()
            .into_model()
            .checker()
            .symmetry_fn(spec::symmetry::representative)
            .spawn_dfs()
            .join();
        prop_assert!(c.is_done());
        let got: Vec<(&str, Verdict)> = PROPERTIES
            .iter()
            .map(|p| (p.id, Verdict::of(&p.expectation, c.discovery(p.sentence).is_some())))
            .collect();
        let want = verdict::expected(&cfg);
        prop_assert_eq!(got, want, "verdicts of {:?}", cfg);
    }
}
