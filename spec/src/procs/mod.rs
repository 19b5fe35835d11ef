//! The user-space processes: the database manager and the mappers with their uffd handler.

mod manager;
mod mapper;

pub use manager::ManagerState;
pub use mapper::{HandlerState, MainState, MapperState, Touch};
