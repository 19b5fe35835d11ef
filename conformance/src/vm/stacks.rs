//! The blocked tasks of a hung guest, read from the kernel's own task dumps on the console
//! (sysrq `w` and `t`, the hung-task detector: `sched_show_task`'s `task:COMM state:S ...
//! pid:N` line and its `Call Trace:`), and whether they are stuck where a trace that predicts
//! a deadlock leaves its threads.
//!
//! A hang is recognised by these stacks, not by the watchdog's timing alone: a replay that
//! only went slow has no replay task in `D` state (uninterruptible sleep).

use serde::Serialize;
use traces::{Acquire, Level, Trace};

/// A task as the kernel dumped it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Task {
    pub comm: String,
    pub pid: u32,
    /// `D`, `S`, `R`, ...
    pub state: char,
    /// The reliable frames' functions, innermost first (`? ` frames and offsets left out).
    pub stack: Vec<String>,
}

impl Task {
    /// Asleep uninterruptibly (a lock or a page-lock bit wait).
    pub fn blocked(&self) -> bool {
        self.state == 'D'
    }

    /// One of the replay's processes (the driver, or an actor: their threads are named
    /// `hp-manager`, `hp-mapper`, `hp-migrator`).
    pub fn replays(&self) -> bool {
        self.comm == "hugepunch" || self.comm.starts_with("hp-")
    }

    /// The sleeping lock the task waits on: the innermost wait primitive on its stack.
    pub fn waits_on(&self) -> Option<(Acquire, &str)> {
        self.stack
            .iter()
            .find_map(|f| wait_primitive(f).map(|a| (a, f.as_str())))
    }

    /// Whether `function` is on the stack.
    pub fn in_function(&self, function: &str) -> bool {
        self.stack.iter().any(|f| f == function)
    }
}

/// The kind of sleeping lock a kernel function waits for (5.10 to 6.x names).
pub fn wait_primitive(function: &str) -> Option<Acquire> {
    match function {
        "rwsem_down_write_slowpath" => Some(Acquire::RwsemWrite),
        "rwsem_down_read_slowpath" => Some(Acquire::RwsemRead),
        "wait_on_page_bit_common" | "__lock_page" | "folio_wait_bit_common" | "__folio_lock" => {
            Some(Acquire::PageLock)
        }
        f if f.starts_with("__mutex_lock") => Some(Acquire::Mutex),
        _ => None,
    }
}

/// Strips a console line's `[ seconds]` timestamp.
fn text(line: &str) -> &str {
    let l = line.trim_start();
    match l.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((_, rest)) => rest,
        None => l,
    }
}

/// `task:COMM state:X ... pid:N ...` (`sched_show_task`).
fn header(line: &str) -> Option<(String, char, u32)> {
    let rest = &line[line.find("task:")? + "task:".len()..];
    let (comm, rest) = rest.split_once(" state:")?;
    let state = rest.chars().next()?;
    let pid = rest[rest.find("pid:")? + "pid:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((comm.trim().to_string(), state, pid))
}

/// A reliable frame: ` function+0xoff/0xlen` (not `? function+...`).
fn frame(line: &str) -> Option<&str> {
    let t = text(line).trim();
    let (function, off) = t.split_once('+')?;
    let ok = off.starts_with("0x")
        && !function.is_empty()
        && function
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then_some(function)
}

/// Every task the lines dump, each once (by pid: the first dump that shows it blocked, else
/// the first).
pub fn tasks(lines: &[String]) -> Vec<Task> {
    let mut all: Vec<Task> = Vec::new();
    let mut cur: Option<Task> = None;
    let done = |t: Option<Task>, all: &mut Vec<Task>| {
        let Some(t) = t else { return };
        match all.iter_mut().find(|o| o.pid == t.pid) {
            Some(o) if !o.blocked() && t.blocked() => *o = t,
            Some(_) => {}
            None => all.push(t),
        }
    };
    for l in lines {
        if let Some((comm, state, pid)) = header(l) {
            done(cur.take(), &mut all);
            cur = Some(Task {
                comm,
                pid,
                state,
                stack: Vec::new(),
            });
        } else if let (Some(t), Some(f)) = (cur.as_mut(), frame(l)) {
            t.stack.push(f.to_string());
        }
    }
    done(cur, &mut all);
    all
}

/// A thread the trace leaves inside a kernel operation, and the blocked task that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stuck {
    /// `manager`, `mapper1`, ...
    pub thread: String,
    /// The kernel function of its last step in the trace (`remove_inode_hugepages`).
    pub function: String,
    /// The task stuck there, if the dump has one: `hp-manager pid 87`.
    pub task: Option<String>,
    /// What it waits on: the lock kind and the kernel function (`rwsem_down_write_slowpath`).
    pub waits: Option<String>,
}

/// Whether the dumped tasks are stuck where the trace leaves its threads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AsTraced {
    pub threads: Vec<Stuck>,
    /// Every stuck thread has a blocked task of its own in its function, asleep on a
    /// sleeping lock. (Which lock instance, and who holds it, a stack does not show: the
    /// waits are reported for the reader to hold against the trace's description.)
    pub shown: bool,
}

/// The threads `t` leaves inside a kernel operation (started, never returned), with the kernel
/// function of each one's last step.
fn stuck_threads(t: &Trace) -> Vec<(traces::Thread, String)> {
    let mut out = Vec::new();
    let mut threads: Vec<traces::Thread> = Vec::new();
    for s in &t.steps {
        if !threads.contains(&s.thread) {
            threads.push(s.thread);
        }
    }
    for th in threads {
        let mine: Vec<usize> = (0..t.steps.len())
            .filter(|&i| t.steps[i].thread == th)
            .collect();
        let Some(&last) = mine.last() else { continue };
        if t.steps[last].level() != Level::Kernel {
            continue;
        }
        let name = t.steps[last].action.name();
        let function = name.split(':').next().unwrap_or(name).to_string();
        out.push((th, function));
    }
    out
}

/// Matches the dump's blocked replay tasks with the threads the trace leaves stuck: each one
/// by its process's name ([`crate::actors::comm`]) and the kernel function of its
/// last trace step on the stack, no task for two threads.
pub fn as_traced(t: &Trace, tasks: &[Task]) -> AsTraced {
    let stuck = stuck_threads(t);
    let mut used: Vec<u32> = Vec::new();
    let mut threads = Vec::new();
    for (th, function) in &stuck {
        let comm = crate::actors::comm(th.process).map_or("", |c| c.to_str().unwrap_or(""));
        let task = tasks.iter().find(|k| {
            k.blocked() && k.comm == comm && k.in_function(function) && !used.contains(&k.pid)
        });
        if let Some(k) = task {
            used.push(k.pid);
        }
        let wait = task.and_then(Task::waits_on);
        threads.push(Stuck {
            thread: th.to_string(),
            function: function.clone(),
            task: task.map(|k| format!("{} pid {}", k.comm, k.pid)),
            waits: wait.map(|(a, f)| format!("{} ({f})", acquire_name(a))),
        });
    }
    AsTraced {
        shown: !stuck.is_empty() && threads.iter().all(|s| s.waits.is_some()),
        threads,
    }
}

fn acquire_name(a: Acquire) -> &'static str {
    match a {
        Acquire::Mutex => "a mutex",
        Acquire::RwsemRead => "an rwsem for read",
        Acquire::RwsemWrite => "an rwsem for write",
        Acquire::PageLock => "the page lock",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_dumped_task_and_its_reliable_frames() {
        let l = lines(
            "[  130.1] task:hp-manager      state:D stack:    0 pid:  231 ppid:   229 flags:0x00004000\n\
             [  130.1] Call Trace:\n\
             [  130.1]  __schedule+0x282/0x870\n\
             [  130.1]  ? hugetlb_fault+0x10/0x20\n\
             [  130.1]  rwsem_down_write_slowpath+0x246/0x4d0\n\
             [  130.1]  remove_inode_hugepages+0x2f2/0x3b0\n\
             [  130.1] RIP: 0033:0x7f0000000000\n\
             [  130.1] task:kworker/0:1     state:I stack:0 pid:12 ppid:2 flags:0x00004000\n",
        );
        let t = tasks(&l);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].comm, "hp-manager");
        assert_eq!(t[0].pid, 231);
        assert!(t[0].blocked() && t[0].replays());
        assert_eq!(
            t[0].stack,
            [
                "__schedule",
                "rwsem_down_write_slowpath",
                "remove_inode_hugepages"
            ]
        );
        assert_eq!(
            t[0].waits_on(),
            Some((Acquire::RwsemWrite, "rwsem_down_write_slowpath"))
        );
        assert_eq!(t[1].comm, "kworker/0:1");
        assert!(!t[1].blocked() && !t[1].replays());
    }

    #[test]
    fn wait_kinds() {
        assert_eq!(
            wait_primitive("__mutex_lock.constprop.0"),
            Some(Acquire::Mutex)
        );
        assert_eq!(
            wait_primitive("wait_on_page_bit_common"),
            Some(Acquire::PageLock)
        );
        assert_eq!(
            wait_primitive("rwsem_down_read_slowpath"),
            Some(Acquire::RwsemRead)
        );
        assert_eq!(wait_primitive("schedule"), None);
    }

    fn deadlock_trace() -> Trace {
        traces::load(std::path::PathBuf::from(format!(
            "{}/../traces/corpus/v5_10.no_deadlock.counterexample.json",
            env!("CARGO_MANIFEST_DIR")
        )))
        .unwrap()
    }

    fn task(comm: &str, pid: u32, state: char, stack: &[&str]) -> Task {
        Task {
            comm: comm.into(),
            pid,
            state,
            stack: stack.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// The v5_10 trace leaves the manager in `remove_inode_hugepages` and mapper1 in
    /// `hugetlb_fault`; the stacks Debian's 5.10.0-46 showed the reporter match it.
    #[test]
    fn the_deadlock_traces_stuck_threads() {
        let t = deadlock_trace();
        let stuck: Vec<(String, String)> = stuck_threads(&t)
            .into_iter()
            .map(|(th, f)| (th.to_string(), f))
            .collect();
        assert_eq!(
            stuck,
            [
                ("manager".to_string(), "remove_inode_hugepages".to_string()),
                ("mapper1".to_string(), "hugetlb_fault".to_string())
            ]
        );
        let punch = task(
            "hp-manager",
            10,
            'D',
            &[
                "__schedule",
                "schedule",
                "rwsem_down_write_slowpath",
                "remove_inode_hugepages",
                "hugetlbfs_fallocate",
            ],
        );
        let fault = task(
            "hp-mapper",
            12,
            'D',
            &[
                "__schedule",
                "io_schedule",
                "wait_on_page_bit_common",
                "pagecache_get_page",
                "hugetlb_fault",
            ],
        );
        let other = task("hp-mapper", 11, 'S', &["do_sys_poll", "hugetlb_fault"]);
        let a = as_traced(&t, &[other.clone(), punch.clone(), fault.clone()]);
        assert!(a.shown, "{a:?}");
        assert_eq!(a.threads[0].task.as_deref(), Some("hp-manager pid 10"));
        assert_eq!(
            a.threads[1].waits.as_deref(),
            Some("the page lock (wait_on_page_bit_common)")
        );
        // Only the punch blocked: not the trace's deadlock.
        assert!(!as_traced(&t, &[punch.clone(), other]).shown);
        // A mapper blocked elsewhere (here on the uffd handler's wait) is not the fault.
        let elsewhere = task(
            "hp-mapper",
            12,
            'D',
            &["__mutex_lock.constprop.0", "handle_userfault"],
        );
        let a = as_traced(&t, &[punch, elsewhere]);
        assert_eq!(a.threads[1].task, None);
        assert!(!a.shown);
    }
}
