//! A child process (qemu) that cannot outlive hugepunch: its own session and process group, SIGKILL when
//! the thread that spawned it dies (`PR_SET_PDEATHSIG`), and killed and reaped on drop.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// A spawned child that is killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
}

impl Guarded {
    /// Spawns `cmd` in a new session (so a new process group, and its own autogroup:
    /// [`Guarded::set_autogroup_nice`]), with SIGKILL as its parent-death signal. As with
    /// [`super::fork_child`], Linux sends that signal when the spawning *thread* exits: spawn
    /// from a thread that outlives the child (the main thread).
    pub fn spawn(cmd: &mut Command) -> io::Result<Guarded> {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the child between fork and exec; it only makes three
        // async-signal-safe system calls (setsid, prctl, getppid) and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before the prctl: then nobody would kill us.
                if libc::getppid() != parent {
                    return Err(io::Error::other("parent exited before exec"));
                }
                Ok(())
            });
        }
        cmd.spawn().map(|child| Guarded { child })
    }

    /// Gives the child's autogroup the niceness `nice`. With `kernel.sched_autogroup_enabled`
    /// the scheduler shares the CPUs between sessions' autogroups first, and a process's own
    /// niceness only counts inside its session: this is what weighs the child's session
    /// against the rest of the host. No autogroup (`CONFIG_SCHED_AUTOGROUP` off): nothing to do.
    pub fn set_autogroup_nice(&self, nice: i32) -> io::Result<()> {
        let path = format!("/proc/{}/autogroup", self.child.id());
        match std::fs::write(path, nice.to_string()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the process group (SIGKILL) and reaps the child.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pgid = self.child.id() as libc::pid_t;
            // SAFETY: plain system call on a process group this struct created and has not yet
            // reaped (try_wait said it is still running), so the id is not reused.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}
