//! The spec's properties on a model that wraps the spec's model (the Explorer's renaming model,
//! the `--max-seconds` stop switch). A Stateright property is a plain `fn` of the wrapper, so
//! each property gets a trampoline that passes the wrapped model on.

use spec::properties::{HugeModel, HugeState};
use spec::PROPERTIES;
use stateright::{Model, Property};

/// A model built around the spec's model, whose properties are the spec's.
pub trait Wraps: Model<State = HugeState> {
    fn wrapped(&self) -> &HugeModel;
}

/// Property `I` of [`PROPERTIES`], on the wrapped model.
fn condition<W: Wraps, const I: usize>(m: &W, s: &HugeState) -> bool {
    (PROPERTIES[I].condition)(m.wrapped(), s)
}

/// [`PROPERTIES`] as properties of the wrapper `W`, in order (the trampolines' count is
/// checked against `PROPERTIES` at compile time).
pub fn properties<W: Wraps>() -> Vec<Property<W>> {
    let conditions: [fn(&W, &HugeState) -> bool; PROPERTIES.len()] = [
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
