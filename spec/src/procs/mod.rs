//! The user-space processes: the database manager and the mappers with their uffd handler, and
//! the migrator.

mod manager;
mod mapper;
mod migrator;

pub use manager::ManagerState;
pub use mapper::{HandlerState, MainState, MapperState, Touch};
pub use migrator::MigratorState;
