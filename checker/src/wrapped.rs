//! The spec's properties on a model that wraps a model of the spec (the Explorer's renaming
//! model, the `--max-seconds` stop switch). A Stateright property is a plain `fn` of the
//! wrapper, so each property gets a trampoline that passes the wrapped model on.

use spec::properties::Checked;
use spec::PROPERTIES;
use stateright::{Model, Property};

/// A model built around a model of the spec ([`spec::HugeModel`] or [`spec::engine::Engine`]),
/// whose properties are the spec's.
pub trait Wraps: Model {
    type Inner: Checked<State = Self::State>;
    fn wrapped(&self) -> &Self::Inner;
}

/// Property `I` of [`PROPERTIES`], on the wrapped model.
fn condition<W: Wraps, const I: usize>(m: &W, s: &W::State) -> bool {
    PROPERTIES[I].holds(m.wrapped(), s)
}

/// [`PROPERTIES`] as properties of the wrapper `W`, in order (the trampolines' count is
/// checked against `PROPERTIES` at compile time).
pub fn properties<W: Wraps>() -> Vec<Property<W>> {
    let conditions: [fn(&W, &W::State) -> bool; PROPERTIES.len()] = [
        condition::<W, 0>,
        condition::<W, 1>,
        condition::<W, 2>,
        condition::<W, 3>,
        condition::<W, 4>,
        condition::<W, 5>,
        condition::<W, 6>,
        condition::<W, 7>,
        condition::<W, 8>,
        condition::<W, 9>,
        condition::<W, 10>,
        condition::<W, 11>,
        condition::<W, 12>,
        condition::<W, 13>,
        condition::<W, 14>,
    ];
    PROPERTIES
        .iter()
        .zip(conditions)
        .map(|(p, condition)| Property {
            expectation: p.expectation.clone(),
            name: p.sentence,
            condition,
        })
        .collect()
}
