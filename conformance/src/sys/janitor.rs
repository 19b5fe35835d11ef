//! A process that puts `nr_hugepages` back when the process that raised it ends, however it
//! ends: `Drop` does not run on SIGKILL, a janitor does.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// The janitor's pid and the write end of its pipe. Dropping it closes the pipe: the janitor
/// restores the pool and exits, and `drop` waits for it.
#[derive(Debug)]
pub struct Janitor {
    pid: libc::pid_t,
    pipe: Option<OwnedFd>,
}

impl Janitor {
    /// Forks a janitor that writes `restore_to` to `/proc/sys/vm/nr_hugepages` once every
    /// copy of the pipe's write end is closed, i.e. when this process exits or drops it. It
    /// runs in its own session (so a Ctrl-C to the terminal's process group spares it) and
    /// keeps no other fd open (no hugetlbfs file of ours stays alive in it).
    pub fn spawn(restore_to: u64) -> io::Result<Janitor> {
        let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let text = format!("{restore_to}\n");
        // SAFETY: fork has no preconditions; what the child may do is below.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(io::Error::last_os_error()),
            // SAFETY: we are the freshly forked child; it only calls async-signal-safe
            // functions (setsid, prctl, close_range, read, open, write, _exit) on memory
            // prepared before the fork, and never returns.
            0 => unsafe { janitor_main(read_end.as_raw_fd(), text.as_bytes()) },
            pid => {
                drop(read_end);
                Ok(Janitor {
                    pid,
                    pipe: Some(write_end),
                })
            }
        }
    }
}

/// The janitor process.
///
/// # Safety
/// Call only in a freshly forked child; it never returns.
unsafe fn janitor_main(read_fd: i32, text: &[u8]) -> ! {
    const PATH: &[u8] = b"/proc/sys/vm/nr_hugepages\0";
    const NAME: &[u8] = b"hp-janitor\0";
    // SAFETY: plain syscalls on this process's own fds and on buffers that live until _exit.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, NAME.as_ptr());
        if read_fd > 3 {
            libc::close_range(3, (read_fd - 1) as u32, 0);
        }
        libc::close_range((read_fd + 1) as u32, u32::MAX, 0);
        if read_fd != 0 {
            libc::close(0);
        }
        let mut b = [0u8; 1];
        loop {
            let n = libc::read(read_fd, b.as_mut_ptr().cast(), 1);
            if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                break;
            }
        }
        let fd = libc::open(PATH.as_ptr().cast(), libc::O_WRONLY);
        if fd >= 0 {
            libc::write(fd, text.as_ptr().cast(), text.len());
            libc::close(fd);
        }
        libc::_exit(0)
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe {
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}
