//! `hugepunch host --setup` killed at several points of a run leaves the host's huge page pool
//! exactly as it found it (and no trace instance behind): `nr_hugepages`, `nr_overcommit_hugepages` and `HugePages_Total`,
//! `Free`, `Rsvd` and `Surp` all equal before and after, and no process of the run left.
//!
//! Each run starts from an empty pool (`nr_hugepages` 0, as on a fresh machine), so `--setup`
//! must raise it and its janitor must lower it while the run's pages are still being released:
//! the case in which the kernel keeps free surplus pages (README, "Surplus pages the kernel
//! keeps"). The pool as this test found it is put back by a janitor of the test's own.
//!
//! Needs root, hugetlbfs and userfaultfd; FAILS (never skips) with what to set when they lack.

use conformance::sys::host::{
    hugetlbfs_supported, userfaultfd_available, write_nr_hugepages, HugePool,
};
use conformance::sys::janitor::{Chore, Janitor};
use conformance::sys::tracefs::leftover_instances;
use rustix::process::{kill_process, Pid, Signal};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The pool is global: one run at a time.
static POOL: Mutex<()> = Mutex::new(());

const RACE: &str = "v4_5.race_window_fault.witness.json";
/// Traces without a race window (each replays in milliseconds with a handful of pages), and a
/// race trace after them so that the run lasts.
const CORPUS: [&str; 5] = [
    "v4_5.hole_touch_missing.witness.json",
    "v4_5.punch_frees_hole.witness.json",
    "v6_1.uffd_copy_eexist.witness.json",
    "v6_1.punch_frees_hole.witness.json",
    RACE,
];

/// Where in the run the signal is sent.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// The run's janitor exists: the pool is being raised, or was just raised and the first
    /// actors are starting.
    Setup,
    /// The first trace's actors are gone and a later trace's are running, before any race
    /// padding is in the file.
    MidCorpus,
    /// A race trace's padding (512 pages) is in the file and the actors are running.
    MidRace,
}

/// A process of the run, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Proc {
    pid: i32,
    comm: String,
    start: u64,
}

impl Proc {
    fn read(pid: i32) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // comm is in parentheses and may contain spaces: split after the last ')'.
        let (head, tail) = stat.rsplit_once(") ")?;
        let comm = head.split_once(" (")?.1.to_owned();
        let fields: Vec<&str> = tail.split(' ').collect();
        // fields[0] is the state (field 3); the start time is field 22.
        if fields.first() == Some(&"Z") {
            return None;
        }
        Some(Proc {
            pid,
            comm,
            start: fields.get(19)?.parse().ok()?,
        })
    }

    fn alive(&self) -> bool {
        Proc::read(self.pid).as_ref() == Some(self)
    }
}

/// The live children of `pid` (every thread's).
fn children(pid: i32) -> Vec<Proc> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .filter_map(Proc::read),
        );
    }
    out
}

fn actors(procs: &[Proc]) -> Vec<Proc> {
    procs
        .iter()
        .filter(|p| p.comm == "hp-manager" || p.comm == "hp-mapper")
        .cloned()
        .collect()
}

fn corpus_dir(name: &str, traces: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
    let dir = std::env::temp_dir().join(format!("hp-signals-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for t in traces {
        std::fs::copy(src.join(t), dir.join(t)).unwrap();
    }
    dir
}

fn host_ready() {
    assert!(
        hugetlbfs_supported().expect("reading /proc/filesystems"),
        "this kernel has no hugetlbfs (CONFIG_HUGETLBFS=y is needed)"
    );
    if let Err(e) = userfaultfd_available() {
        panic!("no userfaultfd: {e}");
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/vm/nr_hugepages")
    {
        panic!("these tests set /proc/sys/vm/nr_hugepages and need root: {e}");
    }
}

/// Runs `hugepunch host --setup --json` on `traces` from an empty pool, sends `signal` at
/// `point`, and checks that the pool afterwards is the empty pool it started from.
fn signalled_run_leaves_pool_as_found(name: &str, traces: &[&str], point: Point, signal: Signal) {
    host_ready();
    let _one = POOL.lock().unwrap_or_else(|p| p.into_inner());
    let outer = HugePool::read().unwrap();
    let keeper = Janitor::spawn().unwrap();
    keeper.register(&Chore::RestorePool(outer)).unwrap();
    write_nr_hugepages(0).unwrap();
    let start = HugePool::read().unwrap();
    assert_eq!(
        (start.total, start.surplus),
        (0, 0),
        "with nr_hugepages 0 the pool must be empty to start from; another process holds huge \
         pages: {start}"
    );

    let dir = corpus_dir(name, traces);
    let log = dir.join("stderr.txt");
    // Through `env --default-signal`: a test run started in the background of a script inherits
    // SIGINT and SIGQUIT ignored (POSIX), and so would hugepunch; the test is about the default
    // dispositions a user's Ctrl-C or kill meets.
    let mut run = Command::new("env")
        .arg("--default-signal=HUP,INT,QUIT,TERM")
        .arg(env!("CARGO_BIN_EXE_hugepunch"))
        .args([
            "host",
            "--setup",
            "--json",
            "--attempts",
            "1000",
            "--corpus",
        ])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = run.id() as i32;

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first_actors: Option<Vec<Proc>> = None;
    let (procs, at_signal) = loop {
        assert!(
            Instant::now() < deadline,
            "{point:?} never reached in 60 s; hugepunch stderr:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        if let Some(status) = run.try_wait().unwrap() {
            panic!(
                "hugepunch ended ({status}) before {point:?}; stderr:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let procs = children(pid);
        let pool = HugePool::read().unwrap();
        let now_actors = actors(&procs);
        let reached = match point {
            Point::Setup => procs.iter().any(|p| p.comm == "hp-janitor"),
            Point::MidCorpus => match &first_actors {
                None => {
                    if !now_actors.is_empty() {
                        first_actors = Some(now_actors.clone());
                    }
                    false
                }
                Some(first) => {
                    !now_actors.is_empty()
                        && now_actors.iter().all(|a| !first.contains(a))
                        && pool.in_use() < 512
                }
            },
            Point::MidRace => !now_actors.is_empty() && pool.in_use() >= 512,
        };
        if reached {
            break (procs, pool);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    kill_process(Pid::from_raw(pid).unwrap(), signal).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(signal.as_raw()),
        "hugepunch must die of the signal: {status}"
    );

    // The run's actors and janitor: all must go (the janitor after putting the pool back).
    let deadline = Instant::now() + Duration::from_secs(60);
    while procs.iter().any(Proc::alive) {
        assert!(
            Instant::now() < deadline,
            "processes of the run still alive 60 s after the signal: {:?}",
            procs.iter().filter(|p| p.alive()).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = HugePool::read().unwrap();
    // The trace instance of the attempt in flight is removed by its own janitor, which may have
    // been forked after the processes above were listed: give it the same time.
    let mut instances = leftover_instances().unwrap();
    while !instances.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        instances = leftover_instances().unwrap();
    }
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    println!(
        "{name}: {signal:?} at {point:?}; processes {:?}\n  start:     {start}\n  at signal: {at_signal}\n  \
         after:     {after}\n  hugepunch stderr: {stderr:?}",
        procs.iter().map(|p| &p.comm).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
    let restored = keeper.finish().unwrap();

    assert_eq!(
        after, start,
        "the pool after {signal:?} at {point:?} is not as the run found it\n  found: {start}\n  \
         after: {after}\nhugepunch stderr:\n{stderr}"
    );
    assert!(
        instances.is_empty(),
        "trace instances left after {signal:?} at {point:?}: {instances:?}"
    );
    if let Point::MidRace = point {
        assert!(
            at_signal.nr_hugepages > 0 && at_signal.in_use() >= 512,
            "the run was not mid-race: {at_signal}"
        );
    }
    assert!(
        restored.iter().all(|d| d.result.is_ok()),
        "the pool as this test found it was not put back: {restored:?}"
    );
}

#[test]
fn sigkill_during_setup() {
    signalled_run_leaves_pool_as_found("setup", &[RACE], Point::Setup, Signal::KILL);
}

#[test]
fn sigkill_mid_corpus() {
    signalled_run_leaves_pool_as_found("corpus", &CORPUS, Point::MidCorpus, Signal::KILL);
}

#[test]
fn sigkill_mid_race() {
    signalled_run_leaves_pool_as_found("race-kill", &[RACE], Point::MidRace, Signal::KILL);
}

#[test]
fn sigint_mid_race() {
    signalled_run_leaves_pool_as_found("race-int", &[RACE], Point::MidRace, Signal::INT);
}

#[test]
fn sigterm_mid_race() {
    signalled_run_leaves_pool_as_found("race-term", &[RACE], Point::MidRace, Signal::TERM);
}
