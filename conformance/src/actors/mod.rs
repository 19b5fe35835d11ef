//! The actor processes of a replay: the manager, the mappers and a migrator, each forked from the driver
//! and driven over its socket (see [`crate::protocol`]).

mod cast;
pub mod manager;
pub mod mapper;
pub mod migrator;

pub use cast::{Cast, Who};
