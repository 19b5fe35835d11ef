//! A migrator: a process (a NUMA balancer, `migratepages`) that calls `move_pages(2)` on
//! mapper 0 for the first page of the hole, once, while the manager punches.

use crate::cfg::ModelCfg;
use crate::msg::Syscall;

/// Where the migrator is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MigratorState {
    /// Not started by the manager yet.
    Idle,
    /// In `move_pages`.
    Moving,
    Done,
}

impl MigratorState {
    /// The manager has started the workers: `move_pages` of the hole's first page.
    pub fn start(cfg: &ModelCfg) -> (MigratorState, Syscall) {
        let page = cfg.hole_start;
        (MigratorState::Moving, Syscall::MovePages { page })
    }
}
