//! A pipe one thread writes to wake another that is waiting in `poll` on something else
//! (the uffd handler waits on its userfaultfd and on its commands at once).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::pipe::{pipe_with, PipeFlags};

/// Both ends of a non-blocking close-on-exec pipe.
#[derive(Debug)]
pub struct WakePipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl WakePipe {
    pub fn new() -> io::Result<WakePipe> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(WakePipe { read, write })
    }

    /// Makes the read end readable.
    pub fn wake(&self) {
        let _ = rustix::io::write(&self.write, &[1]);
    }

    /// Empties the pipe after a wake-up.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!(rustix::io::read(&self.read, &mut buf), Ok(n) if n > 0) {}
    }

    /// The end to poll.
    pub fn waiter(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

/// Waits up to `timeout` until one of `fds` is readable (or at end of file); says which.
pub fn poll_readable(
    fds: &[BorrowedFd<'_>],
    timeout: std::time::Duration,
) -> io::Result<Vec<bool>> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut set: Vec<PollFd<'_>> = fds
        .iter()
        .map(|&fd| PollFd::from_borrowed_fd(fd, PollFlags::IN))
        .collect();
    let ts = Timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    match poll(&mut set, Some(&ts)) {
        Ok(_) => Ok(set.iter().map(|p| !p.revents().is_empty()).collect()),
        Err(rustix::io::Errno::INTR) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e.into()),
    }
}

/// Names the calling thread (`prctl(PR_SET_NAME)`), as `/proc/PID/comm` shows it.
pub fn set_thread_name(name: &std::ffi::CStr) {
    let _ = rustix::thread::set_name(name);
}
