//! The host: what it supports, and its huge page pool.
//!
//! The pool (`/proc/sys/vm/nr_hugepages`) is global and shared with the rest of the host, so it is
//! a precondition to check and restore, never a per-test oracle (the file's `st_blocks` is).

use std::io;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::janitor::{Chore, Janitor};
use super::uffd::{open_userfaultfd, Source};

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";
const NR_OVERCOMMIT_HUGEPAGES: &str = "/proc/sys/vm/nr_overcommit_hugepages";

/// The default-size huge page pool, from `/proc/sys/vm/nr_hugepages`,
/// `/proc/sys/vm/nr_overcommit_hugepages` and `/proc/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugePool {
    /// Persistent pool size (`/proc/sys/vm/nr_hugepages`).
    pub nr_hugepages: u64,
    /// Surplus pages the kernel may allocate on demand (`/proc/sys/vm/nr_overcommit_hugepages`).
    pub overcommit: u64,
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
            overcommit: read_u64(NR_OVERCOMMIT_HUGEPAGES)?,
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

    /// Pages allocated to files or mappings (`HugePages_Total - HugePages_Free`).
    pub fn in_use(&self) -> u64 {
        self.total.saturating_sub(self.free)
    }
}

impl std::fmt::Display for HugePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nr_hugepages {}, nr_overcommit_hugepages {}, HugePages_Total {}, Free {}, Rsvd {}, \
             Surp {}",
            self.nr_hugepages, self.overcommit, self.total, self.free, self.reserved, self.surplus
        )
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
    read_u64(NR_HUGEPAGES)
}

fn read_u64(path: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::other(format!("{path}: {text:?}: {e}")))
}

fn write_u64(path: &str, n: u64) -> io::Result<()> {
    std::fs::write(path, format!("{n}\n"))
        .map_err(|e| io::Error::new(e.kind(), format!("writing {n} to {path}: {e}")))
}

/// Sets the persistent pool size (root). Prefer [`PoolReservation`], which puts it back.
pub fn write_nr_hugepages(n: u64) -> io::Result<()> {
    write_u64(NR_HUGEPAGES, n)
}

/// Sets `nr_overcommit_hugepages` (root).
pub fn write_nr_overcommit_hugepages(n: u64) -> io::Result<()> {
    write_u64(NR_OVERCOMMIT_HUGEPAGES, n)
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
    /// The pool before the first reservation raised it.
    found: Option<HugePool>,
    /// Puts the pool back when the last reservation goes, or when this process dies.
    janitor: Option<Janitor>,
}

static POOL: Mutex<PoolState> = Mutex::new(PoolState {
    holders: 0,
    found: None,
    janitor: None,
});

impl PoolState {
    /// Hands the pool back to the janitor, which puts it back as found and says what it did.
    fn restore(&mut self) {
        self.found = None;
        if let Some(janitor) = self.janitor.take() {
            match janitor.finish() {
                Ok(done) => {
                    for d in done.iter().filter(|d| d.result != Ok(None)) {
                        eprintln!("hugepunch: {d}");
                    }
                }
                Err(e) => eprintln!("hugepunch: the janitor did not report: {e}"),
            }
        }
    }
}

/// A raised huge page pool: while any `PoolReservation` lives, `nr_hugepages` was raised (if
/// needed) so that the requested pages were free; when the last one in the process is dropped,
/// the pool is put back as it was before the first. Reservations in one process share one lock,
/// so concurrent tests compose. Needs root.
///
/// The pool is put back by a [`Janitor`] process forked before the first raise, also if this
/// process is killed (SIGKILL included). It waits until this process's pages are released (its
/// actors gone, its files closed) before it lowers `nr_hugepages`, then checks the whole pool
/// against what it found and releases free surplus pages the kernel kept
/// (see [`super::pool_restore`]).
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
        let pool = HugePool::read()?;
        if pool.available() < n_free {
            let extra = n_free - pool.available();
            let mem_available = mem_available()?;
            if extra.saturating_mul(pool.page_size) > mem_available {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "{n_free} huge pages needed, {} available: the {extra} more would take \
                         {} MiB but MemAvailable is {} MiB; nr_hugepages left at {}",
                        pool.available(),
                        extra.saturating_mul(pool.page_size) >> 20,
                        mem_available >> 20,
                        pool.nr_hugepages
                    ),
                ));
            }
            if state.janitor.is_none() {
                let janitor = Janitor::spawn()?;
                janitor.register(&Chore::RestorePool(pool))?;
                state.janitor = Some(janitor);
                state.found = Some(pool);
            }
            write_nr_hugepages(pool.nr_hugepages + extra)?;
            let after = HugePool::read()?;
            if after.available() < n_free {
                if state.holders == 0 {
                    state.restore();
                }
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "raised nr_hugepages from {} to {} but only {} huge pages are \
                         available, {n_free} needed (memory too fragmented or too small?)",
                        pool.nr_hugepages,
                        after.nr_hugepages,
                        after.available()
                    ),
                ));
            }
        }
        state.holders += 1;
        Ok(PoolReservation {
            previous: state.found.map_or(pool.nr_hugepages, |f| f.nr_hugepages),
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
        if state.holders == 0 {
            state.restore();
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
