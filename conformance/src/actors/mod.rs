//! The actor processes of a replay: the manager and the mappers, each forked from the driver
//! and driven over its socket (see [`crate::protocol`]).

mod cast;
pub mod manager;
pub mod mapper;

pub use cast::{Cast, Who};
