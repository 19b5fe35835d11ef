//! Issue 10's deep configuration, every variant at three mappers x two touches
//! ([`pinned::three_by_two`]), searched as `hugepunch check --mappers 3 --touches 2 --dfs --por
//! --threads 2` does it (depth-first, symmetry over mappers, partial-order reduction, two
//! threads, `checker::dfs`): every verdict is the one the configuration's expected table
//! gives, and the unique states are pinned. The reduction's soundness is
//! `spec/tests/por.rs`'s, the search's `checker/tests/dfs.rs`'s; this pins what they find
//! where nothing else can search. About 2 minutes of two cores in all (release).

use spec::engine::Engine;
use spec::pinned;
use spec::verdict::{expected, Verdict};
use spec::{Variant, PROPERTIES};
use stateright::Checker;

/// Unique states per variant, in [`Variant::ALL`] order.
const UNIQUE: [usize; Variant::COUNT] = [
    2_420_925, 3_688_869, 7_730_917, 11_497_099, 4_915_384, 6_679_371, 6_673_386, 12_114_804,
    12_131_788,
];

fn deep(v: Variant) {
    let cfg = pinned::three_by_two(v);
    let symmetry = Some(spec::symmetry::representative_sys as _);
    let c = checker::dfs::spawn(Engine::reduced(&cfg), 2, symmetry, None).join();
    let got: Vec<(&str, Verdict)> = PROPERTIES
        .iter()
        .map(|p| {
            (
                p.id,
                Verdict::of(&p.expectation, c.discovery(p.sentence).is_some()),
            )
        })
        .collect();
    assert_eq!(got, expected(&cfg), "{cfg}: verdicts");
    let i = Variant::ALL.iter().position(|x| *x == v).unwrap();
    assert_eq!(c.unique_state_count(), UNIQUE[i], "{cfg}: unique states");
}

spec::per_variant_tests!(deep);
