//! Builds the Stateright model from a configuration.

use crate::cfg::ModelCfg;
use crate::node::nodes;
use crate::properties::{properties, HugeModel};
use stateright::actor::{ActorModel, Network};

impl ModelCfg {
    /// The actor model of this configuration, with every property.
    ///
    /// # Panics
    /// If the configuration does not validate (see [`ModelCfg::validate`]).
    pub fn into_model(self) -> HugeModel {
        if let Err(e) = self.validate() {
            panic!("invalid model configuration: {e}");
        }
        let actors = nodes(&self);
        let mut model = ActorModel::new(self, ())
            .actors(actors)
            .init_network(Network::new_unordered_nonduplicating([]));
        for p in properties::<HugeModel>() {
            model = model.property(p.expectation, p.name, p.condition);
        }
        model
    }
}
