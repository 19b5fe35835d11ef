//! `checker::dfs` against Stateright's own depth-first search: on every variant and every
//! configuration family, with and without symmetry and partial-order reduction, both count the
//! same states and unique states and find discoveries for the same properties; each of ours is
//! a path of the model that ends where its property says (an `always` property false, a
//! `sometimes` one true). Ours runs on two threads, so its work sharing is exercised too.

use spec::engine::{Engine, Sys};
use spec::{pinned, ModelCfg, Variant};
use stateright::{Checker, Expectation, Model};
use std::collections::BTreeSet;

/// What a search found: states, unique states, the properties with a discovery.
type Found = (usize, usize, BTreeSet<&'static str>);

fn symmetry(cfg: &ModelCfg, on: bool) -> Option<fn(&Sys) -> Sys> {
    spec::symmetry::reduction(cfg).filter(|_| on)
}

fn stateright(cfg: &ModelCfg, por: bool, sym: bool) -> Found {
    let m = if por {
        Engine::reduced(cfg)
    } else {
        Engine::new(cfg)
    };
    let b = m.checker();
    let b = match symmetry(cfg, sym) {
        Some(r) => b.symmetry_fn(r),
        None => b,
    };
    let c = b.spawn_dfs().join();
    let found = c.discoveries().into_keys().collect();
    (c.state_count(), c.unique_state_count(), found)
}

fn ours(cfg: &ModelCfg, por: bool, sym: bool) -> Found {
    let m = if por {
        Engine::reduced(cfg)
    } else {
        Engine::new(cfg)
    };
    let c = checker::dfs::spawn(m, 2, symmetry(cfg, sym), None).join();
    let discoveries = c.discoveries();
    for p in c.model().properties() {
        let Some(path) = discoveries.get(p.name) else {
            continue;
        };
        let last = path.last_state();
        match p.expectation {
            Expectation::Always => assert!(!(p.condition)(c.model(), last), "{cfg}: {}", p.name),
            Expectation::Sometimes => assert!((p.condition)(c.model(), last), "{cfg}: {}", p.name),
            Expectation::Eventually => {}
        }
    }
    let found = discoveries.into_keys().collect();
    (c.state_count(), c.unique_state_count(), found)
}

fn same(v: Variant) {
    let mut errors = Vec::new();
    let mut families = pinned::small_families(v);
    families.push(pinned::three_mappers(v));
    for cfg in &families {
        for (por, sym) in [(false, false), (false, true), (true, true)] {
            let (want, got) = (stateright(cfg, por, sym), ours(cfg, por, sym));
            if want != got {
                errors.push(format!(
                    "{cfg} (por {por}, symmetry {sym}): Stateright {want:?}, ours {got:?}"
                ));
            }
        }
    }
    assert!(errors.is_empty(), "{v}:\n{}", errors.join("\n"));
}

spec::per_variant_tests!(same);

/// A bound stops the search where Stateright's would: at the first block past it.
#[test]
fn a_state_bound_stops_the_search() {
    let cfg = pinned::three_mappers(Variant::V4_5);
    let c = checker::dfs::spawn(Engine::new(&cfg), 1, None, Some(10_000)).join();
    assert!(c.is_done());
    assert!(c.state_count() >= 10_000, "{}", c.state_count());
    let full = checker::dfs::spawn(Engine::new(&cfg), 1, None, None).join();
    assert!(
        c.state_count() < full.state_count() / 2,
        "{}",
        c.state_count()
    );
}
