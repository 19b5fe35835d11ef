//! A mapper: map the file, register userfaultfd, then touch pages one at a time; its
//! handler thread answers MISSING events with `UFFDIO_COPY` (and `UFFDIO_WAKE` on `EEXIST`).

use crate::cfg::{ModelCfg, UffdPolicy};
use crate::msg::{Errno, Syscall};

/// A touch the mapper chooses to make next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Touch {
    pub page: u8,
    pub write: bool,
}

/// The mapper's main thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MainState {
    /// Not started by the manager yet.
    Idle,
    /// In `mmap`.
    Mapping,
    /// In `UFFDIO_REGISTER`.
    Registering,
    /// Choosing its next touch; `left` touches to go.
    Ready {
        left: u8,
    },
    /// A touch of `page` is in flight (an access, or a fault being handled); `left` touches
    /// to go, this one included.
    Touching {
        page: u8,
        left: u8,
    },
    Done,
}

/// The mapper's userfaultfd handler thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandlerState {
    /// Blocked in `read(uffd)` waiting for an event.
    Idle,
    /// In `UFFDIO_COPY` of `page`.
    Copying(u8),
    /// In `UFFDIO_WAKE` of `page` after the copy found the page already there.
    Waking(u8),
    /// The copy failed for good (`ENOMEM`): the faulting thread is never woken.
    Failed,
}

/// A mapper process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapperState {
    pub main: MainState,
    pub handler: HandlerState,
}

impl MapperState {
    pub fn new() -> Self {
        MapperState {
            main: MainState::Idle,
            handler: HandlerState::Idle,
        }
    }

    /// Every touch this mapper may make next.
    pub fn choices(cfg: &ModelCfg) -> Vec<Touch> {
        let kinds: &[bool] = if cfg.writes { &[false, true] } else { &[false] };
        cfg.touchable_pages()
            .flat_map(|page| kinds.iter().map(move |&write| Touch { page, write }))
            .collect()
    }

    /// The main thread is ready for its next touch, or done.
    pub fn after_touch(left: u8) -> MainState {
        if left == 0 {
            MainState::Done
        } else {
            MainState::Ready { left }
        }
    }

    /// A syscall of the main thread returned: the next state and syscall.
    pub fn main_returned(
        self,
        cfg: &ModelCfg,
        sc: Syscall,
        ret: Result<(), Errno>,
    ) -> (MainState, Option<Syscall>) {
        match (self.main, sc, ret) {
            (MainState::Mapping, Syscall::Mmap, Ok(())) if cfg.uffd != UffdPolicy::None => {
                (MainState::Registering, Some(Syscall::UffdioRegister))
            }
            (MainState::Mapping, Syscall::Mmap, Ok(()))
            | (MainState::Registering, Syscall::UffdioRegister, Ok(())) => {
                (MapperState::after_touch(cfg.touches), None)
            }
            (MainState::Mapping, Syscall::Mmap, Err(_)) => (MainState::Done, None),
            (main, sc, ret) => panic!("main thread in {main:?} got {sc:?} -> {ret:?}"),
        }
    }

    /// A syscall of the handler thread returned: the next state and syscall.
    pub fn handler_returned(
        self,
        sc: Syscall,
        ret: Result<(), Errno>,
    ) -> (HandlerState, Option<Syscall>) {
        match (self.handler, sc, ret) {
            (HandlerState::Copying(_), Syscall::UffdioCopy { page }, Err(Errno::EEXIST)) => (
                HandlerState::Waking(page),
                Some(Syscall::UffdioWake { page }),
            ),
            (HandlerState::Copying(_), Syscall::UffdioCopy { .. }, Err(_)) => {
                (HandlerState::Failed, None)
            }
            (HandlerState::Copying(_), Syscall::UffdioCopy { .. }, Ok(()))
            | (HandlerState::Waking(_), Syscall::UffdioWake { .. }, _) => {
                (HandlerState::Idle, None)
            }
            (h, sc, ret) => panic!("handler in {h:?} got {sc:?} -> {ret:?}"),
        }
    }

    /// The handler gave up on a MISSING fault it could not resolve (`UFFDIO_COPY` `ENOMEM`):
    /// the faulting thread is never woken.
    pub fn gave_up(self) -> bool {
        self.handler == HandlerState::Failed
    }

    /// Both threads have nothing left to do.
    pub fn done(self) -> bool {
        self.main == MainState::Done && self.handler == HandlerState::Idle
    }
}

impl Default for MapperState {
    fn default() -> Self {
        Self::new()
    }
}
