//! The actor processes of a replay: the manager, the mappers and a migrator, each forked from the driver
//! and driven over its socket (see [`crate::protocol`]).

mod cast;
pub mod manager;
pub mod mapper;
pub mod migrator;

pub use cast::{Cast, Who};

use std::ffi::CStr;
use traces::Role;

/// The name an actor process's threads carry (`comm`): what a guest's task dumps show.
pub const fn comm(role: Role) -> Option<&'static CStr> {
    match role {
        Role::Manager => Some(c"hp-manager"),
        Role::Mapper(_) => Some(c"hp-mapper"),
        Role::Migrator => Some(c"hp-migrator"),
        Role::Kernel => None,
    }
}
