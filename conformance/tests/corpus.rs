//! Replays every trace of the corpus on this host, one test per file (generated from the
//! directory), and checks the host is left as it was found, also after a replay is killed.
//!
//! This host runs a kernel with the 4.5 fix (Linux 6.x), so every trace is expected to
//! conform, except the traces of the buggy variants (4.4, the hole marker alone) in which a
//! fault lands in the race window: there the host frees the page the model keeps, and the
//! replay diverges without showing the violation.
//!
//! The tests FAIL, never skip, when the host lacks huge pages or userfaultfd; the message says
//! what to run (`.ci/run` sets the host up).

use conformance::host::{corpus_files, load_all, pages_for};
use conformance::replay::{replay, Options};
use conformance::report::Verdict;
use conformance::sys::host::{mounts_of_type, userfaultfd_available, HugePool, PoolReservation};
use conformance::sys::{fork_child, require_free_huge_pages};
use conformance::window::window_touches;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use traces::Trace;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus")
}

/// What the host must have for any replay; the message says how to get it.
fn host_ready(pages: u64) -> Result<(), Failed> {
    userfaultfd_available().map_err(|e| Failed::from(format!("no userfaultfd: {e}")))?;
    require_free_huge_pages(pages).map_err(|e| Failed::from(format!("{e} (or run .ci/run)")))
}

/// The verdict this (fixed) host must give a trace.
fn expected(t: &Trace) -> Verdict {
    // The variants that skip the raced page; this host has the 4.5 fix.
    let buggy = t.meta.variant.skips_mapped_page();
    if buggy && !window_touches(t).is_empty() {
        Verdict::Diverges
    } else {
        Verdict::Conforms
    }
}

fn check_trace(path: &Path, t: &Trace, opts: &Options) -> Result<(), Failed> {
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
    if want == Verdict::Diverges {
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

/// Every process named `hp-*` (actors, janitor) on the host.
fn hp_processes() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        comm.starts_with("hp-")
            .then(|| format!("{} {}", e.file_name().to_string_lossy(), comm.trim()))
    })
    .collect()
}

/// The host state a replay must leave as it found it.
fn host_state() -> (u64, u64, Vec<String>) {
    let p = HugePool::read().expect("huge page pool");
    (
        p.nr_hugepages,
        p.free,
        mounts_of_type("hugetlbfs").expect("mounts"),
    )
}

/// A replay with the pool raised for it (like `--setup`), killed with SIGKILL in the middle of a
/// trace: the actors die with it, the janitor puts `nr_hugepages` back, the memfd's pages go
/// back to the pool, and no mount or process is left.
fn killed_replay_leaves_host_as_found(
    path: &Path,
    t: &Trace,
    opts: &Options,
) -> Result<(), Failed> {
    let needed = pages_for(&[(path.to_path_buf(), t.clone())], opts);
    host_ready(needed)?;
    let before = host_state();
    let slow = Options {
        attempts: 1000,
        ..opts.clone()
    };
    let (t2, name) = (t.clone(), path.display().to_string());
    // SAFETY: the child replays through its own actors and reports by exit code: no stdio, env or shared Mutex.
    let mut child = unsafe {
        fork_child(move |_s| {
            // Ask for more than is free, so the pool is really raised and must be restored.
            let extra = HugePool::read().map(|p| p.available()).unwrap_or(0) + 8;
            let _pool = PoolReservation::ensure(extra.max(needed)).expect("raise the pool");
            let _ = replay(&t2, &name, "", &slow);
            0
        })
    }
    .map_err(|e| format!("fork: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while hp_processes()
        .iter()
        .filter(|p| p.ends_with("hp-mapper"))
        .count()
        == 0
    {
        if Instant::now() > deadline {
            return Err("the replay never started its actors".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    let raised = HugePool::read().map_err(|e| e.to_string())?.nr_hugepages;
    child.kill().map_err(|e| format!("kill: {e}"))?;
    child.wait().map_err(|e| format!("wait: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (now, procs) = (host_state(), hp_processes());
        if now == before && procs.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "after SIGKILL: (nr_hugepages, free, hugetlbfs mounts) {now:?}, before {before:?} \
                 (raised to {raised}); hp processes left: {procs:?}"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if raised <= before.0 {
        return Err(format!(
            "the replay never raised the pool (nr_hugepages {raised}), so nothing was tested"
        )
        .into());
    }
    Ok(())
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
    let (kpath, ktrace) = traces
        .iter()
        .find(|(_, t)| !window_touches(t).is_empty())
        .cloned()
        .expect("a trace with a race window");
    let kopts = opts.clone();
    trials.push(Trial::test("host_left_as_found_after_sigkill", move || {
        killed_replay_leaves_host_as_found(&kpath, &ktrace, &kopts)
    }));
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
