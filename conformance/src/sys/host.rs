//! The host: what it supports, and its huge page pool.
//!
//! The pool (`/proc/sys/vm/nr_hugepages`) is global and shared with the rest of the host, so it is
//! a precondition to check and restore, never a per-test oracle (the file's `st_blocks` is).

use std::io;
use std::sync::Mutex;

use super::janitor::Janitor;
use super::uffd::{open_userfaultfd, Source};

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

/// The default-size huge page pool, from `/proc/sys/vm/nr_hugepages` and `/proc/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HugePool {
    /// Persistent pool size (`/proc/sys/vm/nr_hugepages`).
    pub nr_hugepages: u64,
    /// `HugePages_Total`: persistent plus surplus pages.
    pub total: u64,
    /// `HugePages_Free`: pages not allocated (reserved ones included).
    pub free: u64,
    /// `HugePages_Rsvd`: free pages promised to mappings but not yet faulted in.
    pub reserved: u64,
    /// `HugePages_Surp`: pages above `nr_hugepages` (overcommit).
    pub surplus: u64,
    /// `Hugepagesize` in bytes.
    pub page_size: u64,
}

impl HugePool {
    /// Reads the pool counters now.
    pub fn read() -> io::Result<HugePool> {
        let meminfo = std::fs::read_to_string("/proc/meminfo")?;
        let field = |name: &str| -> io::Result<u64> {
            meminfo
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(|rest| rest.trim().trim_end_matches("kB").trim())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| io::Error::other(format!("/proc/meminfo has no {name} line")))
        };
        Ok(HugePool {
            nr_hugepages: read_nr_hugepages()?,
            total: field("HugePages_Total")?,
            free: field("HugePages_Free")?,
            reserved: field("HugePages_Rsvd")?,
            surplus: field("HugePages_Surp")?,
            page_size: field("Hugepagesize")? * 1024,
        })
    }

    /// Pages a new allocation can take: free and not reserved by someone else.
    pub fn available(&self) -> u64 {
        self.free.saturating_sub(self.reserved)
    }
}

/// `MemAvailable` in bytes: a bound on how far the pool may be raised without squeezing the host.
fn mem_available() -> io::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("/proc/meminfo has no MemAvailable line"))
}

fn read_nr_hugepages() -> io::Result<u64> {
    let text = std::fs::read_to_string(NR_HUGEPAGES)?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::other(format!("{NR_HUGEPAGES}: {text:?}: {e}")))
}

fn write_nr_hugepages(n: u64) -> io::Result<()> {
    std::fs::write(NR_HUGEPAGES, format!("{n}\n"))
        .map_err(|e| io::Error::new(e.kind(), format!("writing {n} to {NR_HUGEPAGES}: {e}")))
}

/// `Ok` if at least `n` huge pages are available now, else the message to show: what is missing
/// and exactly what to run. Tests fail (never skip) with it; the replayer prints it.
pub fn require_free_huge_pages(n: u64) -> Result<(), String> {
    if !hugetlbfs_supported().map_err(|e| format!("reading /proc/filesystems: {e}"))? {
        return Err(
            "this kernel has no hugetlbfs (CONFIG_HUGETLBFS=y is needed); \
                    hugepunch cannot run on this host"
                .to_owned(),
        );
    }
    let pool = HugePool::read().map_err(|e| format!("reading the huge page pool: {e}"))?;
    if pool.available() >= n {
        return Ok(());
    }
    let target = pool
        .nr_hugepages
        .saturating_add(n - pool.available())
        .max(64);
    Err(format!(
        "need {n} free {} kB huge pages but only {} are available (nr_hugepages={}, \
         HugePages_Free={}, HugePages_Rsvd={}): run `echo {target} > {NR_HUGEPAGES}` as root",
        pool.page_size / 1024,
        pool.available(),
        pool.nr_hugepages,
        pool.free,
        pool.reserved,
    ))
}

/// Who holds the pool raised and what to put back when the last one goes.
struct PoolState {
    holders: usize,
    restore_to: u64,
    /// Puts the pool back if this process dies without dropping its reservations.
    janitor: Option<Janitor>,
}

static POOL: Mutex<PoolState> = Mutex::new(PoolState {
    holders: 0,
    restore_to: 0,
    janitor: None,
});

/// A raised huge page pool: while any `PoolReservation` lives, `nr_hugepages` was raised (if
/// needed) so that the requested pages were free; when the last one in the process is dropped,
/// `nr_hugepages` goes back to what it was before the first. Reservations in one process share
/// one lock, so concurrent tests compose. Needs root.
///
/// If the process is killed (SIGKILL included) before the last reservation is dropped, a
/// janitor process forked with the first one puts `nr_hugepages` back.
///
/// Putting `nr_hugepages` back below the pages in use is safe: the kernel turns the excess into
/// surplus pages and frees them as they are released. A change made by another process while a
/// reservation lives is overwritten on restore.
#[derive(Debug)]
pub struct PoolReservation {
    previous: u64,
}

impl PoolReservation {
    /// Makes at least `n_free` huge pages available (see [`HugePool::available`]), raising
    /// `nr_hugepages` if needed. Refuses, without touching the pool, to take more than the host's
    /// `MemAvailable`; fails (and restores) if the kernel cannot find the memory.
    pub fn ensure(n_free: u64) -> io::Result<PoolReservation> {
        let mut state = POOL.lock().unwrap_or_else(|p| p.into_inner());
        let before = read_nr_hugepages()?;
        if state.holders == 0 {
            state.restore_to = before;
        }
        let pool = HugePool::read()?;
        if pool.available() < n_free {
            let extra = n_free - pool.available();
            let mem_available = mem_available()?;
            if extra.saturating_mul(pool.page_size) > mem_available {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "{n_free} huge pages needed, {} available: the {extra} more would take \
                         {} MiB but MemAvailable is {} MiB; nr_hugepages left at {before}",
                        pool.available(),
                        extra.saturating_mul(pool.page_size) >> 20,
                        mem_available >> 20
                    ),
                ));
            }
            if state.janitor.is_none() {
                state.janitor = Some(Janitor::spawn(state.restore_to)?);
            }
            write_nr_hugepages(before + extra)?;
            let after = HugePool::read()?;
            if after.available() < n_free {
                if state.holders == 0 {
                    write_nr_hugepages(state.restore_to)?;
                    drop(state.janitor.take());
                }
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "raised nr_hugepages from {before} to {} but only {} huge pages are \
                         available, {n_free} needed (memory too fragmented or too small?)",
                        after.nr_hugepages,
                        after.available()
                    ),
                ));
            }
        }
        state.holders += 1;
        Ok(PoolReservation {
            previous: state.restore_to,
        })
    }

    /// The `nr_hugepages` that will be restored.
    pub fn previous_nr_hugepages(&self) -> u64 {
        self.previous
    }
}

impl Drop for PoolReservation {
    fn drop(&mut self) {
        let mut state = POOL.lock().unwrap_or_else(|p| p.into_inner());
        state.holders -= 1;
        if state.holders == 0 && read_nr_hugepages().ok() != Some(state.restore_to) {
            if let Err(e) = write_nr_hugepages(state.restore_to) {
                eprintln!("hugepunch: could not restore nr_hugepages: {e}");
            }
        }
        if state.holders == 0 {
            drop(state.janitor.take());
        }
    }
}

/// `Ok(how)` if this process can create a userfaultfd, else why not and what to change.
pub fn userfaultfd_available() -> Result<Source, String> {
    match open_userfaultfd() {
        Ok((_fd, source)) => Ok(source),
        Err(e) => Err(format!(
            "{e}. Needs CONFIG_USERFAULTFD=y and either read/write access to /dev/userfaultfd \
             (Linux 6.1+), root, or `sysctl vm.unprivileged_userfaultfd=1`"
        )),
    }
}

/// Whether the kernel knows hugetlbfs (`/proc/filesystems`).
pub fn hugetlbfs_supported() -> io::Result<bool> {
    let text = std::fs::read_to_string("/proc/filesystems")?;
    Ok(text
        .lines()
        .any(|line| line.split_whitespace().last() == Some("hugetlbfs")))
}

/// `uname -r`.
pub fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// Mount points of every `fstype` mount visible to this process (`/proc/self/mounts`), in
/// order; comparing before and after tells whether a mount leaked.
pub fn mounts_of_type(fstype: &str) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string("/proc/self/mounts")?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_source, target, kind) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == fstype).then(|| target.to_owned())
        })
        .collect())
}
