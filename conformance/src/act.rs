//! What the driver does, one act at a time: the vocabulary of a replay [`crate::plan::Plan`].

use traces::{Errno, Thread, Value};

/// A system call the replay makes, in trace pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// The manager's first `fallocate`: the whole file, with markers.
    Prealloc,
    Fallocate {
        start: u8,
        end: u8,
    },
    Punch {
        start: u8,
        end: u8,
    },
    Mmap,
    Register,
    Copy {
        page: u8,
    },
    Wake {
        page: u8,
    },
    /// The migrator's `move_pages(2)` of `page` in mapper 0's mapping to another node.
    MovePages {
        page: u8,
    },
}

/// One thing the driver does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// Start a system call on a thread.
    Start {
        step: usize,
        thread: Thread,
        call: Call,
    },
    /// Wait for a thread's system call to return `ret`.
    Return {
        step: usize,
        thread: Thread,
        call: traces::Call,
        ret: Result<(), Errno>,
    },
    /// Start a touch; `window`: it must land in the punch's race window; `page_lock`: it must
    /// fault while the removal loop holds the raced page locked
    /// ([`crate::window::page_lock_touches`]).
    Touch {
        step: usize,
        mapper: u8,
        page: u8,
        write: bool,
        window: bool,
        page_lock: bool,
    },
    /// Wait for a touch to finish: `value` read (or written), or SIGBUS; `hit`: whether the
    /// MMU found the page mapped (no fault).
    Touched {
        step: usize,
        mapper: u8,
        page: u8,
        outcome: Outcome,
        hit: Option<bool>,
    },
    /// Wait for a mapper's handler to read a MISSING event for `page`.
    Missing { step: usize, mapper: u8, page: u8 },
    /// Compare the whole host state with the prediction: the file and mappings after `step`,
    /// and the MISSING events and SIGBUS counted so far.
    Observe {
        step: usize,
        missing: Vec<u32>,
        sigbus: Vec<u32>,
    },
}

/// How a touch ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Value(Value),
    Sigbus,
}
