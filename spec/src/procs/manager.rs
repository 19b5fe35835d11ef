//! The database manager: pre-allocate the file, start the mappers, punch the hole, and
//! (hole reuse) allocate the hole again.

use crate::cfg::ModelCfg;
use crate::msg::{Msg, Syscall};

/// Where the manager is; each state waits for one syscall to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ManagerState {
    /// `fallocate(fd, 0, 0, size)` of the whole file, then write a marker into each page.
    Preallocating,
    /// The mappers are started; `fallocate(PUNCH_HOLE | KEEP_SIZE)` of the hole.
    Punching,
    /// `fallocate(fd, 0, hole)`: the hole is used again.
    Reusing,
    Done,
}

impl ManagerState {
    /// The manager's first syscall.
    pub fn start(cfg: &ModelCfg) -> (ManagerState, Msg) {
        let sc = Syscall::Fallocate {
            start: 0,
            end: cfg.pages,
        };
        (ManagerState::Preallocating, Msg::Syscall(sc))
    }

    /// A syscall returned: the next state, whether to start the mappers, and the next syscall.
    pub fn on_return(self, cfg: &ModelCfg) -> (ManagerState, bool, Option<Syscall>) {
        let punch = Syscall::PunchHole {
            start: cfg.hole_start,
            end: cfg.hole_end,
        };
        let reuse = Syscall::Fallocate {
            start: cfg.hole_start,
            end: cfg.hole_end,
        };
        match self {
            ManagerState::Preallocating => (ManagerState::Punching, true, Some(punch)),
            ManagerState::Punching if cfg.hole_reuse => (ManagerState::Reusing, false, Some(reuse)),
            _ => (ManagerState::Done, false, None),
        }
    }
}
