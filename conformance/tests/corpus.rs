//! Replays every trace of the corpus on this host, one test per file (generated from the
//! directory), and checks the host is left as it was found (a run killed by a signal:
//! checker/tests/host_signals.rs).
//!
//! This host runs a kernel with the 4.5 fix (Linux 6.x), so every trace is expected to
//! conform, except the traces of the buggy variants (4.4, the hole marker alone) in which a
//! fault lands in the race window: there the host frees the page the model keeps, and the
//! replay diverges without showing the violation; and the `uffd_copy_enomem` witnesses of the
//! kernels before 5.13, whose UFFDIO_COPY allocates before it checks the page cache: this host
//! checks first (8cc5fcbb5be8) and returns EEXIST. Traces that predict a kernel deadlock
//! (5.10.262) are never replayed here, nor are traces with a migrator (this host has one NUMA
//! node): the test checks that the replayer refuses them, saying why.
//!
//! The tests FAIL, never skip, when the host lacks huge pages or userfaultfd; the message says
//! what to run (`./test.sh` sets the host up).

use conformance::host::{corpus_files, load_all, pages_for};
use conformance::replay::{replay, Options};
use conformance::report::Verdict;
use conformance::sys::host::{mounts_of_type, userfaultfd_available, HugePool};
use conformance::sys::require_free_huge_pages;
use conformance::sys::tracefs::leftover_instances;
use conformance::window::window_touches;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use traces::Trace;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus")
}

/// What the host must have for any replay; the message says how to get it.
fn host_ready(pages: u64) -> Result<(), Failed> {
    userfaultfd_available().map_err(|e| Failed::from(format!("no userfaultfd: {e}")))?;
    require_free_huge_pages(pages).map_err(|e| {
        Failed::from(format!(
            "{e} (or run ./test.sh, which raises the pool for the tests and puts it back)"
        ))
    })
}

/// The verdict this (fixed) host must give a trace.
fn expected(t: &Trace) -> Verdict {
    if t.meta.property == "uffd_copy_enomem" {
        return Verdict::Diverges;
    }
    // The variants that skip the raced page; this host has the 4.5 fix.
    let buggy = t.meta.variant.features().skips_mapped_page();
    if buggy && !window_touches(t).is_empty() {
        Verdict::Diverges
    } else {
        Verdict::Conforms
    }
}

/// A trace that predicts a kernel deadlock, or that has a migrator, is refused before anything
/// touches the host, with the reason.
fn check_refused(t: &Trace, opts: &Options, reason: &str) -> Result<(), Failed> {
    match replay(t, "refused", "", opts) {
        Err(e) if e.to_string().contains(reason) => Ok(()),
        Err(e) => Err(format!("refused with the wrong reason: {e}").into()),
        Ok(r) => Err(format!("a trace that must be refused was replayed:\n{}", r.text()).into()),
    }
}

fn check_trace(path: &Path, t: &Trace, opts: &Options) -> Result<(), Failed> {
    if t.meta.config.migrators > 0 {
        // This host has one NUMA node: nowhere to move the page (replayed in a two-node
        // guest by `hugepunch vm`).
        return check_refused(t, opts, "needs two NUMA nodes with free huge pages");
    }
    if t.meta.predicts_hang() {
        return check_refused(t, opts, "predicts a kernel deadlock");
    }
    host_ready(pages_for(&[(path.to_path_buf(), t.clone())], opts))?;
    let name = path.file_name().unwrap().to_string_lossy();
    let r = replay(
        t,
        &name,
        &format!("hugepunch replay {}", path.display()),
        opts,
    )
    .map_err(|e| format!("replay failed: {e}"))?;
    let want = expected(t);
    if r.verdict != want {
        return Err(format!("expected {}, got:\n{}", want.name(), r.text()).into());
    }
    if r.violation_observed {
        return Err(format!("this host must not show the violation:\n{}", r.text()).into());
    }
    if r.achieved == 0 {
        return Err(format!("interleaving never achieved:\n{}", r.text()).into());
    }
    // The kernel's own events must confirm a race window at least once.
    if !window_touches(t).is_empty() && r.windows_confirmed.unwrap_or(0) == 0 {
        return Err(format!(
            "no race window confirmed by the kernel's events:\n{}",
            r.text()
        )
        .into());
    }
    // The window fault's lock waits are looked at in every confirmed window (this kernel has
    // `lock:contention_*`); where it waited on an rwsem for read and the trace conforms, some
    // variant's model must be able to show that wait, or the models lack one the kernel has.
    let unchecked = r
        .findings
        .iter()
        .any(|f| f.contains("lock waits not checked"));
    if r.windows_confirmed.unwrap_or(0) > 0 && !unchecked && r.window_waits.is_none() {
        return Err(format!(
            "the window fault's lock waits were not looked at:\n{}",
            r.text()
        )
        .into());
    }
    let waited = r.window_waits.unwrap_or(0) > 0;
    let shown = t
        .meta
        .window_wait_shown_by
        .as_ref()
        .is_some_and(|v| !v.is_empty());
    if r.verdict == Verdict::Conforms && waited && !shown {
        return Err(format!(
            "the window fault waited on an rwsem (read), which no variant's model can show:\n{}",
            r.text()
        )
        .into());
    }
    if want == Verdict::Conforms && r.accounting.as_deref() != Some("conforms") {
        return Err(format!("pool accounting must conform:\n{}", r.text()).into());
    }
    if want == Verdict::Diverges && t.meta.property == "uffd_copy_enomem" {
        let m = r
            .mismatch
            .as_ref()
            .ok_or("a diverging replay names its mismatch")?;
        if !(m.action == "return" && m.predicted == "ENOMEM" && m.host == "EEXIST") {
            return Err(format!("expected UFFDIO_COPY to give EEXIST, got:\n{}", r.text()).into());
        }
    } else if want == Verdict::Diverges {
        // The divergence is the leak: the raced page is gone from the file on this host.
        let m = r
            .mismatch
            .as_ref()
            .ok_or("a diverging replay names its mismatch")?;
        if !(m.field.contains("pages in file") || m.field.starts_with("file[")) {
            return Err(format!(
                "expected the file to differ (the page is freed), got:\n{}",
                r.text()
            )
            .into());
        }
    }
    Ok(())
}

/// The host state a replay must leave as it found it: the pool, and hugetlbfs and tracefs
/// mounts and this tool's trace instances.
fn host_state() -> (u64, u64, Vec<String>) {
    let p = HugePool::read().expect("huge page pool");
    let mut left = mounts_of_type("hugetlbfs").expect("mounts");
    left.extend(
        mounts_of_type("tracefs")
            .expect("mounts")
            .into_iter()
            .map(|m| format!("tracefs {m}")),
    );
    left.extend(
        leftover_instances()
            .expect("tracefs instances")
            .into_iter()
            .map(|i| format!("trace instance {i}")),
    );
    (p.nr_hugepages, p.free, left)
}

fn main() {
    let mut args = Arguments::from_args();
    // Replays race the kernel with pinned real-time actors: one at a time.
    args.test_threads = Some(1);
    let opts = Options::default();
    let files = corpus_files(&corpus()).expect("the corpus");
    let traces = load_all(&files).expect("every corpus file loads");
    let mut trials: Vec<Trial> = traces
        .iter()
        .map(|(path, t)| {
            let (path, t, opts) = (path.clone(), t.clone(), opts.clone());
            let name = path
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .replace('.', "::");
            Trial::test(format!("replay::{name}"), move || {
                check_trace(&path, &t, &opts)
            })
        })
        .collect();
    let (ppath, ptrace) = traces
        .iter()
        .find(|(p, _)| p.ends_with("v4_5.race_window_fault.witness.json"))
        .cloned()
        .expect("the v4_5 race witness");
    let popts = Options {
        private_mount: true,
        ..opts.clone()
    };
    trials.push(Trial::test(
        "replay_on_a_private_hugetlbfs_mount",
        move || {
            let before = host_state();
            check_trace(&ppath, &ptrace, &popts)?;
            let after = host_state();
            if after.2 != before.2 {
                return Err(
                    format!("a hugetlbfs mount leaked: {:?} -> {:?}", before.2, after.2).into(),
                );
            }
            Ok(())
        },
    ));
    trials.push(Trial::test(
        "malformed_trace_rejected_before_touching_host",
        || {
            let dir = std::env::temp_dir().join(format!("hp-bad-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let bad = dir.join("bad.json");
            std::fs::write(&bad, "{\"meta\": {\"format\": 99}").map_err(|e| e.to_string())?;
            let before = host_state();
            let err = load_all(std::slice::from_ref(&bad))
                .err()
                .ok_or("a truncated trace must not load")?
                .to_string();
            let _ = std::fs::remove_dir_all(&dir);
            if !err.contains("bad.json") {
                return Err(format!("the error must name the file: {err}").into());
            }
            if host_state() != before {
                return Err("loading a bad trace touched the host".into());
            }
            Ok(())
        },
    ));
    let pages = pages_for(&traces, &opts);
    eprintln!("corpus replay needs {pages} free huge pages");
    libtest_mimic::run(&args, trials).exit();
}
