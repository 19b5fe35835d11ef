//! The engine ([`spec::engine::Engine`]) is the actor model ([`spec::HugeModel`]) at a lower
//! cost: for every variant and configuration family small enough to search both ways, both
//! searches (breadth-first; depth-first with symmetry reduction) count the same states and
//! unique states, reach the same depth, and find every property's discovery by the same
//! actions; and along every discovery each engine state is the actor model's state.

use spec::engine::{Engine, Sys};
use spec::pinned;
use spec::properties::{HugeModel, HugeState};
use spec::{ModelCfg, Variant, PROPERTIES};
use stateright::{Checker, Model};

/// Breadth-first (`sym: false`) or depth-first with symmetry reduction.
/// A symmetry function.
type Sym<M> = fn(&<M as Model>::State) -> <M as Model>::State;

fn search<M>(m: M, sym: Option<Sym<M>>) -> Box<dyn Checker<M>>
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + Eq + std::hash::Hash + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static,
{
    match sym {
        None => Box::new(m.checker().spawn_bfs().join()),
        Some(f) => Box::new(m.checker().symmetry_fn(f).spawn_dfs().join()),
    }
}

fn same(cfg: &ModelCfg, errors: &mut Vec<String>) {
    for dfs in [false, true] {
        let what = format!("{cfg} {}", if dfs { "dfs+symmetry" } else { "bfs" });
        let a = search::<HugeModel>(
            cfg.clone().into_model(),
            dfs.then_some(spec::symmetry::representative as fn(&HugeState) -> HugeState),
        );
        let e = search::<Engine>(
            Engine::new(cfg),
            dfs.then_some(spec::symmetry::representative_sys as fn(&Sys) -> Sys),
        );
        let counts = |c: &dyn Fn() -> (usize, usize, usize)| c();
        let ca = counts(&|| (a.state_count(), a.unique_state_count(), a.max_depth()));
        let ce = counts(&|| (e.state_count(), e.unique_state_count(), e.max_depth()));
        if ca != ce {
            errors.push(format!(
                "{what}: actor model {ca:?}, engine {ce:?} (states, unique, depth)"
            ));
        }
        let engine = e.model();
        let actor = engine.actor_model();
        for p in &PROPERTIES {
            let da = a.discovery(p.sentence).map(|p| p.into_actions());
            let de = e.discovery(p.sentence);
            if let Some(path) = &de {
                // Every state along the engine's path is the actor model's state.
                let states = path.clone().into_states();
                let astates = engine.path_to_actor(&actor, path.clone()).into_states();
                for (s, t) in states.iter().zip(&astates) {
                    if engine.to_actor(&actor, s) != *t {
                        errors.push(format!("{what}: {}: a state differs", p.id));
                        break;
                    }
                }
            }
            if da != de.map(|p| p.into_actions()) {
                errors.push(format!("{what}: {}: the discoveries differ", p.id));
            }
        }
    }
}

#[test]
fn engine_is_the_actor_model() {
    let mut errors = Vec::new();
    for v in Variant::ALL {
        for cfg in pinned::small_families(v) {
            same(&cfg, &mut errors);
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
