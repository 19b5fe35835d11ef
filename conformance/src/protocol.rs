//! What the driver and its actor processes say to each other: one JSON object per line over
//! the actor's socket. Pages here are host file pages.

use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use traces::Call;

/// Driver -> manager.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ManagerCmd {
    /// `fallocate(0, pages)` of the whole file, then the marker words written through a
    /// temporary mapping (hugetlbfs has no `write(2)`), then `munmap`.
    Prealloc {
        pages: usize,
        markers: Vec<(usize, u64)>,
    },
    /// `fallocate(mode 0)` of `[first, first + count)`.
    Fallocate {
        first: usize,
        count: usize,
    },
    /// `fallocate(PUNCH_HOLE | KEEP_SIZE)` of `[first, first + count)`; stores the start time in
    /// shared word [`PUNCH_STARTED`] just before entering the kernel.
    Punch {
        first: usize,
        count: usize,
    },
    Exit,
}

/// Shared word holding the `CLOCK_MONOTONIC` time the manager entered the punch (0: not yet).
pub const PUNCH_STARTED: usize = 0;
/// Shared word holding the time the punch returned (0: not yet).
pub const PUNCH_RETURNED: usize = 1;
/// Shared word holding the time a window touch finished (0: not yet): the migrator's cue.
pub const WINDOW_TOUCHED: usize = 2;
/// How many shared words there are.
pub const SHARED_WORDS: usize = 3;

/// Driver -> mapper.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MapperCmd {
    /// `mmap(MAP_SHARED)` of the whole file.
    Mmap {
        pages: usize,
    },
    /// userfaultfd with or without `UFFD_FEATURE_SIGBUS`, `UFFDIO_REGISTER_MODE_MISSING` on the
    /// mapping, and the handler thread.
    Register {
        sigbus: bool,
    },
    /// A touch of `page`: a read, or a write of `write`. With `window`, the touch waits for
    /// its moment in the punch as `window.pace` says and then touches once.
    Touch {
        page: usize,
        write: Option<u64>,
        window: Option<Window>,
    },
    /// The handler's `UFFDIO_COPY` of a page whose first word is `word`.
    Copy {
        page: usize,
        word: u64,
    },
    /// The handler's `UFFDIO_WAKE` of `page`.
    Wake {
        page: usize,
    },
    Exit,
}

/// Driver -> migrator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MigratorCmd {
    /// `move_pages(2)` of the huge page at `addr` in process `pid` (file page `page`) to
    /// another node, again and again, each time to a node the page is not on, until a call
    /// does not migrate it (it met the punch's removal of the page), the page is gone from the
    /// mapping, or the punch has returned. With `after_touch`, it first reports `Armed` and
    /// waits (spinning, up to `timeout_ms`) for a window touch to have mapped the page
    /// ([`WINDOW_TOUCHED`]), and then for the file to be down to `fire_at` pages (`st_blocks`:
    /// the removal loop frees pages in index order, so it is at the page's batch).
    MovePages {
        pid: i32,
        addr: usize,
        page: usize,
        after_touch: bool,
        fire_at: usize,
        timeout_ms: u64,
    },
    Exit,
}

/// How a touch aims at the punch's race window.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Window {
    /// Touch no earlier than this long after the punch started (past `hugetlb_vmdelete_list`).
    pub delay_us: u64,
    /// Give up after this long.
    pub timeout_ms: u64,
    pub pace: Pace,
}

/// How the window touch waits for its moment ([`crate::aim`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pace {
    /// Spin on the other CPU until `delay_us` after the punch started (`--window-delay-us`).
    Spin,
    /// A page-lock touch ([`crate::window::page_lock_touches`]): spin on the other CPU until
    /// the file has lost `removed` pages to the punch (its `st_blocks`), then fault the page in
    /// each of `tries` fresh one-page mappings of it, one after the other, until a fault raises
    /// SIGBUS (the removal freed the page: those mappings are registered with userfaultfd and
    /// `UFFD_FEATURE_SIGBUS`), the punch returns or the mappings run out. A fault that blocks
    /// there (the deadlock) ends nothing: the thread stays blocked with the kernel.
    Repeat { removed: usize, tries: usize },
}

/// A system call's outcome: `Ok` or the raw errno it failed with (compared with a trace's
/// prediction by value; named only when shown).
pub type Ret = Result<(), i32>;

/// Actor -> driver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Report {
    /// A system call of the manager or a mapper's main thread returned.
    Returned {
        call: Call,
        ret: Ret,
        start_ns: u64,
        end_ns: u64,
    },
    /// `mmap` returned this base address (for pagemap).
    Mapped { base: usize },
    /// A touch finished: the word read (or written), or SIGBUS; whether it faulted (the
    /// thread's minor fault count moved).
    Touched {
        page: usize,
        result: Result<u64, String>,
        faulted: bool,
        start_ns: u64,
        end_ns: u64,
    },
    /// A window touch is spinning, waiting for the punch to start.
    Armed { page: usize },
    /// A window touch did not touch: the punch had already returned when it got to run
    /// (`late_us` after the punch started). `stall_us`: the longest its spin went without
    /// running (between two of its clock reads), from arming on: a stall as long as the punch
    /// means its CPU was taken from it (in a guest: the host did not run that vCPU).
    WindowMissed {
        page: usize,
        late_us: u64,
        stall_us: u64,
    },
    /// The handler thread read a MISSING event for `page`.
    Missing {
        page: usize,
        write: bool,
        at_ns: u64,
    },
    /// A handler ioctl returned.
    HandlerReturned {
        call: Call,
        ret: Ret,
        start_ns: u64,
        end_ns: u64,
    },
    /// The migrator's `move_pages` calls of `page` are over (a `Returned` follows).
    Migrated {
        page: usize,
        /// Where the page was before the first call (the query form), as shown.
        before: String,
        /// Calls made.
        calls: u32,
        /// The last call: pages it did not migrate, and the status it wrote (`None`: none).
        not_migrated: usize,
        status: Option<String>,
        /// Where the page is after the last call (the query form), as shown.
        after: String,
        /// The last call ran wholly inside the punch.
        in_punch: bool,
        start_ns: u64,
        end_ns: u64,
    },
    /// A repeated page-lock touch ([`Pace::Repeat`]) is over: `faults` of its tries faulted
    /// and read the page; `ended`: what ended it (`sigbus`: the page was gone, `returned`: the
    /// punch returned, `exhausted`: the mappings ran out, `timeout`).
    Repeated {
        page: usize,
        faults: usize,
        ended: String,
        start_ns: u64,
        end_ns: u64,
    },
    /// The actor hit an error it cannot go on from.
    Failed { what: String },
}

/// Sends one message as a line of JSON.
pub fn send<T: Serialize>(mut s: &UnixStream, msg: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(msg).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)
}

/// Reads messages, one JSON line each.
pub struct Receiver {
    r: BufReader<UnixStream>,
}

impl Receiver {
    pub fn new(s: UnixStream) -> Self {
        Receiver {
            r: BufReader::new(s),
        }
    }

    /// A whole message is already buffered: `recv` will not block.
    pub fn has_message(&self) -> bool {
        self.r.buffer().contains(&b'\n')
    }

    /// The stream, to poll.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.r.get_ref().as_fd()
    }

    /// The next message, `None` at end of stream.
    pub fn recv<T: for<'de> Deserialize<'de>>(&mut self) -> io::Result<Option<T>> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(io::Error::other)
    }
}
