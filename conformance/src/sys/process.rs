//! Actors as real processes: fork a child that runs a closure, driven over a socket.
//!
//! # Forking a multithreaded process
//! The driver (and `cargo test`) has several threads when it forks; the child has only the
//! forking thread, and any lock another thread held at that moment stays held forever in the
//! child. This is acceptable here because the child only runs our own code: glibc's `malloc` is
//! fork-safe (it takes and resets its arena locks around `fork`), and the child never calls
//! `exit` (no atexit handlers, no stdio flush), only `_exit`. What the closure must avoid is
//! locks the parent's other threads may hold: `std::io::stdout`/`stderr` (`println!`,
//! `eprintln!`, and libtest's captured output), `std::env` writes, and any `Mutex` shared with
//! parent threads. Talk to the parent over the socket instead.
//!
//! The child also inherits every fd of the parent, including the sockets of other children and
//! hugetlbfs files; they are released when it exits, which [`Child`]'s `Drop` guarantees.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitStatus;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use rustix::process::{Pid, Signal, WaitOptions};

/// Exit code of a child whose closure panicked.
pub const PANIC_EXIT_CODE: i32 = 101;
/// Exit code of a child whose parent was already gone when it started.
pub const ORPHAN_EXIT_CODE: i32 = 102;

/// A forked child process running a closure; killed (SIGKILL) and reaped on drop, also while the
/// parent unwinds from a panic, so no zombie or orphan is left behind.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    stream: UnixStream,
    status: Option<ExitStatus>,
}

/// Forks a child that runs `f` with its end of a fresh `UnixStream` pair and then `_exit`s with
/// the code `f` returns (101 if `f` panics). The parent keeps the other end ([`Child::stream`]).
///
/// The child asks for SIGKILL when its parent dies (`PR_SET_PDEATHSIG`) right after the fork,
/// checks the parent did not die before that (`getppid`), and reports ready over the stream;
/// `fork_child` returns only then. Note that Linux sends the death signal when the
/// *thread* that forked exits, not the whole process: fork from a thread that outlives the child
/// (in `cargo test`, the test's own thread is fine; a short-lived helper thread is not).
///
/// The child never returns into the caller's code and never runs atexit handlers.
///
/// # Safety
/// As `nix::unistd::fork` and `rustix::runtime::kernel_fork`: in a multithreaded parent the
/// child has only the forking thread, and a lock another thread held at the fork stays held in
/// the child. `f` runs threads, serde and panics, so the caller must make sure it takes no lock
/// another thread of this process may hold at the fork: not stdout/stderr (`println!`, libtest's
/// captured output), not `std::env`, not a `Mutex` shared with the parent's threads (see the
/// module docs; glibc's `malloc` is fork-safe).
pub unsafe fn fork_child(f: impl FnOnce(UnixStream) -> i32) -> io::Result<Child> {
    let (parent_end, child_end) = UnixStream::pair()?;
    let parent = rustix::process::getpid();
    // SAFETY: after fork the child only runs `child_main`, which never returns (it `_exit`s);
    // what `f` may touch in a multithreaded parent is this function's caller's obligation.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(parent_end);
            child_main(parent, child_end, f)
        }
        pid => {
            let mut child = Child {
                pid: Pid::from_raw(pid).expect("fork returned a positive pid"),
                stream: parent_end,
                status: None,
            };
            // Wait until the child has armed its death signal, so this (forking) thread is alive
            // when it does: if it had exited first, the child would be reparented to another
            // thread of this process, pass the getppid check, and outlive us.
            let mut ready = [0u8; 1];
            loop {
                match (&child.stream).read(&mut ready) {
                    Ok(1) if ready[0] == READY => return Ok(child),
                    Ok(_) => {
                        let status = child.wait()?;
                        let msg = format!("forked child did not start: {status}");
                        return Err(io::Error::other(msg));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// The byte a child sends once its death signal is armed.
const READY: u8 = b'R';

fn child_main(parent: Pid, stream: UnixStream, f: impl FnOnce(UnixStream) -> i32) -> ! {
    let code = if rustix::process::set_parent_process_death_signal(Some(Signal::KILL)).is_err()
        || rustix::process::getppid() != Some(parent)
        || (&stream).write_all(&[READY]).is_err()
    {
        ORPHAN_EXIT_CODE
    } else {
        catch_unwind(AssertUnwindSafe(|| f(stream))).unwrap_or(PANIC_EXIT_CODE)
    };
    // SAFETY: _exit ends the process at once, without atexit handlers or unwinding into the
    // parent's code; always sound to call.
    unsafe { libc::_exit(code) }
}

impl Child {
    /// The child's process id.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw_nonzero().get()
    }

    /// The parent's end of the socket pair.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Sends SIGKILL (not reaped yet: call [`Child::wait`], or drop). A no-op once reaped.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        match rustix::process::kill_process(self.pid, Signal::KILL) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits for the child to exit and reaps it; returns the same status on later calls.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::empty()) {
                Ok(Some((_, status))) => {
                    let status = ExitStatus::from_raw(status.as_raw());
                    self.status = Some(status);
                    return Ok(status);
                }
                Ok(None) | Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reaps the child if it has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        match rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG)? {
            Some((_, status)) => {
                let status = ExitStatus::from_raw(status.as_raw());
                self.status = Some(status);
                Ok(Some(status))
            }
            None => Ok(None),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
    }
}

/// Sends `fd` (one byte of payload plus `SCM_RIGHTS`) over a Unix stream.
pub fn send_fd(stream: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("SCM_RIGHTS control buffer too small"));
    }
    let sent = rustix::net::sendmsg(
        stream,
        &[IoSlice::new(b"F")],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent != 1 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "send_fd: payload not sent",
        ));
    }
    Ok(())
}

/// Receives one fd sent by [`send_fd`] (close-on-exec). If the peer sent text instead (an error
/// message) or closed the stream, the error says so.
pub fn recv_fd(stream: &UnixStream) -> io::Result<OwnedFd> {
    let mut payload = [0u8; 512];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        match rustix::net::recvmsg(
            stream,
            &mut [IoSliceMut::new(&mut payload)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    let mut received: Option<OwnedFd> = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                // Keep the first; any extra fds are closed when dropped.
                received.get_or_insert(fd);
            }
        }
    }
    match received {
        Some(fd) => Ok(fd),
        None if msg.bytes == 0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed the stream without sending an fd",
        )),
        None => Err(io::Error::other(format!(
            "peer sent no fd but: {}",
            String::from_utf8_lossy(&payload[..msg.bytes.min(payload.len())]).trim_end()
        ))),
    }
}

/// The socket a [`Child`] is driven over, as a borrowed fd (for polling).
impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// Restores the default action of SIGPIPE (Rust ignores it), so a command whose output goes
/// into `head` or `less` ends quietly when the reader goes away instead of panicking.
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler; called once at
    // start-up, before any thread is spawned.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
