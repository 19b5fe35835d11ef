//! The host as a whole: what it has and lacks, and its conformance over a trace corpus.

use crate::error::ReplayError;
use crate::replay::{pages_needed, refusal, replay, Options};
use crate::report::HostReport;
use crate::separation::conclude;
use crate::sys::host::{
    hugetlbfs_supported, kernel_release, userfaultfd_available, HugePool, PoolReservation,
};
use crate::sys::require_free_huge_pages;
use std::io;
use std::path::{Path, PathBuf};
use traces::{Trace, TraceError};

/// One line per requirement: what is there, what is missing and the command that fixes it.
pub fn check(pages_needed: u64) -> (bool, Vec<String>) {
    let mut ok = true;
    let mut lines = vec![format!("kernel {}", kernel_release())];
    match hugetlbfs_supported() {
        Ok(true) => lines.push("hugetlbfs: yes".into()),
        Ok(false) => {
            ok = false;
            lines.push("hugetlbfs: MISSING: build the kernel with CONFIG_HUGETLBFS=y".into());
        }
        Err(e) => {
            ok = false;
            lines.push(format!("hugetlbfs: cannot read /proc/filesystems: {e}"));
        }
    }
    match userfaultfd_available() {
        Ok(src) => lines.push(format!("userfaultfd: yes ({src:?})")),
        Err(e) => {
            ok = false;
            lines.push(format!("userfaultfd: MISSING: {e}"));
        }
    }
    match HugePool::read() {
        Ok(p) => lines.push(format!(
            "huge page pool: {} kB pages, nr_hugepages={}, free={}, reserved={}",
            p.page_size / 1024,
            p.nr_hugepages,
            p.free,
            p.reserved
        )),
        Err(e) => lines.push(format!("huge page pool: cannot read: {e}")),
    }
    match require_free_huge_pages(pages_needed) {
        Ok(()) => lines.push(format!(
            "free huge pages for the replay ({pages_needed}): yes"
        )),
        Err(e) => {
            ok = false;
            lines.push(format!("free huge pages: MISSING: {e} (or pass --setup)"));
        }
    }
    (ok, lines)
}

/// The trace files of a corpus directory, sorted.
pub fn corpus_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let in_dir = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(in_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no trace files (*.json)", dir.display()),
        ));
    }
    Ok(files)
}

/// Loads every file, so a bad trace is reported before anything touches the host.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<(PathBuf, Trace)>, TraceError> {
    files
        .iter()
        .map(|f| traces::load(f).map(|t| (f.clone(), t)))
        .collect()
}

/// Huge pages the largest of these traces needs.
pub fn pages_for(traces: &[(PathBuf, Trace)], opts: &Options) -> u64 {
    traces
        .iter()
        .map(|(_, t)| pages_needed(t, opts))
        .max()
        .unwrap_or(0)
}

/// Makes sure the pool has `pages` free: raises it (restored when the guard drops) with
/// `setup`, else fails with the command to run.
pub fn pool_for(pages: u64, setup: bool) -> Result<Option<PoolReservation>, String> {
    if setup {
        PoolReservation::ensure(pages)
            .map(Some)
            .map_err(|e| format!("raising the huge page pool to {pages} free pages: {e}"))
    } else {
        require_free_huge_pages(pages).map(|()| None)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into())
}

/// Replays every trace and says which variants this host conforms to. Traces that predict a
/// hang are not replayed unless `opts.allow_hang`; they are listed as refused, and their
/// variants are not claimed. A harness failure names the trace it happened in.
pub fn conformance(traces: &[(PathBuf, Trace)], opts: &Options) -> Result<HostReport, ReplayError> {
    let mut reports = Vec::new();
    let mut refused = Vec::new();
    for (path, t) in traces {
        let name = file_name(path);
        if let Some(why) = refusal(t, opts) {
            refused.push((name, why));
            continue;
        }
        let reproduce = format!("hugepunch replay {}", path.display());
        let report = replay(t, &name, &reproduce, opts).map_err(|e| match e {
            ReplayError::Io(e) => {
                ReplayError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            }
            e => e,
        })?;
        reports.push(report);
    }
    let corpus: Vec<(String, &Trace)> = traces.iter().map(|(p, t)| (file_name(p), t)).collect();
    Ok(HostReport {
        kernel: kernel_release(),
        separation: conclude(&corpus, &reports),
        traces: reports,
        refused: refused
            .into_iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect(),
    })
}
