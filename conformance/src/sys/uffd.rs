//! userfaultfd: how a mapper catches touches of the hole.
//!
//! The ioctl numbers and structs are hand-written from `linux/userfaultfd.h` (the
//! `userfaultfd-sys` crate needs bindgen). Only what the model uses is covered: MISSING
//! registration, `UFFDIO_COPY`, `UFFDIO_WAKE`, `UFFD_FEATURE_SIGBUS` and page fault events.
//!
//! A uffd registration does not survive `fork` (no `UFFD_FEATURE_EVENT_FORK`): a mapper
//! registers its own mapping after it is forked.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::ioctl::{opcode, Opcode, Updater};
use rustix::mm::UserfaultfdFlags;

use super::mapping::Mapping;

const UFFD_API: u64 = 0xAA;
const UFFDIO: u8 = 0xAA;
const UFFD_FEATURE_SIGBUS: u64 = 1 << 7;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1 << 0;
const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
const UFFD_PAGEFAULT_FLAG_WRITE: u64 = 1 << 0;
const UFFD_MSG_SIZE: usize = 32;
/// Bit numbers of the ioctls in `uffdio_register.ioctls`.
const _UFFDIO_WAKE: u64 = 0x02;
const _UFFDIO_COPY: u64 = 0x03;

#[repr(C)]
#[derive(Default)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Default)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Default)]
struct UffdioCopy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

const UFFDIO_API: Opcode = opcode::read_write::<UffdioApi>(UFFDIO, 0x3F);
const UFFDIO_REGISTER: Opcode = opcode::read_write::<UffdioRegister>(UFFDIO, 0x00);
const UFFDIO_WAKE: Opcode = opcode::read::<UffdioRange>(UFFDIO, 0x02);
const UFFDIO_COPY: Opcode = opcode::read_write::<UffdioCopy>(UFFDIO, 0x03);
/// `USERFAULTFD_IOC_NEW = _IO(0xAA, 0x00)` on /dev/userfaultfd.
const USERFAULTFD_IOC_NEW: Opcode = opcode::none(0xAA, 0x00);

// The layouts the kernel expects (sizes are part of the ioctl numbers too).
const _: () = assert!(std::mem::size_of::<UffdioApi>() == 24);
const _: () = assert!(std::mem::size_of::<UffdioRegister>() == 32);
const _: () = assert!(std::mem::size_of::<UffdioCopy>() == 40);
const _: () = assert!(UFFDIO_API == 0xc018_aa3f);
const _: () = assert!(UFFDIO_REGISTER == 0xc020_aa00);
const _: () = assert!(UFFDIO_WAKE == 0x8010_aa02);
const _: () = assert!(UFFDIO_COPY == 0xc028_aa03);
const _: () = assert!(USERFAULTFD_IOC_NEW == 0xaa00);

/// The uffd features a mapper asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// `UFFD_FEATURE_SIGBUS`: a MISSING fault raises SIGBUS in the toucher instead of queuing an
    /// event (the "SIGBUS" handler policy of the model).
    pub sigbus: bool,
}

/// How the userfaultfd was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `ioctl(USERFAULTFD_IOC_NEW)` on /dev/userfaultfd (Linux 6.1+; access by file mode).
    DevNode,
    /// The `userfaultfd(2)` syscall (needs root or `vm.unprivileged_userfaultfd = 1`).
    Syscall,
}

/// One message read from a userfaultfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `UFFD_EVENT_PAGEFAULT`: a thread faulted on a missing page and is blocked until the page
    /// is filled (`copy`) or it is woken (`wake`). `addr` is as the kernel reports it: for
    /// hugetlbfs on Linux 6.x, the start of the huge page (measured: a touch at page + 0x1238
    /// reports page + 0), unlike SIGBUS `si_addr`, which is exact.
    Pagefault {
        /// The faulting address.
        addr: usize,
        /// Whether the fault was a write (`UFFD_PAGEFAULT_FLAG_WRITE`).
        write: bool,
    },
    /// Any other event, by its `UFFD_EVENT_*` number.
    Other(u8),
}

/// A userfaultfd with the UFFD API handshake done. Non-blocking and close-on-exec.
#[derive(Debug)]
pub struct Uffd {
    fd: OwnedFd,
}

impl Uffd {
    /// Opens a userfaultfd (/dev/userfaultfd first, then the syscall), does `UFFDIO_API` and checks
    /// the kernel grants every requested feature.
    pub fn new(features: Features) -> io::Result<Uffd> {
        let (fd, _source) = open_userfaultfd()?;
        let wanted = if features.sigbus {
            UFFD_FEATURE_SIGBUS
        } else {
            0
        };
        let mut api = UffdioApi {
            api: UFFD_API,
            features: wanted,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_API reads and writes exactly one `struct uffdio_api`, which `api` is.
        unsafe { rustix::ioctl::ioctl(&fd, Updater::<UFFDIO_API, _>::new(&mut api)) }
            .map_err(|e| with_context(e, "UFFDIO_API"))?;
        if api.features & wanted != wanted {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "UFFDIO_API: kernel grants features {:#x}, requested {wanted:#x}",
                    api.features
                ),
            ));
        }
        Ok(Uffd { fd })
    }

    /// `UFFDIO_REGISTER` the whole of `mapping` with `UFFDIO_REGISTER_MODE_MISSING`: from now on a
    /// touch of a page that is not in the page cache raises MISSING (an event, or SIGBUS with
    /// [`Features::sigbus`]). Pages still in the page cache fault in without any event.
    ///
    /// Takes a [`Mapping`] rather than an address so that `UFFDIO_COPY` can only ever write into
    /// memory that no Rust reference points to.
    pub fn register_missing(&self, mapping: &Mapping) -> io::Result<()> {
        let mut reg = UffdioRegister {
            range: UffdioRange {
                start: mapping.page_addr(0) as u64,
                len: mapping.len() as u64,
            },
            mode: UFFDIO_REGISTER_MODE_MISSING,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_REGISTER reads and writes exactly one `struct uffdio_register`. It only
        // changes how faults in the mapping are handled.
        // The errno stays raw: a replay compares it with the trace's prediction (ENOMEM).
        unsafe { rustix::ioctl::ioctl(&self.fd, Updater::<UFFDIO_REGISTER, _>::new(&mut reg)) }?;
        let needed = (1 << _UFFDIO_COPY) | (1 << _UFFDIO_WAKE);
        if reg.ioctls & needed != needed {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "UFFDIO_REGISTER: range allows ioctls {:#x}, no COPY/WAKE",
                    reg.ioctls
                ),
            ));
        }
        Ok(())
    }

    /// `UFFDIO_COPY` `src` into the registered range at `dst` (both a whole number of huge pages,
    /// `dst` huge page aligned) and wake the threads faulting there. Returns the bytes copied.
    ///
    /// `Err(Errno::EXIST)` when the page is already there: in the page cache (someone allocated
    /// or faulted it in since the fault was reported) or mapped. A failed copy wakes no one, so
    /// after EEXIST the handler must call [`Uffd::wake`] for the faulting thread to retry its
    /// fault (which then maps the page-cache page without an event). `Errno::NOENT` means the
    /// mapping changed under the copy, `Errno::NOMEM` / `Errno::NOSPC` no free huge page.
    pub fn copy(&self, dst: usize, src: &[u8]) -> Result<usize, Errno> {
        let mut copy = UffdioCopy {
            dst: dst as u64,
            src: src.as_ptr() as u64,
            len: src.len() as u64,
            mode: 0,
            copy: 0,
        };
        // SAFETY: UFFDIO_COPY reads and writes one `struct uffdio_copy`, reads `src.len()` bytes
        // from `src` (a live slice), and writes only into ranges registered on this uffd, which
        // are whole `Mapping`s no Rust reference points to. The kernel validates `dst`.
        let result =
            unsafe { rustix::ioctl::ioctl(&self.fd, Updater::<UFFDIO_COPY, _>::new(&mut copy)) };
        match result {
            Ok(()) => Ok(copy.copy.max(0) as usize),
            Err(e) => Err(e),
        }
    }

    /// `UFFDIO_WAKE` the threads blocked on a fault in `[addr, addr + len)`; they retry the fault.
    /// Needed after a `copy` that failed with EEXIST (see [`Uffd::copy`]).
    pub fn wake(&self, addr: usize, len: usize) -> io::Result<()> {
        let mut range = UffdioRange {
            start: addr as u64,
            len: len as u64,
        };
        // SAFETY: UFFDIO_WAKE reads one `struct uffdio_range` and only wakes waiters.
        unsafe { rustix::ioctl::ioctl(&self.fd, Updater::<UFFDIO_WAKE, _>::new(&mut range)) }
            .map_err(|e| with_context(e, "UFFDIO_WAKE"))
    }

    /// Waits until this userfaultfd or `other` is readable; says which: `(uffd, other)`.
    pub fn wait_with(&self, other: BorrowedFd<'_>) -> io::Result<(bool, bool)> {
        let mut fds = [
            PollFd::new(&self.fd, PollFlags::IN),
            PollFd::from_borrowed_fd(other, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => Ok((!fds[0].revents().is_empty(), !fds[1].revents().is_empty())),
            Err(Errno::INTR) => Ok((false, false)),
            Err(e) => Err(with_context(e, "poll(userfaultfd)")),
        }
    }

    /// Waits up to `timeout` for one event: `Ok(None)` on timeout.
    pub fn read_event(&self, timeout: Duration) -> io::Result<Option<Event>> {
        let ts = Timespec {
            tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        let ready = match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) => n,
            Err(Errno::INTR) => 0,
            Err(e) => return Err(with_context(e, "poll(userfaultfd)")),
        };
        if ready == 0 {
            return Ok(None);
        }
        let mut msg = [0u8; UFFD_MSG_SIZE];
        match rustix::io::read(&self.fd, &mut msg) {
            Ok(UFFD_MSG_SIZE) => Ok(Some(parse_msg(&msg))),
            Ok(n) => Err(io::Error::other(format!("short uffd_msg read: {n} bytes"))),
            // Another reader took it, or the fault went away before we read.
            Err(Errno::AGAIN) | Err(Errno::INTR) => Ok(None),
            Err(e) => Err(with_context(e, "read(userfaultfd)")),
        }
    }
}

impl AsFd for Uffd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `struct uffd_msg`: u8 event, 7 reserved bytes, then for a page fault u64 flags, u64 address.
fn parse_msg(msg: &[u8; UFFD_MSG_SIZE]) -> Event {
    let u64_at = |at: usize| u64::from_ne_bytes(msg[at..at + 8].try_into().expect("8 bytes"));
    match msg[0] {
        UFFD_EVENT_PAGEFAULT => Event::Pagefault {
            addr: u64_at(16) as usize,
            write: u64_at(8) & UFFD_PAGEFAULT_FLAG_WRITE != 0,
        },
        other => Event::Other(other),
    }
}

fn with_context(e: Errno, what: &str) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A raw userfaultfd (no API handshake yet): /dev/userfaultfd, else the syscall. The error names
/// both attempts.
pub(crate) fn open_userfaultfd() -> io::Result<(OwnedFd, Source)> {
    let flags = libc::O_CLOEXEC | libc::O_NONBLOCK;
    let dev_err = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/userfaultfd")
    {
        Ok(dev) => {
            // SAFETY: USERFAULTFD_IOC_NEW takes its flags as the integer argument and returns a
            // new fd or -1; it touches no user memory.
            let fd = unsafe {
                libc::ioctl(
                    dev.as_raw_fd(),
                    USERFAULTFD_IOC_NEW as _,
                    flags as libc::c_long,
                )
            };
            if fd >= 0 {
                // SAFETY: the ioctl returned a fresh fd that nothing else owns.
                return Ok((unsafe { OwnedFd::from_raw_fd(fd) }, Source::DevNode));
            }
            io::Error::last_os_error()
        }
        Err(e) => e,
    };
    let sys_flags = UserfaultfdFlags::CLOEXEC | UserfaultfdFlags::NONBLOCK;
    // SAFETY: the fd lets its holder resolve faults in ranges registered on it; `Uffd` only
    // registers whole `Mapping`s that no Rust reference points to (see `register_missing`).
    let sys_err = match unsafe { rustix::mm::userfaultfd(sys_flags) } {
        Ok(fd) => return Ok((fd, Source::Syscall)),
        Err(e) => io::Error::from(e),
    };
    Err(io::Error::new(
        sys_err.kind(),
        format!("userfaultfd unavailable: /dev/userfaultfd: {dev_err}; userfaultfd(2): {sys_err}"),
    ))
}
