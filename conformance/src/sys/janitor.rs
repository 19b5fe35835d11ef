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

// --- tracefs: trace instances removed after SIGKILL -------------------------------------------
// Kept apart from the pool janitor above on purpose: its own process, its own main.

/// Byte that ends a registered path on a tracefs janitor's pipe.
const PATH_END: u8 = 0;
/// Byte saying the owner removed everything itself: nothing left to do.
const ALL_CLEAN: u8 = 1;
/// Room for registered paths (`/sys/kernel/tracing/instances/hugepunch-PID-SLOT`, ~50 bytes
/// each; slots are reused, so a run registers as many as it has instances at once).
const PATHS_MAX: usize = 16 * 1024;

impl Janitor {
    /// Forks a janitor that, once every copy of the pipe's write end is closed, removes every
    /// trace instance registered with [`Janitor::register_tracefs_instance`] (`rmdir`, which
    /// also disables the events enabled in it) and then, if `unmount`, detaches the tracefs
    /// mounted at `mount` -- unless [`Janitor::dismiss_tracefs`] said all was removed already.
    pub fn spawn_tracefs_cleanup(mount: &std::path::Path, unmount: bool) -> io::Result<Janitor> {
        use std::os::unix::ffi::OsStrExt;
        let mut target = mount.as_os_str().as_bytes().to_vec();
        target.push(0);
        let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        // SAFETY: fork has no preconditions; what the child may do is below.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(io::Error::last_os_error()),
            // SAFETY: we are the freshly forked child; it only calls async-signal-safe
            // functions on memory prepared before the fork or on its own stack, and never
            // returns.
            0 => unsafe { tracefs_janitor_main(read_end.as_raw_fd(), &target, unmount) },
            pid => {
                drop(read_end);
                Ok(Janitor {
                    pid,
                    pipe: Some(write_end),
                })
            }
        }
    }

    /// Tells a tracefs janitor to remove trace instance `dir` if this process dies.
    pub fn register_tracefs_instance(&self, dir: &std::path::Path) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let mut msg = dir.as_os_str().as_bytes().to_vec();
        msg.push(PATH_END);
        self.send(&msg)
    }

    /// Tells a tracefs janitor that everything registered was removed and nothing mounted is
    /// left: it exits without touching tracefs.
    pub fn dismiss_tracefs(&self) -> io::Result<()> {
        self.send(&[ALL_CLEAN])
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        let pipe = self.pipe.as_ref().expect("open until dropped");
        let n = rustix::io::write(pipe, msg)?;
        // A pipe write of at most PIPE_BUF bytes is atomic and whole.
        if n != msg.len() {
            return Err(io::Error::other("short write to the janitor's pipe"));
        }
        Ok(())
    }
}

/// The tracefs janitor process: collects registered paths until the pipe closes, then cleans.
///
/// # Safety
/// Call only in a freshly forked child; it never returns.
unsafe fn tracefs_janitor_main(read_fd: i32, mount: &[u8], unmount: bool) -> ! {
    const NAME: &[u8] = b"hp-janitor-tr\0";
    let mut paths = [0u8; PATHS_MAX];
    let mut len = 0usize;
    // SAFETY: plain syscalls on this process's own fds and on buffers that live until _exit.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, NAME.as_ptr());
        if read_fd > 3 {
            libc::close_range(3, (read_fd - 1) as u32, 0);
        }
        libc::close_range((read_fd + 1) as u32, u32::MAX, 0);
        loop {
            let room = PATHS_MAX - len;
            if room == 0 {
                break;
            }
            let n = libc::read(read_fd, paths.as_mut_ptr().add(len).cast(), room);
            if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                break;
            }
            if n > 0 {
                len += n as usize;
            }
        }
        if len > 0 && paths[len - 1] == ALL_CLEAN {
            libc::_exit(0);
        }
        let mut start = 0;
        for i in 0..len {
            if paths[i] == PATH_END {
                libc::rmdir(paths.as_ptr().add(start).cast());
                start = i + 1;
            }
        }
        if unmount {
            libc::umount2(mount.as_ptr().cast(), libc::MNT_DETACH);
        }
        libc::_exit(0)
    }
}
