//! A model that can be told to stop: the search a `--max-seconds` bound ends.
//!
//! Stateright 0.31's `timeout` only closes the job market, which a single checker thread never
//! returns to while it has states of its own, so it does not stop a one-thread search. This
//! wrapper stops it from the inside: once told to, every state it expands has one successor,
//! itself. The checker has generated that state already, so the step adds nothing and, unlike
//! a state without successors, does not make the state terminal (which would report
//! `eventually` counterexamples that are not there). A state with no actions of its own is
//! still terminal: that is a real end of a path.

use spec::engine::Engine;
use stateright::{Model, Property};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The model of a run, with a stop switch.
pub struct Bounded {
    pub inner: Engine,
    stop: Arc<AtomicBool>,
}

impl Bounded {
    pub fn new(inner: Engine) -> Self {
        Bounded {
            inner,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The switch: set it to stop the search.
    pub fn switch(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Model for Bounded {
    type State = <Engine as Model>::State;
    type Action = <Engine as Model>::Action;

    fn init_states(&self) -> Vec<Self::State> {
        self.inner.init_states()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        self.inner.actions(state, actions);
        if self.stopped() {
            actions.truncate(1);
        }
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        if self.stopped() {
            return Some(last.clone());
        }
        self.inner.next_state(last, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        spec::properties::properties()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        Model::within_boundary(&self.inner, state)
    }
}

impl spec::properties::Wraps for Bounded {
    type Inner = Engine;
    fn wrapped(&self) -> &Engine {
        &self.inner
    }
}
