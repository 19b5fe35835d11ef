//! Shortest counterexamples and witnesses.
//!
//! Stateright 0.31's breadth-first checker keeps the *last* path it sees to a state that
//! violates (or satisfies) a property, not the first: it overwrites the discovery on every
//! later hit, so its counterexamples are not the shortest. This search stops at the first hit
//! of each property, in breadth-first order with one thread, so every path is a shortest one
//! and the same on every run.

use crate::run::{Action, Discovery};
use spec::engine::Engine;
use spec::properties::{Checked, HugeModel, Prop, PROPERTIES};
use spec::ModelCfg;
use stateright::{Expectation, Model, Path};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};

/// A state's fingerprint: a stable hash (`DefaultHasher` with fixed keys).
fn fingerprint<S: Hash>(s: &S) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(s)
}

/// Whether a state is where `p`'s discovery ends: it violates an always property, satisfies
/// a sometimes property, or is terminal without an eventually property (the model's
/// eventually conditions are monotone ghost flags, so not holding at the end means never).
fn hit<M: Checked>(model: &M, p: &Prop, s: &M::State, terminal: bool) -> bool {
    match p.expectation {
        Expectation::Always => !p.holds(model, s),
        Expectation::Sometimes => p.holds(model, s),
        Expectation::Eventually => terminal && !p.holds(model, s),
    }
}

/// The shortest discovery of every property that has one in configuration `cfg`, by property
/// id: searched with the engine, shown as paths of the actor model (the same actions).
pub fn discoveries_of(cfg: &ModelCfg) -> BTreeMap<&'static str, Discovery> {
    let engine = Engine::new(cfg);
    let actor = engine.actor_model();
    discoveries(&engine)
        .into_iter()
        .map(|(id, path)| (id, engine.path_to_actor(&actor, path)))
        .collect()
}

/// The shortest discovery of every property that has one, by property id.
#[allow(clippy::type_complexity)]
pub fn discoveries<M>(model: &M) -> BTreeMap<&'static str, Path<M::State, M::Action>>
where
    M: Checked,
    M::State: Hash + Clone + PartialEq,
    M::Action: Clone + PartialEq,
{
    let mut parents: HashMap<u64, Option<(u64, M::Action)>> = HashMap::new();
    let mut found: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut queue = VecDeque::new();
    for s in model.init_states() {
        if let Entry::Vacant(e) = parents.entry(fingerprint(&s)) {
            e.insert(None);
            queue.push_back(s);
        }
    }
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        if found.len() == PROPERTIES.len() {
            break;
        }
        let fp = fingerprint(&s);
        model.actions(&s, &mut actions);
        let mut terminal = true;
        for a in actions.drain(..) {
            let Some(next) = model.next_state(&s, a.clone()) else {
                continue;
            };
            terminal = false;
            if let Entry::Vacant(e) = parents.entry(fingerprint(&next)) {
                e.insert(Some((fp, a)));
                queue.push_back(next);
            }
        }
        for p in &PROPERTIES {
            if !found.contains_key(p.id) && hit(model, p, &s, terminal) {
                found.insert(p.id, fp);
            }
        }
    }
    let init = model.init_states().remove(0);
    found
        .into_iter()
        .map(|(id, fp)| {
            let mut path = Vec::new();
            let mut at = fp;
            while let Some(Some((parent, a))) = parents.get(&at) {
                path.push(a.clone());
                at = *parent;
            }
            path.reverse();
            let path =
                Path::from_actions(model, init.clone(), &path).expect("a path the search took");
            (id, path)
        })
        .collect()
}

/// Extends a discovery until the system calls and touches already in the kernel have
/// finished: kernel steps, returns, touch results and MISSING events are delivered (the first
/// enabled one, in Stateright's action order), but nothing new starts (no syscall enters the
/// kernel, no touch is chosen). A replay can then compare the host with the model at a point
/// where nothing is half done, except faults asleep in `handle_userfault` whose event the
/// handler has read.
pub fn complete_in_flight(model: &HugeModel, path: Discovery) -> Discovery {
    use spec::msg::Msg;
    use stateright::actor::ActorModelAction::Deliver;
    let mut steps = path.into_vec();
    loop {
        let (last, _) = steps.last().expect("a path has a state");
        let mut actions = Vec::new();
        model.actions(last, &mut actions);
        let next = actions.into_iter().find_map(|a| {
            let finishing = matches!(
                &a,
                Deliver {
                    msg: Msg::Step(..)
                        | Msg::Return(..)
                        | Msg::Touched { .. }
                        | Msg::Sigbus { .. }
                        | Msg::UffdMissing { .. },
                    ..
                }
            );
            finishing
                .then(|| model.next_state(last, a.clone()).map(|s| (a, s)))
                .flatten()
        });
        let Some((a, s)) = next else { break };
        steps.last_mut().expect("a path has a state").1 = Some(a);
        steps.push((s, None));
    }
    let init = steps[0].0.clone();
    let actions: Vec<Action> = steps.iter().filter_map(|(_, a)| a.clone()).collect();
    Path::from_actions(model, init, &actions).expect("a path the model took")
}
