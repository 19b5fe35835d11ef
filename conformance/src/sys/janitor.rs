//! A process that puts the host back when the process that changed it ends, however it ends:
//! `Drop` does not run on SIGKILL, a janitor does.
//!
//! The owner forks the janitor, then registers [`Chore`]s with it over a Unix socket, each the
//! moment it changes something. The janitor reads them until end of file, which comes when the
//! owner calls [`Janitor::finish`] (or drops it), or when every copy of the owner's socket is
//! closed: the owner's and those of the actor processes it forks afterwards (forked children
//! inherit it). So after a SIGKILL the janitor starts only once the actors have closed their fds
//! too; a chore that needs their pages back still waits for them (see [`restore_pool`]). It then
//! runs the chores, last registered first, and reports each one back to the owner, or on its
//! stderr when the owner is gone.
//!
//! To add a thing to put back: a variant of [`Chore`] and its arm in [`Chore::run`].

use std::io::{self, BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::host::HugePool;
use super::pool_restore::restore_pool;

/// How long a chore waits for the dead owner's resources to come back before it puts the host
/// back anyway (and says so).
const SETTLE: Duration = Duration::from_secs(20);

/// Something the janitor puts back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Chore {
    /// Put the default-size huge page pool back as it was found: `nr_hugepages`,
    /// `nr_overcommit_hugepages`, and no pages left over (see [`restore_pool`]).
    RestorePool(HugePool),
    /// Remove a private trace instance (`rmdir`, which also disables every event enabled in
    /// it and frees its buffer); one already gone is fine.
    RemoveTraceInstance(PathBuf),
    /// Detach the tracefs this tool mounted; one already unmounted is fine. Registered before
    /// the instances, so it runs after them.
    UnmountTracefs(PathBuf),
}

impl Chore {
    /// Does the chore. `Ok(None)`: done, nothing to say; `Ok(Some(note))`: done, and worth
    /// saying (what it had to do); `Err`: the host is not as found, and why.
    fn run(&self) -> Result<Option<String>, String> {
        match self {
            Chore::RestorePool(found) => restore_pool(found, SETTLE),
            Chore::RemoveTraceInstance(dir) => match std::fs::remove_dir(dir) {
                Ok(()) => Ok(Some(format!("removed {}", dir.display()))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("rmdir {}: {e}", dir.display())),
            },
            Chore::UnmountTracefs(at) => {
                match rustix::mount::unmount(at, rustix::mount::UnmountFlags::DETACH) {
                    Ok(()) => Ok(Some(format!("unmounted {}", at.display()))),
                    // Not a mount point (any more): the owner unmounted it itself.
                    Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => Ok(None),
                    Err(e) => Err(format!("umount {}: {e}", at.display())),
                }
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Chore::RestorePool(_) => "restore the huge page pool",
            Chore::RemoveTraceInstance(_) => "remove a trace instance",
            Chore::UnmountTracefs(_) => "unmount tracefs",
        }
    }
}

/// What the janitor did for one chore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub chore: String,
    /// See [`Chore::run`].
    pub result: Result<Option<String>, String>,
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Ok(None) => write!(f, "{}: done", self.chore),
            Ok(Some(note)) => write!(f, "{}: done; {note}", self.chore),
            Err(e) => write!(f, "{}: FAILED: {e}", self.chore),
        }
    }
}

/// The janitor's pid and the owner's end of its socket.
#[derive(Debug)]
pub struct Janitor {
    pid: libc::pid_t,
    sock: Option<UnixStream>,
}

impl Janitor {
    /// Forks a janitor with nothing to do yet. It runs in its own session (so a Ctrl-C to the
    /// terminal's process group spares it) and keeps no fd of the owner but stderr (no
    /// hugetlbfs file of ours stays alive in it, and no pipe a caller reads to its end).
    pub fn spawn() -> io::Result<Janitor> {
        let (owner_end, janitor_end) = UnixStream::pair()?;
        // SAFETY: fork has no preconditions; the child runs only `janitor_main`, which never
        // returns into the caller's code (see there for what it may do after a fork).
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                drop(owner_end);
                janitor_main(janitor_end)
            }
            pid => Ok(Janitor {
                pid,
                sock: Some(owner_end),
            }),
        }
    }

    /// Hands the janitor a chore; it runs when the owner finishes or dies. Register right
    /// before changing the host, so a kill in between finds the chore registered.
    pub fn register(&self, chore: &Chore) -> io::Result<()> {
        let sock = self.sock.as_ref().expect("registered after finish");
        let mut line = serde_json::to_string(chore).map_err(io::Error::other)?;
        line.push('\n');
        // One send (a line is far below the socket's buffer), without SIGPIPE if the janitor
        // is gone: `hugepunch` restores SIGPIPE's default action.
        let sent = rustix::net::send(sock, line.as_bytes(), rustix::net::SendFlags::NOSIGNAL)?;
        if sent != line.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "chore not sent whole",
            ));
        }
        Ok(())
    }

    /// Tells the janitor to run its chores now, waits for it, and returns what it did.
    pub fn finish(mut self) -> io::Result<Vec<Done>> {
        self.finish_mut()
    }

    fn finish_mut(&mut self) -> io::Result<Vec<Done>> {
        let Some(sock) = self.sock.take() else {
            return Ok(vec![]);
        };
        // Shut down rather than close: copies of this end in forked children must not keep
        // the janitor waiting.
        let _ = sock.shutdown(std::net::Shutdown::Write);
        let mut done = Vec::new();
        for line in BufReader::new(&sock).lines() {
            let line = line?;
            done.push(serde_json::from_str(&line).map_err(io::Error::other)?);
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe {
            libc::waitpid(self.pid, &mut status, 0);
        }
        Ok(done)
    }

    /// The janitor's process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        match self.finish_mut() {
            Ok(done) => {
                for d in done.iter().filter(|d| d.result != Ok(None)) {
                    eprintln!("hugepunch janitor: {d}");
                }
            }
            Err(e) => eprintln!("hugepunch janitor: no report: {e}"),
        }
    }
}

/// The janitor process: reads chores until end of file, runs them last first, reports, exits.
///
/// It runs in a child forked from a possibly multithreaded process, so it must not take locks
/// other threads may have held at the fork: it never touches `std::io::stdout`/`stderr` (it
/// writes to fd 2 directly) and shares no `Mutex` with the owner. Allocation is fine (glibc's
/// malloc is fork-safe, see [`super::process`]).
fn janitor_main(sock: UnixStream) -> ! {
    let fd = sock.as_raw_fd();
    // SAFETY: plain syscalls on this process's own state; the fds closed are copies of the
    // owner's that nothing in this process uses (Rust objects owning them stay in the owner's
    // frames, which this process never returns to).
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, c"hp-janitor".as_ptr());
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
        }
        if fd > 3 {
            libc::close_range(3, (fd - 1) as u32, 0);
        }
        libc::close_range((fd + 1) as u32, u32::MAX, 0);
    }
    let mut chores = Vec::new();
    for line in BufReader::new(&sock).lines() {
        match line.map(|l| serde_json::from_str::<Chore>(&l)) {
            Ok(Ok(chore)) => chores.push(chore),
            Ok(Err(e)) => say(&format!("unreadable chore: {e}")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    for chore in chores.iter().rev() {
        let done = Done {
            chore: chore.name().to_owned(),
            result: chore.run(),
        };
        let mut line = serde_json::to_string(&done).unwrap_or_default();
        line.push('\n');
        let sent = rustix::net::send(&sock, line.as_bytes(), rustix::net::SendFlags::NOSIGNAL);
        if sent.is_err() && done.result != Ok(None) {
            say(&done.to_string());
        }
    }
    // SAFETY: ends this process at once, without atexit handlers or unwinding into the
    // owner's code.
    unsafe { libc::_exit(0) }
}

/// A line on stderr, written directly (no `std::io::stderr` lock, see [`janitor_main`]).
fn say(text: &str) {
    let line = format!("hugepunch janitor: {text}\n");
    // SAFETY: fd 2 is this process's stderr (possibly closed: write then fails harmlessly);
    // the buffer lives across the call.
    unsafe {
        libc::write(2, line.as_ptr().cast(), line.len());
    }
}
